"""Notation (Notary Project) signatures: JWS and COSE envelopes, verified at the ``strict`` level.

Strict means every check must pass: integrity (the envelope's signature with the leaf key, algorithm
consistent with that key), authenticity (the ``x5chain`` is a valid leaf-to-root path at the verification
time whose root is, or is issued by, a trust-store certificate), expiry (``io.cncf.notary.expiry``), and the
payload's ``targetArtifact`` naming exactly the subject digest.  Unknown critical attributes, a verification
plugin requirement, and the ``notary.x509.signingAuthority`` scheme (RFC 3161 timestamps) are refused.
The parse of each envelope format lives in its own function; the checks after it are shared.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID

from imagetrust.errors import LimitExceeded, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Manifest
from imagetrust.trust.notation_store import NotationTrustStore, TrustedCertificate
from imagetrust.verify.certchain import is_ca
from imagetrust.verify.evidence import BlobReader, Origin

NOTATION_ARTIFACT_TYPE = "application/vnd.cncf.notary.signature"
JWS_MEDIA_TYPE = "application/jose+json"
COSE_MEDIA_TYPE = "application/cose"
PAYLOAD_MEDIA_TYPE = "application/vnd.cncf.notary.payload.v1+json"

SIGNING_SCHEME = "io.cncf.notary.signingScheme"
SIGNING_TIME = "io.cncf.notary.signingTime"
AUTHENTIC_SIGNING_TIME = "io.cncf.notary.authenticSigningTime"
EXPIRY = "io.cncf.notary.expiry"
VERIFICATION_PLUGIN = "io.cncf.notary.verificationPlugin"
VERIFICATION_PLUGIN_MIN = "io.cncf.notary.verificationPluginMinVersion"
_KNOWN_CRITICAL = {
    SIGNING_SCHEME,
    EXPIRY,
    AUTHENTIC_SIGNING_TIME,
    VERIFICATION_PLUGIN,
    VERIFICATION_PLUGIN_MIN,
}
_MAX_CHAIN = 10

# Algorithm name -> (key kind, hash, curve name for ECDSA)
_ALGORITHMS: dict[str, tuple[str, type[hashes.HashAlgorithm], str | None]] = {
    "PS256": ("rsa", hashes.SHA256, None),
    "PS384": ("rsa", hashes.SHA384, None),
    "PS512": ("rsa", hashes.SHA512, None),
    "ES256": ("ec", hashes.SHA256, "secp256r1"),
    "ES384": ("ec", hashes.SHA384, "secp384r1"),
    "ES512": ("ec", hashes.SHA512, "secp521r1"),
}


@dataclass(frozen=True)
class ParsedEnvelope:
    """What both envelope formats reduce to before the shared checks."""

    format: str  # "JWS" | "COSE"
    algorithm: str  # JOSE name
    signed_bytes: bytes  # the exact bytes the signature covers
    signature: bytes  # raw: RSA-PSS bytes, or ECDSA r||s
    protected: Mapping[str, Any]  # signed attributes by their notation names
    critical: tuple[str, ...]
    content_type: str | None
    payload: bytes
    chain_der: tuple[bytes, ...]


@dataclass(frozen=True)
class VerifiedNotation:
    format: str
    signer: str  # leaf subject, RFC 4514
    trust_store: str  # which store the anchor came from
    signing_time: datetime | None
    expiry: datetime | None
    target: Digest


def _b64url(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise VerificationFailed(f"notation JWS: {what} is not a string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as e:
        raise VerificationFailed(f"notation JWS: {what} is not base64url") from e


def parse_jws(raw: bytes) -> ParsedEnvelope:
    """JWS JSON serialization (flattened), as notation writes it."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise VerificationFailed("notation JWS: envelope is not JSON") from e
    if not isinstance(doc, dict) or not {"payload", "protected", "signature"} <= set(doc):
        raise VerificationFailed("notation JWS: not a flattened JWS (payload, protected, signature)")
    protected_b64 = doc["protected"]
    payload_b64 = doc["payload"]
    try:
        protected = json.loads(_b64url(protected_b64, "protected header"))
    except (ValueError, RecursionError) as e:
        raise VerificationFailed("notation JWS: protected header is not JSON") from e
    if not isinstance(protected, dict):
        raise VerificationFailed("notation JWS: protected header is not an object")
    header = doc.get("header", {})
    if not isinstance(header, dict):
        raise VerificationFailed("notation JWS: unprotected header is not an object")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
        raise VerificationFailed("notation JWS: header x5c (certificate chain) missing or malformed")
    try:
        chain_der = tuple(base64.b64decode(c, validate=True) for c in chain)
    except (binascii.Error, ValueError) as e:
        raise VerificationFailed("notation JWS: x5c entry is not base64") from e
    critical = protected.get("crit", [])
    if not isinstance(critical, list) or not all(isinstance(c, str) for c in critical):
        raise VerificationFailed("notation JWS: crit is not a list of names")
    alg = protected.get("alg")
    return ParsedEnvelope(
        "JWS",
        str(alg),
        f"{protected_b64}.{payload_b64}".encode("ascii", "replace"),
        _b64url(doc["signature"], "signature"),
        protected,
        tuple(critical),
        protected.get("cty"),
        _b64url(payload_b64, "payload"),
        chain_der,
    )


def parse_envelope(raw: bytes, media_type: str) -> ParsedEnvelope:
    if media_type == JWS_MEDIA_TYPE:
        return parse_jws(raw)
    if media_type == COSE_MEDIA_TYPE:
        from imagetrust.verify.notation_cose import parse_cose

        return parse_cose(raw)
    raise VerificationFailed(f"notation signature layer has unsupported media type {media_type!r}")


def _time(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as e:
            raise VerificationFailed(f"notation: {name} {value!r} is not an RFC 3339 time") from e
    else:
        raise VerificationFailed(f"notation: {name} is not a time")
    if parsed.tzinfo is None:
        raise VerificationFailed(f"notation: {name} has no time zone")
    return parsed


def _check_attributes(env: ParsedEnvelope, now: datetime) -> tuple[datetime | None, datetime | None]:
    unknown = sorted(set(env.critical) - _KNOWN_CRITICAL)
    if unknown:
        raise VerificationFailed(f"notation: unknown critical attribute(s) {', '.join(unknown)}")
    for name in env.critical:
        if name not in env.protected:
            raise VerificationFailed(f"notation: critical attribute {name} is listed but absent")
    if SIGNING_SCHEME not in env.critical:
        raise VerificationFailed(f"notation: {SIGNING_SCHEME} must be a critical attribute")
    if VERIFICATION_PLUGIN in env.protected:
        raise VerificationFailed(
            f"notation: signature requires verification plugin {env.protected[VERIFICATION_PLUGIN]!r}, "
            "which is not supported"
        )
    scheme = env.protected.get(SIGNING_SCHEME)
    if scheme != "notary.x509":
        raise VerificationFailed(
            f"notation: signing scheme {scheme!r} is not supported (only notary.x509; "
            "notary.x509.signingAuthority needs timestamp verification)"
        )
    if env.content_type != PAYLOAD_MEDIA_TYPE:
        raise VerificationFailed(
            f"notation: payload content type {env.content_type!r} is not {PAYLOAD_MEDIA_TYPE}"
        )
    if SIGNING_TIME not in env.protected:
        raise VerificationFailed(f"notation: {SIGNING_TIME} is missing (required by notary.x509)")
    signing_time = _time(env.protected[SIGNING_TIME], SIGNING_TIME)
    expiry = None
    if EXPIRY in env.protected:
        expiry = _time(env.protected[EXPIRY], EXPIRY)
        if expiry <= now:
            raise VerificationFailed(f"notation: signature expired at {expiry.isoformat()}")
    return signing_time, expiry


def _verify_signature(env: ParsedEnvelope, leaf: x509.Certificate) -> None:
    spec = _ALGORITHMS.get(env.algorithm)
    if spec is None:
        raise VerificationFailed(f"notation: signature algorithm {env.algorithm!r} is not supported")
    kind, hash_cls, curve = spec
    try:
        key = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm) as e:
        raise VerificationFailed("notation: signing certificate key cannot be used") from e
    try:
        if kind == "rsa":
            if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
                raise VerificationFailed(f"notation: {env.algorithm} needs an RSA key of at least 2048 bits")
            pss = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=padding.PSS.DIGEST_LENGTH)
            key.verify(env.signature, env.signed_bytes, pss, hash_cls())
        else:
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != curve:
                raise VerificationFailed(f"notation: {env.algorithm} needs an ECDSA {curve} key")
            half = len(env.signature) // 2
            if half == 0 or len(env.signature) % 2:
                raise VerificationFailed("notation: ECDSA signature has the wrong length")
            der = encode_dss_signature(
                int.from_bytes(env.signature[:half], "big"), int.from_bytes(env.signature[half:], "big")
            )
            key.verify(der, env.signed_bytes, ec.ECDSA(hash_cls()))
    except InvalidSignature as e:
        raise VerificationFailed(
            f"notation {env.format}: signature does not verify with its certificate"
        ) from e


def _valid_at(cert: x509.Certificate, now: datetime, role: str) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise VerificationFailed(
            f"notation: {role} certificate {cert.subject.rfc4514_string()} is not valid at {now.isoformat()}"
        )


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _check_leaf(leaf: x509.Certificate) -> None:
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise VerificationFailed("notation: signing certificate key usage lacks digitalSignature")
    except x509.ExtensionNotFound:
        pass
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
            raise VerificationFailed("notation: signing certificate is not for code signing (EKU)")
    except x509.ExtensionNotFound:
        pass


def _anchor(
    chain: Sequence[x509.Certificate], store: NotationTrustStore, now: datetime
) -> TrustedCertificate:
    """The chain must be leaf -> ... -> root, each issued by the next, ending at a trusted certificate."""
    for index, cert in enumerate(chain):
        _valid_at(cert, now, "signing" if index == 0 else "chain")
        if index + 1 < len(chain):
            parent = chain[index + 1]
            if not is_ca(parent):
                raise VerificationFailed(
                    f"notation: chain certificate {parent.subject.rfc4514_string()} is not a CA"
                )
            if not _issued_by(cert, parent):
                raise VerificationFailed(
                    f"notation: certificate {cert.subject.rfc4514_string()} is not issued by the next one"
                )
    last = chain[-1]
    for trusted in store.certificates:
        if trusted.certificate == last:
            return trusted
    for trusted in store.certificates:
        if is_ca(trusted.certificate) and _issued_by(last, trusted.certificate):
            _valid_at(trusted.certificate, now, "trust store")
            return trusted
    raise VerificationFailed(
        f"notation: certificate chain ({last.subject.rfc4514_string()}) does not lead to the trust store "
        f"{store.source}"
    )


def _target(payload: bytes, subject: Digest, subject_size: int | None) -> Digest:
    try:
        doc = json.loads(payload)
        target = doc["targetArtifact"]
        digest = Digest.parse(target["digest"])
    except (ValueError, RecursionError, KeyError, TypeError) as e:
        raise VerificationFailed("notation: payload has no valid targetArtifact digest") from e
    if digest != subject:
        raise VerificationFailed(f"notation: signature is for {digest}, not {subject}")
    size = target.get("size")
    if subject_size is not None and size is not None and size != subject_size:
        raise VerificationFailed(f"notation: targetArtifact size {size} is not the subject's {subject_size}")
    return digest


def verify_notation(
    raw: bytes,
    media_type: str,
    subject: Digest,
    store: NotationTrustStore,
    *,
    now: datetime,
    limits: Limits,
    subject_size: int | None = None,
) -> VerifiedNotation:
    """Strict verification of one notation envelope for ``subject``; raises ``VerificationFailed``."""
    if len(raw) > limits.small_blob_bytes:
        raise LimitExceeded(f"notation envelope of {len(raw)} bytes exceeds {limits.small_blob_bytes}")
    env = parse_envelope(raw, media_type)
    if not env.chain_der:
        raise VerificationFailed(f"notation {env.format}: no certificate chain")
    if len(env.chain_der) > _MAX_CHAIN:
        raise VerificationFailed(f"notation {env.format}: certificate chain longer than {_MAX_CHAIN}")
    try:
        chain = [x509.load_der_x509_certificate(der) for der in env.chain_der]
    except ValueError as e:
        raise VerificationFailed(f"notation {env.format}: certificate chain is not DER") from e
    signing_time, expiry = _check_attributes(env, now)
    _verify_signature(env, chain[0])
    _check_leaf(chain[0])
    anchor = _anchor(chain, store, now)
    target = _target(env.payload, subject, subject_size)
    return VerifiedNotation(
        env.format, chain[0].subject.rfc4514_string(), anchor.store, signing_time, expiry, target
    )


@dataclass(frozen=True)
class NotationItem:
    """One notation signature referrer: its single envelope layer (or why it has none usable)."""

    origin: Origin
    media_type: str
    raw: bytes
    problem: str | None = None


def notation_items(
    referrers: Sequence[Manifest], repository: str, read_blob: BlobReader, limits: Limits
) -> tuple[NotationItem, ...]:
    """The envelope of each notation referrer, declared size bounded before it is read."""
    if len(referrers) > limits.attached_items:
        raise LimitExceeded(
            f"{repository}: {len(referrers)} notation signatures exceeds the limit of {limits.attached_items}"
        )
    items = []
    for manifest in referrers:
        if len(manifest.layers) != 1:
            origin = Origin(repository, manifest.digest, 0)
            problem = f"notation signature manifest has {len(manifest.layers)} layers, not exactly one"
            items.append(NotationItem(origin, "", b"", problem))
            continue
        layer = manifest.layers[0]
        if layer.size > limits.small_blob_bytes:
            raise LimitExceeded(
                f"{repository} referrer {manifest.digest.short}: declared size {layer.size} bytes exceeds "
                f"the limit of {limits.small_blob_bytes}"
            )
        raw = read_blob(layer, limits.small_blob_bytes)
        items.append(NotationItem(Origin(repository, manifest.digest, 0), layer.media_type, raw))
    return tuple(items)
