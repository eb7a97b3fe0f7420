"""Fulcio identity: SAN kinds, issuer OIDs (raw v1, DER v2), GitHub claims, and full-match policies."""

from __future__ import annotations

import base64
import datetime
import json
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID, ObjectIdentifier

from imagetrust.errors import ConfigError, VerificationFailed
from imagetrust.verify.identity import IdentityPolicy, der_utf8_string, identity_from_certificate
from tests.conftest import shared_data
from tests.unit.verify_helpers import containers_image, p256, read_stored_signature

GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/org/repo/.github/workflows/x.yml@refs/heads/main"
BLOBS = "sigstore/slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch/blobs/sha256/"


def utf8(text: str) -> bytes:
    data = text.encode()
    if len(data) < 0x80:
        return bytes([0x0C, len(data)]) + data
    length = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + data


def make_cert(
    san: x509.GeneralName | list[x509.GeneralName], extensions: dict[str, bytes]
) -> x509.Certificate:
    key = p256()
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-fulcio")]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(minutes=10))
        .add_extension(x509.SubjectAlternativeName(san if isinstance(san, list) else [san]), critical=True)
    )
    for oid, value in extensions.items():
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier(oid), value), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def fulcio(san: str, *, v1: str | None = None, v2: str | None = GITHUB, **claims: bytes) -> x509.Certificate:
    extensions = {}
    if v1 is not None:
        extensions["1.3.6.1.4.1.57264.1.1"] = v1.encode()
    if v2 is not None:
        extensions["1.3.6.1.4.1.57264.1.8"] = utf8(v2)
    extensions.update(claims)
    general = x509.RFC822Name(san) if "@" in san and "://" not in san else x509.UniformResourceIdentifier(san)
    return make_cert(general, extensions)


def test_real_public_good_certificates() -> None:
    stored = read_stored_signature(containers_image("dir-img-cosign-fulcio-rekor-valid/signature-1"))
    email = identity_from_certificate(
        x509.load_pem_x509_certificate(stored.annotations["dev.sigstore.cosign/certificate"].encode())
    )
    assert (email.san, email.san_kind, email.issuer) == (
        "mitr@redhat.com",
        "email",
        "https://github.com/login/oauth",
    )
    manifest = json.loads(
        shared_data(BLOBS + "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe").read_bytes()
    )
    cert = x509.load_pem_x509_certificate(
        manifest["layers"][0]["annotations"]["dev.sigstore.cosign/certificate"].encode()
    )
    gha = identity_from_certificate(cert)
    assert gha.san_kind == "uri" and gha.issuer == GITHUB
    assert gha.claim("source_repository_uri") == "https://github.com/slsa-framework/example-package"
    assert gha.claim("source_repository_ref") == "refs/heads/main"
    assert gha.claim("github_workflow_repository") == "slsa-framework/example-package"  # legacy raw OID .5
    assert gha.claim("runner_environment") == "github-hosted"
    IdentityPolicy(
        identity_regexp=r"https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/generator_container_slsa3\.yml@refs/tags/v[0-9.]+",
        issuer=GITHUB,
        claims=(("source_repository_uri", "https://github.com/slsa-framework/example-package"),),
    ).check(gha)
    with pytest.raises(VerificationFailed, match="source_repository_ref"):
        IdentityPolicy(
            identity=gha.san, issuer=GITHUB, claims=(("source_repository_ref", "refs/tags/v1"),)
        ).check(gha)


def test_real_othername_san_from_sigstore_go() -> None:
    bundle = json.loads(
        shared_data("sigstore/sigstore-go/pkg/testing/data/bundles/othername.sigstore.json").read_bytes()
    )
    material = bundle["verificationMaterial"]
    raw = (
        material.get("certificate", {}).get("rawBytes")
        or material["x509CertificateChain"]["certificates"][0]["rawBytes"]
    )
    identity = identity_from_certificate(x509.load_der_x509_certificate(base64.b64decode(raw)))
    assert identity.san_kind == "othername"
    assert identity.san and identity.issuer


@pytest.mark.parametrize(
    "attacker_san",
    [
        "https://github.com/org/repo/.github/workflows/x.yml@refs/heads/attacker",
        "https://github.com/org/repo/.github/workflows/x.yml@evil.yml@refs/heads/main",
        "https://github.com/attacker/repo/.github/workflows/x.yml@refs/heads/main?u=" + WORKFLOW,
        "https://github.com.attacker.com/org/repo/.github/workflows/x.yml@refs/heads/main",
        "https://GITHUB.com/org/repo/.github/workflows/x.yml@refs/heads/main",
        WORKFLOW + "\n",
    ],
)
def test_cve_2025_29778_unanchored_identity_regexp_attacks_refused(attacker_san: str) -> None:
    """SECURITY-CASES E (GHSA-46mp-8w32-6g94, cli/cli#9507): regexps are full-matched, never searched."""
    identity = identity_from_certificate(fulcio(attacker_san))
    tight = r"https://github\.com/org/repo/\.github/workflows/x\.yml@refs/heads/main"
    if attacker_san.endswith("?u=" + WORKFLOW) or attacker_san == WORKFLOW + "\n":
        assert re.search(tight, attacker_san)  # what an unanchored matcher (or `$`) would have accepted
    with pytest.raises(VerificationFailed, match="does not fully match"):
        IdentityPolicy(identity_regexp=tight, issuer=GITHUB).check(identity)
    with pytest.raises(VerificationFailed, match="is not"):
        IdentityPolicy(identity=WORKFLOW, issuer=GITHUB).check(identity)
    IdentityPolicy(identity_regexp=tight, issuer=GITHUB).check(identity_from_certificate(fulcio(WORKFLOW)))


def test_issuer_regexp_is_full_matched_too() -> None:
    identity = identity_from_certificate(
        fulcio(WORKFLOW, v2="https://token.actions.githubusercontent.com.evil.example")
    )
    with pytest.raises(VerificationFailed, match="issuer"):
        IdentityPolicy(
            identity=WORKFLOW, issuer_regexp=r"https://token\.actions\.githubusercontent\.com"
        ).check(identity)
    with pytest.raises(VerificationFailed, match="issuer"):
        IdentityPolicy(identity=WORKFLOW, issuer=GITHUB).check(identity)


def test_issuer_v1_raw_and_v2_der_both_read_and_must_agree() -> None:
    assert identity_from_certificate(fulcio("a@example.com", v1=GITHUB, v2=None)).issuer == GITHUB
    assert identity_from_certificate(fulcio("a@example.com", v2=GITHUB)).issuer == GITHUB
    assert identity_from_certificate(fulcio("a@example.com", v1=GITHUB, v2=GITHUB)).issuer == GITHUB
    with pytest.raises(VerificationFailed, match="disagree"):
        identity_from_certificate(fulcio("a@example.com", v1="https://accounts.google.com", v2=GITHUB))
    no_issuer = identity_from_certificate(fulcio("a@example.com", v2=None))
    with pytest.raises(VerificationFailed, match="no OIDC issuer"):
        IdentityPolicy(identity="a@example.com", issuer_regexp=".*").check(no_issuer)


def test_v2_issuer_stored_raw_is_refused() -> None:
    cert = make_cert(x509.RFC822Name("a@example.com"), {"1.3.6.1.4.1.57264.1.8": GITHUB.encode()})
    with pytest.raises(VerificationFailed, match="UTF8String"):
        identity_from_certificate(cert)


def test_der_utf8_string_strictness() -> None:
    long_text = "x" * 300
    assert der_utf8_string(utf8(long_text), "t") == long_text
    for bad in [
        b"",
        b"\x0c",
        b"\x13\x01a",
        b"\x0c\x02a",
        b"\x0c\x01ab",
        b"\x0c\x81\x05hello",
        b"\x0c\x01\xff",
    ]:
        with pytest.raises(VerificationFailed):
            der_utf8_string(bad, "t")


def test_github_v2_claims_are_der_and_legacy_claims_raw() -> None:
    cert = fulcio(
        WORKFLOW,
        **{"1.3.6.1.4.1.57264.1.5": b"org/repo", "1.3.6.1.4.1.57264.1.14": utf8("refs/heads/main")},
    )
    identity = identity_from_certificate(cert)
    assert identity.claim("github_workflow_repository") == "org/repo"
    assert identity.claim("source_repository_ref") == "refs/heads/main"
    IdentityPolicy(
        identity=WORKFLOW, issuer=GITHUB, claims=(("source_repository_ref", "refs/heads/main"),)
    ).check(identity)


def test_ambiguous_san_refused() -> None:
    cert = make_cert([x509.RFC822Name("a@example.com"), x509.UniformResourceIdentifier(WORKFLOW)], {})
    with pytest.raises(VerificationFailed, match="2 usable subject alternative names"):
        identity_from_certificate(cert)


def test_policy_configuration_errors() -> None:
    with pytest.raises(ConfigError):
        IdentityPolicy(issuer=GITHUB)
    with pytest.raises(ConfigError):
        IdentityPolicy(identity="a", identity_regexp="a", issuer=GITHUB)
    with pytest.raises(ConfigError):
        IdentityPolicy(identity="a")
    with pytest.raises(ConfigError, match="invalid identity regular expression"):
        IdentityPolicy(identity_regexp="(", issuer=GITHUB)
    with pytest.raises(ConfigError, match="unknown certificate claim"):
        IdentityPolicy(identity="a", issuer=GITHUB, claims=(("not_a_claim", "x"),))
