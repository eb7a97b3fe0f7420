"""Sigstore bundles (v0.1, v0.2, v0.3), read with our own code, and verification of KEYED bundles.

A bundle is untrusted input: its verification material only says which kind of trust applies.  A keyed bundle
(``publicKey`` material) verifies only against keys the user gave; the ``hint`` is never used to pick or
trust a key.  Keyless bundles (certificates) are verified elsewhere, against a trusted root.

Transparency log: when the user gives Rekor keys, a keyed bundle must carry a log entry whose
SignedEntryTimestamp verifies and whose body names this signature, payload and key (cosign CVE-2022-36056,
CVE-2026-22703).  Without Rekor keys the log is not consulted and the result says so ("no tlog
verification"), which is what ``cosign verify --insecure-ignore-tlog`` does for keyed signatures.
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from imagetrust.errors import InvalidReference, LimitExceeded, VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest
from imagetrust.trust.keys import KeyId, PublicKey
from imagetrust.verify.dsse import Envelope, envelope_from_json, verify_envelope
from imagetrust.verify.encoding import b64decode, load_strict_object
from imagetrust.verify.rekor import require_dsse, require_hashedrekord, verify_rekor_bundle
from imagetrust.verify.results import VerifiedStatement
from imagetrust.verify.simplesigning import find_signer
from imagetrust.verify.statement import statement_from_envelope

BUNDLE_VERSIONS: dict[str, str] = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": "0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2": "0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3": "0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "0.3",
}
_HASH_ALGORITHMS = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}
_WHAT = "sigstore bundle"


@dataclass(frozen=True)
class TlogEntry:
    """One ``tlogEntries[]`` item as written (not yet verified)."""

    log_index: int
    log_id_hex: str
    kind: str
    version: str
    integrated_time: int | None
    signed_entry_timestamp: bytes | None = field(repr=False)
    canonicalized_body: bytes = field(repr=False)
    has_inclusion_proof: bool


@dataclass(frozen=True)
class MessageSignature:
    digest: Digest
    signature: bytes = field(repr=False)


@dataclass(frozen=True)
class Bundle:
    """A parsed, not yet verified, sigstore bundle.  Exactly one of ``message`` / ``envelope`` is set."""

    raw: bytes = field(repr=False)
    media_type: str
    version: str  # "0.1" | "0.2" | "0.3"
    material: str  # "publicKey" | "certificate" | "x509CertificateChain"
    public_key_hint: str | None
    certificates_der: tuple[bytes, ...] = field(repr=False)  # leaf first; empty for publicKey material
    message: MessageSignature | None
    envelope: Envelope | None
    tlog_entries: tuple[TlogEntry, ...]
    timestamps: int  # RFC 3161 timestamps present (not verified for keyed bundles)

    @property
    def keyed(self) -> bool:
        return self.material == "publicKey"


@dataclass(frozen=True)
class TlogResult:
    """What was established about the transparency log for one verified item."""

    verified: bool
    detail: str  # "no tlog verification" / "Rekor entry 123 verified (SET)"
    log_index: int | None = None
    integrated_time: datetime.datetime | None = None


@dataclass(frozen=True)
class VerifiedKeyedBundle:
    """A keyed bundle whose signature verified with a trusted key.

    ``statement`` for DSSE bundles (subject binding is the caller's job), ``message_digest`` for
    messageSignature bundles (already checked equal to the artifact given).
    """

    signer: KeyId
    version: str
    statement: VerifiedStatement | None
    message_digest: Digest | None
    tlog: TlogResult


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise VerificationFailed(f"{_WHAT}: {what} is missing or not an object")
    return value


def _int(value: Any, what: str) -> int:
    """proto3 JSON writes int64 as a string; accept that or a plain integer, nothing else."""
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise VerificationFailed(f"{_WHAT}: {what} is not a non-negative integer")


def _tlog_entry(doc: Any, index: int) -> TlogEntry:
    what = f"tlog entry {index}"
    entry = _object(doc, what)
    log_id = _object(entry.get("logId"), f"{what} logId")
    kind_version = _object(entry.get("kindVersion"), f"{what} kindVersion")
    kind, version = kind_version.get("kind"), kind_version.get("version")
    if not isinstance(kind, str) or not isinstance(version, str):
        raise VerificationFailed(f"{_WHAT}: {what} kindVersion is incomplete")
    promise = entry.get("inclusionPromise")
    set_bytes = None
    if promise is not None:
        set_bytes = b64decode(
            _object(promise, f"{what} inclusionPromise").get("signedEntryTimestamp"),
            f"{_WHAT} {what} signedEntryTimestamp",
        )
    integrated = entry.get("integratedTime")
    return TlogEntry(
        log_index=_int(entry.get("logIndex"), f"{what} logIndex"),
        log_id_hex=b64decode(log_id.get("keyId"), f"{_WHAT} {what} logId").hex(),
        kind=kind,
        version=version,
        integrated_time=None if integrated in (None, "0", 0) else _int(integrated, f"{what} integratedTime"),
        signed_entry_timestamp=set_bytes,
        canonicalized_body=b64decode(entry.get("canonicalizedBody"), f"{_WHAT} {what} canonicalizedBody"),
        has_inclusion_proof=isinstance(entry.get("inclusionProof"), dict),
    )


def _material(material: dict[str, Any], version: str) -> tuple[str, str | None, tuple[bytes, ...]]:
    present = [k for k in ("publicKey", "certificate", "x509CertificateChain") if k in material]
    if len(present) != 1:
        raise VerificationFailed(
            f"{_WHAT}: verificationMaterial must hold exactly one of publicKey, certificate or "
            f"x509CertificateChain (found {len(present)})"
        )
    kind = present[0]
    if kind == "publicKey":
        hint = _object(material["publicKey"], "publicKey").get("hint")
        if hint is not None and not isinstance(hint, str):
            raise VerificationFailed(f"{_WHAT}: publicKey hint is not a string")
        return kind, hint, ()
    if kind == "certificate":
        raw = b64decode(
            _object(material["certificate"], "certificate").get("rawBytes"), f"{_WHAT} certificate"
        )
        return kind, None, (raw,)
    if version == "0.3":
        raise VerificationFailed(f"{_WHAT}: v0.3 bundles may not carry x509CertificateChain")
    certs = _object(material["x509CertificateChain"], "x509CertificateChain").get("certificates")
    if not isinstance(certs, list) or not certs:
        raise VerificationFailed(f"{_WHAT}: x509CertificateChain has no certificates")
    if len(certs) > 10:
        raise VerificationFailed(f"{_WHAT}: x509CertificateChain has {len(certs)} certificates")
    return (
        kind,
        None,
        tuple(
            b64decode(_object(c, "chain certificate").get("rawBytes"), f"{_WHAT} chain certificate")
            for c in certs
        ),
    )


def _message(doc: Any) -> MessageSignature:
    message = _object(doc, "messageSignature")
    digest_doc = _object(message.get("messageDigest"), "messageSignature.messageDigest")
    algorithm = _HASH_ALGORITHMS.get(str(digest_doc.get("algorithm")))
    if algorithm is None:
        raise VerificationFailed(
            f"{_WHAT}: unsupported message digest algorithm {digest_doc.get('algorithm')!r}"
        )
    value = b64decode(digest_doc.get("digest"), f"{_WHAT} message digest")
    try:
        digest = Digest(algorithm, value.hex())
    except InvalidReference as e:
        raise VerificationFailed(f"{_WHAT}: malformed message digest ({e})") from e
    return MessageSignature(digest, b64decode(message.get("signature"), f"{_WHAT} message signature"))


def parse_bundle(raw: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Bundle:
    """Parse a bundle; shape errors fail verification, oversize input is ``LimitExceeded``."""
    if len(raw) > limits.small_blob_bytes:
        raise LimitExceeded(f"{_WHAT}: {len(raw)} bytes exceeds the limit of {limits.small_blob_bytes}")
    doc = load_strict_object(raw, _WHAT, max_bytes=limits.small_blob_bytes, max_depth=limits.json_depth)
    media_type = doc.get("mediaType")
    version = BUNDLE_VERSIONS.get(media_type) if isinstance(media_type, str) else None
    if version is None or not isinstance(media_type, str):
        raise VerificationFailed(f"{_WHAT}: unsupported mediaType {media_type!r}")
    material = _object(doc.get("verificationMaterial"), "verificationMaterial")
    kind, hint, certs = _material(material, version)
    entries_doc = material.get("tlogEntries") or []
    if not isinstance(entries_doc, list):
        raise VerificationFailed(f"{_WHAT}: tlogEntries is not a list")
    timestamps_doc = _object(material.get("timestampVerificationData") or {}, "timestampVerificationData")
    timestamps = timestamps_doc.get("rfc3161Timestamps") or []
    if not isinstance(timestamps, list):
        raise VerificationFailed(f"{_WHAT}: rfc3161Timestamps is not a list")
    for count, what in ((len(entries_doc), "tlog entries"), (len(timestamps), "timestamps")):
        if count > limits.bundle_entries:
            raise LimitExceeded(f"{_WHAT}: {count} {what} exceeds the limit of {limits.bundle_entries}")
    entries = tuple(_tlog_entry(e, i) for i, e in enumerate(entries_doc))
    for entry in entries:
        if version == "0.1" and entry.signed_entry_timestamp is None:
            raise VerificationFailed(f"{_WHAT}: v0.1 tlog entry {entry.log_index} has no inclusionPromise")
        if version != "0.1" and not entry.has_inclusion_proof:
            raise VerificationFailed(
                f"{_WHAT}: v{version} tlog entry {entry.log_index} has no inclusionProof"
            )
    has_message, has_envelope = "messageSignature" in doc, "dsseEnvelope" in doc
    if has_message == has_envelope:
        raise VerificationFailed(f"{_WHAT}: must hold exactly one of messageSignature or dsseEnvelope")
    message = _message(doc["messageSignature"]) if has_message else None
    envelope = None
    if has_envelope:
        envelope = envelope_from_json(doc["dsseEnvelope"], limits=limits, what=f"{_WHAT} dsseEnvelope")
        if len(envelope.signatures) != 1:
            raise VerificationFailed(
                f"{_WHAT}: dsseEnvelope must carry exactly one signature, has {len(envelope.signatures)}"
            )
    return Bundle(
        raw=raw,
        media_type=media_type,
        version=version,
        material=kind,
        public_key_hint=hint,
        certificates_der=certs,
        message=message,
        envelope=envelope,
        tlog_entries=entries,
        timestamps=len(timestamps),
    )


def _legacy_rekor_bundle(entry: TlogEntry) -> bytes:
    """The SET-bearing shape ``verify_rekor_bundle`` checks, rebuilt from a bundle's tlog entry."""
    assert entry.signed_entry_timestamp is not None and entry.integrated_time is not None
    return json.dumps(
        {
            "SignedEntryTimestamp": base64.b64encode(entry.signed_entry_timestamp).decode(),
            "Payload": {
                "body": base64.b64encode(entry.canonicalized_body).decode(),
                "integratedTime": entry.integrated_time,
                "logIndex": entry.log_index,
                "logID": entry.log_id_hex,
            },
        }
    ).encode()


def _check_tlog(
    bundle: Bundle,
    signer: PublicKey,
    signature: bytes,
    signed: bytes,
    rekor_keys: tuple[PublicKey, ...],
    limits: Limits,
) -> TlogResult:
    if not rekor_keys:
        return TlogResult(False, "no tlog verification (no Rekor key given)")
    usable = [e for e in bundle.tlog_entries if e.signed_entry_timestamp is not None and e.integrated_time]
    if not usable:
        raise VerificationFailed(
            f"{_WHAT}: a Rekor key was given but the bundle has no log entry with a SignedEntryTimestamp"
        )
    reasons = []
    for candidate in usable:
        try:
            entry = verify_rekor_bundle(_legacy_rekor_bundle(candidate), rekor_keys, limits=limits)
            if bundle.envelope is not None:
                require_dsse(entry, signed, [signature], signer, leaf_der=None)
            else:
                require_hashedrekord(entry, signed, signature, signer)
        except VerificationFailed as e:
            reasons.append(e.diagnostics())
            continue
        return TlogResult(
            True, f"Rekor entry {entry.log_index} verified (SET)", entry.log_index, entry.integrated_time
        )
    raise VerificationFailed(f"{_WHAT}: no log entry verified: {'; '.join(reasons)}")


def verify_keyed_bundle(
    bundle: Bundle,
    keys: tuple[PublicKey, ...] | list[PublicKey],
    *,
    artifact: bytes | None = None,
    rekor_keys: tuple[PublicKey, ...] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedKeyedBundle:
    """Verify a ``publicKey`` bundle against the user's keys.

    A messageSignature bundle is a signature over ``artifact`` (for images: the manifest bytes), which must
    hash to the bundle's message digest.  A DSSE bundle must carry an in-toto Statement.
    """
    if not bundle.keyed:
        raise VerificationFailed(f"{_WHAT}: signed with a certificate ({bundle.material}), not a public key")
    if bundle.envelope is not None:
        verified = verify_envelope(bundle.envelope, list(keys))
        signer_id = next(iter(verified.signers))
        statement = statement_from_envelope(verified, limits=limits)
        signer = next(k for k in keys if k.key_id == signer_id)
        tlog = _check_tlog(
            bundle,
            signer,
            bundle.envelope.signatures[0].sig,
            bundle.envelope.payload,
            tuple(rekor_keys),
            limits,
        )
        return VerifiedKeyedBundle(signer_id, bundle.version, statement, None, tlog)
    message = bundle.message
    assert message is not None
    if artifact is None:
        raise VerificationFailed(f"{_WHAT}: a messageSignature bundle needs the signed artifact to verify")
    if Digest.of(artifact, message.digest.algorithm) != message.digest:
        raise VerificationFailed(
            f"{_WHAT}: message digest {message.digest.short} is not the digest of the artifact"
        )
    signer_id = find_signer(message.signature, artifact, list(keys), f"{_WHAT} message signature")
    signer = next(k for k in keys if k.key_id == signer_id)
    tlog = _check_tlog(bundle, signer, message.signature, artifact, tuple(rekor_keys), limits)
    return VerifiedKeyedBundle(signer_id, bundle.version, None, message.digest, tlog)
