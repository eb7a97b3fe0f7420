"""``verify``: resolve once, discover everything attached to each subject digest, verify each item, decide.

Per subject the outcome is one of three.  Any ``CouldNotCheck`` while discovering or reading evidence
(5xx, 429, timeouts, bounds exceeded) makes that subject INDETERMINATE, never "unsigned".  Items that fail
verification are kept with their reason; a subject passes only when enough DISTINCT signers verified and
every required attestation type verified with this digest as its subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from imagetrust.discovery.attached import AttachedEvidence, add_referrers, find_attached
from imagetrust.discovery.referrers import referrer_manifests, sigstore_bundle_referrers
from imagetrust.errors import CouldNotCheck, LocalInputError, NotFound, UsageError, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Index, Manifest
from imagetrust.oci.reference import DirRef, RegistryRef, parse_registry_ref, parse_source
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.registry.open import open_store
from imagetrust.registry.resolve import ImageNotFound, resolve_image
from imagetrust.registry.store import ImageStore
from imagetrust.report.verify import (
    FoundIn,
    ItemResult,
    LayoutResult,
    Outcome,
    Requirements,
    RuleResult,
    Signer,
    SubjectResult,
    VerifyResult,
)
from imagetrust.trust.keys import KeyId, PublicKey, load_public_key
from imagetrust.verify.dsse import EnvelopeSignature, parse_envelope, verify_envelope
from imagetrust.verify.encoding import b64decode
from imagetrust.verify.evidence import (
    AttestationItem,
    BundleItem,
    Origin,
    SignatureItem,
    attestation_items,
    bundle_items,
    signature_items,
)
from imagetrust.verify.results import CertIdentity, VerifiedStatement
from imagetrust.verify.simplesigning import SIMPLE_SIGNING_MEDIA_TYPE, verify_simple_signing
from imagetrust.verify.slsa import SLSA_V02, SLSA_V1, ProvenanceExpectation, verify_provenance
from imagetrust.verify.statement import require_subject, statement_from_envelope

if TYPE_CHECKING:  # the keyless, notation, transparency-log and layout stacks load only when used
    from cryptography import x509

    from imagetrust.trust.config import Authority, ImageRule, TrustConfig
    from imagetrust.trust.notation_store import NotationTrustStore
    from imagetrust.verify.identity import IdentityPolicy
    from imagetrust.verify.layout import LayoutKey
    from imagetrust.verify.notation import NotationItem

COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
_NO_TLOG = "no tlog verification (no Rekor key given)"


@dataclass(frozen=True)
class LayoutCheck:
    """An in-toto layout, the keys that must all have signed it, and where its step links are."""

    path: Path
    keys: tuple[LayoutKey, ...]
    link_dir: Path

    def __post_init__(self) -> None:
        if not self.keys:
            raise UsageError("--layout needs at least one --layout-key")


@dataclass(frozen=True)
class VerifyOptions:
    """Trust material and requirements for one ``verify`` run (see docs/verify.md)."""

    keys: tuple[PublicKey, ...] = ()
    identity: IdentityPolicy | None = None
    fulcio_roots: tuple[x509.Certificate, ...] = ()
    rekor_keys: tuple[PublicKey, ...] = ()
    keyed_tlog: bool = False  # keyed items must carry a Rekor entry verified with ``rekor_keys``
    trusted_root: Path | None = None  # sigstore trusted_root.json, for keyless bundles
    threshold: int = 1
    predicate_types: tuple[str, ...] = ()  # full URIs
    provenance: ProvenanceExpectation | None = None
    require_signatures: bool = True
    signature_repository: str | None = None  # COSIGN_REPOSITORY-style alternate repository
    bind_repository: bool = False  # simple-signing docker-reference must name the image's repository
    # Rules from a trust-roots config: every matching rule must be met on its own, and an image that no
    # rule matches is refused.  Flags (keys, identity) given as well add one more required authority set.
    trust_config: TrustConfig | None = None
    layout: LayoutCheck | None = None  # an in-toto layout that must verify as well
    notation_store: NotationTrustStore | None = None  # notation signatures verified (strict) against it

    @property
    def has_flag_authorities(self) -> bool:
        return bool(self.keys) or self.identity is not None or self.notation_store is not None

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise UsageError(f"--threshold must be at least 1, got {self.threshold}")
        if not self.has_flag_authorities and self.trust_config is None:
            raise UsageError(
                "nothing to verify against: give --key, or --certificate-identity[-regexp] with "
                "--certificate-oidc-issuer[-regexp], or --notation-trust-store, or --trust-config"
            )
        distinct = {k.key_id for k in self.keys}
        if (
            self.keys
            and self.identity is None
            and self.notation_store is None
            and self.threshold > len(distinct)
        ):
            raise UsageError(
                f"--threshold {self.threshold} can never be met by {len(distinct)} distinct key(s)"
            )
        if not self.require_signatures and not self.predicate_types and self.provenance is None:
            raise UsageError("--attestations-only needs --type or SLSA provenance flags")


@dataclass(frozen=True)
class _Subject:
    digest: Digest
    raw: bytes
    role: str
    platform: str | None


# ----------------------------------------------------------------------------------------- helpers


def _found(origin: Origin) -> FoundIn:
    return FoundIn(origin.repository, origin.kind, origin.manifest, origin.layer, origin.tag)


def _key_signer(key_id: KeyId) -> Signer:
    return Signer(key_id=str(key_id))


def _identity_signer(identity: CertIdentity) -> Signer:
    return Signer(identity=identity.san, issuer=identity.issuer)


def _key(options: VerifyOptions, key_id: KeyId) -> PublicKey:
    return next(k for k in options.keys if k.key_id == key_id)


def _keyless_ready(options: VerifyOptions) -> str | None:
    """Why legacy keyless items cannot be verified with these options, or None when they can."""
    if options.identity is None:
        return "signed with a certificate (keyless), but no --certificate-identity/--certificate-oidc-issuer"
    if not options.fulcio_roots or not options.rekor_keys:
        return "keyless signature needs trusted --fulcio-root and --rekor-key material"
    return None


def _attestation_checks(
    statement: VerifiedStatement, subject: Digest, options: VerifyOptions
) -> VerifiedStatement:
    require_subject(statement, subject)
    if options.provenance is not None and statement.predicate_type in (SLSA_V02, SLSA_V1):
        verify_provenance(statement, options.provenance)
    return statement


# ------------------------------------------------------------------------------------- signatures


def _keyed_signature(
    item: SignatureItem, subject: _Subject, options: VerifyOptions, ref: RegistryRef | None, limits: Limits
) -> ItemResult:
    assert item.signature is not None
    verified = verify_simple_signing(
        item.payload, item.signature, options.keys, subject.digest, repository=ref, limits=limits
    )
    tlog, index = _NO_TLOG, None
    if options.keyed_tlog:
        if not item.rekor_bundle:
            raise VerificationFailed("a Rekor key was given but the signature carries no Rekor bundle")
        from imagetrust.verify.rekor import require_hashedrekord, verify_rekor_bundle

        entry = verify_rekor_bundle(item.rekor_bundle, options.rekor_keys, limits=limits)
        signature = b64decode(item.signature, "cosign signature")
        require_hashedrekord(entry, item.payload, signature, _key(options, verified.signer))
        tlog, index = f"Rekor entry {entry.log_index} verified (SET)", entry.log_index
    return ItemResult(
        "signature",
        "cosign simple-signing",
        True,
        "verified",
        _found(item.origin),
        _key_signer(verified.signer),
        None,
        tlog,
        index,
    )


def _verify_signature(
    item: SignatureItem, subject: _Subject, options: VerifyOptions, ref: RegistryRef | None, limits: Limits
) -> ItemResult:
    def failed(reason: str) -> ItemResult:
        return ItemResult("signature", "cosign simple-signing", False, reason, _found(item.origin))

    if item.media_type != SIMPLE_SIGNING_MEDIA_TYPE:
        return failed(f"layer media type {item.media_type!r} is not a cosign simple-signing payload")
    if not item.signature:
        return failed("layer has no dev.cosignproject.cosign/signature annotation")
    reasons: list[str] = []
    if options.keys:
        try:
            return _keyed_signature(item, subject, options, ref, limits)
        except VerificationFailed as e:
            reasons.append(e.diagnostics())
    if item.certificate:
        problem = _keyless_ready(options)
        if problem is not None:
            reasons.append(problem)
        elif item.rekor_bundle is None:
            reasons.append("keyless signature has no Rekor bundle annotation")
        else:
            assert options.identity is not None
            try:
                from imagetrust.verify.keyless import verify_keyless_signature

                verified = verify_keyless_signature(
                    item.payload,
                    item.signature,
                    item.certificate,
                    item.chain,
                    item.rekor_bundle,
                    subject.digest,
                    roots=options.fulcio_roots,
                    rekor_keys=options.rekor_keys,
                    policy=options.identity,
                    repository=ref,
                    limits=limits,
                )
            except VerificationFailed as e:
                reasons.append(e.diagnostics())
            else:
                assert verified.identity is not None
                return ItemResult(
                    "signature",
                    "cosign simple-signing (keyless)",
                    True,
                    "verified",
                    _found(item.origin),
                    _identity_signer(verified.identity),
                    None,
                    "Rekor SET verified",
                )
    elif not options.keys:
        reasons.append("signed with a key, but no --key was given")
    return failed("; ".join(reasons))


# ----------------------------------------------------------------------------------- attestations


def _statement_result(
    statement: VerifiedStatement,
    signer: Signer,
    fmt: str,
    origin: Origin,
    tlog: str | None,
    index: int | None,
    subject: Digest,
    options: VerifyOptions,
) -> ItemResult:
    _attestation_checks(statement, subject, options)
    return ItemResult(
        "attestation", fmt, True, "verified", _found(origin), signer, statement.predicate_type, tlog, index
    )


def _keyed_envelope_tlog(
    item: AttestationItem,
    payload: bytes,
    signatures: Sequence[EnvelopeSignature],
    signer: KeyId,
    options: VerifyOptions,
    limits: Limits,
) -> tuple[str, int | None]:
    if not options.keyed_tlog:
        return _NO_TLOG, None
    if not item.rekor_bundle:
        raise VerificationFailed("a Rekor key was given but the attestation carries no Rekor bundle")
    from imagetrust.verify.rekor import require_dsse, verify_rekor_bundle

    entry = verify_rekor_bundle(item.rekor_bundle, options.rekor_keys, limits=limits)
    require_dsse(entry, payload, [s.sig for s in signatures], _key(options, signer), leaf_der=None)
    return f"Rekor entry {entry.log_index} verified (SET)", entry.log_index


def _verify_attestation(
    item: AttestationItem, subject: _Subject, options: VerifyOptions, limits: Limits
) -> ItemResult:
    def failed(reason: str) -> ItemResult:
        return ItemResult(
            "attestation", "DSSE", False, reason, _found(item.origin), None, item.predicate_hint
        )

    reasons: list[str] = []
    if options.keys:
        try:
            envelope = parse_envelope(item.envelope, limits=limits)
            verified = verify_envelope(envelope, list(options.keys))
            statement = statement_from_envelope(verified, limits=limits)
            signer_id = sorted(verified.signers)[0]
            tlog, index = _keyed_envelope_tlog(
                item, envelope.payload, envelope.signatures, signer_id, options, limits
            )
            return _statement_result(
                statement, _key_signer(signer_id), "DSSE", item.origin, tlog, index, subject.digest, options
            )
        except VerificationFailed as e:
            reasons.append(e.diagnostics())
    if item.certificate:
        problem = _keyless_ready(options)
        if problem is not None:
            reasons.append(problem)
        elif item.rekor_bundle is None:
            reasons.append("keyless attestation has no Rekor bundle annotation")
        else:
            assert options.identity is not None
            try:
                from imagetrust.verify.keyless import verify_keyless_attestation

                statement = verify_keyless_attestation(
                    item.envelope,
                    item.certificate,
                    item.chain,
                    item.rekor_bundle,
                    roots=options.fulcio_roots,
                    rekor_keys=options.rekor_keys,
                    policy=options.identity,
                    limits=limits,
                )
                assert statement.identity is not None
                return _statement_result(
                    statement,
                    _identity_signer(statement.identity),
                    "DSSE (keyless)",
                    item.origin,
                    "Rekor SET verified",
                    None,
                    subject.digest,
                    options,
                )
            except VerificationFailed as e:
                reasons.append(e.diagnostics())
    elif not options.keys:
        reasons.append("signed with a key, but no --key was given")
    return failed("; ".join(reasons))


# ---------------------------------------------------------------------------------------- bundles


def _bundle_kind(predicate_type: str | None) -> str:
    return "signature" if predicate_type in (None, COSIGN_SIGN_PREDICATE) else "attestation"


def _verify_bundle(item: BundleItem, subject: _Subject, options: VerifyOptions, limits: Limits) -> ItemResult:
    kind = _bundle_kind(item.predicate_hint)
    fmt = "sigstore bundle"
    try:
        from imagetrust.verify.bundle import parse_bundle, verify_keyed_bundle  # only when bundles are found

        bundle = parse_bundle(item.raw, limits=limits)
        fmt = f"sigstore bundle v{bundle.version}"
        if bundle.keyed:
            if not options.keys:
                raise VerificationFailed("bundle is signed with a key, but no --key was given")
            keyed = verify_keyed_bundle(
                bundle,
                options.keys,
                artifact=subject.raw,
                rekor_keys=options.rekor_keys if options.keyed_tlog else (),
                limits=limits,
            )
            signer = _key_signer(keyed.signer)
            statement, message_digest = keyed.statement, keyed.message_digest
            tlog: str | None = keyed.tlog.detail
            index = keyed.tlog.log_index
        else:
            statement, message_digest, signer, tlog, index = _keyless_bundle(item, subject, options, limits)
        if statement is not None:
            kind = _bundle_kind(statement.predicate_type)
            if kind == "signature":
                require_subject(statement, subject.digest)
                return ItemResult(kind, fmt, True, "verified", _found(item.origin), signer, None, tlog, index)
            return _statement_result(
                statement, signer, fmt, item.origin, tlog, index, subject.digest, options
            )
        if message_digest != subject.digest:
            raise VerificationFailed(f"bundle signs {message_digest}, not {subject.digest}")
        return ItemResult("signature", fmt, True, "verified", _found(item.origin), signer, None, tlog, index)
    except VerificationFailed as e:
        hint = item.predicate_hint if kind == "attestation" else None
        return ItemResult(kind, fmt, False, e.diagnostics(), _found(item.origin), None, hint)


def _keyless_bundle(
    item: BundleItem, subject: _Subject, options: VerifyOptions, limits: Limits
) -> tuple[VerifiedStatement | None, Digest | None, Signer, str | None, int | None]:
    if options.identity is None:
        raise VerificationFailed("bundle is signed with a certificate (keyless), but no identity was given")
    if options.trusted_root is None:
        raise VerificationFailed("keyless bundle needs a trusted root (--trusted-root)")
    # Imported here: it pulls in sigstore-python, which keyed-only runs never need.
    from imagetrust.verify.keyless_bundle import KeylessTrust, verify_keyless_bundle

    trust = KeylessTrust(options.trusted_root, options.identity)
    verified = verify_keyless_bundle(item.raw, trust, limits=limits, artifact=subject.digest)
    identity = verified.identity
    statement = None
    if verified.statement is not None:
        statement = VerifiedStatement(verified.statement, frozenset(), identity)
    index = verified.log_index
    tlog = f"Rekor entry {index} verified" if index is not None else "signed timestamp verified"
    return statement, verified.message_digest, _identity_signer(identity), tlog, index


# ------------------------------------------------------------------------------------ per subject


def _tag_evidence(store: ImageStore, attached: AttachedEvidence, limits: Limits) -> _Evidence:
    """The items of the cosign ``.sig``/``.att`` tags (their payload blobs read once per subject)."""
    signatures: list[SignatureItem] = []
    attestations: list[AttestationItem] = []
    for attachment in attached.cosign:
        if attachment.kind == "sig":
            signatures += signature_items(
                attachment.manifest, attachment.tag, store.location, store.read_blob, limits
            )
        elif attachment.kind == "att":
            attestations += attestation_items(
                attachment.manifest, attachment.tag, store.location, store.read_blob, limits
            )
    return _Evidence(tuple(signatures), tuple(attestations), ())


def _with_referrers(
    store: ImageStore, attached: AttachedEvidence, tags: _Evidence, options: VerifyOptions, limits: Limits
) -> _Evidence:
    """``tags`` plus the referrers' sigstore bundles (and notation signatures, given a trust store)."""
    bundles = bundle_items(
        sigstore_bundle_referrers(store, attached, limits), store.location, store.read_blob, limits
    )
    notation: tuple[NotationItem, ...] = ()
    if options.notation_store is not None:
        from imagetrust.verify.notation import NOTATION_ARTIFACT_TYPE, notation_items

        # Both forms: artifactType (spec 1.1) or, before it, the config media type.
        found = referrer_manifests(store, attached, NOTATION_ARTIFACT_TYPE, limits)
        notation = notation_items(found, store.location, store.read_blob, limits)
    return replace(tags, bundles=bundles, notation=notation)


def _looked(store: ImageStore, subject: _Subject, attached: AttachedEvidence) -> tuple[str, ...]:
    looked = [f"{store.location} tags {subject.digest.tag_form}.{{{','.join(attached.cosign_kinds)}}}"]
    if not attached.referrers_read:
        looked.append(f"{store.location} referrers: not read (the cosign tags met every requirement)")
    looked += [f"{store.location} {source}" for source in attached.referrers_sources]
    return tuple(looked)


def _verify_notation(
    item: NotationItem, subject: _Subject, options: VerifyOptions, limits: Limits
) -> ItemResult:
    fmt = {"application/jose+json": "notation JWS", "application/cose": "notation COSE"}.get(
        item.media_type, "notation"
    )
    found = _found(item.origin)
    if item.problem is not None:
        return ItemResult("signature", fmt, False, item.problem, found)
    if options.notation_store is None:
        return ItemResult(
            "signature", fmt, False, "notation signature, but no --notation-trust-store was given", found
        )
    from imagetrust.verify.notation import verify_notation

    try:
        verified = verify_notation(
            item.raw,
            item.media_type,
            subject.digest,
            options.notation_store,
            now=datetime.now(UTC),
            limits=limits,
            subject_size=len(subject.raw),
        )
    except VerificationFailed as e:
        return ItemResult("signature", fmt, False, e.diagnostics(), found)
    expiry = f"; expires {verified.expiry.isoformat()}" if verified.expiry else ""
    return ItemResult(
        "signature",
        fmt,
        True,
        f"verified (strict) against trust store {verified.trust_store}{expiry}",
        found,
        Signer(identity=verified.signer, issuer=f"notation {verified.trust_store}"),
    )


def _decide(
    subject: _Subject,
    flag_signatures: Sequence[ItemResult] | None,
    signatures: Sequence[ItemResult],
    attestations: Sequence[ItemResult],
    rules: Sequence[RuleResult] | None,
    options: VerifyOptions,
    trust_name: str | None = None,
) -> tuple[Outcome, str, tuple[str, ...]]:
    signers = tuple(sorted({i.signer.distinct_id for i in signatures if i.verified and i.signer is not None}))
    problems: list[str] = []
    summary: list[str] = []
    if options.require_signatures and flag_signatures is not None:
        flag_signers = {i.signer.distinct_id for i in flag_signatures if i.verified and i.signer is not None}
        if not signatures:
            problems.append("no signatures found")
        elif len(flag_signers) < options.threshold:
            problems.append(
                f"{len(flag_signers)} distinct signer(s) verified of {options.threshold} required "
                f"({len(signatures)} signature(s) found)"
            )
        else:
            summary.append(f"{len(flag_signers)} distinct signer(s) verified (threshold {options.threshold})")
    if options.require_signatures and rules is not None:
        if not rules:
            problems.append(f"no trust rule for {trust_name} in the trust config")
        for rule in rules:
            (summary if rule.satisfied else problems).append(rule.reason)
    verified_types = {i.predicate_type for i in attestations if i.verified}
    for wanted in options.predicate_types:
        if wanted in verified_types:
            summary.append(f"attestation {wanted} verified")
        else:
            found = sorted({i.predicate_type or "?" for i in attestations}) or ["none"]
            problems.append(f"no verified attestation of type {wanted} (found: {', '.join(found)})")
    if options.provenance is not None:
        if verified_types & {SLSA_V02, SLSA_V1}:
            summary.append("SLSA provenance verified")
        else:
            problems.append("no verified SLSA provenance matching the expected builder and source")
    if problems:
        return Outcome.FAILED, "; ".join(problems), signers
    return Outcome.VERIFIED, "; ".join(summary) or "verified", signers


@dataclass(frozen=True)
class _Evidence:
    signatures: tuple[SignatureItem, ...]
    attestations: tuple[AttestationItem, ...]
    bundles: tuple[BundleItem, ...]
    notation: tuple[NotationItem, ...] = ()


def _evaluate(
    evidence: _Evidence, subject: _Subject, options: VerifyOptions, ref: RegistryRef | None, limits: Limits
) -> list[ItemResult]:
    """Every item verified with one set of trust material, in a fixed order (so passes can be merged)."""
    results = [_verify_signature(i, subject, options, ref, limits) for i in evidence.signatures]
    results += [_verify_attestation(i, subject, options, limits) for i in evidence.attestations]
    results += [_verify_bundle(b, subject, options, limits) for b in evidence.bundles]
    results += [_verify_notation(n, subject, options, limits) for n in evidence.notation]
    return results


def _merge(passes: Sequence[tuple[str | None, list[ItemResult]]]) -> list[ItemResult]:
    """Per item: the first pass that verified it, else every pass's reason (named by authority)."""
    merged: list[ItemResult] = []
    for index in range(len(passes[0][1])):
        candidates = [(label, results[index]) for label, results in passes]
        verified = next((item for _, item in candidates if item.verified), None)
        if verified is not None:
            merged.append(verified)
            continue
        reasons: dict[str, None] = {}
        for label, item in candidates:
            reasons.setdefault(item.reason if label is None else f"{label}: {item.reason}", None)
        merged.append(replace(candidates[0][1], reason="; ".join(reasons)))
    return merged


def _rule_result(rule: ImageRule, verified_by: dict[Authority, set[str]]) -> RuleResult:
    """Distinct authorities that verified; two authorities naming the same signer count once."""
    counted: list[str] = []
    used: set[str] = set()
    for authority in rule.authorities:
        fresh = verified_by.get(authority, set()) - used
        if fresh:
            counted.append(authority.name)
            used |= fresh
    satisfied = len(counted) >= rule.threshold
    names = ", ".join(counted) or "none"
    reason = (
        f"trust rule {rule.glob}: {len(counted)} of {rule.threshold} required authorities verified ({names})"
    )
    return RuleResult(rule.glob, rule.threshold, tuple(counted), satisfied, reason)


def _verify_subject(
    store: ImageStore,
    subject: _Subject,
    options: VerifyOptions,
    ref: RegistryRef | None,
    limits: Limits,
    rules: tuple[_RulePass, ...] | None = None,
    trust_name: str | None = None,
) -> SubjectResult:
    """The cosign tags are read first; the referrers (API and fallback tag, two more requests) only when
    the tags alone do not verify, since more evidence cannot undo a verified outcome."""
    try:
        # verify reads signatures and attestations only: the .sbom tag would be a request for nothing.
        attached = find_attached(store, subject.digest, limits, kinds=("sig", "att"), referrers=False)
        tags = _tag_evidence(store, attached, limits)
        if attached.cosign:
            looked = _looked(store, subject, attached)
            result = _judge(subject, tags, looked, options, ref, limits, rules, trust_name)
            if result.outcome is Outcome.VERIFIED:
                return result
        attached = add_referrers(store, attached, limits)
        evidence = _with_referrers(store, attached, tags, options, limits)
        looked = _looked(store, subject, attached)
        return _judge(subject, evidence, looked, options, ref, limits, rules, trust_name)
    except CouldNotCheck as e:
        return SubjectResult(
            subject.digest,
            subject.role,
            subject.platform,
            Outcome.INDETERMINATE,
            f"could not check: {e.diagnostics()}",
        )


def _judge(
    subject: _Subject,
    evidence: _Evidence,
    looked: tuple[str, ...],
    options: VerifyOptions,
    ref: RegistryRef | None,
    limits: Limits,
    rules: tuple[_RulePass, ...] | None,
    trust_name: str | None,
) -> SubjectResult:
    passes: list[tuple[str | None, list[ItemResult]]] = []
    flag_results: list[ItemResult] | None = None
    if options.has_flag_authorities:
        flag_results = _evaluate(evidence, subject, options, ref, limits)
        passes.append((None, flag_results))
    verified_by: dict[Authority, set[str]] = {}
    for rule_pass in rules or ():
        for authority, authority_options in rule_pass.authorities:
            if authority in verified_by:
                continue
            results = _evaluate(evidence, subject, authority_options, ref, limits)
            passes.append((f"authority {authority.name}", results))
            verified_by[authority] = {
                i.signer.distinct_id
                for i in results
                if i.kind == "signature" and i.verified and i.signer is not None
            }
    merged = _merge(passes) if passes else []
    signatures = [i for i in merged if i.kind == "signature"]
    attestations = [i for i in merged if i.kind == "attestation"]
    flag_signatures = None if flag_results is None else [i for i in flag_results if i.kind == "signature"]
    rule_results = None if rules is None else tuple(_rule_result(r.rule, verified_by) for r in rules)
    outcome, reason, signers = _decide(
        subject, flag_signatures, signatures, attestations, rule_results, options, trust_name
    )
    return SubjectResult(
        subject.digest,
        subject.role,
        subject.platform,
        outcome,
        reason,
        tuple(signatures),
        tuple(attestations),
        signers,
        looked,
        rule_results or (),
    )


# ----------------------------------------------------------------------------------- trust config


@dataclass(frozen=True)
class _RulePass:
    rule: ImageRule
    authorities: tuple[tuple[Authority, VerifyOptions], ...]


def _root_material(path: Path) -> tuple[tuple[x509.Certificate, ...], tuple[PublicKey, ...]]:
    """Fulcio CAs and Rekor keys of a trusted root, for legacy keyless ``.sig``/``.att`` items."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    from imagetrust.trust.sigstore_root import load_trusted_root  # sigstore-python: keyless runs only

    root = load_trusted_root(path)
    roots = tuple(cert for ca in root.certificate_authorities for cert in ca.chain)
    keys = []
    for log in root.tlogs:
        try:
            keys.append(PublicKey.from_crypto(serialization.load_der_public_key(log.key_der), log.base_url))
        except (LocalInputError, ValueError, UnsupportedAlgorithm):
            continue  # a log key we cannot use for SETs (e.g. a Rekor v2 checkpoint-only key)
    return roots, tuple(keys)


def _authority_options(authority: Authority, base: VerifyOptions) -> VerifyOptions:
    """The run's requirements with one authority as the only trust material."""
    if authority.key is not None:
        return replace(
            base,
            keys=(load_public_key(authority.key),),
            identity=None,
            threshold=1,
            trust_config=None,
            keyed_tlog=False,
            rekor_keys=(),
            notation_store=None,
        )
    assert authority.keyless is not None
    k = authority.keyless
    from imagetrust.verify.identity import IdentityPolicy

    identity = IdentityPolicy(k.identity, k.identity_regexp, k.issuer, k.issuer_regexp, k.claims)
    roots, rekor = _root_material(k.trusted_root)
    return replace(
        base,
        keys=(),
        identity=identity,
        trusted_root=k.trusted_root,
        fulcio_roots=roots,
        threshold=1,
        trust_config=None,
        keyed_tlog=False,
        rekor_keys=rekor,
        notation_store=None,
    )


def _rule_passes(config: TrustConfig, name: str, options: VerifyOptions) -> tuple[_RulePass, ...]:
    built: dict[Authority, VerifyOptions] = {}
    passes = []
    for rule in config.matching_rules(name):
        pairs = []
        for authority in rule.authorities:
            if authority not in built:
                built[authority] = _authority_options(authority, options)
            pairs.append((authority, built[authority]))
        passes.append(_RulePass(rule, tuple(pairs)))
    return tuple(passes)


# --------------------------------------------------------------------------------------- pipeline


def _subjects(store: ImageStore, settings: SourceSettings) -> list[_Subject]:
    limits = settings.limits
    selection = settings.selection
    if selection.all_platforms or selection.explicit:
        resolved = resolve_image(store, selection, limits)
        top = resolved.top
        subjects = [_Subject(top.digest, top.raw, "index" if resolved.is_index else "image", None)]
        for image in resolved.images:
            if image.digest != top.digest:
                platform = str(image.platform) if image.platform else None
                subjects.append(_Subject(image.digest, image.manifest.raw, "platform", platform))
        return subjects
    try:
        descriptor = store.resolve()
    except NotFound as e:
        raise ImageNotFound(f"image not found: {e.diagnostics()}") from e
    parsed: Manifest | Index = store.get_manifest(descriptor.digest).parse(limits)
    return [_Subject(parsed.digest, parsed.raw, "index" if isinstance(parsed, Index) else "image", None)]


def _requirements(options: VerifyOptions) -> Requirements:
    provenance: list[tuple[str, str]] = []
    if options.provenance is not None:
        p = options.provenance
        for name, value in (
            ("builderId", p.builder_id),
            ("sourceUri", p.source_uri),
            ("sourceTag", p.source_tag),
            ("sourceBranch", p.source_branch),
            ("buildType", p.build_type),
        ):
            if value is not None:
                provenance.append((name, value))
    return Requirements(
        options.threshold,
        options.require_signatures,
        options.predicate_types,
        tuple(provenance),
        options.keyed_tlog,
    )


def verify_image(reference: str, settings: SourceSettings, options: VerifyOptions) -> VerifyResult:
    """Resolve ``reference`` once and verify what is attached to its digest (and platforms, if asked)."""
    ref = parse_source(reference)
    if isinstance(ref, DirRef):
        raise UsageError(f"{reference}: a root filesystem directory carries no signatures to verify")
    limits = settings.limits
    store = open_store(ref, settings.registry, limits, settings.cache())
    evidence_store = store
    if options.signature_repository is not None:
        text = options.signature_repository
        if "@" in text or ":" in text.rsplit("/", 1)[-1]:
            raise UsageError(f"signature repository {text!r} must not name a tag or digest")
        alternate = parse_registry_ref(text)
        evidence_store = open_store(alternate, settings.registry, limits, settings.cache())
    subjects = _subjects(store, settings)
    bind = ref if options.bind_repository and isinstance(ref, RegistryRef) else None
    if options.bind_repository and bind is None:
        raise UsageError("--bind-repository needs a registry reference")
    rules: tuple[_RulePass, ...] | None = None
    trust_name: str | None = None
    if options.trust_config is not None:
        from imagetrust.trust.config import normalise_image_name  # trust configs load only when given

        # Offline sources have no registry name, so no rule can match them: they are refused.
        trust_name = normalise_image_name(str(ref)) if isinstance(ref, RegistryRef) else str(ref)
        matching = (
            ()
            if not isinstance(ref, RegistryRef)
            else _rule_passes(options.trust_config, trust_name, options)
        )
        rules = matching
    results = tuple(
        _verify_subject(evidence_store, s, options, bind, limits, rules, trust_name) for s in subjects
    )
    top = subjects[0].digest
    source = str(ref.with_digest(top)) if isinstance(ref, RegistryRef) else str(ref)
    trust = None if options.trust_config is None else options.trust_config.source
    layout = None if options.layout is None else _check_layout(options.layout, limits)
    return VerifyResult(source, top, _requirements(options), results, trust_config=trust, layout=layout)


def _check_layout(check: LayoutCheck, limits: Limits) -> LayoutResult:
    from imagetrust.verify.layout import verify_layout

    try:
        verified = verify_layout(check.path, check.keys, check.link_dir, limits=limits, now=datetime.now(UTC))
    except VerificationFailed as e:
        return LayoutResult(str(check.path), False, e.diagnostics())
    steps = ", ".join(f"{name} ({len(keys)} link(s))" for name, keys in verified.functionaries)
    return LayoutResult(
        str(check.path),
        True,
        f"layout signed by {len(verified.layout_keys)} key(s); steps verified: {steps or 'none'}",
        verified.steps,
        verified.layout_keys,
        verified.expires.isoformat(),
    )
