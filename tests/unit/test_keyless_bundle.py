"""Keyless sigstore bundles against the offline test Sigstore instance: the good path and each attack."""

from __future__ import annotations

import base64
import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from imagetrust.errors import LimitExceeded, LocalInputError, VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest
from imagetrust.verify.identity import IdentityPolicy
from imagetrust.verify.keyless_bundle import KeylessTrust, VerifiedBundle, verify_keyless_bundle
from tests.support.sigstore_instance import (
    BUNDLE_V01,
    BUNDLE_V02,
    GITHUB_ISSUER,
    FulcioCA,
    Signed,
    SigstoreInstance,
    statement_for,
)

ISSUER = "https://issuer.example.test"
SIGNER = "signer@example.test"
WORKFLOW = "https://github.com/org/repo/.github/workflows/x.yml@refs/heads/main"
BLOB = b"release artefact\n"


@pytest.fixture(scope="module")
def instance() -> SigstoreInstance:
    return SigstoreInstance.create()


@pytest.fixture(scope="module")
def root(instance: SigstoreInstance, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return instance.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")


def _trust(root: Path, **policy: Any) -> KeylessTrust:
    policy = policy or {"identity": SIGNER, "issuer": ISSUER}
    return KeylessTrust(root, IdentityPolicy(**policy))


def _verify(
    raw: bytes | Signed, root: Path, artifact: bytes | Digest | None = BLOB, **policy: Any
) -> VerifiedBundle:
    data = raw.raw() if isinstance(raw, Signed) else raw
    return verify_keyless_bundle(data, _trust(root, **policy), limits=DEFAULT_LIMITS, artifact=artifact)


def _fails(
    raw: bytes | Signed, root: Path, match: str, artifact: bytes | Digest | None = BLOB, **policy: Any
) -> None:
    with pytest.raises(VerificationFailed, match=match):
        _verify(raw, root, artifact, **policy)


# -- good path ------------------------------------------------------------------------------------------


def test_blob_bundle_v03_verifies(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    result = _verify(signed, root)
    assert result.identity.san == SIGNER and result.identity.issuer == ISSUER
    assert result.message_digest == Digest.of(BLOB)
    assert result.statement is None
    assert result.log_index == int(signed.entry["logIndex"])
    assert result.integrated_time == instance.now


def test_blob_bundle_v02_chain_form_verifies(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB, media_type=BUNDLE_V02, chain=(instance.ca.intermediate,))
    assert _verify(signed, root).identity.san == SIGNER


def test_legacy_v03_media_type_spelling_is_accepted(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    signed.bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.3"
    assert _verify(signed, root).message_digest == Digest.of(BLOB)


def test_blob_given_as_digest_or_not_at_all(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    assert _verify(signed, root, Digest.of(BLOB)).message_digest == Digest.of(BLOB)
    # Without an artifact the bundle's own digest is verified and returned for the caller to bind.
    assert _verify(signed, root, None).message_digest == Digest.of(BLOB)


def test_dsse_bundle_returns_the_statement(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.attest(statement_for(BLOB))
    result = _verify(signed, root)
    assert result.statement is not None
    assert result.statement.predicate_type == "https://example.test/p/v1"
    assert result.message_digest is None
    # Statement v0.1 is parsed too (sigstore-python only models v1).
    old = dict(statement_for(BLOB), _type="https://in-toto.io/Statement/v0.1")
    assert _verify(instance.attest(old), root).statement is not None


def test_github_claims_are_read_and_can_be_required(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(
        BLOB, identity=WORKFLOW, issuer=GITHUB_ISSUER, claims={"source_repository_ref": "refs/heads/main"}
    )
    result = _verify(
        signed,
        root,
        identity=WORKFLOW,
        issuer=GITHUB_ISSUER,
        claims=(("source_repository_ref", "refs/heads/main"),),
    )
    assert result.identity.claim("source_repository_ref") == "refs/heads/main"
    assert result.identity.san_kind == "uri"


# -- identity (SECURITY-CASES E) ------------------------------------------------------------------------


def test_wrong_identity_fails(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB, identity="mallory@example.test")
    _fails(signed, root, "signer identity 'mallory@example.test' is not")


def test_wrong_issuer_fails(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB, issuer="https://evil.example.test")
    _fails(signed, root, "certificate issuer 'https://evil.example.test' is not")


WORKFLOW_RE = r"https://github\.com/org/repo/\.github/workflows/x\.yml@refs/heads/main"


@pytest.mark.parametrize(
    ("pattern", "san"),
    [
        (WORKFLOW_RE, WORKFLOW + "-attacker"),
        (WORKFLOW_RE, "https://evil.test/?u=" + WORKFLOW),
        (WORKFLOW_RE.replace("\\", ""), WORKFLOW + ".evil.test"),  # unescaped dots, too
        (r"https://github\.com/org/", WORKFLOW.replace("heads/main", "heads/attacker")),
    ],
)
def test_identity_regexp_is_full_match(
    instance: SigstoreInstance, root: Path, pattern: str, san: str
) -> None:
    assert re.search(pattern, san) is not None  # an unanchored matcher (cosign, sigstore-go) accepts it
    signed = instance.sign_blob(BLOB, identity=san, issuer=GITHUB_ISSUER)
    _fails(signed, root, "does not fully match", identity_regexp=pattern, issuer=GITHUB_ISSUER)


def test_workflow_regexp_refuses_a_second_at_sign(instance: SigstoreInstance, root: Path) -> None:
    san = WORKFLOW.replace("x.yml", "x.yml@evil.yml")
    signed = instance.sign_blob(BLOB, identity=san, issuer=GITHUB_ISSUER)
    pattern = r"https://github\.com/org/repo/\.github/workflows/[^@]+@refs/heads/main"
    _fails(signed, root, "does not fully match", identity_regexp=pattern, issuer=GITHUB_ISSUER)


def test_identity_regexp_accepts_the_real_workflow(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB, identity=WORKFLOW, issuer=GITHUB_ISSUER)
    pattern = r"https://github\.com/org/repo/\.github/workflows/[^@]+@refs/heads/main"
    assert _verify(signed, root, identity_regexp=pattern, issuer=GITHUB_ISSUER).identity.san == WORKFLOW


def test_issuer_regexp_is_full_match(instance: SigstoreInstance, root: Path) -> None:
    evil = GITHUB_ISSUER + ".attacker.test"
    signed = instance.sign_blob(BLOB, identity=WORKFLOW, issuer=evil)
    pattern = r"https://token\.actions\.githubusercontent\.com"
    assert re.search(pattern, evil)
    _fails(signed, root, "does not fully match", identity=WORKFLOW, issuer_regexp=pattern)


def test_identity_comparison_is_case_sensitive(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB, identity=WORKFLOW.replace("/org/", "/ORG/"), issuer=GITHUB_ISSUER)
    _fails(signed, root, "is not", identity=WORKFLOW, issuer=GITHUB_ISSUER)


def test_required_claim_mismatch_fails(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(
        BLOB, identity=WORKFLOW, issuer=GITHUB_ISSUER, claims={"source_repository_ref": "refs/heads/attacker"}
    )
    _fails(
        signed,
        root,
        "source_repository_ref",
        identity=WORKFLOW,
        issuer=GITHUB_ISSUER,
        claims=(("source_repository_ref", "refs/heads/main"),),
    )


# -- time (SECURITY-CASES D) ----------------------------------------------------------------------------


def test_certificate_expired_at_signing_time_fails(instance: SigstoreInstance, root: Path) -> None:
    now = instance.now
    expired = (now - datetime.timedelta(minutes=30), now - datetime.timedelta(minutes=20))
    _fails(instance.sign_blob(BLOB, validity=expired), root, "certificate")


def test_certificate_not_yet_valid_at_signing_time_fails(instance: SigstoreInstance, root: Path) -> None:
    now = instance.now
    future = (now + datetime.timedelta(minutes=5), now + datetime.timedelta(minutes=15))
    _fails(instance.sign_blob(BLOB, validity=future), root, "certificate")


def test_signing_time_outside_log_key_window_fails(instance: SigstoreInstance, tmp_path: Path) -> None:
    # sigstore-python ignores tlog validFor when verifying; we compare the integrated time with it.
    window = (instance.now - datetime.timedelta(days=10), instance.now - datetime.timedelta(days=1))
    root = instance.write_trusted_root(tmp_path / "root.json", log_valid_for=window)
    _fails(instance.sign_blob(BLOB), root, "outside the validity window of log")


def test_signing_time_outside_ca_window_fails(instance: SigstoreInstance, tmp_path: Path) -> None:
    window = (instance.now - datetime.timedelta(days=10), instance.now - datetime.timedelta(days=1))
    root = instance.write_trusted_root(tmp_path / "root.json", ca_valid_for=window)
    _fails(instance.sign_blob(BLOB), root, "validity window of the issuing certificate authority")


# -- log entry (SECURITY-CASES C) -----------------------------------------------------------------------


def _flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_tampered_inclusion_proof_fails(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    proof = signed.entry["inclusionProof"]
    proof["hashes"][0] = _flip(proof["hashes"][0])
    _fails(signed, root, "inclusion proof")


def test_tampered_root_hash_fails(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    signed.entry["inclusionProof"]["rootHash"] = _flip(signed.entry["inclusionProof"]["rootHash"])
    _fails(signed, root, "root hash")


def test_checkpoint_for_another_tree_size_fails(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    size = int(signed.entry["inclusionProof"]["treeSize"])
    signed.entry["inclusionProof"]["checkpoint"]["envelope"] = instance.log.checkpoint(size - 1)
    _fails(signed, root, "checkpoint tree size")


def test_tampered_signed_entry_timestamp_fails(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    promise = signed.entry["inclusionPromise"]
    forged = instance.log.key.sign(b"something else", ec.ECDSA(hashes.SHA256()))
    promise["signedEntryTimestamp"] = base64.b64encode(forged).decode()
    _fails(signed, root, "SET")


def test_integrated_time_moved_breaks_the_set(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    signed.entry["integratedTime"] = str(int(signed.entry["integratedTime"]) - 60)
    _fails(signed, root, "SET")


def test_log_entry_for_another_artifact_fails(instance: SigstoreInstance, root: Path) -> None:
    ours = instance.sign_blob(BLOB)
    other = instance.sign_blob(b"another artefact")
    ours.bundle["verificationMaterial"]["tlogEntries"] = [other.entry]  # valid entry, included, SET-signed
    _fails(ours, root, "inconsistent")


def test_dsse_log_entry_for_another_envelope_fails(instance: SigstoreInstance, root: Path) -> None:
    ours = instance.attest(statement_for(BLOB))
    other = instance.attest(statement_for(b"another artefact"))
    ours.bundle["verificationMaterial"]["tlogEntries"] = [other.entry]
    _fails(ours, root, "log entry")


def test_log_not_in_trusted_root_fails(instance: SigstoreInstance, tmp_path: Path) -> None:
    stranger = SigstoreInstance.create("stranger", now=instance.now)
    stranger.ca = instance.ca  # same CA and CT log, only the Rekor key differs
    stranger.ct_key = instance.ct_key
    root = instance.write_trusted_root(tmp_path / "root.json")
    _fails(stranger.sign_blob(BLOB), root, "log entry names log .* not in")


# -- certificate chain (SECURITY-CASES I) ---------------------------------------------------------------


def test_bundle_from_a_ca_not_in_the_trusted_root_fails(instance: SigstoreInstance, root: Path) -> None:
    evil = FulcioCA.create("evil", instance.now - datetime.timedelta(days=1))
    _fails(instance.sign_blob(BLOB, ca=evil), root, "does not chain to a trusted Fulcio CA")


def test_chain_shipping_its_own_root_is_refused(instance: SigstoreInstance, root: Path) -> None:
    evil = FulcioCA.create("evil", instance.now - datetime.timedelta(days=1))
    signed = instance.sign_blob(BLOB, ca=evil, media_type=BUNDLE_V02, chain=(evil.intermediate, evil.root))
    _fails(signed, root, "ships a self-signed root")


def test_chain_shipping_an_untrusted_intermediate_is_not_trusted(
    instance: SigstoreInstance, root: Path
) -> None:
    evil = FulcioCA.create("evil", instance.now - datetime.timedelta(days=1))
    signed = instance.sign_blob(BLOB, ca=evil, media_type=BUNDLE_V02, chain=(evil.intermediate,))
    _fails(signed, root, "does not chain to a trusted Fulcio CA")


def test_trusted_root_with_two_cas_accepts_either(instance: SigstoreInstance, tmp_path: Path) -> None:
    other = FulcioCA.create("other", instance.now - datetime.timedelta(days=1))
    root = instance.write_trusted_root(tmp_path / "root.json", extra_cas=(other,))
    assert _verify(instance.sign_blob(BLOB, ca=other), root).identity.san == SIGNER


# -- artefact and statement binding (SECURITY-CASES B) ---------------------------------------------------


def test_wrong_artifact_fails(instance: SigstoreInstance, root: Path) -> None:
    _fails(instance.sign_blob(BLOB), root, "digest mismatch", artifact=b"not the blob")
    _fails(instance.sign_blob(BLOB), root, "digest mismatch", artifact=Digest.of(b"not the blob"))


def test_message_digest_and_signature_must_agree(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    another = instance.sign_blob(BLOB).bundle["messageSignature"]["signature"]
    signed.bundle["messageSignature"]["signature"] = another  # a real signature by another leaf key
    _fails(signed, root, "Signature is invalid for input")


def test_statement_subject_must_name_the_artifact(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.attest(statement_for(b"something else"))
    _fails(signed, root, "subjects do not include")
    assert _verify(signed, root, None).statement is not None  # the caller binds subjects when no artifact


def test_dsse_payload_type_must_be_in_toto(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.attest(statement_for(BLOB), payload_type="application/vnd.example+json")
    _fails(signed, root, "payloadType")


def test_dsse_with_two_signatures_is_refused(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.attest(statement_for(BLOB))
    sigs = signed.bundle["dsseEnvelope"]["signatures"]
    sigs.append(dict(sigs[0]))
    _fails(signed, root, "exactly one signature")


def test_tampered_dsse_payload_fails(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.attest(statement_for(BLOB))
    statement = statement_for(BLOB, predicate_type="https://example.test/other/v1")
    signed.bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    _fails(signed, root, "DSSE: invalid signature")


# -- bundle format rules --------------------------------------------------------------------------------


def test_v03_with_a_chain_is_refused(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB, media_type=BUNDLE_V02)
    signed.bundle["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.3+json"
    _fails(signed, root, "single certificate")


def test_v02_with_a_single_certificate_is_refused(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    signed.bundle["mediaType"] = BUNDLE_V02
    _fails(signed, root, "x509CertificateChain")


def test_v01_needs_an_inclusion_promise(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB, media_type=BUNDLE_V02)
    signed.bundle["mediaType"] = BUNDLE_V01
    assert _verify(signed, root).log_index is not None
    del signed.entry["inclusionPromise"]
    _fails(signed, root, "inclusionPromise")


def test_v02_needs_a_checkpoint(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB, media_type=BUNDLE_V02)
    del signed.entry["inclusionProof"]["checkpoint"]
    _fails(signed, root, "checkpoint")


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.dev.sigstore.bundle.v0.4+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.4",
        "application/json",
        None,
    ],
)
def test_unknown_media_types_are_refused(
    instance: SigstoreInstance, root: Path, media_type: str | None
) -> None:
    signed = instance.sign_blob(BLOB)
    signed.bundle["mediaType"] = media_type
    _fails(signed, root, "unsupported mediaType")


def test_two_log_entries_are_refused(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    signed.bundle["verificationMaterial"]["tlogEntries"].append(signed.entry)
    _fails(signed, root, "2 log entries")


def test_no_log_entry_is_refused(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    signed.bundle["verificationMaterial"]["tlogEntries"] = []
    _fails(signed, root, "no transparency log entry")


def test_key_bundle_is_not_keyless(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    material = signed.bundle["verificationMaterial"]
    del material["certificate"]
    material["publicKey"] = {"hint": "abc"}
    _fails(signed, root, "signed with a key")


def test_both_contents_are_refused(instance: SigstoreInstance, root: Path) -> None:
    signed = instance.sign_blob(BLOB)
    signed.bundle["dsseEnvelope"] = instance.attest(statement_for(BLOB)).bundle["dsseEnvelope"]
    _fails(signed, root, "exactly one of messageSignature and dsseEnvelope")


def test_duplicate_json_keys_are_refused(instance: SigstoreInstance, root: Path) -> None:
    raw = instance.sign_blob(BLOB).raw()
    doubled = raw[:-1] + b', "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1"}'
    _fails(doubled, root, "duplicate JSON key")


def test_bundle_size_is_bounded(instance: SigstoreInstance, root: Path) -> None:
    raw = instance.sign_blob(BLOB).raw()
    with pytest.raises(LimitExceeded):
        verify_keyless_bundle(raw, _trust(root), limits=Limits(small_blob_bytes=len(raw) - 1), artifact=BLOB)


@pytest.mark.parametrize("garbage", [b"", b"[]", b"{", b"\xff\xfe", b'{"mediaType": 1}'])
def test_garbage_fails_closed(root: Path, garbage: bytes) -> None:
    _fails(garbage, root, "^sigstore bundle: ")


def test_missing_trusted_root_is_a_usage_error(instance: SigstoreInstance, tmp_path: Path) -> None:
    with pytest.raises(LocalInputError, match="cannot read trusted root"):
        _verify(instance.sign_blob(BLOB), tmp_path / "absent.json")
