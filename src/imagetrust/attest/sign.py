"""Private signing keys and DSSE envelopes.

Keys are read from cosign's encrypted format (``ENCRYPTED SIGSTORE PRIVATE KEY``: scrypt-derived key, NaCl
secretbox around a PKCS#8 DER key, as ``cosign generate-key-pair`` writes) or from plain/encrypted PEM PKCS#8.
The signature scheme follows from the key, exactly as verifiers derive it (``trust.keys``): ECDSA with the
curve's hash, RSA PKCS#1 v1.5 with SHA-256, Ed25519 pure.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.secret
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from imagetrust.errors import LocalInputError
from imagetrust.localfiles import read_bounded
from imagetrust.trust.keys import PublicKey
from imagetrust.verify.dsse import IN_TOTO_PAYLOAD_TYPE, pae

PrivateKeyTypes = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

_COSIGN_PEM_TYPES = (b"ENCRYPTED SIGSTORE PRIVATE KEY", b"ENCRYPTED COSIGN PRIVATE KEY")
_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
_MAX_KEY_FILE_BYTES = 1024 * 1024
# cosign writes N=32768 (v1) or 65536 (v2+); anything far larger is a key file built to exhaust memory.
_MAX_SCRYPT_N = 1 << 20
_MAX_SCRYPT_R = 32
_MAX_SCRYPT_P = 16


@dataclass(frozen=True)
class SigningKey:
    """A private key that signs, with the public half verifiers will be given."""

    key: PrivateKeyTypes = field(repr=False)
    public: PublicKey
    source: str = "key"

    @classmethod
    def from_crypto(cls, key: object, source: str) -> SigningKey:
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise LocalInputError(f"{source}: unsupported private key type {type(key).__name__}")
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name not in _CURVE_HASHES:
            raise LocalInputError(f"{source}: unsupported elliptic curve {key.curve.name}")
        return cls(key, PublicKey.from_crypto(key.public_key(), source), source)

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(_CURVE_HASHES[self.key.curve.name]()))
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.key.sign(data)

    def public_pem(self) -> bytes:
        return self.public.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _pem_body(pem: bytes, label: bytes, source: str) -> bytes:
    begin, end = b"-----BEGIN " + label + b"-----", b"-----END " + label + b"-----"
    start = pem.index(begin) + len(begin)
    stop = pem.find(end, start)
    if stop < 0:
        raise LocalInputError(f"{source}: PEM block {label.decode()} is not terminated")
    try:
        return base64.b64decode(b"".join(pem[start:stop].split()), validate=True)
    except ValueError as e:
        raise LocalInputError(f"{source}: PEM block {label.decode()} is not base64") from e


def _b64_field(obj: Any, key: str, source: str) -> bytes:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        raise LocalInputError(f"{source}: encrypted key has no {key!r}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as e:
        raise LocalInputError(f"{source}: encrypted key field {key!r} is not base64") from e


def _int_param(params: Any, key: str, ceiling: int, source: str) -> int:
    value = params.get(key) if isinstance(params, dict) else None
    if type(value) is not int or not 1 <= value <= ceiling:
        raise LocalInputError(f"{source}: scrypt parameter {key} must be an integer in 1..{ceiling}")
    return value


def decrypt_cosign_key(body: bytes, password: bytes, source: str) -> bytes:
    """The PKCS#8 DER inside cosign's encrypted key JSON (scrypt + NaCl secretbox)."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise LocalInputError(f"{source}: encrypted cosign key is not JSON") from e
    kdf = doc.get("kdf") if isinstance(doc, dict) else None
    cipher = doc.get("cipher") if isinstance(doc, dict) else None
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise LocalInputError(f"{source}: unsupported key derivation (only scrypt)")
    if not isinstance(cipher, dict) or cipher.get("name") != "nacl/secretbox":
        raise LocalInputError(f"{source}: unsupported cipher (only nacl/secretbox)")
    params = kdf.get("params")
    n = _int_param(params, "N", _MAX_SCRYPT_N, source)
    if n & (n - 1):
        raise LocalInputError(f"{source}: scrypt parameter N must be a power of two")
    r = _int_param(params, "r", _MAX_SCRYPT_R, source)
    p = _int_param(params, "p", _MAX_SCRYPT_P, source)
    salt = _b64_field(kdf, "salt", source)
    nonce = _b64_field(cipher, "nonce", source)
    ciphertext = _b64_field(doc, "ciphertext", source)
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise LocalInputError(f"{source}: secretbox nonce must be {nacl.secret.SecretBox.NONCE_SIZE} bytes")
    secret = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=32)
    try:
        return nacl.secret.SecretBox(secret).decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError as e:
        raise LocalInputError(f"{source}: wrong password for the encrypted cosign key") from e


def parse_signing_key(pem: bytes, source: str, password: bytes | None) -> SigningKey:
    """A signing key from PEM bytes: cosign's encrypted format, or PKCS#8/SEC1/PKCS#1 PEM."""
    for label in _COSIGN_PEM_TYPES:
        if b"-----BEGIN " + label + b"-----" in pem:
            if password is None:
                raise LocalInputError(
                    f"{source}: encrypted cosign key needs a password"
                    " (COSIGN_PASSWORD or --key-password-stdin)"
                )
            der = decrypt_cosign_key(_pem_body(pem, label, source), password, source)
            try:
                key: object = serialization.load_der_private_key(der, password=None)
            except (ValueError, TypeError, UnsupportedAlgorithm) as e:
                raise LocalInputError(f"{source}: decrypted cosign key is not PKCS#8 ({e})") from e
            return SigningKey.from_crypto(key, source)
    encrypted = b"ENCRYPTED PRIVATE KEY" in pem or b"Proc-Type: 4,ENCRYPTED" in pem
    try:
        key = serialization.load_pem_private_key(pem, password=password if encrypted else None)
    except TypeError as e:
        raise LocalInputError(f"{source}: encrypted PEM key needs a password") from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise LocalInputError(f"{source}: not a usable PEM private key (or wrong password)") from e
    return SigningKey.from_crypto(key, source)


def load_signing_key(path: Path, password: bytes | None) -> SigningKey:
    return parse_signing_key(read_bounded(path, _MAX_KEY_FILE_BYTES, "private key"), str(path), password)


def sign_envelope(payload: bytes, key: SigningKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
    """A DSSE envelope (JSON bytes) with one signature over PAE(type, payload); keyid empty, as cosign."""
    signature = key.sign(pae(payload_type, payload))
    envelope = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode("ascii")}],
    }
    return json.dumps(envelope, separators=(",", ":")).encode("utf-8")
