"""Strict notation verification of JWS and COSE envelopes built here with a test CA (cryptography, cbor2),
each hostile variant differing from an accepted one in exactly one respect.

Interop with envelopes written by real notation 1.3 is in tests/integration/test_verify_notation.py.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from imagetrust.errors import LimitExceeded, LocalInputError, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.trust.notation_store import load_notation_trust_store
from imagetrust.verify.notation import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, verify_notation

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SUBJECT = Digest.parse("sha256:" + "ab" * 32)
OTHER = Digest.parse("sha256:" + "cd" * 32)
SCHEME = "io.cncf.notary.signingScheme"


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(
    subject_key: Any,
    cn: str,
    issuer_key: Any,
    issuer_cn: str,
    *,
    ca: bool,
    eku: x509.ObjectIdentifier | None = ExtendedKeyUsageOID.CODE_SIGNING,
    not_after: datetime = NOW + timedelta(days=30),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(name(issuer_cn))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca and eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Pki:
    ca_key: Any
    ca: x509.Certificate
    leaf_key: Any
    leaf: x509.Certificate
    store: Path


def make_pki(tmp: Path, leaf_key: Any | None = None, **leaf_args: Any) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = cert(ca_key, "test root", ca_key, "test root", ca=True)
    leaf_key = leaf_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = cert(leaf_key, "test signer", ca_key, "test root", ca=False, **leaf_args)
    store = tmp / "store" / "x509" / "ca" / "test"
    store.mkdir(parents=True)
    (store / "root.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(ca_key, ca, leaf_key, leaf, tmp / "store")


def payload(digest: Digest = SUBJECT) -> bytes:
    return json.dumps(
        {"targetArtifact": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": str(digest)}}
    ).encode()


def protected_attrs(**extra: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "crit": [SCHEME],
        "cty": "application/vnd.cncf.notary.payload.v1+json",
        SCHEME: "notary.x509",
        "io.cncf.notary.signingTime": (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    attrs.update(extra)
    return {k: v for k, v in attrs.items() if v is not None}


def raw_sign(key: Any, alg: str, data: bytes) -> bytes:
    hash_alg = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    if alg.startswith("PS"):
        pss = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=padding.PSS.DIGEST_LENGTH)
        return bytes(key.sign(data, pss, hash_alg))
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_alg)))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(
    pki: Pki,
    alg: str = "PS256",
    body: bytes | None = None,
    chain: list[x509.Certificate] | None = None,
    **attrs: Any,
) -> bytes:
    protected = b64u(json.dumps({"alg": alg, **protected_attrs(**attrs)}).encode())
    encoded = b64u(payload() if body is None else body)
    signature = raw_sign(pki.leaf_key, alg, f"{protected}.{encoded}".encode())
    der = [c.public_bytes(serialization.Encoding.DER) for c in (chain or [pki.leaf, pki.ca])]
    return json.dumps(
        {
            "payload": encoded,
            "protected": protected,
            "header": {"x5c": [base64.b64encode(d).decode() for d in der]},
            "signature": b64u(signature),
        }
    ).encode()


COSE_ALGS = {"PS256": -37, "ES256": -7, "ES384": -35}


def cose(pki: Pki, alg: str = "PS256", **attrs: Any) -> bytes:
    named = protected_attrs(**attrs)
    header: dict[Any, Any] = {1: COSE_ALGS[alg], 2: named.pop("crit"), 3: named.pop("cty")}
    header.update(named)
    protected = cbor2.dumps(header)
    body = payload()
    signature = raw_sign(pki.leaf_key, alg, cbor2.dumps(["Signature1", protected, b"", body]))
    chain = [c.public_bytes(serialization.Encoding.DER) for c in (pki.leaf, pki.ca)]
    return bytes(cbor2.dumps(cbor2.CBORTag(18, [protected, {33: chain}, body, signature])))


def check(raw: bytes, pki: Pki, media_type: str = JWS_MEDIA_TYPE, now: datetime = NOW) -> Any:
    store = load_notation_trust_store(pki.store)
    return verify_notation(raw, media_type, SUBJECT, store, now=now, limits=Limits())


# --------------------------------------------------------------------------------------------- accepted


def test_jws_chain_to_trusted_root_verifies(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    verified = check(jws(pki), pki)
    assert verified.format == "JWS" and verified.signer == "CN=test signer"
    assert verified.trust_store == "ca:test" and verified.target == SUBJECT


def test_leaf_only_chain_issued_by_a_trusted_ca_verifies(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    assert check(jws(pki, chain=[pki.leaf]), pki).trust_store == "ca:test"


@pytest.mark.parametrize(("alg", "curve"), [("ES256", ec.SECP256R1()), ("ES384", ec.SECP384R1())])
def test_ecdsa_jws_and_cose_verify(tmp_path: Path, alg: str, curve: ec.EllipticCurve) -> None:
    pki = make_pki(tmp_path, leaf_key=ec.generate_private_key(curve))
    assert check(jws(pki, alg), pki).format == "JWS"
    assert check(cose(pki, alg), pki, COSE_MEDIA_TYPE).format == "COSE"


def test_cose_rsa_verifies_with_expiry_in_the_future(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    expiry = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = cose(pki, crit=[SCHEME, "io.cncf.notary.expiry"], **{"io.cncf.notary.expiry": expiry})
    verified = check(raw, pki, COSE_MEDIA_TYPE)
    assert verified.expiry == NOW + timedelta(hours=1)


# --------------------------------------------------------------------------------------------- refused


def test_tampered_payload_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    doc = json.loads(jws(pki))
    doc["payload"] = b64u(payload(OTHER))
    with pytest.raises(VerificationFailed, match="does not verify"):
        check(json.dumps(doc).encode(), pki)


def test_signature_for_another_digest_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    with pytest.raises(VerificationFailed, match=f"signature is for {OTHER}"):
        check(jws(pki, body=payload(OTHER)), pki)


def test_unknown_critical_attribute_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    raw = jws(pki, crit=[SCHEME, "io.example.mustUnderstand"], **{"io.example.mustUnderstand": "x"})
    with pytest.raises(VerificationFailed, match="unknown critical attribute"):
        check(raw, pki)
    with pytest.raises(VerificationFailed, match="unknown critical attribute"):
        check(cose(pki, crit=[SCHEME, "io.example.x"], **{"io.example.x": "x"}), pki, COSE_MEDIA_TYPE)


def test_verification_plugin_and_signing_authority_are_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    plugin = "io.cncf.notary.verificationPlugin"
    with pytest.raises(VerificationFailed, match="verification plugin"):
        check(jws(pki, crit=[SCHEME, plugin], **{plugin: "evil"}), pki)
    with pytest.raises(VerificationFailed, match="signingAuthority"):
        check(jws(pki, **{SCHEME: "notary.x509.signingAuthority"}), pki)
    with pytest.raises(VerificationFailed, match="must be a critical attribute"):
        check(jws(pki, crit=[]), pki)


def test_expired_signature_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    expiry = (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = jws(pki, crit=[SCHEME, "io.cncf.notary.expiry"], **{"io.cncf.notary.expiry": expiry})
    with pytest.raises(VerificationFailed, match="expired"):
        check(raw, pki)


def test_untrusted_root_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "a")
    other = make_pki(tmp_path / "b")
    with pytest.raises(VerificationFailed, match="does not lead to the trust store"):
        check(jws(pki), other)


def test_self_issued_chain_claiming_the_trusted_name_is_refused(tmp_path: Path) -> None:
    """An attacker's root with the trusted root's name, and a leaf under it."""
    pki = make_pki(tmp_path)
    fake_root_key = ec.generate_private_key(ec.SECP384R1())
    fake_root = cert(fake_root_key, "test root", fake_root_key, "test root", ca=True)
    fake_leaf = cert(pki.leaf_key, "test signer", fake_root_key, "test root", ca=False)
    with pytest.raises(VerificationFailed, match="does not lead to the trust store"):
        check(jws(pki, chain=[fake_leaf, fake_root]), pki)


def test_chain_through_a_non_ca_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    middle_key = ec.generate_private_key(ec.SECP256R1())
    middle = cert(middle_key, "not a ca", pki.ca_key, "test root", ca=False)
    leaf = cert(pki.leaf_key, "test signer", middle_key, "not a ca", ca=False)
    with pytest.raises(VerificationFailed, match="is not a CA"):
        check(jws(pki, chain=[leaf, middle, pki.ca]), pki)


def test_expired_or_non_code_signing_leaf_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "a", not_after=NOW - timedelta(seconds=1))
    with pytest.raises(VerificationFailed, match="not valid at"):
        check(jws(pki), pki)
    pki = make_pki(tmp_path / "b", eku=ExtendedKeyUsageOID.SERVER_AUTH)
    with pytest.raises(VerificationFailed, match="code signing"):
        check(jws(pki), pki)


def test_algorithm_must_match_the_key(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, leaf_key=ec.generate_private_key(ec.SECP256R1()))
    raw = json.loads(jws(pki, "ES256"))
    header = json.loads(base64.urlsafe_b64decode(raw["protected"] + "=="))
    header["alg"] = "ES384"
    raw["protected"] = b64u(json.dumps(header).encode())
    with pytest.raises(VerificationFailed, match="ES384 needs an ECDSA secp384r1 key"):
        check(json.dumps(raw).encode(), pki)
    header["alg"] = "HS256"  # a MAC "signature" must never be accepted
    raw["protected"] = b64u(json.dumps(header).encode())
    with pytest.raises(VerificationFailed, match="'HS256' is not supported"):
        check(json.dumps(raw).encode(), pki)


def test_malformed_envelopes_fail_closed(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    for raw, media_type in (
        (b"not json", JWS_MEDIA_TYPE),
        (b"{}", JWS_MEDIA_TYPE),
        (b"\xff\x00", COSE_MEDIA_TYPE),
        (cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])), COSE_MEDIA_TYPE),
        (jws(pki), "application/octet-stream"),
    ):
        with pytest.raises(VerificationFailed):
            check(raw, pki, media_type)
    with pytest.raises(LimitExceeded):
        verify_notation(
            jws(pki),
            JWS_MEDIA_TYPE,
            SUBJECT,
            load_notation_trust_store(pki.store),
            now=NOW,
            limits=Limits(small_blob_bytes=100),
        )


def test_trust_store_forms(tmp_path: Path) -> None:
    with pytest.raises(LocalInputError, match="no certificates"):
        load_notation_trust_store(tmp_path)
    pki = make_pki(tmp_path / "p")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "root.crt").write_bytes(pki.ca.public_bytes(serialization.Encoding.PEM))
    store = load_notation_trust_store(flat)
    assert [c.store for c in store.certificates] == ["ca:flat"]
    (flat / "bad.pem").write_text("garbage")
    with pytest.raises(LocalInputError, match="not a PEM or DER certificate"):
        load_notation_trust_store(flat)
