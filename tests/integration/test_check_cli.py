"""End to end ``imagetrust check`` on a real docker-registry with images signed and attested by real cosign 2.

One compliant image passes; each violation fails with a reason naming the rule; an expired waiver stops
applying; an unreachable registry is indeterminate (3), never pass or fail.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_inspect_cli import push, run_cli
from tests.support.cosign import attest, generate_key_pair, sign
from tests.support.images import LayerSpec, build_image, write_layout
from tests.support.registry import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.interop]

BUILDER = "https://ci.example/builder"
SOURCE = "https://git.example/app"
OS_RELEASE = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12"\n'
DPKG_STATUS = (
    "Package: telnet\nStatus: install ok installed\nPriority: optional\nSection: net\nInstalled-Size: 120\n"
    "Maintainer: Test <test@example.org>\nArchitecture: amd64\nVersion: 0.17+2.4-2\n"
    "Description: basic telnet client\n\n"
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(signing directory with cosign.key/cosign.pub, a directory with an unrelated key pair)."""
    signing = generate_key_pair(tmp_path_factory.mktemp("check-keys"))
    other = generate_key_pair(tmp_path_factory.mktemp("check-other-keys"))
    return signing, other


def _push(tmp: Path, registry: RegistryServer, name: str, marker: str) -> tuple[str, str]:
    image = build_image(
        [
            LayerSpec.from_files(
                {"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": DPKG_STATUS, "app/marker": marker}
            )
        ]
    )
    layout = write_layout(tmp / name / "layout", {"v1": image})
    ref = push(layout, "v1", registry, f"check/{name}:v1")
    return ref, str(image.digest)


@pytest.fixture(scope="module")
def images(
    tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer, keys: tuple[Path, Path]
) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("check-images")
    signing = keys[0]
    signed_ref, digest = _push(tmp, registry_plain, "signed", "signed")
    repo = signed_ref.rsplit(":", 1)[0]
    sign(signing, f"{repo}@{digest}")
    predicate = signing / "provenance.json"
    predicate.write_text(
        json.dumps(
            {
                "builder": {"id": BUILDER},
                "buildType": "https://ci.example/build/v1",
                "invocation": {"configSource": {"uri": f"git+{SOURCE}@refs/heads/main"}},
                "metadata": {"buildFinishedOn": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
            }
        )
    )
    attest(signing, f"{repo}@{digest}", predicate, "slsaprovenance")
    unsigned_ref, _ = _push(tmp, registry_plain, "unsigned", "unsigned")
    return {"signed": signed_ref, "unsigned": unsigned_ref}


def _policy(tmp: Path, key: Path, body: str, mode: str = "enforce") -> Path:
    (tmp / "trusted.pub").write_bytes(key.read_bytes())
    path = tmp / "policy.yaml"
    path.write_text(
        "apiVersion: imagetrust.dev/v1\nkind: Policy\n"
        f"mode: {mode}\nrules:\n  - name: prod\n    images: ['127.0.0.1:*/check/*']\n"
        "    signatures:\n      authorities: [{key: trusted.pub}]\n" + body
    )
    return path


PROVENANCE = (
    "    attestations:\n      - type: slsaprovenance\n        maxAge: 7d\n"
    f"        slsa: {{builder: '{BUILDER}', source: '{SOURCE}', branch: main}}\n"
)


def check(ref: str, policy: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli("check", ref, "--policy", str(policy), "--format", "json", "--no-cache", *extra)
    document = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, document, done.stderr


def _failed(document: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: " ".join(r["reasons"]) for r in document["rules"] if r["outcome"] == "fail"}


def test_compliant_image_passes(images: dict[str, str], keys: tuple[Path, Path], tmp_path: Path) -> None:
    policy = _policy(
        tmp_path, keys[0] / "cosign.pub", PROVENANCE + "    packages: {deny: ['pkg:deb/*/openssh*']}\n"
    )
    code, document, stderr = check(images["signed"], policy)
    assert code == 0, stderr
    assert document["decision"]["outcome"] == "pass"
    assert document["digest"] in document["source"]
    assert {r["id"] for r in document["rules"]} == {
        "prod/signatures", "prod/attestation:https://slsa.dev/provenance/v0.2", "prod/packages",
    }  # fmt: skip
    assert document["verification"]["signers"][0]["keyId"].startswith("sha256:")
    assert document["verification"]["attestations"][0]["predicateType"] == "https://slsa.dev/provenance/v0.2"


def test_unsigned_and_wrong_signer_fail_naming_the_rule(
    images: dict[str, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    code, document, _ = check(images["unsigned"], _policy(tmp_path, keys[0] / "cosign.pub", ""))
    assert code == 1
    assert "rule 'prod'" in _failed(document)["prod/signatures"]
    code, document, _ = check(images["signed"], _policy(tmp_path, keys[1] / "cosign.pub", ""))
    assert code == 1
    assert "did not verify" in _failed(document)["prod/signatures"]


def test_missing_attestation_and_wrong_builder_fail(
    images: dict[str, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    key = keys[0] / "cosign.pub"
    code, document, _ = check(
        images["signed"], _policy(tmp_path, key, "    attestations:\n      - type: vuln\n")
    )
    assert code == 1
    assert (
        "no verified attestation"
        in _failed(document)["prod/attestation:https://cosign.sigstore.dev/attestation/vuln/v1"]
    )
    wrong = PROVENANCE.replace(BUILDER, "https://other.example/builder")
    code, document, _ = check(images["signed"], _policy(tmp_path, key, wrong))
    assert code == 1
    assert "builder" in _failed(document)["prod/attestation:https://slsa.dev/provenance/v0.2"]


def test_denied_package_and_expired_waiver(
    images: dict[str, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    key = keys[0] / "cosign.pub"
    deny = "    packages:\n      deny: ['pkg:deb/debian/telnet@*']\n"
    code, document, _ = check(images["signed"], _policy(tmp_path, key, deny))
    assert code == 1
    assert "pkg:deb/debian/telnet@0.17%2B2.4-2" in _failed(document)["prod/packages"]
    expired = deny + "      waive: [{id: 'pkg:deb/debian/telnet*', reason: legacy, expires: 2020-01-01}]\n"
    code, document, _ = check(images["signed"], _policy(tmp_path, key, expired))
    assert code == 1
    assert "expired on 2020-01-01" in document["decision"]["expiredWaivers"][0]
    active = deny + "      waive: [{id: 'pkg:deb/debian/telnet*', reason: legacy, expires: 2999-01-01}]\n"
    code, document, _ = check(images["signed"], _policy(tmp_path, key, active))
    assert code == 0
    assert document["decision"]["suppressed"][0]["by"].startswith("waiver")


def test_warn_mode_reports_but_exits_zero(
    images: dict[str, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    code, document, stderr = check(
        images["unsigned"], _policy(tmp_path, keys[0] / "cosign.pub", "", mode="warn")
    )
    assert code == 0
    assert document["decision"]["outcome"] == "fail" and document["decision"]["blocking"] is False
    assert "warn mode" in stderr


def test_unreachable_registry_is_indeterminate(keys: tuple[Path, Path], tmp_path: Path) -> None:
    policy = _policy(tmp_path, keys[0] / "cosign.pub", "")
    code, _, stderr = check("127.0.0.1:9/check/none:v1", policy)
    assert code == 3, stderr


def test_policy_errors_exit_2_with_the_line(
    images: dict[str, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    policy = _policy(tmp_path, keys[0] / "cosign.pub", "    signatrues: {}\n")
    code, _, stderr = check(images["signed"], policy)
    assert code == 2
    assert "policy.yaml:9: unknown key 'signatrues'" in stderr


def test_default_policy_and_other_formats(
    images: dict[str, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    done = run_cli("check", images["unsigned"], "--key", str(keys[0] / "cosign.pub"), "--no-cache",
                   "--format", "sarif")  # fmt: skip
    assert done.returncode in (1, 3), done.stderr
    sarif = json.loads(done.stdout)
    assert "policy/default/signatures" in {r["ruleId"] for r in sarif["runs"][0]["results"]}
    done = run_cli("check", images["signed"], "--key", str(keys[0] / "cosign.pub"), "--no-cache",
                   "--format", "markdown")  # fmt: skip
    assert "default/signatures" in done.stdout and done.returncode in (0, 3)


def test_critical_fixable_vulnerability_fails_and_vex_suppresses_it(
    images: dict[str, str], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    advisory = {
        "schema_version": "1.6.0",
        "id": "CVE-2099-0001",
        "modified": "2026-01-01T00:00:00Z",
        "summary": "telnet test advisory",
        "database_specific": {"severity": "CRITICAL"},
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "telnet"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.17+2.4-3"}]}],
            }
        ],
    }
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "CVE-2099-0001.json").write_text(json.dumps(advisory))
    db = tmp_path / "advisories.sqlite"
    done = run_cli("db", "--db", str(db), "import", str(tmp_path / "osv"))
    assert done.returncode == 0, done.stderr
    key = keys[0] / "cosign.pub"
    rule = "    vulnerabilities: {maxSeverity: high, fixableOnly: true}\n"
    code, document, stderr = check(images["signed"], _policy(tmp_path, key, rule), "--db", str(db))
    assert code == 1, stderr
    assert "CVE-2099-0001" in _failed(document)["prod/vulnerabilities"]
    (tmp_path / "telnet.openvex.json").write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2099-0001"},
                        "products": [{"@id": "pkg:deb/debian/telnet"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_present",
                    }
                ],
            }
        )
    )
    vex = rule.replace("fixableOnly: true}", "fixableOnly: true, vex: [telnet.openvex.json]}")
    code, document, stderr = check(images["signed"], _policy(tmp_path, key, vex), "--db", str(db))
    assert code == 0, stderr
    assert "telnet.openvex.json statement 0" in document["decision"]["suppressed"][0]["by"]
