"""Public keys as trust material: loading, a stable id, and raw signature verification.

The signature scheme is never read from the signed object (cosign does not record it); it follows from the
key, as cosign does: ECDSA P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, RSA (PKCS#1 v1.5 or PSS) with
SHA-256, Ed25519 pure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from imagetrust.errors import LocalInputError, VerificationFailed
from imagetrust.localfiles import read_bounded

if TYPE_CHECKING:
    from cryptography import x509

PublicKeyTypes = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
_MIN_RSA_BITS = 2048
_MAX_KEY_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, order=True)
class KeyId:
    """sha256 of the DER SubjectPublicKeyInfo: the same key always has the same id, whatever its PEM."""

    hex: str

    def __str__(self) -> str:
        return f"sha256:{self.hex}"

    @property
    def short(self) -> str:
        return f"sha256:{self.hex[:12]}"


@dataclass(frozen=True)
class PublicKey:
    """A verification key with its id and where it came from (for messages)."""

    key: PublicKeyTypes = field(compare=False, repr=False)
    key_id: KeyId
    source: str = field(compare=False, default="key")

    @classmethod
    def from_crypto(cls, key: object, source: str) -> PublicKey:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if key.curve.name not in _CURVE_HASHES:
                raise LocalInputError(f"{source}: unsupported elliptic curve {key.curve.name}")
        elif isinstance(key, rsa.RSAPublicKey):
            if key.key_size < _MIN_RSA_BITS:
                raise LocalInputError(f"{source}: RSA key of {key.key_size} bits is too short")
        elif not isinstance(key, ed25519.Ed25519PublicKey):
            raise LocalInputError(f"{source}: unsupported public key type {type(key).__name__}")
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(key, KeyId(hashlib.sha256(der).hexdigest()), source)

    @classmethod
    def from_pem(cls, pem: bytes, source: str) -> PublicKey:
        """Parse one PEM ``PUBLIC KEY`` block (or a certificate, whose key is taken)."""
        try:
            if b"-----BEGIN CERTIFICATE-----" in pem:
                from cryptography.x509 import load_pem_x509_certificate  # only for certificate files

                key: object = load_pem_x509_certificate(pem).public_key()
            else:
                key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise LocalInputError(f"{source}: not a usable PEM public key ({e})") from e
        return cls.from_crypto(key, source)

    @classmethod
    def from_certificate(cls, cert: x509.Certificate, source: str = "certificate") -> PublicKey:
        try:
            key: object = cert.public_key()
        except (ValueError, UnsupportedAlgorithm) as e:
            raise VerificationFailed(f"{source}: certificate public key cannot be used ({e})") from e
        try:
            return cls.from_crypto(key, source)
        except LocalInputError as e:
            # A certificate from the evidence (not from the user) carrying a bad key is a failed check.
            raise VerificationFailed(str(e)) from e

    @property
    def algorithm(self) -> str:
        """A short human name: ``ecdsa-p256``, ``rsa-3072``, ``ed25519``."""
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            return (
                "ecdsa-"
                + {"secp256r1": "p256", "secp384r1": "p384", "secp521r1": "p521"}[self.key.curve.name]
            )
        if isinstance(self.key, rsa.RSAPublicKey):
            return f"rsa-{self.key.key_size}"
        return "ed25519"

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise ``VerificationFailed`` unless ``signature`` is this key's signature over exactly ``data``."""
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                hash_cls = _CURVE_HASHES[self.key.curve.name]
                self.key.verify(signature, data, ec.ECDSA(hash_cls()))
            elif isinstance(self.key, rsa.RSAPublicKey):
                self._verify_rsa(signature, data)
            else:
                self.key.verify(signature, data)
        except InvalidSignature as e:
            raise VerificationFailed(
                f"signature does not verify with {self.source} ({self.key_id.short})"
            ) from e

    def _verify_rsa(self, signature: bytes, data: bytes) -> None:
        assert isinstance(self.key, rsa.RSAPublicKey)
        try:
            self.key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            # PSS salt length is not recorded: accept the two lengths signers actually use.
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            self.key.verify(signature, data, pss, hashes.SHA256())

    def verifies(self, signature: bytes, data: bytes) -> bool:
        try:
            self.verify(signature, data)
        except VerificationFailed:
            return False
        return True


def load_public_key(path: Path) -> PublicKey:
    """Read one PEM public key file given by the user; every problem names the file."""
    return PublicKey.from_pem(read_bounded(path, _MAX_KEY_FILE_BYTES, "public key"), str(path))
