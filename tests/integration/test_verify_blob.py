"""``imagetrust verify-blob`` end to end: test-instance bundles, real public-good bundles, real cosign 3.

Most cases run the CLI in-process (``main(argv)`` is the same code path as the console script, exit code
included); one runs the installed module as a process to pin the real exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from imagetrust.cli.main import main
from imagetrust.oci.digest import Digest
from tests.conftest import shared_data, tool_path
from tests.support.sigstore_instance import GITHUB_ISSUER, SigstoreInstance, statement_for

BLOB = b"a release tarball, more or less\n"
SIGNER = "signer@example.test"
ISSUER = "https://issuer.example.test"
SP = "sigstore/sigstore-python"
RFC8785_RELEASE = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"


@pytest.fixture(scope="module")
def instance() -> SigstoreInstance:
    return SigstoreInstance.create()


@pytest.fixture
def files(instance: SigstoreInstance, tmp_path: Path) -> dict[str, Path]:
    blob = tmp_path / "release.tar"
    blob.write_bytes(BLOB)
    bundle = tmp_path / "release.tar.sigstore.json"
    bundle.write_bytes(instance.sign_blob(BLOB).raw())
    attestation = tmp_path / "release.tar.intoto.sigstore.json"
    attestation.write_bytes(instance.attest(statement_for(BLOB)).raw())
    root = instance.write_trusted_root(tmp_path / "trusted_root.json")
    return {"blob": blob, "bundle": bundle, "attestation": attestation, "root": root}


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["verify-blob", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def keyless(files: dict[str, Path], *extra: str | Path, bundle: str = "bundle") -> list[str | Path]:
    return [
        files["blob"],
        "--bundle",
        files[bundle],
        "--trusted-root",
        files["root"],
        "--certificate-identity",
        SIGNER,
        "--certificate-oidc-issuer",
        ISSUER,
        *extra,
    ]


def test_keyless_blob_verifies(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    code, out, _ = run(capsys, *keyless(files))
    assert code == 0
    assert out.startswith("Verified OK") and SIGNER in out and str(Digest.of(BLOB)) in out


def test_keyless_blob_json(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    code, out, _ = run(capsys, *keyless(files, "--format", "json"))
    doc: dict[str, Any] = json.loads(out)
    assert code == 0 and doc["verified"] is True
    assert doc["digest"] == str(Digest.of(BLOB)) and doc["signer"] == SIGNER and doc["issuer"] == ISSUER
    assert doc["mode"] == "keyless" and doc["content"] == "messageSignature"
    assert isinstance(doc["transparencyLog"]["logIndex"], int)


def test_digest_instead_of_file(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    args = keyless(files)
    args[0] = str(Digest.of(BLOB))
    assert run(capsys, *args)[0] == 0
    args[0] = str(Digest.of(b"something else"))
    code, _, err = run(capsys, *args)
    assert code == 1 and "digest mismatch" in err


def test_other_file_fails_with_exit_1(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    files["blob"].write_bytes(b"tampered")
    code, _, err = run(capsys, *keyless(files))
    assert code == 1 and err.startswith("imagetrust: error: ") and err.count("\n") == 1


def test_wrong_identity_fails_and_json_says_so(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    args = keyless(files, "--format", "json")
    args[args.index(SIGNER)] = "someone@example.test"
    code, out, err = run(capsys, *args)
    doc = json.loads(out)
    assert code == 1 and doc == {
        "verified": False,
        "blob": str(files["blob"]),
        "bundle": str(files["bundle"]),
        "error": doc["error"],
        "exitCode": 1,
    }
    assert "is not 'someone@example.test'" in doc["error"] and "someone@example.test" in err


def test_identity_regexp_is_anchored(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    base = [files["blob"], "--bundle", files["bundle"], "--trusted-root", files["root"]]
    issuer = ["--certificate-oidc-issuer", ISSUER]
    assert run(capsys, *base, "--certificate-identity-regexp", r"[a-z]+@example\.test", *issuer)[0] == 0
    assert run(capsys, *base, "--certificate-identity-regexp", "signer", *issuer)[0] == 1
    assert (
        run(capsys, *base, "--certificate-identity", SIGNER, "--certificate-oidc-issuer-regexp", "https://")[
            0
        ]
        == 1
    )


def test_attestation_subject_must_name_the_blob(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code, out, _ = run(capsys, *keyless(files, "--format", "json", bundle="attestation"))
    assert code == 0 and json.loads(out)["predicateType"] == "https://example.test/p/v1"
    files["blob"].write_bytes(b"not the attested blob")
    code, _, err = run(capsys, *keyless(files, bundle="attestation"))
    assert code == 1 and "subjects do not include" in err


def test_bundle_from_another_sigstore_instance_fails(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    stranger = SigstoreInstance.create("stranger")
    files["bundle"].write_bytes(stranger.sign_blob(BLOB).raw())
    code, _, err = run(capsys, *keyless(files))
    assert code == 1, err


def test_github_workflow_identity(
    capsys: pytest.CaptureFixture[str], instance: SigstoreInstance, files: dict[str, Path]
) -> None:
    workflow = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
    files["bundle"].write_bytes(
        instance.sign_blob(BLOB, identity=workflow + "-attacker", issuer=GITHUB_ISSUER).raw()
    )
    pattern = r"https://github\.com/org/repo/\.github/workflows/release\.yml@refs/heads/main"
    args = [files["blob"], "--bundle", files["bundle"], "--trusted-root", files["root"]]
    code, _, err = run(
        capsys, *args, "--certificate-identity-regexp", pattern, "--certificate-oidc-issuer", GITHUB_ISSUER
    )
    assert code == 1 and "does not fully match" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--certificate-identity", SIGNER], "--certificate-oidc-issuer"),
        (["--certificate-oidc-issuer", ISSUER], "--certificate-identity"),
        (
            [
                "--certificate-identity",
                SIGNER,
                "--certificate-identity-regexp",
                "x",
                "--certificate-oidc-issuer",
                ISSUER,
            ],
            "exactly one of",
        ),
        (
            ["--certificate-identity", SIGNER, "--certificate-oidc-issuer", ISSUER, "--insecure-ignore-tlog"],
            "--insecure-ignore-tlog",
        ),
        (
            ["--certificate-identity-regexp", "(", "--certificate-oidc-issuer", ISSUER],
            "invalid identity regular",
        ),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], args: list[str], message: str
) -> None:
    code, _, err = run(
        capsys, files["blob"], "--bundle", files["bundle"], "--trusted-root", files["root"], *args
    )
    assert code == 2 and message in err


def test_missing_inputs_exit_2(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    args = keyless(files)
    args[0] = tmp_path / "absent.tar"
    code, _, err = run(capsys, *args)
    assert code == 2 and "cannot read blob" in err
    args = keyless(files)
    args[args.index(files["root"])] = tmp_path / "absent.json"
    code, _, err = run(capsys, *args)
    assert code == 2 and "cannot read trusted root" in err


def test_oversized_bundle_is_could_not_check(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    files["bundle"].write_bytes(b" " * (16 * 1024 * 1024 + 1))
    code, _, err = run(capsys, *keyless(files))
    assert code == 3 and "larger than the limit" in err


def test_garbage_bundle_fails(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    files["bundle"].write_bytes(b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}')
    code, _, err = run(capsys, *keyless(files))
    assert code == 1 and "sigstore bundle" in err


# -- real public-good artefacts -------------------------------------------------------------------------


def test_real_github_actions_bundle_with_the_default_root(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        shared_data(f"{SP}/bundle_v3_github.whl"),
        "--bundle",
        shared_data(f"{SP}/bundle_v3_github.whl.sigstore"),
        "--certificate-identity",
        RFC8785_RELEASE,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--format",
        "json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["transparencyLog"]["logIndex"] == 79605083
    assert doc["trustedRoot"].endswith("trust-roots/public-good.trusted_root.json")


def test_real_cve_2022_36056_bundle_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        shared_data(f"{SP}/bundle_cve_2022_36056.txt"),
        "--bundle",
        shared_data(f"{SP}/bundle_cve_2022_36056.txt.sigstore"),
        "--trusted-root",
        shared_data(f"{SP}/trusted_root.staging.json"),
        "--certificate-identity-regexp",
        ".*",
        "--certificate-oidc-issuer-regexp",
        ".*",
    )
    assert code == 1 and "inconsistent" in err


def test_real_staging_bundle_under_the_default_production_root_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, _ = run(
        capsys,
        shared_data(f"{SP}/bundle_v3.txt"),
        "--bundle",
        shared_data(f"{SP}/bundle_v3.txt.sigstore"),
        "--certificate-identity",
        "william@yossarian.net",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
    )
    assert code == 1


def test_process_exit_status(files: dict[str, Path]) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    args = [sys.executable, "-m", "imagetrust", "verify-blob", *map(str, keyless(files))]
    assert subprocess.run(args, capture_output=True, env=env, check=False).returncode == 0
    files["blob"].write_bytes(b"other")
    assert subprocess.run(args, capture_output=True, env=env, check=False).returncode == 1


# -- keyed bundles from the real cosign 3 -----------------------------------------------------------------


@pytest.fixture(scope="module")
def cosign_signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cosign = str(tool_path("cosign3"))
    work = tmp_path_factory.mktemp("cosign")
    env = dict(os.environ, COSIGN_PASSWORD="")
    subprocess.run([cosign, "generate-key-pair"], cwd=work, env=env, check=True, capture_output=True)
    (work / "blob.txt").write_bytes(BLOB)
    (work / "pred.json").write_text('{"built": true}')
    offline = ["--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format", "-y"]
    subprocess.run(
        [cosign, "sign-blob", "--key", "cosign.key", "--bundle", "sig.json", *offline, "blob.txt"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            cosign,
            "attest-blob",
            "--key",
            "cosign.key",
            "--predicate",
            "pred.json",
            "--type",
            "custom",
            "--bundle",
            "att.json",
            *offline,
            "blob.txt",
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return {name: work / name for name in ("blob.txt", "cosign.pub", "sig.json", "att.json")}


def test_cosign_keyed_blob_bundle(
    capsys: pytest.CaptureFixture[str], cosign_signed: dict[str, Path], tmp_path: Path
) -> None:
    c = cosign_signed
    code, out, err = run(
        capsys, c["blob.txt"], "--bundle", c["sig.json"], "--key", c["cosign.pub"], "--insecure-ignore-tlog"
    )
    assert code == 0, err
    assert "(messageSignature, key)" in out
    # cosign checks the log by default; this bundle has none, so without the flag it fails.
    assert run(capsys, c["blob.txt"], "--bundle", c["sig.json"], "--key", c["cosign.pub"])[0] == 1
    other = tmp_path / "other.txt"
    other.write_bytes(b"other")
    assert (
        run(capsys, other, "--bundle", c["sig.json"], "--key", c["cosign.pub"], "--insecure-ignore-tlog")[0]
        == 1
    )


def test_cosign_keyed_attestation_binds_the_subject(
    capsys: pytest.CaptureFixture[str], cosign_signed: dict[str, Path], tmp_path: Path
) -> None:
    c = cosign_signed
    args = ["--bundle", c["att.json"], "--key", c["cosign.pub"], "--insecure-ignore-tlog", "--format", "json"]
    code, out, err = run(capsys, c["blob.txt"], *args)
    assert code == 0, err
    assert json.loads(out)["predicateType"] == "https://cosign.sigstore.dev/attestation/v1"
    assert run(capsys, str(Digest.of(BLOB)), *args)[0] == 0  # DSSE binds by digest: no bytes needed
    other = tmp_path / "other.txt"
    other.write_bytes(b"other")
    code, _, err = run(capsys, other, *args)
    assert code == 1 and "subjects do not include" in err


def test_key_and_certificate_bundles_do_not_mix(
    capsys: pytest.CaptureFixture[str], cosign_signed: dict[str, Path], files: dict[str, Path]
) -> None:
    c = cosign_signed
    code, _, err = run(capsys, files["blob"], "--bundle", files["bundle"], "--key", c["cosign.pub"])
    assert code == 1 and "signed with a certificate" in err
    code, _, err = run(
        capsys,
        c["blob.txt"],
        "--bundle",
        c["sig.json"],
        "--certificate-identity",
        SIGNER,
        "--certificate-oidc-issuer",
        ISSUER,
    )
    assert code == 1 and "verify it with --key" in err
    code, _, err = run(
        capsys,
        c["blob.txt"],
        "--bundle",
        c["sig.json"],
        "--key",
        c["cosign.pub"],
        "--certificate-identity",
        SIGNER,
    )
    assert code == 2
