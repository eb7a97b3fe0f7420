"""DSSE: PAE, real envelopes (slsa-verifier, sigstore-go), key hints ignored, distinct-key thresholds."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography import x509

from imagetrust.errors import LimitExceeded, UsageError, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.trust.keys import PublicKey
from imagetrust.verify.dsse import envelope_from_json, pae, parse_envelope, verify_envelope
from tests.conftest import shared_data
from tests.unit.verify_helpers import b64, p256, public_of, sign

SLSA_BLOBS = "sigstore/slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch/blobs/sha256/"
SLSA_ATT_MANIFEST = SLSA_BLOBS + "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe"
SLSA_ENVELOPE = SLSA_BLOBS + "e163b472f2e5d66e5a2a45e26e020c51a0d2da7dc8b567b31fc2ebfd33dbc33a"
IN_TOTO = "application/vnd.in-toto+json"


def slsa_certificate_key() -> PublicKey:
    manifest = json.loads(shared_data(SLSA_ATT_MANIFEST).read_bytes())
    pem = manifest["layers"][0]["annotations"]["dev.sigstore.cosign/certificate"].encode()
    return PublicKey.from_certificate(x509.load_pem_x509_certificate(pem))


def envelope_json(payload: bytes, signers, *, payload_type: str = IN_TOTO, keyid: str = "") -> bytes:
    message = pae(payload_type, payload)
    signatures = [{"keyid": keyid, "sig": b64(sign(private, message))} for private in signers]
    return json.dumps(
        {"payloadType": payload_type, "payload": b64(payload), "signatures": signatures}
    ).encode()


def test_pae_matches_the_dsse_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert pae("t\u00e9", b"") == "DSSEv1 3 t\u00e9 0 ".encode()  # lengths count bytes, not characters


def test_real_slsa_verifier_envelope_verifies_with_its_certificate_key() -> None:
    envelope = parse_envelope(shared_data(SLSA_ENVELOPE).read_bytes())
    assert envelope.signatures[0].keyid == ""  # cosign writes an empty key hint
    key = slsa_certificate_key()
    verified = verify_envelope(envelope, [public_of(p256()), key])
    assert verified.signers == frozenset({key.key_id})
    assert verified.payload.startswith(b'{"_type":"https://in-toto.io/Statement/v0.1"')


def test_real_envelope_refused_with_other_keys_and_when_payload_changes() -> None:
    raw = shared_data(SLSA_ENVELOPE).read_bytes()
    with pytest.raises(VerificationFailed, match="0 distinct trusted key"):
        verify_envelope(parse_envelope(raw), [public_of(p256())])
    doc = json.loads(raw)
    payload = base64.b64decode(doc["payload"]).replace(b"refs/heads/main", b"refs/heads/evil")
    doc["payload"] = b64(payload)
    with pytest.raises(VerificationFailed):
        verify_envelope(envelope_from_json(doc), [slsa_certificate_key()])


def test_real_sigstore_go_two_signature_envelope_counts_one_signer() -> None:
    """dsse-2sigs: the second signature is a corrupted copy of the first; only one key ever signed."""
    bundle = json.loads(
        shared_data("sigstore/sigstore-go/pkg/testing/data/bundles/dsse-2sigs.sigstore.json").read_bytes()
    )
    leaf = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"]
    key = PublicKey.from_certificate(x509.load_der_x509_certificate(base64.b64decode(leaf)))
    envelope = envelope_from_json(bundle["dsseEnvelope"])
    assert len(envelope.signatures) == 2
    assert verify_envelope(envelope, [key]).signers == frozenset({key.key_id})
    with pytest.raises(VerificationFailed, match="from 1 distinct trusted key"):
        verify_envelope(envelope, [key, public_of(p256())], threshold=2)


def test_ghsa_9vcr_p3rj_q5q6_duplicate_signatures_by_one_key_count_once() -> None:
    """SECURITY-CASES F (CVE-2026-49834, Connaisseur #2150): N copies from one signer are not N signers."""
    a, b = p256(), p256()
    keys = [public_of(a), public_of(b)]
    raw = envelope_json(b'{"x":1}', [a, a, a])
    with pytest.raises(VerificationFailed, match="from 1 distinct trusted key"):
        verify_envelope(parse_envelope(raw), keys, threshold=2)
    verified = verify_envelope(parse_envelope(envelope_json(b'{"x":1}', [a, b])), keys, threshold=2)
    assert verified.signers == frozenset(k.key_id for k in keys)


def test_same_key_listed_twice_is_one_trusted_key() -> None:
    a = p256()
    with pytest.raises(UsageError, match="exceeds the 1 distinct"):
        verify_envelope(
            parse_envelope(envelope_json(b"{}", [a, a])), [public_of(a), public_of(a, "again")], threshold=2
        )


def test_keyid_hints_are_ignored() -> None:
    a = p256()
    for hint in ["", "some-other-key", str(public_of(p256()).key_id)]:
        raw = envelope_json(b"{}", [a], keyid=hint)
        assert verify_envelope(parse_envelope(raw), [public_of(p256()), public_of(a)]).signers


def test_payload_type_is_signed_and_checked() -> None:
    a = p256()
    raw = envelope_json(b"{}", [a], payload_type="application/vnd.in-toto.spdx+json")
    with pytest.raises(VerificationFailed, match="payloadType"):
        verify_envelope(parse_envelope(raw), [public_of(a)])
    assert verify_envelope(parse_envelope(raw), [public_of(a)], payload_type=None).payload == b"{}"
    doc = json.loads(raw)
    doc["payloadType"] = IN_TOTO  # relabelled after signing: PAE no longer matches
    with pytest.raises(VerificationFailed, match="0 distinct"):
        verify_envelope(envelope_from_json(doc), [public_of(a)])


def test_url_safe_base64_accepted_as_go_dsse_does() -> None:
    a = p256()
    payload = b"\xfb\xff" * 10
    doc = json.loads(envelope_json(payload, [a]))
    doc["payload"] = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    assert verify_envelope(envelope_from_json(doc), [public_of(a)]).payload == payload


def test_too_many_signatures_is_a_limit() -> None:
    a = p256()
    raw = envelope_json(b"{}", [a] * 5)
    with pytest.raises(LimitExceeded, match="signatures exceeds"):
        parse_envelope(raw, limits=Limits(dsse_signatures=4))


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"payload": "e30=", "signatures": [{"sig": "AA=="}]}, "payloadType"),
        ({"payloadType": IN_TOTO, "payload": "e30=", "signatures": []}, "no signatures"),
        ({"payloadType": IN_TOTO, "payload": "e30=", "signatures": ["AA=="]}, "not an object"),
        ({"payloadType": IN_TOTO, "payload": "%%%", "signatures": [{"sig": "AA=="}]}, "base64"),
        ({"payloadType": IN_TOTO, "payload": "e30=", "signatures": [{"sig": 5}]}, "base64"),
        ({"payloadType": IN_TOTO, "payload": "e30=", "signatures": [{"sig": "AA==", "keyid": 1}]}, "keyid"),
        ([], "not a JSON object"),
    ],
)
def test_malformed_envelopes_fail(doc, reason: str) -> None:
    with pytest.raises(VerificationFailed, match=reason):
        envelope_from_json(doc)


def test_bad_thresholds_are_usage_errors() -> None:
    a = p256()
    envelope = parse_envelope(envelope_json(b"{}", [a]))
    with pytest.raises(UsageError):
        verify_envelope(envelope, [public_of(a)], threshold=0)
    with pytest.raises(UsageError):
        verify_envelope(envelope, [], threshold=1)
