"""Legacy keyless cosign: Fulcio certificate chain + Rekor SET, then the ordinary payload checks.

Order matters.  The SET gives a verified signing time; every certificate in the path must be valid at that
time (cosign CVE-2026-24122); the path must end at a root the user trusts, never at a root shipped inside the
signature's own chain annotation; the identity policy runs on the verified leaf only.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import replace

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from imagetrust.errors import VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import RegistryRef
from imagetrust.trust.keys import PublicKey
from imagetrust.verify.certchain import is_ca, issued_by
from imagetrust.verify.dsse import parse_envelope, verify_envelope
from imagetrust.verify.encoding import b64decode
from imagetrust.verify.identity import IdentityPolicy, identity_from_certificate
from imagetrust.verify.rekor import require_dsse, require_hashedrekord, verify_rekor_bundle
from imagetrust.verify.results import VerifiedSignature, VerifiedStatement
from imagetrust.verify.simplesigning import verify_simple_signing
from imagetrust.verify.statement import statement_from_envelope

_MAX_PATH = 5
_MAX_CHAIN_CERTS = 10


def load_certificate(pem: str | bytes, what: str) -> x509.Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as e:
        raise VerificationFailed(f"{what}: not a PEM certificate") from e


def load_chain(pem: str | bytes | None, what: str) -> list[x509.Certificate]:
    if not pem:
        return []
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise VerificationFailed(f"{what}: not a PEM certificate chain") from e
    if len(certs) > _MAX_CHAIN_CERTS:
        raise VerificationFailed(f"{what}: {len(certs)} certificates is more than {_MAX_CHAIN_CERTS}")
    return certs


def _valid_at(cert: x509.Certificate, at: datetime.datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise VerificationFailed(
            f"{what} {cert.subject.rfc4514_string() or '(empty subject)'} was not valid at the signing time "
            f"{at.isoformat()} (valid {cert.not_valid_before_utc.isoformat()} "
            f"to {cert.not_valid_after_utc.isoformat()})"
        )


def verify_certificate_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: datetime.datetime,
) -> None:
    """A code-signing leaf -> untrusted CA intermediates -> a trusted root, all valid at ``at``."""
    if not roots:
        raise VerificationFailed("no trusted Fulcio root certificates to verify against")
    if is_ca(leaf):
        raise VerificationFailed("signing certificate is a CA certificate")
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as e:
        raise VerificationFailed("signing certificate has no extended key usage") from e
    if ExtendedKeyUsageOID.CODE_SIGNING not in usages:
        raise VerificationFailed("signing certificate is not for code signing")
    _valid_at(leaf, at, "signing certificate")
    trusted_der = {root.public_bytes(Encoding.DER) for root in roots}
    current = leaf
    for _ in range(_MAX_PATH):
        for root in roots:
            if issued_by(current, root):
                _valid_at(root, at, "root certificate")
                return
        parent = next(
            (
                c
                for c in intermediates
                if c.public_bytes(Encoding.DER) not in trusted_der
                and c.issuer != c.subject  # a self-signed cert from the evidence is never an anchor
                and is_ca(c)
                and issued_by(current, c)
            ),
            None,
        )
        if parent is None:
            break
        _valid_at(parent, at, "intermediate certificate")
        current = parent
    raise VerificationFailed("signing certificate does not chain to a trusted Fulcio root")


def verify_keyless_signature(
    payload: bytes,
    signature_b64: str,
    certificate_pem: str,
    chain_pem: str | None,
    rekor_bundle: str,
    expected: Digest,
    *,
    roots: Sequence[x509.Certificate],
    rekor_keys: Sequence[PublicKey],
    policy: IdentityPolicy,
    repository: RegistryRef | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedSignature:
    """A legacy ``.sig`` layer signed with a Fulcio certificate and logged in Rekor (SET only)."""
    leaf = load_certificate(certificate_pem, "signature certificate")
    entry = verify_rekor_bundle(rekor_bundle, rekor_keys, limits=limits)
    verify_certificate_path(leaf, load_chain(chain_pem, "certificate chain"), roots, entry.integrated_time)
    identity = identity_from_certificate(leaf)
    policy.check(identity)
    key = PublicKey.from_certificate(leaf, "signing certificate")
    verified = verify_simple_signing(
        payload, signature_b64, [key], expected, repository=repository, limits=limits
    )
    signature = b64decode(signature_b64, "cosign signature")
    require_hashedrekord(entry, payload, signature, key, leaf_der=leaf.public_bytes(Encoding.DER))
    return replace(verified, identity=identity)


def verify_keyless_attestation(
    envelope_raw: bytes,
    certificate_pem: str,
    chain_pem: str | None,
    rekor_bundle: str,
    *,
    roots: Sequence[x509.Certificate],
    rekor_keys: Sequence[PublicKey],
    policy: IdentityPolicy,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedStatement:
    """A legacy ``.att`` layer: DSSE envelope signed with a Fulcio certificate, logged as Rekor ``dsse``."""
    leaf = load_certificate(certificate_pem, "attestation certificate")
    entry = verify_rekor_bundle(rekor_bundle, rekor_keys, limits=limits)
    verify_certificate_path(leaf, load_chain(chain_pem, "certificate chain"), roots, entry.integrated_time)
    identity = identity_from_certificate(leaf)
    policy.check(identity)
    key = PublicKey.from_certificate(leaf, "signing certificate")
    envelope = parse_envelope(envelope_raw, limits=limits)
    verified = verify_envelope(envelope, [key])
    require_dsse(
        entry,
        envelope.payload,
        [s.sig for s in envelope.signatures],
        key,
        leaf_der=leaf.public_bytes(Encoding.DER),
    )
    return replace(statement_from_envelope(verified, limits=limits), identity=identity)
