"""Legacy cosign Rekor bundles: the SignedEntryTimestamp, and binding the logged entry to what we verified.

A SET proves only that Rekor logged *some* body.  The body must then be shown to name this payload, this
signature and this signer (cosign CVE-2022-23649, CVE-2022-36056, CVE-2026-22703 all missed one of these).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from imagetrust.errors import LocalInputError, VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.trust.keys import KeyId, PublicKey
from imagetrust.verify.encoding import b64decode, load_strict_object

_WHAT = "Rekor bundle"


@dataclass(frozen=True)
class RekorEntry:
    """A log entry whose SET verified with a trusted Rekor key."""

    kind: str
    api_version: str
    body: Mapping[str, Any] = field(repr=False)
    integrated_time: datetime.datetime
    log_index: int
    log_id: str


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise VerificationFailed(f"{_WHAT}: {what} is not a non-negative integer")
    return value


def verify_rekor_bundle(
    bundle_json: str | bytes, rekor_keys: Sequence[PublicKey], *, limits: Limits = DEFAULT_LIMITS
) -> RekorEntry:
    """Check the SET over the canonical ``{body, integratedTime, logID, logIndex}`` with the log's key."""
    raw = bundle_json.encode() if isinstance(bundle_json, str) else bundle_json
    doc = load_strict_object(raw, _WHAT, max_bytes=limits.small_blob_bytes, max_depth=limits.json_depth)
    payload = doc.get("Payload")
    if not isinstance(payload, dict):
        raise VerificationFailed(f"{_WHAT}: Payload is missing")
    body_b64 = payload.get("body")
    if not isinstance(body_b64, str):
        raise VerificationFailed(f"{_WHAT}: Payload.body is missing")
    integrated = _int(payload.get("integratedTime"), "integratedTime")
    log_index = _int(payload.get("logIndex"), "logIndex")
    log_id = payload.get("logID")
    if not isinstance(log_id, str):
        raise VerificationFailed(f"{_WHAT}: logID is missing")
    key = next((k for k in rekor_keys if k.key_id == KeyId(log_id.lower())), None)
    if key is None:
        raise VerificationFailed(f"{_WHAT}: log {log_id[:12]} is not a trusted Rekor log")
    canonical = rfc8785.dumps(
        {"body": body_b64, "integratedTime": integrated, "logID": log_id, "logIndex": log_index}
    )
    set_signature = b64decode(doc.get("SignedEntryTimestamp"), f"{_WHAT} SignedEntryTimestamp")
    try:
        key.verify(set_signature, canonical)
    except VerificationFailed as e:
        raise VerificationFailed(f"{_WHAT}: SignedEntryTimestamp does not verify with the Rekor key") from e
    body = load_strict_object(
        b64decode(body_b64, f"{_WHAT} body"), f"{_WHAT} body", max_bytes=limits.small_blob_bytes
    )
    kind, version = body.get("kind"), body.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(version, str) or not isinstance(body.get("spec"), dict):
        raise VerificationFailed(f"{_WHAT}: entry body has no kind, apiVersion or spec")
    when = datetime.datetime.fromtimestamp(integrated, tz=datetime.UTC)
    return RekorEntry(kind, version, body, when, log_index, log_id.lower())


def _spec(entry: RekorEntry, kind: str) -> dict[str, Any]:
    if (entry.kind, entry.api_version) != (kind, "0.0.1"):
        raise VerificationFailed(f"Rekor entry is {entry.kind}/{entry.api_version}, expected {kind}/0.0.1")
    spec = entry.body["spec"]
    assert isinstance(spec, dict)
    return spec


def _sha256_field(value: Any, what: str) -> str:
    if (
        not isinstance(value, dict)
        or value.get("algorithm") != "sha256"
        or not isinstance(value.get("value"), str)
    ):
        raise VerificationFailed(f"Rekor entry {what} is not a sha256 hash")
    text: str = value["value"].lower()
    return text


def _verifier_matches(pem_b64: Any, signer: PublicKey, leaf_der: bytes | None, what: str) -> bool:
    pem = b64decode(pem_b64, what)
    if leaf_der is not None:
        try:
            from cryptography.hazmat.primitives.serialization import Encoding
            from cryptography.x509 import load_pem_x509_certificate  # keyless entries only

            return load_pem_x509_certificate(pem).public_bytes(Encoding.DER) == leaf_der
        except ValueError:
            return False
    try:
        return PublicKey.from_pem(pem, what).key_id == signer.key_id
    except (LocalInputError, VerificationFailed):  # a malformed verifier in the log does not match
        return False


def require_hashedrekord(
    entry: RekorEntry, payload: bytes, signature: bytes, signer: PublicKey, *, leaf_der: bytes | None = None
) -> None:
    """The logged hashedrekord names sha256(payload), this signature, and this key or certificate."""
    spec = _spec(entry, "hashedrekord")
    data = spec.get("data")
    logged_hash = _sha256_field(data.get("hash") if isinstance(data, dict) else None, "data hash")
    if logged_hash != hashlib.sha256(payload).hexdigest():
        raise VerificationFailed("Rekor entry logs a different artifact hash than the signed payload")
    sig = spec.get("signature")
    if not isinstance(sig, dict) or b64decode(sig.get("content"), "Rekor entry signature") != signature:
        raise VerificationFailed("Rekor entry logs a different signature")
    public = sig.get("publicKey")
    content = public.get("content") if isinstance(public, dict) else None
    if not _verifier_matches(content, signer, leaf_der, "Rekor entry public key"):
        raise VerificationFailed("Rekor entry logs a different signing key or certificate")


def require_dsse(
    entry: RekorEntry,
    payload: bytes,
    signatures: Sequence[bytes],
    signer: PublicKey,
    *,
    leaf_der: bytes | None,
) -> None:
    """The logged dsse entry names sha256(payload) and our signature made by this signer.

    The envelope hash is not compared: Rekor v1 hashed the envelope as submitted, not canonicalised.
    """
    spec = _spec(entry, "dsse")
    if _sha256_field(spec.get("payloadHash"), "payload hash") != hashlib.sha256(payload).hexdigest():
        raise VerificationFailed("Rekor entry logs a different DSSE payload hash")
    logged = spec.get("signatures")
    if not isinstance(logged, list):
        raise VerificationFailed("Rekor dsse entry has no signatures")
    for item in logged:
        if not isinstance(item, dict):
            continue
        sig = b64decode(item.get("signature"), "Rekor dsse signature")
        if sig in signatures and _verifier_matches(
            item.get("verifier"), signer, leaf_der, "Rekor dsse verifier"
        ):
            return
    raise VerificationFailed("Rekor entry does not log this DSSE signature and signer")
