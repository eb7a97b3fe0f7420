"""Real Sigstore bundles (public good and staging) verified offline, and real negative cases refused."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from imagetrust.errors import VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS
from imagetrust.oci.digest import Digest
from imagetrust.trust.paths import public_good_trusted_root
from imagetrust.verify.identity import IdentityPolicy
from imagetrust.verify.keyless_bundle import KeylessTrust, VerifiedBundle, verify_keyless_bundle
from tests.conftest import shared_data

SP = "sigstore/sigstore-python"
GITHUB = "https://token.actions.githubusercontent.com"
RFC8785_RELEASE = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
ANYONE = IdentityPolicy(identity_regexp=".*", issuer_regexp=".*")


def _root(name: str) -> Path:
    return shared_data(f"{SP}/trusted_root.{name}.json")


def _verify(
    bundle: str, root: Path, policy: IdentityPolicy = ANYONE, artifact: str | bytes | None = None
) -> VerifiedBundle:
    data = shared_data(artifact).read_bytes() if isinstance(artifact, str) else artifact
    raw = shared_data(bundle).read_bytes()
    return verify_keyless_bundle(raw, KeylessTrust(root, policy), limits=DEFAULT_LIMITS, artifact=data)


def test_github_actions_wheel_bundle_with_the_pinned_public_good_root() -> None:
    policy = IdentityPolicy(identity=RFC8785_RELEASE, issuer=GITHUB)
    result = _verify(
        f"{SP}/bundle_v3_github.whl.sigstore",
        public_good_trusted_root(),
        policy,
        f"{SP}/bundle_v3_github.whl",
    )
    assert result.identity.san == RFC8785_RELEASE
    assert result.identity.claim("source_repository_ref") == "refs/tags/v0.1.2"
    assert result.log_index == 79605083
    assert result.integrated_time == datetime.datetime(2024, 3, 19, 22, 41, 16, tzinfo=datetime.UTC)
    assert result.message_digest == Digest.of(shared_data(f"{SP}/bundle_v3_github.whl").read_bytes())


def test_real_bundle_with_a_prefix_identity_regexp_is_refused() -> None:
    # re.search would accept this prefix; the policy must name the whole identity.
    policy = IdentityPolicy(identity_regexp=r"https://github\.com/trailofbits/", issuer=GITHUB)
    with pytest.raises(VerificationFailed, match="does not fully match"):
        _verify(
            f"{SP}/bundle_v3_github.whl.sigstore", _root("production"), policy, f"{SP}/bundle_v3_github.whl"
        )


def test_real_bundle_for_another_artifact_is_refused() -> None:
    with pytest.raises(VerificationFailed, match="digest mismatch"):
        _verify(f"{SP}/bundle_v3_github.whl.sigstore", _root("production"), artifact=b"not the wheel")


@pytest.mark.parametrize(
    ("bundle", "artifact", "san", "issuer"),
    [
        ("bundle.txt.sigstore", "bundle.txt", "a@tny.town", "https://github.com/login/oauth"),  # v0.1 chain
        (
            "bundle_v3.txt.sigstore",
            "bundle_v3.txt",
            "william@yossarian.net",
            "https://github.com/login/oauth",
        ),
        (
            "bundle_v3_alt.txt.sigstore",
            "bundle_v3_alt.txt",
            "william@yossarian.net",
            "https://github.com/login/oauth",
        ),
        (
            "tsa/bundle.txt.sigstore",
            "tsa/bundle.txt",
            "alexis.challande@trailofbits.com",
            "https://accounts.google.com",
        ),
        (
            "staging-rekor-v2.txt.sigstore.json",
            "staging-rekor-v2.txt",
            "jku@goto.fi",
            "https://github.com/login/oauth",
        ),
    ],
)
def test_staging_blob_bundles_verify(bundle: str, artifact: str, san: str, issuer: str) -> None:
    result = _verify(
        f"{SP}/{bundle}", _root("staging"), IdentityPolicy(identity=san, issuer=issuer), f"{SP}/{artifact}"
    )
    assert result.identity.san == san


def test_rekor_v2_entry_has_no_integrated_time() -> None:
    result = _verify(
        f"{SP}/staging-rekor-v2.txt.sigstore.json", _root("staging"), artifact=f"{SP}/staging-rekor-v2.txt"
    )
    assert result.integrated_time is None and result.log_index is not None


def test_rekor_v2_dsse_bundle_returns_its_statement() -> None:
    result = _verify(f"{SP}/a.dsse.staging-rekor-v2.txt.sigstore.json", _root("staging"))
    assert result.statement is not None
    assert result.statement.predicate_type == "https://slsa.dev/provenance/v1"


def test_cosign_v3_oci_attestation_bundle() -> None:
    policy = IdentityPolicy(identity="cody@soyland.com", issuer="https://github.com/login/oauth")
    result = _verify(
        "sigstore/cosign/oci-attestation.sigstore.json",
        shared_data("sigstore/cosign/trusted_root_pgi.json"),
        policy,
    )
    assert result.statement is not None
    assert result.statement.predicate_type == "https://cosign.sigstore.dev/attestation/v1"
    assert result.log_index == 175508996
    # The same bundle under the pinned public-good root.
    assert _verify(
        "sigstore/cosign/oci-attestation.sigstore.json", public_good_trusted_root(), policy
    ).statement


def test_cve_2022_36056_bundle_is_refused() -> None:
    # The log entry does not reference the signature in the bundle.
    with pytest.raises(VerificationFailed, match="inconsistent"):
        _verify(
            f"{SP}/bundle_cve_2022_36056.txt.sigstore",
            _root("staging"),
            artifact=f"{SP}/bundle_cve_2022_36056.txt",
        )


def test_staging_bundle_under_the_production_root_is_refused() -> None:
    with pytest.raises(VerificationFailed, match=r"log entry names log [0-9a-f]+, not in"):
        _verify(f"{SP}/bundle_v3.txt.sigstore", _root("production"), artifact=f"{SP}/bundle_v3.txt")


def test_v01_bundle_without_checkpoint_is_refused() -> None:
    with pytest.raises(VerificationFailed, match="checkpoint"):
        _verify(f"{SP}/integration/Python-3.12.5.tgz.sigstore", _root("production"), artifact=b"")


def test_bundle_without_signed_time_is_refused() -> None:
    with pytest.raises(VerificationFailed, match="inclusion promise or signed timestamp"):
        _verify(
            f"{SP}/bundle_v3_no_signed_time.txt.sigstore.json",
            _root("staging"),
            artifact=f"{SP}/bundle_v3_no_signed_time.txt",
        )


@pytest.mark.parametrize(
    ("bundle", "reason"),
    [
        ("bundle.many_timestamp.sigstore", "33 timestamps"),
        ("bundle.duplicate.sigstore", "duplicate timestamp"),
    ],
)
def test_timestamp_abuse_is_refused(bundle: str, reason: str) -> None:
    with pytest.raises(VerificationFailed, match=reason):
        _verify(f"{SP}/tsa/{bundle}", _root("staging"), artifact=f"{SP}/tsa/bundle.txt")


def test_npm_provenance_bundle_shipping_a_root_is_refused() -> None:
    with pytest.raises(VerificationFailed, match="ships a self-signed root"):
        _verify(
            "sigstore/sigstore-go/examples/bundle-provenance.json",
            shared_data("sigstore/sigstore-go/examples/trusted-root-public-good.json"),
        )


def test_intoto_002_entries_are_not_accepted() -> None:
    root = shared_data("sigstore/sigstore-go/pkg/testing/data/trusted-roots/public-good.json")
    with pytest.raises(VerificationFailed, match=r"dsse/hashedrekord 0\.0\.1"):
        _verify(
            "sigstore/sigstore-go/pkg/testing/data/bundles/sigstore.js@2.0.0-provenance.sigstore.json", root
        )


def test_key_bundle_is_not_a_keyless_bundle() -> None:
    root = shared_data("sigstore/sigstore-go/pkg/testing/data/trusted-roots/public-key-validity.json")
    with pytest.raises(VerificationFailed, match="signed with a key"):
        _verify("sigstore/sigstore-go/pkg/testing/data/bundles/public-key-validity.sigstore.json", root)
