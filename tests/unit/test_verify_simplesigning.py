"""Cosign simple signing on real containers/image fixtures, and every refusal on crafted payloads."""

from __future__ import annotations

import json

import pytest

from imagetrust.errors import LimitExceeded, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.trust.keys import load_public_key
from imagetrust.verify.simplesigning import parse_simple_signing, verify_simple_signing
from tests.unit.verify_helpers import (
    b64,
    containers_image,
    p256,
    public_of,
    read_stored_signature,
    sign,
    simple_signing_payload,
)

DIGEST = Digest.of(b"manifest")
OTHER = Digest.of(b"another manifest")


def _real(directory: str, number: int = 1):
    stored = read_stored_signature(containers_image(f"{directory}/signature-{number}"))
    manifest = Digest.of(containers_image(f"{directory}/manifest.json").read_bytes())
    return stored, manifest


@pytest.mark.parametrize(
    ("directory", "number"),
    [
        ("dir-img-cosign-valid", 1),
        ("dir-img-cosign-valid-2", 1),
        ("dir-img-cosign-valid-2", 2),
        ("dir-img-cosign-valid-with-tag", 1),
        ("dir-img-cosign-key-rekor-valid", 1),
    ],
)
def test_real_keyed_cosign_signatures_verify(directory: str, number: int) -> None:
    stored, manifest = _real(directory, number)
    keys = [load_public_key(containers_image("cosign.pub")), load_public_key(containers_image("cosign2.pub"))]
    verified = verify_simple_signing(stored.payload, stored.signature, keys, manifest)
    assert verified.image == manifest
    assert verified.payload == stored.payload
    assert verified.signer in {k.key_id for k in keys}


def test_real_signature_refused_with_the_wrong_key() -> None:
    stored, manifest = _real("dir-img-cosign-valid")
    with pytest.raises(VerificationFailed, match="does not verify with any of 1"):
        verify_simple_signing(
            stored.payload, stored.signature, [load_public_key(containers_image("cosign2.pub"))], manifest
        )


def test_real_modified_manifest_fails_on_digest() -> None:
    """dir-img-cosign-modified-manifest: valid signature, but over a payload naming another manifest."""
    stored, manifest = _real("dir-img-cosign-modified-manifest")
    with pytest.raises(VerificationFailed, match="docker-manifest-digest mismatch"):
        verify_simple_signing(
            stored.payload, stored.signature, [load_public_key(containers_image("cosign.pub"))], manifest
        )


def test_real_keyless_signature_does_not_verify_with_a_keyed_key() -> None:
    stored, manifest = _real("dir-img-cosign-fulcio-rekor-valid")
    with pytest.raises(VerificationFailed):
        verify_simple_signing(
            stored.payload, stored.signature, [load_public_key(containers_image("cosign.pub"))], manifest
        )


def test_one_changed_payload_byte_fails() -> None:
    stored, manifest = _real("dir-img-cosign-valid")
    tampered = stored.payload.replace(b'"optional":null', b'"optional":{}')
    assert tampered != stored.payload
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_simple_signing(
            tampered, stored.signature, [load_public_key(containers_image("cosign.pub"))], manifest
        )


def test_signature_with_line_breaks_is_read_like_go() -> None:
    private = p256()
    payload = simple_signing_payload(str(DIGEST))
    signature = b64(sign(private, payload))
    wrapped = "\n".join(signature[i : i + 20] for i in range(0, len(signature), 20))
    verify_simple_signing(payload, wrapped, [public_of(private)], DIGEST)
    with pytest.raises(VerificationFailed, match="base64"):
        verify_simple_signing(payload, signature + "*", [public_of(private)], DIGEST)


def _signed(payload: bytes):
    private = p256()
    return payload, b64(sign(private, payload)), [public_of(private)]


def test_ghsa_json_key_case_capital_D_spelling_accepted() -> None:
    """SECURITY-CASES A (JSON key case): the spec example spells Docker-manifest-digest."""
    payload = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": "x/y"},
                "image": {"Docker-manifest-digest": str(DIGEST)},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()
    verified = verify_simple_signing(*_signed(payload), DIGEST)
    assert verified.image == DIGEST


def test_ghsa_json_key_case_conflicting_spellings_refused() -> None:
    """Go keeps the last of two case-variant keys; a reader that kept the other would verify another image."""
    for first, second in [(DIGEST, OTHER), (OTHER, DIGEST)]:
        payload = (
            '{"critical":{"identity":{"docker-reference":"x/y"},"image":{"docker-manifest-digest":"'
            + str(first)
            + '","Docker-manifest-digest":"'
            + str(second)
            + '"},"type":"cosign container image signature"},"optional":null}'
        ).encode()
        with pytest.raises(VerificationFailed, match="conflicting values"):
            verify_simple_signing(*_signed(payload), DIGEST)


def test_same_spelling_agreeing_is_fine_but_exact_duplicate_keys_are_refused() -> None:
    agreeing = simple_signing_payload(str(DIGEST)).replace(
        b'"docker-manifest-digest"',
        b'"Docker-manifest-digest": "%s", "docker-manifest-digest"' % str(DIGEST).encode(),
    )
    verify_simple_signing(*_signed(agreeing), DIGEST)
    duplicate = simple_signing_payload(str(DIGEST)).replace(
        b'"docker-manifest-digest"',
        b'"docker-manifest-digest": "%s", "docker-manifest-digest"' % str(OTHER).encode(),
    )
    with pytest.raises(VerificationFailed, match="duplicate JSON key"):
        verify_simple_signing(*_signed(duplicate), DIGEST)


def test_cve_2022_47633_signature_for_another_digest_refused() -> None:
    """SECURITY-CASES A: a registry serving a validly signed payload for a different image must fail."""
    with pytest.raises(VerificationFailed, match=f"signature is for image {OTHER}"):
        verify_simple_signing(*_signed(simple_signing_payload(str(OTHER))), DIGEST)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            b'{"critical":{"image":{"docker-manifest-digest":"%s"},"type":"atomic container signature"}}',
            "critical.type",
        ),
        (b'{"critical":{"image":{"docker-manifest-digest":"%s"}}}', "critical.type"),
        (
            b'{"critical":{"image":{},"type":"cosign container image signature"}}',
            "docker-manifest-digest is missing",
        ),
        (
            b'{"critical":{"image":{"docker-manifest-digest":"SHA256:abc"},"type":"%t"}}',
            "bad docker-manifest-digest",
        ),
        (
            b'{"critical":{"image":{"docker-manifest-digest":"md5:%s"},"type":"%t"}}',
            "bad docker-manifest-digest",
        ),
        (b'{"critical":[],"optional":null}', "critical is missing"),
        (b'{"optional":null}', "critical is missing"),
        (b'["not an object"]', "expected a JSON object"),
        (b'{"critical": ', "not valid JSON"),
        (
            b'{"critical":{"image":{"docker-manifest-digest":"%s"},"type":"%t"},"optional":"x"}',
            "optional is not an object",
        ),
    ],
)
def test_malformed_signed_payloads_fail(payload: bytes, reason: str) -> None:
    payload = payload.replace(b"%t", b"cosign container image signature")
    if b"%s" in payload:
        payload = payload.replace(b"%s", DIGEST.hex.encode() if b"md5" in payload else str(DIGEST).encode())
    with pytest.raises(VerificationFailed, match=reason):
        verify_simple_signing(*_signed(payload), DIGEST)


def test_unsigned_payload_is_not_even_parsed() -> None:
    private = p256()
    payload = simple_signing_payload(str(DIGEST))
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_simple_signing(b"garbage", b64(sign(private, payload)), [public_of(private)], DIGEST)


def test_no_keys_means_no_verification() -> None:
    payload, signature, _ = _signed(simple_signing_payload(str(DIGEST)))
    with pytest.raises(VerificationFailed, match="no trusted keys"):
        verify_simple_signing(payload, signature, [], DIGEST)


def test_oversized_payload_is_a_limit() -> None:
    payload, signature, keys = _signed(simple_signing_payload(str(DIGEST)))
    with pytest.raises(LimitExceeded):
        verify_simple_signing(payload, signature, keys, DIGEST, limits=Limits(small_blob_bytes=64))


def test_repository_binding_is_opt_in() -> None:
    """A signature copied to another repository verifies (cosign's rule) unless binding is asked for."""
    payload, signature, keys = _signed(
        simple_signing_payload(str(DIGEST), reference="registry.example/app:v1")
    )
    copied_to = parse_registry_ref("registry.example/other")
    assert (
        verify_simple_signing(payload, signature, keys, DIGEST).docker_reference == "registry.example/app:v1"
    )
    verify_simple_signing(
        payload, signature, keys, DIGEST, repository=parse_registry_ref("registry.example/app")
    )
    with pytest.raises(VerificationFailed, match=r"not registry\.example/other"):
        verify_simple_signing(payload, signature, keys, DIGEST, repository=copied_to)


def test_repository_binding_normalises_docker_hub_and_needs_a_reference() -> None:
    payload, signature, keys = _signed(simple_signing_payload(str(DIGEST), reference="alpine"))
    verify_simple_signing(
        payload, signature, keys, DIGEST, repository=parse_registry_ref("docker.io/library/alpine")
    )
    bare = json.dumps(
        {
            "critical": {
                "image": {"docker-manifest-digest": str(DIGEST)},
                "type": "cosign container image signature",
            }
        }
    ).encode()
    payload, signature, keys = _signed(bare)
    verify_simple_signing(payload, signature, keys, DIGEST)
    with pytest.raises(VerificationFailed, match="no docker-reference"):
        verify_simple_signing(payload, signature, keys, DIGEST, repository=parse_registry_ref("x.example/a"))


def test_real_repository_binding_on_fixture() -> None:
    stored, manifest = _real("dir-img-cosign-valid-with-tag")
    keys = [load_public_key(containers_image("cosign.pub"))]
    verify_simple_signing(
        stored.payload,
        stored.signature,
        keys,
        manifest,
        repository=parse_registry_ref("192.168.64.2:5000/skopeo-signed"),
    )
    with pytest.raises(VerificationFailed, match="repository binding"):
        verify_simple_signing(
            stored.payload,
            stored.signature,
            keys,
            manifest,
            repository=parse_registry_ref("192.168.64.2:5000/cosign-signed-single-sample"),
        )


def test_parse_keeps_exact_bytes_and_optional() -> None:
    stored, manifest = _real("dir-img-cosign-valid-with-tag")
    parsed = parse_simple_signing(stored.payload)
    assert parsed.raw == stored.payload
    assert parsed.image == manifest
    assert parsed.optional == {"creator": "containers/image 5.21.2-dev", "timestamp": 1657296609}
