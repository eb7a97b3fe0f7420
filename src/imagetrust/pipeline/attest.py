"""``attest``: assess an image once, sign the result as in-toto Statements, attach them to the image.

The reference is resolved to a digest once; verification (when keys are given) and the audit then run on
that digest, and the statements name it.  An assessment that could not be completed because evidence could
not be fetched (verification INDETERMINATE) is not signed: a signed statement must never turn "could not
check" into "checked".  With a policy file the ``check`` pipeline (verify + audit + policy) decides and the
VSA names the file by the digest of its bytes; without one, the decision is the built-in audit rule (no
finding at or above ``fail_on``) plus the optional verification.  An indeterminate policy decision is not
signed either.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from imagetrust import __version__
from imagetrust.attest.push import AttachedAttestation, attach_attestation
from imagetrust.attest.sign import SigningKey, sign_envelope
from imagetrust.attest.statement import (
    AUDIT_PREDICATE_TYPE,
    BUILTIN_POLICY_URI,
    VSA_PREDICATE_TYPE,
    Assessment,
    InputAttestation,
    PolicyRef,
    Result,
    SubjectDigest,
    audit_statement,
    canonical_json,
    vsa_statement,
)
from imagetrust.audit.findings import Severity
from imagetrust.audit.scanner import Scanner
from imagetrust.errors import CouldNotCheck, NotFound, UsageError
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.oci.reference import RegistryRef, parse_source
from imagetrust.pipeline.audit import audit_image
from imagetrust.pipeline.check import CheckResult, KeylessMaterial, check_image
from imagetrust.pipeline.scanners import ScannerOptions
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.pipeline.verify import VerifyOptions, verify_image
from imagetrust.policy.evaluate import Outcome as PolicyOutcome
from imagetrust.policy.model import Policy
from imagetrust.registry.repository import open_repository
from imagetrust.registry.resolve import ImageNotFound, PlatformSelection
from imagetrust.report.audit import summary, worst_severity
from imagetrust.report.verify import Outcome, VerifyResult

TYPE_NAMES = {"audit": AUDIT_PREDICATE_TYPE, "vsa": VSA_PREDICATE_TYPE}


@dataclass(frozen=True)
class PolicyFile:
    """A loaded policy and the file it came from: the VSA names it by ``uri`` and the sha256 of its bytes."""

    policy: Policy
    uri: str
    digest: Digest


@dataclass(frozen=True)
class AttestOptions:
    key: SigningKey
    predicate_types: tuple[str, ...] = (AUDIT_PREDICATE_TYPE, VSA_PREDICATE_TYPE)
    fail_on: Severity | None = Severity.CRITICAL  # built-in rule: a finding at or above fails
    verify: VerifyOptions | None = None  # verify signatures/attestations first and record the result
    push: bool = True
    now: datetime.datetime | None = None
    policy: PolicyFile | None = None  # decide with this policy (check pipeline) instead of the built-in rule
    scanner_options: ScannerOptions | None = None  # scanners the policy needs (--db, --malware-rules)
    keyless: KeylessMaterial | None = None  # for the policy's keyless authorities


@dataclass(frozen=True)
class SignedStatement:
    predicate_type: str
    payload: bytes = field(repr=False)
    envelope: bytes = field(repr=False)


@dataclass(frozen=True)
class AttestResult:
    reference: str  # registry/repository@digest
    assessment: Assessment
    statements: tuple[SignedStatement, ...]
    attached: tuple[AttachedAttestation, ...]
    notes: tuple[str, ...]

    @property
    def digest(self) -> Digest:
        return self.assessment.digest


def _verification(result: VerifyResult) -> tuple[dict[str, Any], tuple[InputAttestation, ...]]:
    inputs: dict[tuple[str, Digest], InputAttestation] = {}
    signers: set[str] = set()
    types: set[str] = set()
    for subject in result.subjects:
        signers.update(subject.signers)
        for item in (*subject.signatures, *subject.attestations):
            if not item.verified:
                continue
            if item.predicate_type:
                types.add(item.predicate_type)
            where = f"{item.found_in.repository}@{item.found_in.manifest}"
            inputs.setdefault(
                (where, item.found_in.manifest), InputAttestation(where, item.found_in.manifest)
            )
    summary_doc = {
        "outcome": result.outcome.value,
        "reason": result.reason,
        "signers": sorted(signers),
        "threshold": result.requirements.threshold,
        "attestationTypes": sorted(types),
    }
    return summary_doc, tuple(inputs.values())


def _builtin_policy(options: AttestOptions, scanners: Sequence[str]) -> PolicyRef:
    verify = options.verify
    settings: dict[str, Any] = {
        "failOn": options.fail_on.value if options.fail_on is not None else None,
        "scanners": list(scanners),
        "verify": None
        if verify is None
        else {
            "keys": sorted(str(k.key_id) for k in verify.keys),
            "threshold": verify.threshold,
            "requireSignatures": verify.require_signatures,
            "predicateTypes": list(verify.predicate_types),
        },
    }
    return PolicyRef(BUILTIN_POLICY_URI, Digest.of(canonical_json(settings)), "builtin", settings)


def _decide(
    options: AttestOptions, worst: Severity | None, gaps: Sequence[str], verified: VerifyResult | None
) -> tuple[Result, tuple[str, ...]]:
    reasons: list[str] = []
    failed = False
    if verified is not None and verified.outcome is Outcome.FAILED:
        failed = True
        reasons.append(f"verification failed: {verified.reason}")
    # ``worst`` is already the gating severity: an unknown one counts as critical (as in policies, audit
    # and rescan --fail-on).
    if options.fail_on is not None and worst is not None and not worst < options.fail_on:
        failed = True
        reasons.append(f"a {worst.value} finding is at or above {options.fail_on.value}")
    reasons.extend(f"not checked: {gap}" for gap in gaps)
    if failed:
        return Result.FAILED, tuple(reasons)
    if gaps:
        return Result.INCOMPLETE, tuple(reasons)
    return Result.PASSED, tuple(reasons) or ("every check passed",)


def _policy_verification(report: CheckResult) -> tuple[dict[str, Any], tuple[InputAttestation, ...]]:
    """The verification summary of every verify run the check made, merged (one per keyless identity)."""
    docs, inputs = [], {}
    for result in report.verify_results:
        doc, found = _verification(result)
        docs.append(doc)
        inputs.update({(i.uri, i.digest): i for i in found})
    verification = report.verification
    summary_doc: dict[str, Any] = {
        "outcome": report.decision.outcome.value,
        "signers": sorted(s.distinct_id for s in verification.signers),
        "attestationTypes": sorted({a.statement.predicate_type for a in verification.attestations}),
        "runs": docs,
    }
    return summary_doc, tuple(inputs.values())


def _assess_with_policy(
    ref: RegistryRef, top: Descriptor, settings: SourceSettings, options: AttestOptions, policy: PolicyFile
) -> Assessment:
    """The check pipeline decides; PASSED or FAILED is signed, indeterminate is refused (never signed)."""
    pinned = str(ref.with_digest(top.digest))
    everything = replace(settings, selection=PlatformSelection(all_platforms=True))
    now = options.now or datetime.datetime.now(datetime.UTC)
    report = check_image(
        pinned,
        everything,
        policy.policy,
        now=now,
        scanner_options=options.scanner_options,
        keyless=options.keyless,
    )
    decision = report.decision
    if report.digest != top.digest:
        raise CouldNotCheck(f"{pinned}: the check saw {report.digest}, not {top.digest}")
    if decision.outcome is PolicyOutcome.INDETERMINATE:
        reasons = "; ".join(decision.reasons) or "nothing could be decided"
        raise CouldNotCheck(f"{pinned}: the policy could not decide (nothing signed): {reasons}")
    result = Result.PASSED if decision.outcome is PolicyOutcome.PASS else Result.FAILED
    subjects = [SubjectDigest(top.digest, "index" if top.media_type.endswith("index.v1+json") else "image")]
    audit_doc: dict[str, Any] | None = None
    audited = report.audit
    if audited is not None:
        subjects[0] = SubjectDigest(top.digest, "index" if audited.resolved.is_index else "image")
        for platform in audited.platforms:
            if platform.image.digest != top.digest:
                subjects.append(
                    SubjectDigest(platform.image.digest, "platform", str(platform.image.platform))
                )
        worst = worst_severity(audited)
        audit_doc = {
            "scanners": list(audited.scanners),
            "worstSeverity": worst.value if worst is not None else None,
            "notChecked": [
                f"{p.image.platform or 'image'}: {note}" for p in audited.platforms for note in p.not_checked
            ],
            **summary(audited),
        }
    verification, inputs = _policy_verification(report)
    checks = {r.id: r.outcome.value for r in decision.results}
    return Assessment(
        name=ref.name,
        media_type=top.media_type,
        subjects=tuple(subjects),
        result=result,
        reasons=decision.reasons or ("every policy check passed",),
        policy=PolicyRef(
            policy.uri,
            policy.digest,
            "file",
            {"name": policy.policy.name, "mode": policy.policy.mode.value, "checks": checks},
        ),
        time_verified=now,
        tool_version=__version__,
        verification=verification,
        audit=audit_doc,
        inputs=inputs,
    )


def assess_image(
    reference: str, settings: SourceSettings, scanners: Sequence[Scanner] | None, options: AttestOptions
) -> tuple[RegistryRef, Descriptor, Assessment]:
    """Resolve once, verify (if asked) and audit every platform of the digest, and decide.

    With ``options.policy`` the policy decides and builds its own scanners (``scanners`` must be None).
    """
    ref = parse_source(reference)
    if not isinstance(ref, RegistryRef):
        raise UsageError(f"{reference}: attest needs a registry reference (statements are pushed there)")
    repo = open_repository(ref, settings.registry)
    try:
        top = repo.resolve()
    except NotFound as e:
        raise ImageNotFound(f"image not found: {e.diagnostics()}") from e
    if options.policy is not None:
        if scanners is not None or options.verify is not None:
            raise UsageError("with a policy, the policy decides what is verified and scanned")
        return ref, top, _assess_with_policy(ref, top, settings, options, options.policy)
    if scanners is None:
        raise UsageError("attest without a policy needs the scanners to run")
    pinned = str(ref.with_digest(top.digest))
    everything = replace(settings, selection=PlatformSelection(all_platforms=True))
    verified: VerifyResult | None = None
    verification: dict[str, Any] | None = None
    inputs: tuple[InputAttestation, ...] = ()
    if options.verify is not None:
        verified = verify_image(pinned, settings, options.verify)
        if verified.outcome is Outcome.INDETERMINATE:
            raise CouldNotCheck(f"{pinned}: verification could not be completed: {verified.reason}")
        verification, inputs = _verification(verified)
    audited = audit_image(pinned, everything, scanners)
    gaps = [f"{p.image.platform or 'image'}: {note}" for p in audited.platforms for note in p.not_checked]
    worst = worst_severity(audited)
    gating = max((f.severity.gating for p in audited.platforms for f in p.findings), default=None)
    result, reasons = _decide(options, gating, gaps, verified)
    subjects = [SubjectDigest(top.digest, "index" if audited.resolved.is_index else "image")]
    for platform in audited.platforms:
        if platform.image.digest != top.digest:
            subjects.append(SubjectDigest(platform.image.digest, "platform", str(platform.image.platform)))
    audit_doc: dict[str, Any] = {
        "scanners": list(audited.scanners),
        "worstSeverity": worst.value if worst is not None else None,
        "notChecked": gaps,
        **summary(audited),
    }
    assessment = Assessment(
        name=ref.name,
        media_type=top.media_type,
        subjects=tuple(subjects),
        result=result,
        reasons=reasons,
        policy=_builtin_policy(options, audited.scanners),
        time_verified=options.now or datetime.datetime.now(datetime.UTC),
        tool_version=__version__,
        verification=verification,
        audit=audit_doc,
        inputs=inputs,
    )
    return ref, top, assessment


def sign_statements(assessment: Assessment, options: AttestOptions) -> tuple[SignedStatement, ...]:
    builders = {AUDIT_PREDICATE_TYPE: audit_statement, VSA_PREDICATE_TYPE: vsa_statement}
    out = []
    for predicate_type in options.predicate_types:
        payload = builders[predicate_type](assessment)
        out.append(SignedStatement(predicate_type, payload, sign_envelope(payload, options.key)))
    return tuple(out)


def attest_image(
    reference: str, settings: SourceSettings, scanners: Sequence[Scanner] | None, options: AttestOptions
) -> AttestResult:
    """Assess, sign and (unless ``options.push`` is false) attach both ways to the image's digest."""
    if not options.predicate_types:
        raise UsageError("nothing to attest: no predicate type chosen")
    ref, subject, assessment = assess_image(reference, settings, scanners, options)
    statements = sign_statements(assessment, options)
    attached: list[AttachedAttestation] = []
    if options.push:
        repo = open_repository(ref, settings.registry)
        for signed in statements:
            attached.append(
                attach_attestation(
                    repo, subject, signed.envelope, signed.predicate_type, assessment.time_verified
                )
            )
    notes: tuple[str, ...] = ()
    if options.policy is None:
        notes = (
            "no policy file: the decision is the built-in audit rule"
            " plus signature verification when --verify-key is given",
        )
    return AttestResult(f"{ref.name}@{assessment.digest}", assessment, statements, tuple(attached), notes)
