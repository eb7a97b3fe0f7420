"""`imagetrust attest` writes statements REAL cosign 2.5 and 3.1 accept, into the REAL docker-registry.

Both predicate types (our audit predicate and the SLSA VSA) are checked with `cosign verify-attestation`,
with the right key (accepted) and another key (refused); our own `verify --type` accepts them too, and a
second attest run appends to the .att manifest and the fallback index instead of replacing them.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from imagetrust.oci.manifest import Index, Manifest
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.repository import open_repository
from tests.conftest import tool_path
from tests.integration.test_inspect_cli import run_cli
from tests.support.cosign import cosign as run_cosign
from tests.support.cosign import generate_key_pair
from tests.support.registry import RegistryServer, build_tiny_image, options_for, skopeo_push

pytestmark = [pytest.mark.registry, pytest.mark.interop]

VSA = "https://slsa.dev/verification_summary/v1"
AUDIT = "https://imagetrust.dev/attestation/audit/v1"

# The vulnerability scanner needs an advisory database these tests do not build; without it the
# assessment is INCOMPLETE (exit 3).  The configuration scanner needs nothing.
SCANNERS = ("--scanners", "config")
PASSWORD = "attest-test"


def cosign(binary: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cosign(binary, *args, cwd=cwd, password=PASSWORD)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("attest-key-a"), tmp_path_factory.mktemp("attest-key-b")
    for directory in (a, b):
        generate_key_pair(directory, password=PASSWORD)
    return a, b


@pytest.fixture(scope="module")
def attested(
    tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer, keys: tuple[Path, Path]
) -> str:
    image = build_tiny_image(tmp_path_factory.mktemp("attest-img") / "layout", note="attest me")
    skopeo_push(tool_path("skopeo"), image, registry_plain, "attest/app:v1")
    ref = f"{registry_plain.host}/attest/app:v1"
    done = run_cli(
        "attest",
        "--no-cache",
        "--format",
        "json",
        ref,
        "--key",
        str(keys[0] / "cosign.key"),
        *SCANNERS,
        env={"COSIGN_PASSWORD": PASSWORD},
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["result"] == "PASSED"
    assert doc["digest"] == str(image.manifest.digest)
    assert {a["predicateType"] for a in doc["attached"]} == {VSA, AUDIT}
    return ref


@pytest.mark.parametrize("binary", ["cosign2", "cosign3"])
@pytest.mark.parametrize("predicate", [VSA, AUDIT])
def test_real_cosign_accepts_with_the_key_and_refuses_another(
    attested: str, keys: tuple[Path, Path], binary: str, predicate: str
) -> None:
    args = ("verify-attestation", "--insecure-ignore-tlog", "--allow-insecure-registry", "--type", predicate)
    ok = cosign(binary, *args, "--key", str(keys[0] / "cosign.pub"), attested, cwd=keys[0])
    assert ok.returncode == 0, ok.stderr[-2000:]
    statements = [
        json.loads(base64.b64decode(json.loads(line)["payload"]))
        for line in ok.stdout.splitlines()
        if line.strip()
    ]
    assert statements and all(s["predicateType"] == predicate for s in statements)
    if predicate == VSA:
        assert statements[0]["predicate"]["verificationResult"] == "PASSED"
        assert statements[0]["predicate"]["slsaVersion"] == "1.0"
    bad = cosign(binary, *args, "--key", str(keys[1] / "cosign.pub"), attested, cwd=keys[0])
    assert bad.returncode != 0


def test_imagetrust_verify_accepts_both_types(attested: str, keys: tuple[Path, Path]) -> None:
    done = run_cli(
        "verify",
        "--no-cache",
        "--attestations-only",
        "--key",
        str(keys[0] / "cosign.pub"),
        "--type",
        VSA,
        "--type",
        AUDIT,
        attested,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = run_cli(
        "verify",
        "--no-cache",
        "--attestations-only",
        "--key",
        str(keys[1] / "cosign.pub"),
        "--type",
        VSA,
        attested,
    )
    assert wrong.returncode == 1


def test_second_attest_appends_to_att_and_fallback_index(
    attested: str, keys: tuple[Path, Path], registry_plain: RegistryServer
) -> None:
    repo = open_repository(parse_registry_ref(attested), options_for(registry_plain))
    digest = repo.resolve().digest
    before_att = repo.get_tagged(f"{digest.tag_form}.att")
    before_idx = repo.get_tagged(digest.tag_form)
    assert before_att is not None and before_idx is not None
    att_layers = before_att.parse(repo.limits)
    idx = before_idx.parse(repo.limits)
    assert isinstance(att_layers, Manifest) and isinstance(idx, Index)
    done = run_cli(
        "attest",
        "--no-cache",
        "--type",
        "vsa",
        attested,
        "--key",
        str(keys[1] / "cosign.key"),
        *SCANNERS,
        env={"COSIGN_PASSWORD": PASSWORD},
    )
    assert done.returncode == 0, done.stderr
    fresh = open_repository(parse_registry_ref(attested), options_for(registry_plain))
    after_att = fresh.get_tagged(f"{digest.tag_form}.att")
    after_idx = fresh.get_tagged(digest.tag_form)
    assert after_att is not None and after_idx is not None
    new_att = after_att.parse(fresh.limits)
    new_idx = after_idx.parse(fresh.limits)
    assert isinstance(new_att, Manifest) and isinstance(new_idx, Index)
    assert new_att.layers[: len(att_layers.layers)] == att_layers.layers
    assert len(new_att.layers) == len(att_layers.layers) + 1
    assert new_idx.manifests[: len(idx.manifests)] == idx.manifests
    assert len(new_idx.manifests) == len(idx.manifests) + 1
    # the first key's attestations still verify with real cosign after the append
    ok = cosign(
        "cosign2",
        "verify-attestation",
        "--insecure-ignore-tlog",
        "--allow-insecure-registry",
        "--type",
        AUDIT,
        "--key",
        str(keys[0] / "cosign.pub"),
        attested,
        cwd=keys[0],
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
