"""`imagetrust attest --policy` on the REAL docker-registry: the VSA records the policy's decision and file.

The policy file is named in the VSA by its path and the sha256 of its bytes; PASSED/FAILED follow the check
pipeline's decision (a signed image passes, an unsigned one fails, and the FAILED statement is still
attached); an undecidable policy signs nothing (exit 3).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from imagetrust.attest.sign import load_signing_key
from imagetrust.attest.statement import VSA_PREDICATE_TYPE
from imagetrust.cli.attest_cmd import read_policy_file
from imagetrust.limits import Limits
from imagetrust.pipeline.attest import AttestOptions, attest_image
from imagetrust.pipeline.settings import SourceSettings
from tests.integration.test_inspect_cli import run_cli
from tests.integration.test_promote import PASSWORD, push
from tests.support.cosign import generate_key_pair, sign
from tests.support.registry import RegistryServer, options_for

pytestmark = [pytest.mark.registry, pytest.mark.interop]
VSA = ("--type", "vsa")


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_key_pair(
        tmp_path_factory.mktemp("attest-policy-key"), password=PASSWORD["COSIGN_PASSWORD"]
    )


@pytest.fixture(scope="module")
def images(
    tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer, key: Path
) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("attest-policy-src")
    out = {}
    for name in ("signed", "unsigned"):
        digest = push(tmp, registry_plain, f"vsa/{name}:v1", name)
        out[name] = f"{registry_plain.host}/vsa/{name}@{digest}"
    sign(key, out["signed"], password=PASSWORD["COSIGN_PASSWORD"])
    return out


def policy(tmp: Path, key: Path, body: str = "") -> Path:
    (tmp / "trusted.pub").write_bytes((key / "cosign.pub").read_bytes())
    path = tmp / "policy.yaml"
    path.write_text(
        "apiVersion: imagetrust.dev/v1\nkind: Policy\nrules:\n  - name: vsa\n"
        "    images: ['127.0.0.1:*/vsa/*']\n    signatures:\n      authorities: [{key: trusted.pub}]\n" + body
    )
    return path


def vsa(ref: str, policy_file: Path, key: Path, registry: RegistryServer) -> dict[str, Any]:
    """Sign (without pushing) through the pipeline and return the VSA predicate that was signed."""
    options = AttestOptions(
        key=load_signing_key(key / "cosign.key", PASSWORD["COSIGN_PASSWORD"].encode()),
        predicate_types=(VSA_PREDICATE_TYPE,),
        push=False,
        policy=read_policy_file(policy_file, Limits()),
    )
    settings = SourceSettings(registry=options_for(registry), use_cache=False)
    result = attest_image(ref, settings, None, options)
    envelope = json.loads(result.statements[0].envelope)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["subject"][0]["digest"]["sha256"] == str(result.digest).split(":")[1]
    return dict(statement["predicate"])


def test_vsa_records_the_policy_file_and_a_passed_decision(
    images: dict[str, str], key: Path, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    path = policy(tmp_path, key)
    predicate = vsa(images["signed"], path, key, registry_plain)
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["policy"] == {
        "uri": path.as_posix(),
        "digest": {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
    }


def test_vsa_records_a_failed_decision_for_an_unsigned_image(
    images: dict[str, str], key: Path, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    predicate = vsa(images["unsigned"], policy(tmp_path, key), key, registry_plain)
    assert predicate["verificationResult"] == "FAILED"
    assert predicate["verifiedLevels"] == ["FAILED"]


def test_cli_attaches_and_exits_by_the_policy_decision(
    images: dict[str, str], key: Path, tmp_path: Path
) -> None:
    path = policy(tmp_path, key)
    sign = ("--key", str(key / "cosign.key"), "--policy", str(path), "--format", "json", *VSA)
    passed = run_cli("attest", "--no-cache", images["signed"], *sign, env=PASSWORD)
    assert passed.returncode == 0, passed.stderr
    doc = json.loads(passed.stdout)
    assert doc["result"] == "PASSED" and doc["policy"]["source"] == "file"
    assert doc["policy"]["digest"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(doc["attached"]) == 1
    failed = run_cli("attest", "--no-cache", images["unsigned"], *sign, env=PASSWORD)
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["result"] == "FAILED" and len(json.loads(failed.stdout)["attached"]) == 1


def test_undecidable_policy_signs_nothing(images: dict[str, str], key: Path, tmp_path: Path) -> None:
    path = policy(tmp_path, key, "    malware: {forbid: true}\n")  # no --malware-rules: cannot be checked
    done = run_cli("attest", "--no-cache", images["signed"], "--key", str(key / "cosign.key"),
                   "--policy", str(path), "--format", "json", *VSA, env=PASSWORD)  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert done.stdout == "" and "nothing signed" in done.stderr


def test_policy_replaces_the_builtin_rule_flags(images: dict[str, str], key: Path, tmp_path: Path) -> None:
    done = run_cli("attest", "--no-cache", images["signed"], "--key", str(key / "cosign.key"),
                   "--policy", str(policy(tmp_path, key)), "--fail-on", "high", env=PASSWORD)  # fmt: skip
    assert done.returncode == 2 and "the policy decides" in done.stderr
