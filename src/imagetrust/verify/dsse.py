"""DSSE envelopes: parse, PAE, and threshold verification over distinct trusted keys.

Key ids in an envelope are hints written by the signer (cosign writes ``""``), so every trusted key is tried
against every signature.  A threshold counts distinct keys: the same key signing twice counts once
(Connaisseur counted layers, sigstore-go counted entries; both let one signer satisfy N).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from imagetrust.errors import LimitExceeded, UsageError, VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.trust.keys import KeyId, PublicKey
from imagetrust.verify.encoding import b64decode, load_strict_object
from imagetrust.verify.results import VerifiedEnvelope

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class EnvelopeSignature:
    keyid: str
    sig: bytes = field(repr=False)


@dataclass(frozen=True)
class Envelope:
    """A parsed, not yet verified, DSSE envelope; ``payload`` is the decoded body."""

    payload_type: str
    payload: bytes = field(repr=False)
    signatures: tuple[EnvelopeSignature, ...]


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: ``DSSEv1 SP LEN(type) SP type SP LEN(body) SP body``, lengths in bytes."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def parse_envelope(raw: bytes, *, limits: Limits = DEFAULT_LIMITS, what: str = "DSSE envelope") -> Envelope:
    doc = load_strict_object(raw, what, max_bytes=limits.small_blob_bytes, max_depth=limits.json_depth)
    return envelope_from_json(doc, limits=limits, what=what)


def envelope_from_json(
    doc: object, *, limits: Limits = DEFAULT_LIMITS, what: str = "DSSE envelope"
) -> Envelope:
    """Build an envelope from decoded JSON (also the ``dsseEnvelope`` member of a Sigstore bundle)."""
    if not isinstance(doc, dict):
        raise VerificationFailed(f"{what}: not a JSON object")
    payload_type = doc.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise VerificationFailed(f"{what}: payloadType is missing")
    payload = b64decode(doc.get("payload"), f"{what} payload", urlsafe_ok=True)
    raw_signatures = doc.get("signatures")
    if not isinstance(raw_signatures, list) or not raw_signatures:
        raise VerificationFailed(f"{what}: no signatures")
    if len(raw_signatures) > limits.dsse_signatures:
        raise LimitExceeded(
            f"{what}: {len(raw_signatures)} signatures exceeds the limit of {limits.dsse_signatures}"
        )
    signatures = []
    for index, entry in enumerate(raw_signatures):
        if not isinstance(entry, dict):
            raise VerificationFailed(f"{what}: signature {index} is not an object")
        keyid = entry.get("keyid", "")
        if not isinstance(keyid, str):
            raise VerificationFailed(f"{what}: signature {index} keyid is not a string")
        sig = b64decode(entry.get("sig"), f"{what} signature {index}", urlsafe_ok=True)
        signatures.append(EnvelopeSignature(keyid, sig))
    return Envelope(payload_type, payload, tuple(signatures))


def verify_envelope(
    envelope: Envelope,
    keys: Sequence[PublicKey],
    *,
    threshold: int = 1,
    payload_type: str | None = IN_TOTO_PAYLOAD_TYPE,
) -> VerifiedEnvelope:
    """Require signatures from at least ``threshold`` distinct trusted keys over PAE(type, payload).

    ``payload_type`` (default in-toto) must equal the envelope's; ``None`` accepts any type.
    """
    if threshold < 1:
        raise UsageError(f"DSSE threshold must be at least 1, got {threshold}")
    distinct = {key.key_id: key for key in keys}
    if threshold > len(distinct):
        raise UsageError(f"DSSE threshold {threshold} exceeds the {len(distinct)} distinct trusted key(s)")
    if payload_type is not None and envelope.payload_type != payload_type:
        raise VerificationFailed(f"DSSE payloadType is {envelope.payload_type!r}, expected {payload_type!r}")
    message = pae(envelope.payload_type, envelope.payload)
    signers: set[KeyId] = set()
    for signature in envelope.signatures:
        for key_id, key in distinct.items():
            if key_id not in signers and key.verifies(signature.sig, message):
                signers.add(key_id)
                break
    if len(signers) < threshold:
        raise VerificationFailed(
            f"DSSE envelope has valid signatures from {len(signers)} distinct trusted key(s), "
            f"{threshold} required ({len(envelope.signatures)} signature(s) present)"
        )
    return VerifiedEnvelope(envelope.payload_type, envelope.payload, frozenset(signers))
