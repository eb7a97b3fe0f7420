"""`imagetrust promote --policy` on the REAL docker-registry: the check pipeline is the gate.

A signed image that passes the policy is copied; an unsigned image, and a signed one that breaks a content
rule, are refused with nothing copied (exit 1); a policy that cannot be decided (malware required, no
rules given) copies and tags nothing (exit 3).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_inspect_cli import run_cli
from tests.integration.test_promote import push, tag_digest
from tests.support.cosign import generate_key_pair, sign
from tests.support.registry import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.interop]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_key_pair(tmp_path_factory.mktemp("promote-policy-key"))


@pytest.fixture(scope="module")
def images(
    tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer, key: Path
) -> dict[str, tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("promote-policy-src")
    out = {}
    for name in ("signed", "unsigned"):
        digest = push(tmp, registry_plain, f"gate/{name}:v1", name)
        out[name] = (f"{registry_plain.host}/gate/{name}:v1", digest)
    ref, digest = out["signed"]
    sign(key, f"{ref.rsplit(':', 1)[0]}@{digest}")
    return out


def policy(tmp: Path, key: Path, body: str = "") -> Path:
    (tmp / "trusted.pub").write_bytes((key / "cosign.pub").read_bytes())
    path = tmp / "policy.yaml"
    path.write_text(
        "apiVersion: imagetrust.dev/v1\nkind: Policy\nmode: warn\nrules:\n  - name: gate\n"
        "    images: ['127.0.0.1:*/gate/*']\n    signatures:\n      authorities: [{key: trusted.pub}]\n"
        "    packages: {deny: ['pkg:deb/*/telnet@*']}\n" + body
    )
    return path


def promote(src: str, dst: str, policy_file: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli(
        "promote", "--no-cache", "--format", "json", src, dst, "--policy", str(policy_file), *extra
    )
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else {}), done.stderr


def test_image_passing_the_policy_is_promoted(
    images: dict[str, tuple[str, str]], key: Path, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    ref, digest = images["signed"]
    code, doc, stderr = promote(ref, f"{registry_plain.host}/prod/pass:stable", policy(tmp_path, key))
    assert code == 0, stderr
    assert doc["outcome"] == "promoted" and doc["decision"] == "pass" and doc["written"] == digest
    assert {r["id"]: r["outcome"] for r in doc["policy"]["rules"]} == {
        "gate/signatures": "pass",
        "gate/packages": "pass",
    }
    assert tag_digest(registry_plain, "prod/pass", "stable") == digest


def test_unsigned_image_is_refused_and_nothing_is_copied_even_in_warn_mode(
    images: dict[str, tuple[str, str]], key: Path, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    ref, _ = images["unsigned"]
    code, doc, stderr = promote(ref, f"{registry_plain.host}/prod/unsigned:stable", policy(tmp_path, key))
    assert code == 1, stderr
    assert doc["outcome"] == "refused" and doc["decision"] == "fail" and doc["copy"] is None
    assert "gate" in str(doc["reason"]) and "not promoted" in stderr
    assert tag_digest(registry_plain, "prod/unsigned", "stable") is None


def test_signed_image_breaking_a_content_rule_is_refused(
    images: dict[str, tuple[str, str]], key: Path, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    """A valid signature is not enough once a policy is given: the audit must pass too."""
    ref, _ = images["signed"]
    rules = policy(tmp_path, key, "    config: {enforce: ['CFG-001']}\n")
    code, doc, stderr = promote(ref, f"{registry_plain.host}/prod/root:stable", rules)
    assert code == 1, stderr
    assert doc["outcome"] == "refused"
    assert "CFG-001" in str(doc["reason"])
    assert tag_digest(registry_plain, "prod/root", "stable") is None


def test_undecidable_policy_copies_and_tags_nothing(
    images: dict[str, tuple[str, str]], key: Path, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    ref, _ = images["signed"]
    rules = policy(tmp_path, key, "    malware: {forbid: true}\n")  # no --malware-rules: cannot be checked
    code, doc, stderr = promote(ref, f"{registry_plain.host}/prod/unknown:stable", rules)
    assert code == 3, stderr
    assert doc["outcome"] == "indeterminate" and doc["decision"] == "indeterminate" and doc["copy"] is None
    assert tag_digest(registry_plain, "prod/unknown", "stable") is None


def test_policy_and_key_flags_are_not_mixed(
    images: dict[str, tuple[str, str]], key: Path, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    ref, _ = images["signed"]
    dst = f"{registry_plain.host}/prod/mixed:stable"
    code, _, stderr = promote(ref, dst, policy(tmp_path, key), "--key", str(key / "cosign.pub"))
    assert code == 2 and "not both" in stderr
