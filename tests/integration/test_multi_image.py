"""Several images in one ``verify`` run: concurrent, reported in input order, worst outcome decides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_inspect_cli import run_cli
from tests.integration.test_verify_cosign import push_image
from tests.support.cosign import Keys, sign
from tests.support.registry import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.interop]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys.generate(tmp_path_factory, "multi-key")


def test_verify_several_images_in_one_run(tmp_path: Path, registry_plain: RegistryServer, keys: Keys) -> None:
    refs = []
    for n in range(4):
        ref, digest = push_image(tmp_path, registry_plain, f"multi/app{n}:v1", f"multi-{n}")
        refs.append((f"{ref}@{digest}", digest))
    for ref, _ in refs[:3]:
        sign(keys.a, ref)

    signed = [r for r, _ in refs[:3]]
    done = run_cli("verify", "--no-cache", "--format", "json", "--key", keys.pub_a, *signed)
    assert done.returncode == 0, done.stderr
    documents = json.loads(done.stdout)
    assert [d["outcome"] for d in documents] == ["verified"] * 3
    assert [d["digest"] for d in documents] == [str(d) for _, d in refs[:3]]  # input order kept

    everything = [r for r, _ in refs]
    done = run_cli("verify", "--no-cache", "--format", "json", "--key", keys.pub_a, *everything)
    assert done.returncode == 1  # one unsigned image fails the whole run
    assert refs[3][0] in done.stderr
    documents = json.loads(done.stdout)
    assert [d["outcome"] for d in documents] == ["verified", "verified", "verified", "failed"]

    # a key that signed none of them: every image fails, the first one is named
    done = run_cli("verify", "--no-cache", "--key", keys.pub_b, *signed)
    assert done.returncode == 1
    assert signed[0] in done.stderr


def test_one_image_keeps_the_single_document_shape(
    tmp_path: Path, registry_plain: RegistryServer, keys: Keys
) -> None:
    ref, digest = push_image(tmp_path, registry_plain, "multi/single:v1", "multi-single")
    sign(keys.a, f"{ref}@{digest}")
    done = run_cli("verify", "--no-cache", "--format", "json", "--key", keys.pub_a, f"{ref}@{digest}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "verified"


# ------------------------------------------------------------------------------ audit and check


def _layout(tmp: Path, name: str, files: dict[str, str]) -> str:
    from tests.support.images import LayerSpec, build_image, write_layout

    image = build_image([LayerSpec.from_files({"etc/os-release": "ID=test\n", **files})])
    return f"oci:{write_layout(tmp / name, {'v': image})}:v"


def test_audit_several_images_in_one_run(tmp_path: Path) -> None:
    token = "ghp_" + "Zq8vR2mK5tY7wX1cB4nL9pD3sF6gH0jA2eUo"  # a made-up token in GitHub's format
    clean = [_layout(tmp_path, f"clean{n}", {f"srv/app{n}.txt": f"app {n}\n"}) for n in range(3)]
    leaky = _layout(tmp_path, "leaky", {"root/.git-credentials": f"token={token}\n"})
    common = ("audit", "--no-cache", "--no-store", "--scanners", "secret", "--format", "json")

    done = run_cli(*common, "--fail-on", "high", *clean)
    assert done.returncode == 0, done.stderr
    documents = json.loads(done.stdout)
    assert isinstance(documents, list) and len(documents) == 3
    assert all(not d["findings"] for d in documents)

    images = [clean[0], leaky, clean[1]]
    done = run_cli(*common, "--fail-on", "high", *images)
    assert done.returncode == 1  # the worst image decides
    assert leaky in done.stderr and token not in done.stdout + done.stderr
    documents = json.loads(done.stdout)
    assert [bool(d["findings"]) for d in documents] == [False, True, False]  # input order kept
    digests = [json.loads(run_cli(*common, i).stdout)["images"][0]["digest"] for i in images]
    assert [d["images"][0]["digest"] for d in documents] == digests  # one image: a single document

    # without --fail-on the findings are reported and the run succeeds; a broken image is an error
    assert run_cli(*common, *images).returncode == 0
    missing = run_cli(*common, clean[0], f"oci:{tmp_path / 'absent'}:v")
    assert missing.returncode != 0 and not missing.stdout.strip()

    sbom_args = ("--no-cache", "--no-store", "--scanners", "", "--format", "cyclonedx")
    sboms = run_cli("audit", *sbom_args, *clean[:2])
    assert sboms.returncode == 0, sboms.stderr
    assert [d["bomFormat"] for d in json.loads(sboms.stdout)] == ["CycloneDX", "CycloneDX"]


def test_check_several_images_in_one_run(tmp_path: Path, registry_plain: RegistryServer, keys: Keys) -> None:
    refs = []
    for n in range(3):
        ref, digest = push_image(tmp_path, registry_plain, f"multi/check{n}:v1", f"multi-check-{n}")
        refs.append(f"{ref}@{digest}")
    for ref in refs[:2]:
        sign(keys.a, ref)
    policy = tmp_path / "policy.yaml"
    (tmp_path / "trusted.pub").write_bytes(Path(keys.pub_a).read_bytes())
    policy.write_text(
        "apiVersion: imagetrust.dev/v1\nkind: Policy\nmode: enforce\nrules:\n"
        "  - name: all\n    images: ['127.0.0.1:*/multi/*']\n"
        "    signatures:\n      authorities: [{key: trusted.pub}]\n"
    )
    common = ("check", "--no-cache", "--no-store", "--policy", str(policy))

    done = run_cli(*common, "--format", "json", *refs[:2])
    assert done.returncode == 0, done.stderr
    documents = json.loads(done.stdout)
    assert [d["decision"]["outcome"] for d in documents] == ["pass", "pass"]

    done = run_cli(*common, "--format", "json", refs[2], refs[0])
    assert done.returncode == 1  # the unsigned image fails the run, and is named
    assert refs[2].split("@")[0] in done.stderr
    assert [d["decision"]["outcome"] for d in json.loads(done.stdout)] == ["fail", "pass"]

    sarif = run_cli(*common, "--format", "sarif", *refs)
    assert sarif.returncode == 1
    assert len(json.loads(sarif.stdout)["runs"]) == 3  # one SARIF log, a run per image
    assert run_cli(*common, "--format", "html", *refs[:2]).returncode == 2
