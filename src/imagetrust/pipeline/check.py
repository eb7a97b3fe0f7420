"""``check``: verify + audit + policy in one run, on ONE digest.

The reference is resolved once here; verification and audit are then run on ``registry/repo@digest``, so
a tag moved between the two cannot make them look at different images (for offline sources the digests
they report are compared instead).  Failures to reach evidence or content become "could not check"
inputs to the policy, which turns them into an indeterminate decision rather than an exception, so the
report still says everything that was established.

The verify pipeline reports attestations as ``ItemResult`` summaries without statement content; until it
carries the verified statement (``ItemResult.statement``, read here when present), keyed DSSE attestations
are re-verified here with the same public verify functions so policy can read builder, source and time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography import x509

from imagetrust.audit.result import AuditResult
from imagetrust.audit.scanner import Scanner
from imagetrust.discovery.attached import find_attached
from imagetrust.errors import CouldNotCheck, ImageTrustError, UsageError, VerificationFailed
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import DirRef, RegistryRef, parse_source
from imagetrust.pipeline.audit import audit_image
from imagetrust.pipeline.scanners import ScannerOptions, build_scanners
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.pipeline.verify import VerifyOptions, verify_image
from imagetrust.policy.evaluate import Decision, evaluate
from imagetrust.policy.model import (
    KeyAuthority,
    KeylessAuthority,
    Policy,
    Verification,
    VerifiedAttestation,
    VerifiedSigner,
)
from imagetrust.registry.open import open_store
from imagetrust.registry.resolve import resolve_image
from imagetrust.registry.store import ImageStore
from imagetrust.report.trust import TrustReport
from imagetrust.report.verify import ItemResult, Outcome, VerifyResult
from imagetrust.trust.keys import KeyId, PublicKey
from imagetrust.verify.dsse import parse_envelope, verify_envelope
from imagetrust.verify.evidence import attestation_items
from imagetrust.verify.results import CertIdentity, VerifiedStatement
from imagetrust.verify.statement import require_subject, statement_from_envelope


@dataclass(frozen=True)
class KeylessMaterial:
    """Trust material for keyless signers (as ``verify`` takes it)."""

    trusted_root: Path | None = None
    fulcio_roots: tuple[x509.Certificate, ...] = ()
    rekor_keys: tuple[PublicKey, ...] = ()


CheckResult = TrustReport  # what check_image returns: the trust report's model


def _scanner_names(policy: Policy) -> list[str]:
    names: list[str] = []
    for rule in policy.rules:
        for wanted, name in (
            (rule.vulnerabilities, "vuln"),
            (rule.secrets, "secret"),
            (rule.config, "config"),
            (rule.malware, "malware"),
        ):
            if wanted is not None and name not in names:
                names.append(name)
    return names


def policy_scanners(policy: Policy, options: ScannerOptions) -> tuple[list[Scanner], tuple[str, ...]]:
    """The scanners the policy needs; ones this build cannot make are returned by name (not run)."""
    scanners, missing = [], []
    for name in _scanner_names(policy):
        try:
            scanners.extend(build_scanners([name], options))
        except UsageError:
            missing.append(name)
    return scanners, tuple(missing)


def verify_options(policy: Policy, material: KeylessMaterial) -> list[VerifyOptions]:
    """The verify runs a policy's authorities need: one with every trusted key, plus one per keyless
    identity (a verify run takes one identity). Shared by ``check`` and the admission server."""
    authorities = policy.authorities()
    keys = tuple(a.key for a in authorities if isinstance(a, KeyAuthority))
    identities = [a.identity for a in authorities if isinstance(a, KeylessAuthority)]
    runs = []
    if keys:
        runs.append(VerifyOptions(keys=keys, threshold=1))
    for identity in identities:
        runs.append(
            VerifyOptions(
                keys=keys,
                identity=identity,
                fulcio_roots=material.fulcio_roots,
                rekor_keys=material.rekor_keys,
                trusted_root=material.trusted_root,
            )
        )
    return runs


def _signer(item: ItemResult) -> VerifiedSigner | None:
    """The verified signer of an item the verify pipeline accepted (None for anything else)."""
    signer = item.signer
    if not item.verified or signer is None:
        return None
    evidence = f"{item.format} from {item.found_in.describe()}"
    if item.tlog:
        evidence += f"; tlog: {item.tlog}"
    if signer.key_id is not None:
        return VerifiedSigner(KeyId(signer.key_id.removeprefix("sha256:")), None, evidence)
    if signer.identity is not None:
        # Claims are not carried by the verify report; identity and issuer are what authorities match.
        return VerifiedSigner(None, CertIdentity(signer.identity, "unknown", signer.issuer), evidence)
    return None


def _keyed_statements(
    store: ImageStore, digest: Digest, keys: Sequence[PublicKey], settings: SourceSettings
) -> list[tuple[VerifiedStatement, KeyId]]:
    """Keyed DSSE attestations under the cosign ``.att`` tag, verified again for their content."""
    if not keys:
        return []
    limits = settings.limits
    out = []
    for attachment in find_attached(store, digest, limits).cosign:
        if attachment.kind != "att":
            continue
        for item in attestation_items(
            attachment.manifest, attachment.tag, store.location, store.read_blob, limits
        ):
            try:
                verified = verify_envelope(parse_envelope(item.envelope, limits=limits), list(keys))
                statement = statement_from_envelope(verified, limits=limits)
                require_subject(statement, digest)
            except VerificationFailed:
                continue  # the verify report already says why this item failed
            out.append((statement, sorted(verified.signers)[0]))
    return out


def collect_verification(
    store: ImageStore,
    digest: Digest,
    results: Sequence[VerifyResult],
    errors: Sequence[str],
    keys: Sequence[PublicKey],
    settings: SourceSettings,
) -> Verification:
    """Fold verify runs into the ``Verification`` policy evaluates: signers and attestations that
    verified for ``digest`` only, what could not be checked (``errors`` and indeterminate subjects),
    and what was rejected. Keyed attestations whose statement the verify report does not carry are
    read and verified again here. Shared by ``check`` and the admission server."""
    signers: dict[str, VerifiedSigner] = {}
    typed: list[tuple[str, VerifiedSigner, VerifiedStatement | None]] = []
    could_not_check = list(errors)
    rejected: list[str] = []
    for result in results:
        for subject in result.subjects:
            if subject.digest != digest:
                continue
            if subject.outcome is Outcome.INDETERMINATE:
                could_not_check.append(subject.reason)
            for item in subject.signatures:
                if not item.verified:
                    rejected.append(f"{item.format} from {item.found_in.describe()}: {item.reason}")
                signer = _signer(item)
                if signer is not None:
                    signers.setdefault(signer.distinct_id, signer)
            for item in subject.attestations:
                signer = _signer(item)
                if signer is not None and item.predicate_type:
                    statement = getattr(item, "statement", None)
                    typed.append((item.predicate_type, signer, statement))
    attestations: list[VerifiedAttestation] = []
    for _type, signer, statement in typed:
        if isinstance(statement, VerifiedStatement):
            attestations.append(VerifiedAttestation(statement, signer))
    unread: list[tuple[str, VerifiedSigner]] = []
    if any(statement is None for _, _, statement in typed):
        try:
            reread = _keyed_statements(store, digest, keys, settings)
        except CouldNotCheck as e:
            could_not_check.append(e.diagnostics())
            reread = []
        for statement, key_id in reread:
            match = next(
                (s for t, s, _ in typed if s.key_id == key_id and t == statement.predicate_type), None
            )
            if match is not None:
                attestations.append(VerifiedAttestation(statement, match))
        read_types = {(a.statement.predicate_type, a.signer.distinct_id) for a in attestations}
        unread = [(t, s) for t, s, st in typed if st is None and (t, s.distinct_id) not in read_types]
    return Verification(
        digest,
        tuple(signers.values()),
        tuple(attestations),
        tuple(unread),
        tuple(dict.fromkeys(could_not_check)),
        tuple(dict.fromkeys(rejected)),
    )


def check_image(
    reference: str,
    settings: SourceSettings,
    policy: Policy,
    *,
    now: datetime,
    scanners: Sequence[Scanner] | None = None,
    scanner_options: ScannerOptions | None = None,
    keyless: KeylessMaterial | None = None,
    base: str | None = None,
) -> CheckResult:
    """Resolve ``reference`` once, verify and audit that digest, and evaluate ``policy`` over both.

    ``scanners`` overrides the ones built from the policy's needs (tests and callers with their own).
    Raises only for usage problems and for a reference that cannot be resolved at all (could not check).
    """
    ref = parse_source(reference)
    if isinstance(ref, DirRef):
        raise UsageError(f"{reference}: a root filesystem directory carries no signatures to check")
    if any(rule.attestations for rule in policy.rules) and not policy.authorities():
        raise UsageError(
            f"{policy.source}: attestation requirements need signature authorities in the policy"
        )
    limits = settings.limits
    store = open_store(ref, settings.registry, limits, settings.cache())
    resolved = resolve_image(store, settings.selection, limits)
    digest = resolved.digest
    pinned = str(ref.with_digest(digest)) if isinstance(ref, RegistryRef) else reference
    image_name = ref.name if isinstance(ref, RegistryRef) else str(ref)
    if isinstance(ref, RegistryRef):
        store = open_store(ref.with_digest(digest), settings.registry, limits, settings.cache())

    results: list[VerifyResult] = []
    errors: list[str] = []
    keys = tuple(a.key for a in policy.authorities() if isinstance(a, KeyAuthority))
    for options in verify_options(policy, keyless or KeylessMaterial()):
        try:
            result = verify_image(pinned, settings, options)
        except CouldNotCheck as e:
            errors.append(e.diagnostics())
            continue
        if result.digest != digest:
            errors.append(f"verification saw {result.digest}, not the resolved {digest}")
            continue
        results.append(result)
    verification = collect_verification(store, digest, results, errors, keys, settings)

    missing: tuple[str, ...] = ()
    if scanners is None:
        scanners, missing = policy_scanners(policy, scanner_options or ScannerOptions())
    audit: AuditResult | None = None
    audit_error: str | None = None
    try:
        audited = audit_image(pinned, settings, scanners, base=base)
        if audited.resolved.digest == digest:
            audit = audited
        else:
            audit_error = f"the audit saw {audited.resolved.digest}, not the resolved {digest}"
    except CouldNotCheck as e:
        audit_error = e.diagnostics()
    except ImageTrustError as e:
        if isinstance(e, UsageError):
            raise
        audit_error = e.diagnostics()
    decision = evaluate(policy, image_name, verification, audit, now, audit_error=audit_error)
    return CheckResult(
        pinned,
        image_name,
        digest,
        policy,
        tuple(results),
        verification,
        audit,
        audit_error,
        decision,
        missing,
    )


def with_decision(result: CheckResult, decision: Decision) -> CheckResult:
    """The same evidence under another decision (e.g. re-evaluated at another time)."""
    return replace(result, decision=decision)
