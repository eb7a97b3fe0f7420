"""Helpers shared by the verify unit tests: real containers-image signatures and keys made in-test."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from imagetrust.trust.keys import PublicKey
from tests.conftest import shared_data

SIGSTORE_JSON_MAGIC = b"\x00sigstore-json\n"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class StoredSignature:
    """One containers/image ``signature-N`` file: payload bytes plus layer annotations."""

    payload: bytes
    annotations: dict[str, str]

    @property
    def signature(self) -> str:
        return self.annotations["dev.cosignproject.cosign/signature"]


def containers_image(relative: str) -> Path:
    return shared_data(f"sigstore/containers-image/{relative}")


def read_stored_signature(path: Path) -> StoredSignature:
    raw = path.read_bytes()
    assert raw.startswith(SIGSTORE_JSON_MAGIC)
    doc = json.loads(raw[len(SIGSTORE_JSON_MAGIC) :])
    return StoredSignature(base64.b64decode(doc["payload"]), doc["annotations"])


def sign(private: PrivateKey, data: bytes, *, pss: bool = False) -> bytes:
    if isinstance(private, ec.EllipticCurvePrivateKey):
        hash_cls = {256: hashes.SHA256, 384: hashes.SHA384, 521: hashes.SHA512}[private.curve.key_size]
        return private.sign(data, ec.ECDSA(hash_cls()))
    if isinstance(private, rsa.RSAPrivateKey):
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if pss else padding.PKCS1v15()
        )
        return private.sign(data, pad, hashes.SHA256())
    return private.sign(data)


def public_of(private: PrivateKey, source: str = "test key") -> PublicKey:
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey.from_pem(pem, source)


def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def simple_signing_payload(digest: str, *, reference: str = "registry.example/app", **extra: Any) -> bytes:
    doc: dict[str, Any] = {
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    doc.update(extra)
    return json.dumps(doc).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
