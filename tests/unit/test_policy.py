"""Policy loading (strict, line-numbered) and pure evaluation over verified evidence and findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imagetrust.audit.findings import Finding, FindingKind, Severity
from imagetrust.audit.result import AuditResult, PlatformAudit
from imagetrust.oci.digest import Digest
from imagetrust.policy.default import default_policy
from imagetrust.policy.evaluate import Outcome, evaluate
from imagetrust.policy.load import PolicyError, load_policy, parse_policy
from imagetrust.policy.model import Verification, VerifiedAttestation, VerifiedSigner
from imagetrust.trust.keys import PublicKey
from imagetrust.verify.results import CertIdentity, Statement, Subject, VerifiedStatement

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DIGEST = Digest.parse("sha256:" + "ab" * 32)
IMAGE = "registry.example/prod/app"


def _key(tmp_path: Path, name: str) -> PublicKey:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / name).write_bytes(pem)
    return PublicKey.from_pem(pem, name)


def _policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(body)
    return path


HEADER = "apiVersion: imagetrust.dev/v1\nkind: Policy\n"


def _statement(predicate_type: str, predicate: dict[str, object]) -> VerifiedStatement:
    raw = json.dumps({"predicateType": predicate_type, "predicate": predicate}).encode()
    statement = Statement(
        "https://in-toto.io/Statement/v1",
        (Subject("img", MappingProxyType({"sha256": DIGEST.hex})),),
        predicate_type,
        MappingProxyType(predicate),
        raw,
    )
    return VerifiedStatement(statement, frozenset())


def _audit(*findings: Finding) -> AuditResult:
    platform = PlatformAudit(None, None, (), findings, (), (), frozenset(), None)  # type: ignore[arg-type]
    return AuditResult("x", None, (platform,), ("vuln", "secret", "config", "malware"))  # type: ignore[arg-type]


def vuln(id_: str, severity: Severity, fixed: list[str], aliases: list[str] = []) -> Finding:  # noqa: B006
    return Finding(
        FindingKind.VULNERABILITY,
        id_,
        severity,
        f"{id_} title",
        package_purl="pkg:deb/debian/openssl@3.0.11-1?arch=amd64",
        details=(("fixed_versions", fixed), ("aliases", aliases)),
    )


# ------------------------------------------------------------------------------------------- loading


def test_unknown_key_is_rejected_with_its_line(tmp_path: Path) -> None:
    body = HEADER + "rules:\n  - name: r\n    images: ['*']\n    signaturez: {}\n"
    with pytest.raises(PolicyError, match=r"policy.yaml:6: unknown key 'signaturez'"):
        load_policy(_policy(tmp_path, body))


def test_nested_unknown_key_and_wrong_version(tmp_path: Path) -> None:
    body = HEADER + "rules:\n  - name: r\n    images: ['*']\n    vulnerabilities:\n      maxSeverty: high\n"
    with pytest.raises(PolicyError, match=r":7: unknown key 'maxSeverty'"):
        load_policy(_policy(tmp_path, body))
    with pytest.raises(PolicyError, match=r":1: apiVersion must be"):
        load_policy(_policy(tmp_path, "apiVersion: imagetrust.dev/v2\nkind: Policy\nrules: []\n"))


def test_duplicate_keys_anchors_and_waiver_without_expiry_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="duplicate key 'rules'"):
        load_policy(_policy(tmp_path, HEADER + "rules: []\nrules: []\n"))
    with pytest.raises(PolicyError, match="anchors"):
        load_policy(_policy(tmp_path, HEADER + "rules:\n  - &r {name: a, images: ['*']}\n  - *r\n"))
    body = HEADER + "rules:\n  - name: r\n    images: ['*']\n    secrets:\n      forbid: true\n"
    body += "      waive:\n        - {id: aws-key, reason: test fixture}\n"
    with pytest.raises(PolicyError, match=r":9: .*needs 'expires'"):
        load_policy(_policy(tmp_path, body))


def test_full_policy_loads(tmp_path: Path) -> None:
    key = _key(tmp_path, "ci.pub")
    (tmp_path / "vex.json").write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "statements": [
                    {"vulnerability": {"name": "CVE-2024-1"}, "status": "not_affected", "products": []}
                ],
            }
        )
    )
    body = HEADER + (
        "metadata: {name: prod}\nmode: warn\nrules:\n  - name: prod\n"
        "    images: ['registry.example/prod/*']\n"
        "    signatures:\n      threshold: 2\n      authorities:\n        - key: ci.pub\n"
        "        - keyless: {identity: ci@example.com, issuerRegexp: 'https://issuer\\.example/.*'}\n"
        "    attestations:\n      - type: slsaprovenance\n        maxAge: 30d\n"
        "        slsa: {builder: 'https://ci.example/builder', source: github.com/org/repo, branch: main}\n"
        "    vulnerabilities:\n      maxSeverity: high\n      fixableOnly: true\n      vex: [vex.json]\n"
        "      ignore:\n        - {id: CVE-2024-2, reason: not reachable, expires: 2026-12-31}\n"
        "    secrets: {forbid: true}\n    malware: {forbid: true}\n"
        "    config: {enforce: ['CFG-0*'], waive: [{id: CFG-001, reason: root ok, expires: 2027-01-01}]}\n"
        "    packages: {deny: ['pkg:deb/debian/telnet*']}\n    licenses: {deny: ['AGPL-*']}\n"
    )
    policy = load_policy(_policy(tmp_path, body))
    assert policy.name == "prod" and policy.mode.value == "warn"
    rule = policy.rules[0]
    assert rule.signatures is not None and rule.signatures.threshold == 2
    assert rule.signatures.authorities[0].key.key_id == key.key_id  # type: ignore[union-attr]
    assert rule.attestations[0].predicate_type == "https://slsa.dev/provenance/v0.2"
    assert rule.attestations[0].max_age == timedelta(days=30)
    assert rule.vulnerabilities is not None and rule.vulnerabilities.vex[0].vulnerability == "CVE-2024-1"
    assert policy.rules_for("registry.example/prod/app") and not policy.rules_for("registry.example/dev/app")


# ---------------------------------------------------------------------------------------- evaluation


def _signed(tmp_path: Path, extra: str = "") -> tuple[Path, PublicKey]:
    key = _key(tmp_path, "ci.pub")
    body = HEADER + (
        "rules:\n  - name: prod\n    images: ['registry.example/prod/*']\n"
        "    signatures: {authorities: [{key: ci.pub}]}\n" + extra
    )
    return _policy(tmp_path, body), key


def test_signature_pass_wrong_signer_fail_and_indeterminate(tmp_path: Path) -> None:
    path, key = _signed(tmp_path)
    policy = load_policy(path)
    good = Verification(DIGEST, (VerifiedSigner(key.key_id, None, "test"),))
    assert evaluate(policy, IMAGE, good, _audit(), NOW).outcome is Outcome.PASS
    other = _key(tmp_path, "other.pub")
    wrong = Verification(DIGEST, (VerifiedSigner(other.key_id, None, "test"),))
    decision = evaluate(policy, IMAGE, wrong, _audit(), NOW)
    assert decision.outcome is Outcome.FAIL
    assert "rule 'prod'" in decision.reasons[0] and "not trusted here" in decision.reasons[0]
    unreachable = Verification(DIGEST, (), could_not_check=("registry timed out",))
    decision = evaluate(policy, IMAGE, unreachable, _audit(), NOW)
    assert decision.outcome is Outcome.INDETERMINATE
    # No rule covers the image: fail closed, never pass.
    assert evaluate(policy, "registry.example/dev/app", good, _audit(), NOW).outcome is Outcome.FAIL


def test_keyless_identity_is_full_match(tmp_path: Path) -> None:
    body = HEADER + (
        "rules:\n  - name: r\n    images: ['*']\n    signatures:\n      authorities:\n"
        "        - keyless: {identityRegexp: 'https://github.com/org/.*@refs/heads/main', issuer: https://t}\n"
    )
    policy = load_policy(_policy(tmp_path, body))
    ok = CertIdentity("https://github.com/org/x.yml@refs/heads/main", "uri", "https://t")
    bad = CertIdentity("https://github.com/org/x.yml@refs/heads/main-evil", "uri", "https://t")
    assert (
        evaluate(policy, IMAGE, Verification(DIGEST, (VerifiedSigner(None, ok),)), None, NOW)
        .results[0]
        .outcome
        is Outcome.PASS
    )
    result = evaluate(policy, IMAGE, Verification(DIGEST, (VerifiedSigner(None, bad),)), None, NOW)
    assert result.outcome is Outcome.FAIL


def test_attestation_type_builder_and_age(tmp_path: Path) -> None:
    extra = (
        "    attestations:\n      - type: slsaprovenance\n        maxAge: 7d\n"
        "        slsa: {builder: 'https://ci.example/builder', source: 'https://git.example/app'}\n"
    )
    path, key = _signed(tmp_path, extra)
    policy = load_policy(path)
    signer = VerifiedSigner(key.key_id, None, "test")

    def provenance(builder: str, finished: str | None) -> VerifiedAttestation:
        predicate: dict[str, object] = {
            "builder": {"id": builder},
            "buildType": "https://ci.example/type",
            "invocation": {"configSource": {"uri": "git+https://git.example/app@refs/heads/main"}},
        }
        if finished:
            predicate["metadata"] = {"buildFinishedOn": finished}
        return VerifiedAttestation(_statement("https://slsa.dev/provenance/v0.2", predicate), signer)

    def run(*atts: VerifiedAttestation) -> tuple[Outcome, str]:
        d = evaluate(policy, IMAGE, Verification(DIGEST, (signer,), atts), _audit(), NOW)
        return d.outcome, " ".join(d.reasons)

    assert run(provenance("https://ci.example/builder", "2026-05-30T00:00:00Z"))[0] is Outcome.PASS
    outcome, why = run()
    assert outcome is Outcome.FAIL and "no verified attestation" in why and "rule 'prod'" in why
    outcome, why = run(provenance("https://evil.example/builder", "2026-05-30T00:00:00Z"))
    assert outcome is Outcome.FAIL and "builder" in why
    outcome, why = run(provenance("https://ci.example/builder", "2026-01-01T00:00:00Z"))
    assert outcome is Outcome.FAIL and "older than" in why
    assert run(provenance("https://ci.example/builder", None))[0] is Outcome.INDETERMINATE


def test_vulnerability_limits_vex_and_waiver_expiry(tmp_path: Path) -> None:
    (tmp_path / "app.vex.json").write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2024-0001"},
                        "products": [{"@id": "pkg:deb/debian/openssl"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    },
                    {"vulnerability": "CVE-2024-0003", "status": "affected"},
                ],
            }
        )
    )
    extra = (
        "    vulnerabilities:\n      maxSeverity: high\n      fixableOnly: true\n      vex: [app.vex.json]\n"
        "      ignore:\n        - {id: GHSA-aaaa, reason: mitigated by config, expires: 2026-05-01}\n"
    )
    policy = load_policy(_signed(tmp_path, extra)[0])
    signer = VerifiedSigner(policy.rules[0].signatures.authorities[0].key.key_id)  # type: ignore[union-attr]
    verification = Verification(DIGEST, (signer,))

    def check(*findings: Finding, now: datetime = NOW) -> tuple[Outcome, object]:
        d = evaluate(policy, IMAGE, verification, _audit(*findings), now)
        return d.outcome, d

    assert check(vuln("CVE-1", Severity.HIGH, ["1.1"]))[0] is Outcome.PASS
    assert check(vuln("CVE-2", Severity.CRITICAL, []))[0] is Outcome.PASS  # no fix: fixableOnly
    outcome, d = check(vuln("CVE-3", Severity.CRITICAL, ["3.0.12"]))
    assert outcome is Outcome.FAIL and "CVE-3" in d.reasons[0]  # type: ignore[attr-defined]
    # Unknown severity counts as critical.
    assert check(vuln("CVE-4", Severity.UNKNOWN, ["1"]))[0] is Outcome.FAIL
    # VEX not_affected suppresses and is cited; "affected" does not.
    outcome, d = check(vuln("CVE-2024-0001", Severity.CRITICAL, ["1"]))
    assert outcome is Outcome.PASS
    assert "app.vex.json statement 0" in d.suppressed[0].by  # type: ignore[attr-defined]
    assert check(vuln("CVE-2024-0003", Severity.CRITICAL, ["1"]))[0] is Outcome.FAIL
    # A waiver applies (by alias) until it expires, then the report says it expired.
    waived = vuln("CVE-5", Severity.CRITICAL, ["1"], aliases=["GHSA-aaaa"])
    assert check(waived, now=datetime(2026, 4, 30, tzinfo=UTC))[0] is Outcome.PASS
    outcome, d = check(waived)
    assert outcome is Outcome.FAIL
    assert "expired on 2026-05-01" in d.expired_waivers[0]  # type: ignore[attr-defined]


def test_secrets_malware_config_packages_and_missing_scanners(tmp_path: Path) -> None:
    extra = "    secrets: {forbid: true}\n    malware: {forbid: true}\n    config: {enforce: ['CFG-001']}\n"
    policy = load_policy(_signed(tmp_path, extra)[0])
    signer = VerifiedSigner(policy.rules[0].signatures.authorities[0].key.key_id)  # type: ignore[union-attr]
    v = Verification(DIGEST, (signer,))
    secret = Finding(FindingKind.SECRET, "aws-access-key", Severity.HIGH, "AWS key", path="/app/.env")
    decision = evaluate(policy, IMAGE, v, _audit(secret), NOW)
    assert decision.outcome is Outcome.FAIL
    assert any(r.id == "prod/secrets" and r.outcome is Outcome.FAIL for r in decision.results)
    config = Finding(FindingKind.MISCONFIGURATION, "CFG-002", Severity.LOW, "other")
    assert evaluate(policy, IMAGE, v, _audit(config), NOW).outcome is Outcome.PASS
    # The audit did not complete: content checks are indeterminate, never pass.
    decision = evaluate(policy, IMAGE, v, None, NOW, audit_error="registry 503")
    assert decision.outcome is Outcome.INDETERMINATE
    # A scanner that did not run makes its check indeterminate.
    partial = AuditResult("x", None, (), ("secret",))  # type: ignore[arg-type]
    decision = evaluate(policy, IMAGE, v, partial, NOW)
    assert decision.outcome is Outcome.INDETERMINATE
    assert any("malware scanner did not run" in r.reasons[0] for r in decision.results)


def test_default_policy(tmp_path: Path) -> None:
    key = _key(tmp_path, "k.pub")
    policy = default_policy([(key, "k.pub")], None)
    v = Verification(DIGEST, (VerifiedSigner(key.key_id),))
    assert (
        evaluate(policy, IMAGE, v, _audit(vuln("CVE-9", Severity.HIGH, ["2"])), NOW).outcome is Outcome.PASS
    )
    decision = evaluate(policy, IMAGE, v, _audit(vuln("CVE-9", Severity.CRITICAL, ["2"])), NOW)
    assert decision.outcome is Outcome.FAIL and "rule 'default'" in decision.reasons[0]
    assert evaluate(policy, IMAGE, Verification(DIGEST), _audit(), NOW).outcome is Outcome.FAIL


def test_parse_errors_name_the_source() -> None:
    with pytest.raises(PolicyError, match=r"inline:2: not valid YAML"):
        parse_policy("a: [1,\nb: }", source="inline", base=Path())
