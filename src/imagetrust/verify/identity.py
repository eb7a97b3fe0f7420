"""Signer identity in Fulcio certificates, and the policy that decides whether it is the one expected.

Regular expressions are always full-matched: cosign and sigstore-go used an unanchored match, so an
expected ``.../x.yml@refs/heads/main`` also accepted ``.../x.yml@refs/heads/main-attacker``-style SANs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from imagetrust.errors import ConfigError, VerificationFailed
from imagetrust.verify.results import CertIdentity

_FULCIO = "1.3.6.1.4.1.57264.1."
ISSUER_V1_OID = _FULCIO + "1"  # raw string bytes (deprecated)
ISSUER_V2_OID = _FULCIO + "8"  # DER UTF8String
OTHERNAME_USERNAME_OID = _FULCIO + "7"

# Legacy GitHub claims (.2-.6) are raw strings; the "V2" set (.9-.22) are DER UTF8Strings.
_LEGACY_CLAIMS = {
    "2": "github_workflow_trigger",
    "3": "github_workflow_sha",
    "4": "github_workflow_name",
    "5": "github_workflow_repository",
    "6": "github_workflow_ref",
}
_V2_CLAIMS = {
    "9": "build_signer_uri",
    "10": "build_signer_digest",
    "11": "runner_environment",
    "12": "source_repository_uri",
    "13": "source_repository_digest",
    "14": "source_repository_ref",
    "15": "source_repository_identifier",
    "16": "source_repository_owner_uri",
    "17": "source_repository_owner_identifier",
    "18": "build_config_uri",
    "19": "build_config_digest",
    "20": "build_trigger",
    "21": "run_invocation_uri",
    "22": "source_repository_visibility_at_signing",
}
FULCIO_CLAIMS: dict[str, str] = {
    **{name: _FULCIO + arc for arc, name in _LEGACY_CLAIMS.items()},
    **{name: _FULCIO + arc for arc, name in _V2_CLAIMS.items()},
}


def der_utf8_string(data: bytes, what: str) -> str:
    """Decode exactly one DER UTF8String (tag 0x0C, definite length, nothing after it)."""
    if len(data) < 2 or data[0] != 0x0C:
        raise VerificationFailed(f"{what}: not a DER UTF8String")
    length = data[1]
    offset = 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise VerificationFailed(f"{what}: bad DER length")
        length = int.from_bytes(data[2 : 2 + count], "big")
        offset = 2 + count
        if length < 0x80 or data[2] == 0:
            raise VerificationFailed(f"{what}: non-minimal DER length")
    if offset + length != len(data):
        raise VerificationFailed(f"{what}: DER length does not match the value")
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise VerificationFailed(f"{what}: not UTF-8") from e


def _raw_utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise VerificationFailed(f"{what}: not UTF-8") from e


def _extension_bytes(cert: x509.Certificate, oid: str) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid))
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if isinstance(value, x509.UnrecognizedExtension):
        return value.value
    raise VerificationFailed(f"certificate extension {oid} has an unexpected type")  # pragma: no cover


def _san(cert: x509.Certificate) -> tuple[str, str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as e:
        raise VerificationFailed("certificate has no subject alternative name") from e
    found: list[tuple[str, str]] = []
    for general in names:
        if isinstance(general, x509.RFC822Name):
            found.append(("email", general.value))
        elif isinstance(general, x509.UniformResourceIdentifier):
            found.append(("uri", general.value))
        elif isinstance(general, x509.OtherName):
            if general.type_id.dotted_string == OTHERNAME_USERNAME_OID:
                found.append(("othername", der_utf8_string(general.value, "otherName SAN")))
        elif isinstance(general, x509.DNSName):
            found.append(("dns", general.value))
    # Fulcio issues exactly one SAN; more than one would make "the identity" ambiguous.
    if len(found) != 1:
        raise VerificationFailed(f"certificate has {len(found)} usable subject alternative names, expected 1")
    return found[0]


def identity_from_certificate(cert: x509.Certificate) -> CertIdentity:
    """Read the asserted identity; the caller must have verified the certificate chain."""
    kind, san = _san(cert)
    v1 = _extension_bytes(cert, ISSUER_V1_OID)
    v2 = _extension_bytes(cert, ISSUER_V2_OID)
    issuer_v1 = _raw_utf8(v1, "issuer extension 1.3.6.1.4.1.57264.1.1") if v1 is not None else None
    issuer_v2 = der_utf8_string(v2, "issuer extension 1.3.6.1.4.1.57264.1.8") if v2 is not None else None
    if issuer_v1 is not None and issuer_v2 is not None and issuer_v1 != issuer_v2:
        raise VerificationFailed(f"certificate issuer extensions disagree: {issuer_v1!r} vs {issuer_v2!r}")
    claims: dict[str, str] = {}
    for arc, name in _LEGACY_CLAIMS.items():
        raw = _extension_bytes(cert, _FULCIO + arc)
        if raw is not None:
            claims[name] = _raw_utf8(raw, f"extension {_FULCIO + arc}")
    for arc, name in _V2_CLAIMS.items():
        raw = _extension_bytes(cert, _FULCIO + arc)
        if raw is not None:
            claims[name] = der_utf8_string(raw, f"extension {_FULCIO + arc}")
    return CertIdentity(san, kind, issuer_v2 or issuer_v1, MappingProxyType(claims))


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ConfigError(f"invalid {what} regular expression {pattern!r}: {e}") from e


@dataclass(frozen=True)
class IdentityPolicy:
    """Expected signer: exact identity or full-match regexp, and exact issuer or full-match regexp.

    Both an identity and an issuer constraint are required, as cosign requires them for keyless.
    ``claims`` adds exact matches on Fulcio extensions by short name (e.g. ``source_repository_ref``).
    """

    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    claims: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if (self.identity is None) == (self.identity_regexp is None):
            raise ConfigError("identity policy needs exactly one of identity or identity regexp")
        if (self.issuer is None) == (self.issuer_regexp is None):
            raise ConfigError("identity policy needs exactly one of issuer or issuer regexp")
        for name, _ in self.claims:
            if name not in FULCIO_CLAIMS:
                raise ConfigError(f"unknown certificate claim {name!r}")
        if self.identity_regexp is not None:
            _compile(self.identity_regexp, "identity")
        if self.issuer_regexp is not None:
            _compile(self.issuer_regexp, "issuer")

    def check(self, identity: CertIdentity) -> None:
        """Raise ``VerificationFailed`` unless ``identity`` satisfies every constraint."""
        if self.identity is not None and identity.san != self.identity:
            raise VerificationFailed(f"signer identity {identity.san!r} is not {self.identity!r}")
        if self.identity_regexp is not None and not _compile(self.identity_regexp, "identity").fullmatch(
            identity.san
        ):
            raise VerificationFailed(
                f"signer identity {identity.san!r} does not fully match {self.identity_regexp!r}"
            )
        issuer = identity.issuer
        if issuer is None:
            raise VerificationFailed("certificate names no OIDC issuer")
        if self.issuer is not None and issuer != self.issuer:
            raise VerificationFailed(f"certificate issuer {issuer!r} is not {self.issuer!r}")
        if self.issuer_regexp is not None and not _compile(self.issuer_regexp, "issuer").fullmatch(issuer):
            raise VerificationFailed(
                f"certificate issuer {issuer!r} does not fully match {self.issuer_regexp!r}"
            )
        for name, expected in self.claims:
            actual = identity.claims.get(name)
            if actual != expected:
                raise VerificationFailed(f"certificate claim {name} is {actual!r}, expected {expected!r}")
