"""Signing keys and DSSE envelopes: real cosign keys decrypt; our envelopes verify with our verifier."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from imagetrust.attest.sign import SigningKey, load_signing_key, parse_signing_key, sign_envelope
from imagetrust.errors import LocalInputError, VerificationFailed
from imagetrust.trust.keys import load_public_key
from imagetrust.verify.dsse import parse_envelope, verify_envelope
from tests.conftest import tool_path


def test_real_cosign_key_decrypts_and_matches_its_public_key(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(tool_path("cosign2")), "generate-key-pair"],
        cwd=tmp_path,
        env={**os.environ, "COSIGN_PASSWORD": "unit"},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0
    key = load_signing_key(tmp_path / "cosign.key", b"unit")
    assert key.public.key_id == load_public_key(tmp_path / "cosign.pub").key_id
    with pytest.raises(LocalInputError, match="wrong password"):
        load_signing_key(tmp_path / "cosign.key", b"other")
    with pytest.raises(LocalInputError, match="needs a password"):
        load_signing_key(tmp_path / "cosign.key", None)


@pytest.mark.parametrize(
    "private",
    [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(65537, 2048),
        ed25519.Ed25519PrivateKey.generate(),
    ],
)
def test_envelopes_verify_and_tampering_fails(private: object) -> None:
    pem = private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = parse_signing_key(pem, "test key", None)
    raw = sign_envelope(b'{"_type":"x"}', key)
    assert verify_envelope(parse_envelope(raw), [key.public]).signers == {key.public.key_id}
    doc = json.loads(raw)
    doc["payload"] = base64.b64encode(b'{"_type":"y"}').decode()

    with pytest.raises(VerificationFailed):
        verify_envelope(parse_envelope(json.dumps(doc).encode()), [key.public])


def test_hostile_scrypt_parameters_are_refused() -> None:
    body = json.dumps(
        {
            "kdf": {"name": "scrypt", "params": {"N": 1 << 30, "r": 8, "p": 1}, "salt": "AA=="},
            "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(b"n" * 24).decode()},
            "ciphertext": "AA==",
        }
    ).encode()
    pem = (
        b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
        + base64.encodebytes(body)
        + b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    )
    with pytest.raises(LocalInputError, match="scrypt parameter N"):
        parse_signing_key(pem, "hostile", b"pw")
    assert isinstance(SigningKey, type)
