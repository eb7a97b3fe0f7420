"""Sigstore bundle parsing (v0.1-v0.3) and KEYED bundle verification, including the optional Rekor check.

Bundles are built here with real keys; the Rekor entries come from the test log of
tests/support/sigstore_instance.py (RFC 8785 SET over the canonical body), so a bound-entry check and an
unbound one differ only in what the body names.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imagetrust.errors import LimitExceeded, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.trust.keys import PublicKey
from imagetrust.verify.bundle import parse_bundle, verify_keyed_bundle
from imagetrust.verify.dsse import pae
from tests.support.sigstore_instance import TestLog as RekorLog

V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
IMAGE = Digest.of(b"an image manifest")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def public(key: ec.EllipticCurvePrivateKey) -> PublicKey:
    return PublicKey.from_crypto(key.public_key(), "test key")


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def statement(digest: Digest = IMAGE, predicate_type: str = "https://sigstore.dev/cosign/sign/v1") -> bytes:
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "img", "digest": {"sha256": digest.hex}}],
            "predicateType": predicate_type,
            "predicate": {},
        }
    ).encode()


def dsse_bundle(key: ec.EllipticCurvePrivateKey, payload: bytes, media_type: str = V03) -> dict[str, Any]:
    signature = key.sign(pae("application/vnd.in-toto+json", payload), ec.ECDSA(hashes.SHA256()))
    return {
        "mediaType": media_type,
        "verificationMaterial": {"publicKey": {"hint": "ignored"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": b64(payload),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": b64(signature), "keyid": ""}],
        },
    }


def message_bundle(key: ec.EllipticCurvePrivateKey, artifact: bytes) -> dict[str, Any]:
    return {
        "mediaType": V03,
        "verificationMaterial": {"publicKey": {}},
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(hashlib.sha256(artifact).digest())},
            "signature": b64(key.sign(artifact, ec.ECDSA(hashes.SHA256()))),
        },
    }


def raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def log_dsse(
    log: RekorLog, bundle: dict[str, Any], key: ec.EllipticCurvePrivateKey, *, sig: str | None = None
) -> None:
    """Log the bundle's DSSE signature as a Rekor dsse/0.0.1 entry with a SET (v0.1 shape)."""
    envelope = bundle["dsseEnvelope"]
    body = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "payloadHash": {
                "algorithm": "sha256",
                "value": hashlib.sha256(base64.b64decode(envelope["payload"])).hexdigest(),
            },
            "signatures": [{"signature": sig or envelope["signatures"][0]["sig"], "verifier": b64(pem(key))}],
        },
    }
    canonical = rfc8785.dumps(body)
    index = log.append(canonical)
    bundle["mediaType"] = V01
    bundle["verificationMaterial"]["tlogEntries"] = [
        {
            "logIndex": str(index),
            "logId": {"keyId": b64(log.log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": "1700000000",
            "inclusionPromise": {
                "signedEntryTimestamp": b64(log.signed_entry_timestamp(canonical, 1700000000, index))
            },
            "canonicalizedBody": b64(canonical),
        }
    ]


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def other() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def log() -> RekorLog:
    return RekorLog("rekor.test - 1", ec.generate_private_key(ec.SECP256R1()))


# ------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("media_type", "version"),
    [
        (V01, "0.1"),
        (V02, "0.2"),
        (V03, "0.3"),
        ("application/vnd.dev.sigstore.bundle+json;version=0.3", "0.3"),
    ],
)
def test_every_bundle_media_type_spelling_is_read(
    media_type: str, version: str, key: ec.EllipticCurvePrivateKey
) -> None:
    bundle = parse_bundle(raw(dsse_bundle(key, statement(), media_type)))
    assert bundle.version == version and bundle.keyed and bundle.envelope is not None


@pytest.mark.parametrize(
    "media_type", ["application/vnd.dev.sigstore.bundle.v0.4+json", "application/json", None]
)
def test_unknown_bundle_versions_are_refused(media_type: str | None, key: ec.EllipticCurvePrivateKey) -> None:
    doc = dsse_bundle(key, statement())
    doc["mediaType"] = media_type
    with pytest.raises(VerificationFailed, match="unsupported mediaType"):
        parse_bundle(raw(doc))


def test_shape_rules(key: ec.EllipticCurvePrivateKey) -> None:
    base = dsse_bundle(key, statement())
    both = copy.deepcopy(base) | {"messageSignature": message_bundle(key, b"x")["messageSignature"]}
    neither = {k: v for k, v in base.items() if k != "dsseEnvelope"}
    two_materials = copy.deepcopy(base)
    two_materials["verificationMaterial"]["certificate"] = {"rawBytes": b64(b"cert")}
    chain_in_v03 = copy.deepcopy(base)
    chain_in_v03["verificationMaterial"] = {
        "x509CertificateChain": {"certificates": [{"rawBytes": b64(b"c")}]}
    }
    two_sigs = copy.deepcopy(base)
    two_sigs["dsseEnvelope"]["signatures"].append(two_sigs["dsseEnvelope"]["signatures"][0])
    cases = [
        (both, "exactly one of messageSignature or dsseEnvelope"),
        (neither, "exactly one of messageSignature or dsseEnvelope"),
        (two_materials, "exactly one of publicKey, certificate"),
        (chain_in_v03, "v0.3 bundles may not carry x509CertificateChain"),
        (two_sigs, "exactly one signature"),
    ]
    for doc, message in cases:
        with pytest.raises(VerificationFailed, match=message):
            parse_bundle(raw(doc))


def test_duplicate_json_keys_are_refused(key: ec.EllipticCurvePrivateKey) -> None:
    text = raw(dsse_bundle(key, statement())).decode()
    duplicated = text.replace('"mediaType"', '"mediaType": "application/json", "mediaType"', 1)
    with pytest.raises(VerificationFailed, match="duplicate JSON key"):
        parse_bundle(duplicated.encode())


def test_version_rules_for_log_entries(key: ec.EllipticCurvePrivateKey, log: RekorLog) -> None:
    doc = dsse_bundle(key, statement())
    log_dsse(log, doc, key)
    entry = doc["verificationMaterial"]["tlogEntries"][0]
    doc["mediaType"] = V02  # v0.2 needs an inclusion proof, which this entry lacks
    with pytest.raises(VerificationFailed, match="no inclusionProof"):
        parse_bundle(raw(doc))
    doc["mediaType"] = V01
    del entry["inclusionPromise"]
    with pytest.raises(VerificationFailed, match="no inclusionPromise"):
        parse_bundle(raw(doc))


def test_bounds_are_limit_exceeded(key: ec.EllipticCurvePrivateKey, log: RekorLog) -> None:
    doc = dsse_bundle(key, statement())
    log_dsse(log, doc, key)
    doc["verificationMaterial"]["tlogEntries"] *= 3
    with pytest.raises(LimitExceeded, match="3 tlog entries exceeds the limit of 2"):
        parse_bundle(raw(doc), limits=Limits(bundle_entries=2))
    with pytest.raises(LimitExceeded, match="exceeds the limit of 100"):
        parse_bundle(raw(dsse_bundle(key, statement())), limits=Limits(small_blob_bytes=100))


# -------------------------------------------------------------------------------------- verification


def test_keyed_dsse_bundle_verifies_with_the_right_key_only(
    key: ec.EllipticCurvePrivateKey, other: ec.EllipticCurvePrivateKey
) -> None:
    bundle = parse_bundle(raw(dsse_bundle(key, statement())))
    verified = verify_keyed_bundle(bundle, [public(other), public(key)])
    assert verified.signer == public(key).key_id
    assert (
        verified.statement is not None
        and verified.statement.statement.subjects[0].digests["sha256"] == IMAGE.hex
    )
    assert not verified.tlog.verified and verified.tlog.detail.startswith("no tlog verification")
    with pytest.raises(VerificationFailed, match="0 distinct trusted key"):
        verify_keyed_bundle(bundle, [public(other)])


def test_tampered_payload_fails(key: ec.EllipticCurvePrivateKey) -> None:
    doc = dsse_bundle(key, statement())
    doc["dsseEnvelope"]["payload"] = b64(statement(Digest.of(b"another image")))
    with pytest.raises(VerificationFailed):
        verify_keyed_bundle(parse_bundle(raw(doc)), [public(key)])


def test_message_signature_bundle_binds_the_artifact(key: ec.EllipticCurvePrivateKey) -> None:
    artifact = b"manifest bytes"
    bundle = parse_bundle(raw(message_bundle(key, artifact)))
    verified = verify_keyed_bundle(bundle, [public(key)], artifact=artifact)
    assert verified.message_digest == Digest.of(artifact)
    with pytest.raises(VerificationFailed, match="is not the digest of the artifact"):
        verify_keyed_bundle(bundle, [public(key)], artifact=b"other manifest")
    with pytest.raises(VerificationFailed, match="needs the signed artifact"):
        verify_keyed_bundle(bundle, [public(key)])
    # Right digest claimed, signature over other bytes: the signature check still fails.
    forged = message_bundle(key, artifact)
    forged["messageSignature"]["signature"] = message_bundle(key, b"other")["messageSignature"]["signature"]
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_keyed_bundle(parse_bundle(raw(forged)), [public(key)], artifact=artifact)


def test_certificate_bundles_are_not_keyed(key: ec.EllipticCurvePrivateKey) -> None:
    doc = dsse_bundle(key, statement())
    doc["verificationMaterial"] = {"certificate": {"rawBytes": b64(b"not checked here")}}
    with pytest.raises(VerificationFailed, match="signed with a certificate"):
        verify_keyed_bundle(parse_bundle(raw(doc)), [public(key)])


def test_rekor_entry_checked_when_a_rekor_key_is_given(
    key: ec.EllipticCurvePrivateKey, log: RekorLog
) -> None:
    rekor = PublicKey.from_crypto(log.key.public_key(), "rekor key")
    doc = dsse_bundle(key, statement())
    log_dsse(log, doc, key)
    verified = verify_keyed_bundle(parse_bundle(raw(doc)), [public(key)], rekor_keys=(rekor,))
    assert verified.tlog.verified and verified.tlog.log_index == 0
    assert verified.tlog.detail == "Rekor entry 0 verified (SET)"
    # Without a Rekor key the entry is not consulted, and the result says so.
    assert not verify_keyed_bundle(parse_bundle(raw(doc)), [public(key)]).tlog.verified


def test_rekor_entry_not_naming_this_signature_is_refused(
    key: ec.EllipticCurvePrivateKey, log: RekorLog
) -> None:
    """CVE-2022-36056 / CVE-2026-22703: a valid SET over an entry for another signature proves nothing."""
    rekor = PublicKey.from_crypto(log.key.public_key(), "rekor key")
    doc = dsse_bundle(key, statement())
    unrelated = dsse_bundle(key, statement(Digest.of(b"x")))["dsseEnvelope"]["signatures"][0]["sig"]
    log_dsse(log, doc, key, sig=unrelated)
    with pytest.raises(VerificationFailed, match="does not log this DSSE signature"):
        verify_keyed_bundle(parse_bundle(raw(doc)), [public(key)], rekor_keys=(rekor,))


def test_rekor_key_given_but_no_entry_or_untrusted_log(
    key: ec.EllipticCurvePrivateKey, log: RekorLog
) -> None:
    rekor = PublicKey.from_crypto(log.key.public_key(), "rekor key")
    with pytest.raises(VerificationFailed, match="no log entry with a SignedEntryTimestamp"):
        verify_keyed_bundle(
            parse_bundle(raw(dsse_bundle(key, statement()))), [public(key)], rekor_keys=(rekor,)
        )
    doc = dsse_bundle(key, statement())
    log_dsse(log, doc, key)
    stranger = PublicKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key(), "other log")
    with pytest.raises(VerificationFailed, match="not a trusted Rekor log"):
        verify_keyed_bundle(parse_bundle(raw(doc)), [public(key)], rekor_keys=(stranger,))
