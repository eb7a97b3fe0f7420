"""Public keys: loading, stable ids, scheme chosen from the key, refusal of malformed or weak keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from imagetrust.errors import LocalInputError, VerificationFailed
from imagetrust.trust.keys import PublicKey, load_public_key
from tests.conftest import shared_data
from tests.unit.verify_helpers import containers_image, p256, public_of, sign

DATA = b"exact bytes that were signed"


@pytest.mark.parametrize(
    ("private", "algorithm"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "ecdsa-p256"),
        (ec.generate_private_key(ec.SECP384R1()), "ecdsa-p384"),
        (ec.generate_private_key(ec.SECP521R1()), "ecdsa-p521"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa-2048"),
        (ed25519.Ed25519PrivateKey.generate(), "ed25519"),
    ],
)
def test_each_key_type_verifies_its_own_signature_and_nothing_else(private, algorithm) -> None:
    key = public_of(private)
    assert key.algorithm == algorithm
    signature = sign(private, DATA)
    key.verify(signature, DATA)
    with pytest.raises(VerificationFailed, match="does not verify"):
        key.verify(signature, DATA + b"!")
    with pytest.raises(VerificationFailed):
        other = ed25519.Ed25519PrivateKey.generate() if algorithm == "ed25519" else p256()
        public_of(other).verify(signature, DATA)


def test_ecdsa_p384_uses_sha384_as_cosign_does() -> None:
    private = ec.generate_private_key(ec.SECP384R1())

    wrong_hash = private.sign(DATA, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(VerificationFailed):
        public_of(private).verify(wrong_hash, DATA)


def test_rsa_pss_accepted() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_of(private).verify(sign(private, DATA, pss=True), DATA)


def test_key_id_is_sha256_of_spki_der_and_independent_of_pem_text() -> None:
    path = containers_image("cosign.pub")
    key = load_public_key(path)
    der = serialization.load_pem_public_key(path.read_bytes()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key.key_id.hex == hashlib.sha256(der).hexdigest()
    reflowed = path.read_bytes().replace(b"\n", b"\r\n")
    assert PublicKey.from_pem(reflowed, "again").key_id == key.key_id
    assert str(key.key_id).startswith("sha256:")


def test_real_in_toto_pem_keys_load() -> None:
    for name, algorithm in [
        ("rsa_public.pem", "rsa"),
        ("ecdsa_public.pem", "ecdsa"),
        ("ed25519_public.pem", "ed"),
    ]:
        key = load_public_key(shared_data(f"sigstore/in-toto/tests/pems/{name}"))
        assert key.algorithm.startswith(algorithm)


def test_malformed_key_file_is_local_input_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pub"
    bad.write_bytes(b"-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n")
    with pytest.raises(LocalInputError, match=r"broken\.pub"):
        load_public_key(bad)
    with pytest.raises(LocalInputError, match=r"missing\.pub"):
        load_public_key(tmp_path / "missing.pub")


def test_private_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cosign.key"
    path.write_bytes(shared_data("sigstore/in-toto/tests/pems/ecdsa_private_unencrypted.pem").read_bytes())
    with pytest.raises(LocalInputError, match=r"cosign\.key"):
        load_public_key(path)


def test_short_rsa_and_odd_curves_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(LocalInputError, match="too short"):
        public_of(weak)
    k1 = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(LocalInputError, match="unsupported elliptic curve"):
        public_of(k1)
