"""Evaluate a policy over verified evidence and audit findings: a pure function of its arguments.

Each check of each rule that covers the image yields pass, fail, not_applicable or indeterminate with
reasons that name the rule.  The decision is fail if any check failed, indeterminate if anything required
could not be checked, and pass only when every required check passed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from imagetrust.audit.findings import Finding, FindingKind
from imagetrust.audit.result import AuditResult
from imagetrust.errors import VerificationFailed
from imagetrust.policy.model import (
    AttestationRule,
    Authority,
    ConfigRule,
    DenyRule,
    ForbidRule,
    KeyAuthority,
    Mode,
    Policy,
    Rule,
    SignatureRule,
    Verification,
    VerifiedAttestation,
    VerifiedSigner,
    VulnerabilityRule,
    Waiver,
)
from imagetrust.verify.slsa import ProvenanceExpectation, verify_provenance


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True)
class RuleResult:
    """One check (``signatures``, ``vulnerabilities``...) of one policy rule."""

    rule: str
    check: str
    outcome: Outcome
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...] = ()  # the findings that made it fail

    @property
    def id(self) -> str:
        return f"{self.rule}/{self.check}"


@dataclass(frozen=True)
class Suppression:
    """A finding that did not count, and what let it through (waiver or VEX statement)."""

    rule: str
    finding_id: str
    package: str | None
    by: str


@dataclass(frozen=True)
class Decision:
    outcome: Outcome  # PASS, FAIL or INDETERMINATE
    mode: Mode
    policy: str
    image: str
    reasons: tuple[str, ...]
    results: tuple[RuleResult, ...]
    suppressed: tuple[Suppression, ...] = ()
    expired_waivers: tuple[str, ...] = ()
    evaluated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def blocking(self) -> bool:
        """Whether the decision should stop the image: never in warn mode."""
        return self.mode is Mode.ENFORCE and self.outcome is not Outcome.PASS


# Scanners named as in pipeline.scanners; a not-checked note "NAME: ..." is attributed to that scanner.
_SCANNER_FOR = {
    "vulnerabilities": "vuln",
    "secrets": "secret",
    "malware": "malware",
    "config": "config",
}
_TIME_FIELDS: tuple[tuple[str, ...], ...] = (
    ("runDetails", "metadata", "finishedOn"),
    ("runDetails", "metadata", "startedOn"),
    ("metadata", "buildFinishedOn"),
    ("metadata", "buildStartedOn"),
    ("metadata", "scanFinishedOn"),
    ("metadata", "scanStartedOn"),
    ("metadata", "timestamp"),
    ("creationInfo", "created"),
    ("timestamp",),
)


class _Notes:
    """Suppressions and expired waivers gathered while checking."""

    def __init__(self) -> None:
        self.suppressed: list[Suppression] = []
        self.expired: list[str] = []

    def waived(self, rule: Rule, waivers: Sequence[Waiver], keys: Iterable[str], now: datetime) -> str | None:
        names = [k for k in keys if k]
        for waiver in waivers:
            if not any(fnmatch.fnmatchcase(name, waiver.id) for name in names):
                continue
            where = f" (line {waiver.line})" if waiver.line else ""
            if waiver.active(now):
                return f"waiver {waiver.id!r}{where} until {waiver.expires}: {waiver.reason}"
            note = (
                f"rule {rule.name!r}: waiver {waiver.id!r}{where} expired on {waiver.expires} and no longer"
                " applies"
            )
            if note not in self.expired:
                self.expired.append(note)
        return None


# --------------------------------------------------------------------------------------- signatures


def _authority_matches(authority: Authority, signer: VerifiedSigner) -> bool:
    if isinstance(authority, KeyAuthority):
        return signer.key_id is not None and signer.key_id == authority.key.key_id
    if signer.identity is None:
        return False
    try:
        authority.identity.check(signer.identity)
    except VerificationFailed:
        return False
    return True


def _trusted(rule: SignatureRule, signers: Iterable[VerifiedSigner]) -> list[VerifiedSigner]:
    return [s for s in signers if any(_authority_matches(a, s) for a in rule.authorities)]


def _describe_authority(authority: Authority) -> str:
    if isinstance(authority, KeyAuthority):
        return f"key {authority.key.key_id.short} ({authority.path})"
    return f"keyless {authority.describe()}"


def _signatures(rule: Rule, sig: SignatureRule, verification: Verification) -> RuleResult:
    trusted = _trusted(sig, verification.signers)
    distinct = sorted({s.distinct_id for s in trusted})
    if len(distinct) >= sig.threshold:
        return RuleResult(
            rule.name,
            "signatures",
            Outcome.PASS,
            (
                f"rule {rule.name!r}: {len(distinct)} trusted signer(s) verified "
                f"(threshold {sig.threshold}): {', '.join(distinct)}",
            ),
        )
    wanted = "; ".join(_describe_authority(a) for a in sig.authorities)
    others = sorted({s.distinct_id for s in verification.signers} - set(distinct))
    reason = (
        f"rule {rule.name!r}: {len(distinct)} of {sig.threshold} required trusted signer(s) verified "
        f"(trusted: {wanted})"
    )
    if others:
        reason += f"; signatures by other signers verified but are not trusted here: {', '.join(others)}"
    if verification.could_not_check:
        return RuleResult(
            rule.name,
            "signatures",
            Outcome.INDETERMINATE,
            (reason, *(f"could not check: {c}" for c in verification.could_not_check)),
        )
    if verification.rejected_signatures:
        count = len(verification.rejected_signatures)
        reason += f"; {count} signature(s) found did not verify: {verification.rejected_signatures[0]}"
    elif not verification.signers:
        reason += "; no signature found"
    return RuleResult(rule.name, "signatures", Outcome.FAIL, (reason,))


# ------------------------------------------------------------------------------------- attestations


def _get(mapping: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(mapping, dict) and not hasattr(mapping, "get"):
            return None
        mapping = mapping.get(key)
    return mapping


def _attestation_time(attestation: VerifiedAttestation) -> datetime | None:
    """When the signed predicate says it was produced (build finished, scan finished, SBOM created)."""
    predicate = attestation.statement.statement.predicate
    for path in _TIME_FIELDS:
        value = _get(predicate, path)
        if isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _check_one(
    rule: Rule, wanted: AttestationRule, attestation: VerifiedAttestation, now: datetime
) -> tuple[Outcome, str]:
    if wanted.slsa is not None:
        s = wanted.slsa
        try:
            verify_provenance(
                attestation.statement,
                ProvenanceExpectation(s.builder, s.source, s.tag, s.branch, s.build_type),
            )
        except VerificationFailed as e:
            return Outcome.FAIL, e.diagnostics()
    if wanted.max_age is not None:
        produced = _attestation_time(attestation)
        if produced is None:
            return (
                Outcome.INDETERMINATE,
                "the attestation states no time it was produced, so its age is unknown",
            )
        age = now - produced
        if age > wanted.max_age:
            return (
                Outcome.FAIL,
                f"produced {produced.isoformat()}, older than the maximum age {wanted.max_age}",
            )
    return Outcome.PASS, f"signed by {attestation.signer.distinct_id}"


def _attestations(rule: Rule, verification: Verification, now: datetime) -> list[RuleResult]:
    results = []
    for wanted in rule.attestations:
        check = f"attestation:{wanted.predicate_type}"
        candidates = [
            a for a in verification.attestations if a.statement.predicate_type == wanted.predicate_type
        ]
        unread = [signer for t, signer in verification.unread_types if t == wanted.predicate_type]
        if rule.signatures is not None:
            candidates = [a for a in candidates if _trusted(rule.signatures, [a.signer])]
            unread = _trusted(rule.signatures, unread)
        prefix = f"rule {rule.name!r}: attestation {wanted.predicate_type}"
        outcomes = [(_check_one(rule, wanted, a, now)) for a in candidates]
        passed = [why for o, why in outcomes if o is Outcome.PASS]
        if passed:
            results.append(RuleResult(rule.name, check, Outcome.PASS, (f"{prefix} verified, {passed[0]}",)))
            continue
        if unread and wanted.slsa is None and wanted.max_age is None:
            results.append(
                RuleResult(
                    rule.name, check, Outcome.PASS, (f"{prefix} verified, signed by {unread[0].distinct_id}",)
                )
            )
            continue
        reasons = [f"{prefix}: {why}" for _, why in outcomes]
        if unread:
            reasons.append(f"{prefix}: verified but its content was not available to check age or provenance")
        if not candidates and not unread:
            found = sorted({a.statement.predicate_type for a in verification.attestations})
            reasons.append(
                f"{prefix}: no verified attestation of this type by a trusted signer"
                f" (verified types: {', '.join(found) or 'none'})"
            )
        indeterminate = bool(unread) or any(o is Outcome.INDETERMINATE for o, _ in outcomes)
        if verification.could_not_check and not any(o is Outcome.FAIL for o, _ in outcomes):
            indeterminate = True
            reasons += [f"could not check: {c}" for c in verification.could_not_check]
        outcome = Outcome.INDETERMINATE if indeterminate else Outcome.FAIL
        results.append(RuleResult(rule.name, check, outcome, tuple(reasons)))
    return results


# ------------------------------------------------------------------------------------------ content


def _findings(audit: AuditResult, kind: FindingKind) -> list[Finding]:
    seen: dict[tuple[str, str | None, str | None], Finding] = {}
    for platform in audit.platforms:
        for finding in platform.findings:
            if finding.kind is kind:
                seen.setdefault((finding.id, finding.package_purl, finding.path), finding)
    return list(seen.values())


def _content_gap(check: str, audit: AuditResult | None, audit_error: str | None) -> str | None:
    """Why a content check cannot be decided from this audit, or None."""
    if audit is None:
        return f"the audit did not complete: {audit_error or 'not run'}"
    scanner = _SCANNER_FOR.get(check)
    if scanner is None:
        return None
    if scanner not in audit.scanners:
        return f"the {scanner} scanner did not run"
    for platform in audit.platforms:
        for note in platform.not_checked:
            if note.split(":", 1)[0].strip().lower() in (scanner, check):
                return note
    return None


def _aliases(finding: Finding) -> list[str]:
    value = finding.detail("aliases")
    return [a for a in value if isinstance(a, str)] if isinstance(value, list | tuple) else []


def _fixable(finding: Finding) -> bool:
    for key in ("fixed_versions", "fixed_version", "fix"):
        value = finding.detail(key)
        if value:
            return True
    return False


def _strip_purl(purl: str) -> str:
    return re.split(r"[@?#]", purl, maxsplit=1)[0]


def _vex_applies(products: Sequence[str], finding: Finding, image: str, digest: str) -> bool:
    if not products:
        return True
    purl = finding.package_purl or ""
    for product in products:
        if purl and (product == purl or (("@" not in product) and _strip_purl(product) == _strip_purl(purl))):
            return True
        if product in (image, digest) or product.endswith(digest):
            return True
    return False


@dataclass(frozen=True)
class VulnerabilityCheck:
    """What one rule's vulnerability limits make of a set of findings."""

    violations: tuple[Finding, ...]  # over the limits, in the order given
    suppressed: tuple[Suppression, ...]  # let through by a VEX statement or an active waiver
    expired: tuple[str, ...]  # notes on waivers that matched a finding but have expired


def check_vulnerabilities(
    rule: Rule, findings: Iterable[Finding], now: datetime, *, image: str, digest: str
) -> VulnerabilityCheck:
    """Apply ``rule.vulnerabilities`` (VEX, waivers, ``fixableOnly``, ``maxSeverity``) to ``findings``.

    The one place these limits are decided, so ``evaluate`` and ``rescan`` (which has new findings but no
    audit) agree.  ``image`` (``registry/repository``) and ``digest`` are the products a VEX statement may
    name.  A rule without vulnerability limits lets everything through.
    """
    vr = rule.vulnerabilities
    if vr is None:
        return VulnerabilityCheck((), (), ())
    notes = _Notes()
    violations: list[Finding] = []
    for finding in findings:
        ids = [finding.id, *_aliases(finding)]
        vex = next(
            (
                v
                for v in vr.vex
                if v.vulnerability in ids
                and v.status in ("not_affected", "fixed")
                and _vex_applies(v.products, finding, image, digest)
            ),
            None,
        )
        if vex is not None:
            why = f"VEX {vex.source}: {vex.status}" + (f" ({vex.justification})" if vex.justification else "")
            notes.suppressed.append(Suppression(rule.name, finding.id, finding.package_purl, why))
            continue
        waived = notes.waived(rule, vr.ignore, ids, now)
        if waived is not None:
            notes.suppressed.append(Suppression(rule.name, finding.id, finding.package_purl, waived))
            continue
        if vr.fixable_only and not _fixable(finding):
            continue
        if vr.max_severity is None or vr.max_severity < finding.severity.gating:
            violations.append(finding)
    return VulnerabilityCheck(tuple(violations), tuple(notes.suppressed), tuple(notes.expired))


def _vulnerabilities(
    rule: Rule,
    vr: VulnerabilityRule,
    audit: AuditResult,
    image: str,
    digest: str,
    notes: _Notes,
    now: datetime,
) -> RuleResult:
    checked = check_vulnerabilities(
        rule, _findings(audit, FindingKind.VULNERABILITY), now, image=image, digest=digest
    )
    notes.suppressed.extend(checked.suppressed)
    notes.expired.extend(n for n in checked.expired if n not in notes.expired)
    violations = checked.violations
    limit = f"above {vr.max_severity.value}" if vr.max_severity is not None else "of any severity"
    scope = " with a fix available" if vr.fixable_only else ""
    if not violations:
        return RuleResult(
            rule.name,
            "vulnerabilities",
            Outcome.PASS,
            (f"rule {rule.name!r}: no vulnerability {limit}{scope}",),
        )
    listed = ", ".join(f"{f.id} ({f.severity.value}, {f.package_purl or '?'})" for f in violations[:5])
    more = f" and {len(violations) - 5} more" if len(violations) > 5 else ""
    return RuleResult(
        rule.name,
        "vulnerabilities",
        Outcome.FAIL,
        (f"rule {rule.name!r}: {len(violations)} vulnerabilit(ies) {limit}{scope}: {listed}{more}",),
        violations,
    )


def _forbidden(
    rule: Rule,
    check: str,
    kind: FindingKind,
    fr: ForbidRule,
    audit: AuditResult,
    notes: _Notes,
    now: datetime,
) -> RuleResult:
    violations = []
    for finding in _findings(audit, kind):
        keys = [finding.id, f"{finding.id}:{finding.path}" if finding.path else ""]
        waived = notes.waived(rule, fr.waive, keys, now)
        if waived is not None:
            notes.suppressed.append(Suppression(rule.name, finding.id, finding.path, waived))
        else:
            violations.append(finding)
    if not violations:
        return RuleResult(rule.name, check, Outcome.PASS, (f"rule {rule.name!r}: no {kind.value} found",))
    listed = ", ".join(f"{f.id} at {f.path or '?'}" for f in violations[:5])
    return RuleResult(
        rule.name,
        check,
        Outcome.FAIL,
        (f"rule {rule.name!r}: {len(violations)} {kind.value} finding(s): {listed}",),
        tuple(violations),
    )


def _config(rule: Rule, cr: ConfigRule, audit: AuditResult, notes: _Notes, now: datetime) -> RuleResult:
    violations = []
    for finding in _findings(audit, FindingKind.MISCONFIGURATION):
        if not any(fnmatch.fnmatchcase(finding.id, pattern) for pattern in cr.enforce):
            continue
        waived = notes.waived(rule, cr.waive, [finding.id], now)
        if waived is not None:
            notes.suppressed.append(Suppression(rule.name, finding.id, finding.path, waived))
        else:
            violations.append(finding)
    if not violations:
        return RuleResult(
            rule.name, "config", Outcome.PASS, (f"rule {rule.name!r}: no enforced config check failed",)
        )
    listed = ", ".join(f"{f.id} ({f.title})" for f in violations[:5])
    return RuleResult(
        rule.name,
        "config",
        Outcome.FAIL,
        (f"rule {rule.name!r}: {len(violations)} enforced config check(s) failed: {listed}",),
        tuple(violations),
    )


def _packages(rule: Rule, dr: DenyRule, audit: AuditResult, notes: _Notes, now: datetime) -> RuleResult:
    denied: dict[str, str] = {}
    for platform in audit.platforms:
        for located in platform.packages:
            purl = located.package.purl
            pattern = next((p for p in dr.deny if fnmatch.fnmatchcase(purl, p)), None)
            if pattern is None or purl in denied:
                continue
            waived = notes.waived(rule, dr.waive, [purl, located.package.name], now)
            if waived is not None:
                notes.suppressed.append(Suppression(rule.name, "denied-package", purl, waived))
            else:
                denied[purl] = pattern
    if not denied:
        return RuleResult(
            rule.name, "packages", Outcome.PASS, (f"rule {rule.name!r}: no denied package installed",)
        )
    listed = ", ".join(f"{purl} (denied by {p!r})" for purl, p in list(denied.items())[:5])
    return RuleResult(
        rule.name,
        "packages",
        Outcome.FAIL,
        (f"rule {rule.name!r}: {len(denied)} denied package(s): {listed}",),
    )


def _license_denied(expression: str, deny: Sequence[str]) -> bool:
    """Denied when every OR alternative contains a denied license id (AND/WITH parts all count)."""
    alternatives = re.split(r"\s+OR\s+", expression.replace("(", " ").replace(")", " "))
    for alternative in alternatives:
        ids = [t for t in re.split(r"\s+(?:AND|WITH)\s+|\s+", alternative.strip()) if t]
        if not any(fnmatch.fnmatchcase(i, pattern) for i in ids for pattern in deny):
            return False
    return True


def _licenses(rule: Rule, dr: DenyRule, audit: AuditResult, notes: _Notes, now: datetime) -> RuleResult:
    denied: dict[str, str] = {}
    for platform in audit.platforms:
        for located in platform.packages:
            package = located.package
            for expression in package.licenses:
                if package.purl in denied or not _license_denied(expression, dr.deny):
                    continue
                waived = notes.waived(rule, dr.waive, [package.purl, package.name, expression], now)
                if waived is not None:
                    notes.suppressed.append(Suppression(rule.name, "denied-license", package.purl, waived))
                else:
                    denied[package.purl] = expression
    if not denied:
        return RuleResult(
            rule.name, "licenses", Outcome.PASS, (f"rule {rule.name!r}: no denied license found",)
        )
    listed = ", ".join(f"{purl} ({lic})" for purl, lic in list(denied.items())[:5])
    return RuleResult(
        rule.name,
        "licenses",
        Outcome.FAIL,
        (f"rule {rule.name!r}: {len(denied)} package(s) under a denied license: {listed}",),
    )


# ------------------------------------------------------------------------------------------ driver


def _content(
    rule: Rule,
    audit: AuditResult | None,
    audit_error: str | None,
    image: str,
    digest: str,
    notes: _Notes,
    now: datetime,
) -> list[RuleResult]:
    checks: list[tuple[str, object]] = [
        ("vulnerabilities", rule.vulnerabilities),
        ("secrets", rule.secrets),
        ("malware", rule.malware),
        ("config", rule.config),
        ("packages", rule.packages),
        ("licenses", rule.licenses),
    ]
    results = []
    for check, spec in checks:
        if spec is None:
            continue
        gap = _content_gap(check, audit, audit_error)
        if gap is not None or audit is None:
            results.append(
                RuleResult(
                    rule.name,
                    check,
                    Outcome.INDETERMINATE,
                    (f"rule {rule.name!r}: {check} could not be checked: {gap}",),
                )
            )
        elif isinstance(spec, VulnerabilityRule):
            results.append(_vulnerabilities(rule, spec, audit, image, digest, notes, now))
        elif isinstance(spec, ForbidRule):
            kind = FindingKind.SECRET if check == "secrets" else FindingKind.MALWARE
            results.append(_forbidden(rule, check, kind, spec, audit, notes, now))
        elif isinstance(spec, ConfigRule):
            results.append(_config(rule, spec, audit, notes, now))
        elif isinstance(spec, DenyRule) and check == "packages":
            results.append(_packages(rule, spec, audit, notes, now))
        elif isinstance(spec, DenyRule):
            results.append(_licenses(rule, spec, audit, notes, now))
    return results


def _final(results: Sequence[RuleResult]) -> Outcome:
    outcomes = {r.outcome for r in results}
    if Outcome.FAIL in outcomes:
        return Outcome.FAIL
    if Outcome.INDETERMINATE in outcomes or Outcome.PASS not in outcomes:
        return Outcome.INDETERMINATE
    return Outcome.PASS


def evaluate(
    policy: Policy,
    image_name: str,
    verification: Verification,
    audit: AuditResult | None,
    now: datetime,
    *,
    audit_error: str | None = None,
) -> Decision:
    """Decide ``image_name`` (``registry/repository``) from verified evidence and audit results.

    ``audit`` is None when the audit could not complete (``audit_error`` says why): every content check
    is then indeterminate.  ``now`` is the clock for waiver expiry and attestation age.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    rules = policy.rules_for(image_name)
    if not rules:
        reason = f"no rule in policy {policy.name!r} covers {image_name} (fail closed)"
        return Decision(Outcome.FAIL, policy.mode, policy.name, image_name, (reason,), (), evaluated_at=now)
    notes = _Notes()
    results: list[RuleResult] = []
    digest = str(verification.digest)
    for rule in rules:
        if rule.signatures is not None:
            results.append(_signatures(rule, rule.signatures, verification))
        results.extend(_attestations(rule, verification, now))
        results.extend(_content(rule, audit, audit_error, image_name, digest, notes, now))
        if not any(r.rule == rule.name for r in results):
            results.append(
                RuleResult(
                    rule.name, "rule", Outcome.NOT_APPLICABLE, (f"rule {rule.name!r} requires nothing",)
                )
            )
    outcome = _final(results)
    if outcome is Outcome.PASS:
        reasons: tuple[str, ...] = (f"{len(results)} check(s) of {len(rules)} rule(s) passed",)
    else:
        reasons = tuple(reason for r in results if r.outcome is outcome for reason in r.reasons[:1])
    return Decision(
        outcome,
        policy.mode,
        policy.name,
        image_name,
        reasons,
        tuple(results),
        tuple(notes.suppressed),
        tuple(notes.expired),
        now,
    )
