"""Certificate-chain tests shared by the keyless verifiers (legacy cosign certificates and bundles) and
notation: small predicates, so each verifier keeps its own policy on what a failed link means."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer`` named and signed ``cert`` (a malformed or mismatched signature is simply False)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    """The certificate says it is a CA (basic constraints); no extension means it is not."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
