"""Legacy keyless cosign and Rekor SETs on real public-good artifacts (containers/image, slsa-verifier)."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from cryptography import x509

from imagetrust.errors import VerificationFailed
from imagetrust.oci.digest import Digest
from imagetrust.trust.keys import PublicKey, load_public_key
from imagetrust.verify.encoding import b64decode
from imagetrust.verify.identity import IdentityPolicy
from imagetrust.verify.keyless import (
    load_chain,
    verify_certificate_path,
    verify_keyless_attestation,
    verify_keyless_signature,
)
from imagetrust.verify.rekor import require_hashedrekord, verify_rekor_bundle
from imagetrust.verify.slsa import ProvenanceExpectation, verify_provenance
from imagetrust.verify.statement import require_predicate_type, require_subject
from tests.conftest import shared_data
from tests.unit.verify_helpers import containers_image, p256, public_of, read_stored_signature

BLOBS = "sigstore/slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch/blobs/sha256/"
GITHUB = "https://token.actions.githubusercontent.com"
GENERATOR = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml"
)
EMAIL_POLICY = IdentityPolicy(identity="mitr@redhat.com", issuer="https://github.com/login/oauth")


def roots() -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(containers_image("fulcio_v1.crt.pem").read_bytes())


def rekor_keys():
    return [load_public_key(containers_image("rekor.pub"))]


def keyless_fixture():
    stored = read_stored_signature(containers_image("dir-img-cosign-fulcio-rekor-valid/signature-1"))
    manifest = Digest.of(containers_image("dir-img-cosign-fulcio-rekor-valid/manifest.json").read_bytes())
    return stored, manifest


def run_keyless(stored, manifest, *, policy=EMAIL_POLICY, trusted=None, keys=None, **overrides):
    a = dict(stored.annotations)
    a.update(overrides)
    return verify_keyless_signature(
        stored.payload,
        a["dev.cosignproject.cosign/signature"],
        a["dev.sigstore.cosign/certificate"],
        a.get("dev.sigstore.cosign/chain"),
        a["dev.sigstore.cosign/bundle"],
        manifest,
        roots=roots() if trusted is None else trusted,
        rekor_keys=rekor_keys() if keys is None else keys,
        policy=policy,
    )


def test_real_keyless_signature_verifies() -> None:
    stored, manifest = keyless_fixture()
    verified = run_keyless(stored, manifest)
    assert verified.identity is not None and verified.identity.san == "mitr@redhat.com"
    assert verified.image == manifest


def test_real_keyless_refused_for_another_identity_or_issuer() -> None:
    stored, manifest = keyless_fixture()
    for policy in [
        IdentityPolicy(identity="someone@redhat.com", issuer="https://github.com/login/oauth"),
        IdentityPolicy(identity_regexp="mitr@redhat", issuer="https://github.com/login/oauth"),
        IdentityPolicy(identity="mitr@redhat.com", issuer="https://accounts.google.com"),
    ]:
        with pytest.raises(VerificationFailed):
            run_keyless(stored, manifest, policy=policy)


def test_real_keyless_refused_for_another_image() -> None:
    stored, _ = keyless_fixture()
    with pytest.raises(VerificationFailed, match="docker-manifest-digest mismatch"):
        run_keyless(stored, Digest.of(b"other"))


def test_untrusted_rekor_key_or_tampered_set_refused() -> None:
    stored, manifest = keyless_fixture()
    with pytest.raises(VerificationFailed, match="not a trusted Rekor log"):
        run_keyless(stored, manifest, keys=[public_of(p256())])
    bundle = json.loads(stored.annotations["dev.sigstore.cosign/bundle"])
    bundle["Payload"]["integratedTime"] += 3600  # move the signing time: SET no longer verifies
    with pytest.raises(VerificationFailed, match="SignedEntryTimestamp"):
        run_keyless(stored, manifest, **{"dev.sigstore.cosign/bundle": json.dumps(bundle)})


def test_chain_root_from_the_evidence_is_never_trusted() -> None:
    """SECURITY-CASES I: the chain annotation carries the root; only roots given as trust material count."""
    stored, manifest = keyless_fixture()
    with pytest.raises(VerificationFailed, match="no trusted Fulcio root"):
        run_keyless(stored, manifest, trusted=[])
    other_root = load_chain(stored.annotations["dev.sigstore.cosign/chain"], "chain")[0]  # the intermediate
    leaf = x509.load_pem_x509_certificate(stored.annotations["dev.sigstore.cosign/certificate"].encode())
    at = datetime.datetime(2023, 1, 20, 20, 55, tzinfo=datetime.UTC)
    verify_certificate_path(leaf, [other_root], roots(), at)
    with pytest.raises(VerificationFailed, match="does not chain"):
        verify_certificate_path(leaf, [], roots(), at)  # intermediate withheld


def test_cve_2026_24122_certificates_checked_at_the_signing_time() -> None:
    """GHSA-wfqv-66vq-46rm: every certificate must be valid at the verified signing time."""
    stored, _ = keyless_fixture()
    leaf = x509.load_pem_x509_certificate(stored.annotations["dev.sigstore.cosign/certificate"].encode())
    chain = load_chain(stored.annotations["dev.sigstore.cosign/chain"], "chain")
    later = datetime.datetime(2023, 1, 21, tzinfo=datetime.UTC)  # leaf lived ten minutes on 2023-01-20
    with pytest.raises(VerificationFailed, match="not valid at the signing time"):
        verify_certificate_path(leaf, chain, roots(), later)
    with pytest.raises(VerificationFailed, match="not valid at the signing time"):
        verify_certificate_path(leaf, chain, roots(), datetime.datetime(2033, 1, 1, tzinfo=datetime.UTC))


def test_cve_2022_36056_rekor_entry_must_name_this_signature_payload_and_key() -> None:
    """GHSA-8gw7-4j42-w388 / CVE-2026-22703: a valid SET over an entry for something else proves nothing."""
    stored = read_stored_signature(containers_image("dir-img-cosign-key-rekor-valid/signature-1"))
    entry = verify_rekor_bundle(stored.annotations["dev.sigstore.cosign/bundle"], rekor_keys())
    signature = b64decode(stored.signature, "signature")
    signer = load_public_key(containers_image("cosign2.pub"))
    require_hashedrekord(entry, stored.payload, signature, signer)
    with pytest.raises(VerificationFailed, match="different artifact hash"):
        require_hashedrekord(entry, stored.payload + b" ", signature, signer)
    with pytest.raises(VerificationFailed, match="different signature"):
        require_hashedrekord(entry, stored.payload, signature[:-1] + b"\x00", signer)
    with pytest.raises(VerificationFailed, match="different signing key"):
        require_hashedrekord(
            entry, stored.payload, signature, load_public_key(containers_image("cosign.pub"))
        )


def test_keyless_signature_with_a_bundle_from_another_entry_is_refused() -> None:
    stored, manifest = keyless_fixture()
    other = read_stored_signature(containers_image("dir-img-cosign-key-rekor-valid/signature-1"))
    other_bundle = other.annotations["dev.sigstore.cosign/bundle"]
    # Refused already because that entry's time is outside the certificate's ten minutes ...
    with pytest.raises(VerificationFailed, match="not valid at the signing time"):
        run_keyless(stored, manifest, **{"dev.sigstore.cosign/bundle": other_bundle})
    # ... and, independently, because the entry logs another artifact.
    leaf = x509.load_pem_x509_certificate(stored.annotations["dev.sigstore.cosign/certificate"].encode())
    with pytest.raises(VerificationFailed, match="different artifact hash"):
        require_hashedrekord(
            verify_rekor_bundle(other_bundle, rekor_keys()),
            stored.payload,
            b64decode(stored.signature, "signature"),
            PublicKey.from_certificate(leaf),
        )


def slsa_attestation():
    manifest = json.loads(
        shared_data(BLOBS + "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe").read_bytes()
    )
    envelope = shared_data(
        BLOBS + "e163b472f2e5d66e5a2a45e26e020c51a0d2da7dc8b567b31fc2ebfd33dbc33a"
    ).read_bytes()
    return envelope, manifest["layers"][0]["annotations"]


def test_real_slsa_attestation_end_to_end() -> None:
    """Cert path + SET + dsse entry binding + identity, then type, subject and provenance checks."""
    envelope, a = slsa_attestation()
    policy = IdentityPolicy(
        identity_regexp=GENERATOR.replace(".", r"\.") + r"@refs/tags/v[0-9.]+", issuer=GITHUB
    )
    stmt = verify_keyless_attestation(
        envelope,
        a["dev.sigstore.cosign/certificate"],
        a["dev.sigstore.cosign/chain"],
        a["dev.sigstore.cosign/bundle"],
        roots=roots(),
        rekor_keys=rekor_keys(),
        policy=policy,
    )
    require_predicate_type(stmt, "slsaprovenance02")
    require_subject(
        stmt, Digest.parse("sha256:234e2c830c2fb31ac5671789d22adfe44d30c3ee831d01beae5e237841a13122")
    )
    result = verify_provenance(
        stmt, ProvenanceExpectation(GENERATOR, "github.com/slsa-framework/example-package")
    )
    assert result.builder_version == "v2.1.0"


def test_real_slsa_attestation_with_tampered_payload_is_refused() -> None:
    envelope, a = slsa_attestation()
    doc = json.loads(envelope)
    payload = base64.b64decode(doc["payload"]).replace(b"example-package", b"evil-package")
    doc["payload"] = base64.b64encode(payload).decode()
    with pytest.raises(VerificationFailed):
        verify_keyless_attestation(
            json.dumps(doc).encode(),
            a["dev.sigstore.cosign/certificate"],
            a["dev.sigstore.cosign/chain"],
            a["dev.sigstore.cosign/bundle"],
            roots=roots(),
            rekor_keys=rekor_keys(),
            policy=IdentityPolicy(identity_regexp=".*", issuer=GITHUB),
        )
