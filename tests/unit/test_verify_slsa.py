"""SLSA provenance checks on the real slsa-verifier artifact (v0.2) and on v1 predicates made in-test."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from cryptography import x509

from imagetrust.errors import ConfigError, VerificationFailed
from imagetrust.oci.digest import Digest
from imagetrust.trust.keys import PublicKey
from imagetrust.verify.dsse import parse_envelope, verify_envelope
from imagetrust.verify.identity import identity_from_certificate
from imagetrust.verify.results import VerifiedEnvelope, VerifiedStatement
from imagetrust.verify.slsa import ProvenanceExpectation, verify_provenance
from imagetrust.verify.statement import require_subject, statement_from_envelope
from tests.conftest import shared_data

BLOBS = "sigstore/slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch/blobs/sha256/"
GENERATOR = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml"
)
SOURCE = "github.com/slsa-framework/example-package"
INDEX = Digest.parse("sha256:234e2c830c2fb31ac5671789d22adfe44d30c3ee831d01beae5e237841a13122")


def real_verified_statement(*, with_identity: bool = True) -> VerifiedStatement:
    """Verify the real envelope with its certificate key, as keyless verification would hand it over."""
    manifest = json.loads(
        shared_data(BLOBS + "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe").read_bytes()
    )
    cert = x509.load_pem_x509_certificate(
        manifest["layers"][0]["annotations"]["dev.sigstore.cosign/certificate"].encode()
    )
    envelope = parse_envelope(
        shared_data(BLOBS + "e163b472f2e5d66e5a2a45e26e020c51a0d2da7dc8b567b31fc2ebfd33dbc33a").read_bytes()
    )
    stmt = statement_from_envelope(verify_envelope(envelope, [PublicKey.from_certificate(cert)]))
    return replace(stmt, identity=identity_from_certificate(cert)) if with_identity else stmt


def test_real_provenance_passes_with_the_right_builder_and_source() -> None:
    stmt = real_verified_statement()
    require_subject(stmt, INDEX)
    result = verify_provenance(stmt, ProvenanceExpectation(GENERATOR, SOURCE, source_branch="main"))
    assert result.slsa_version == "0.2"
    assert result.builder_version == "v2.1.0"
    assert result.builder_id == GENERATOR + "@refs/tags/v2.1.0"
    assert result.source_uri == "https://github.com/slsa-framework/example-package"
    assert result.source_ref == "refs/heads/main"
    assert result.build_type == "https://github.com/slsa-framework/slsa-github-generator/container@v1"


def test_real_provenance_exact_builder_version() -> None:
    stmt = real_verified_statement()
    verify_provenance(stmt, ProvenanceExpectation(GENERATOR + "@refs/tags/v2.1.0", "https://" + SOURCE))
    with pytest.raises(VerificationFailed, match="builder"):
        verify_provenance(stmt, ProvenanceExpectation(GENERATOR + "@refs/tags/v2.0.0", SOURCE))


@pytest.mark.parametrize(
    ("expectation", "reason"),
    [
        (ProvenanceExpectation(GENERATOR.replace("container", "generic"), SOURCE), "builder"),
        (ProvenanceExpectation(GENERATOR + "x", SOURCE), "builder"),
        (ProvenanceExpectation(GENERATOR, "github.com/slsa-framework/example-package-evil"), "source"),
        (ProvenanceExpectation(GENERATOR, "github.com/attacker/example-package"), "source"),
        (ProvenanceExpectation(GENERATOR, "github.com/slsa-framework"), "source"),
        (ProvenanceExpectation(GENERATOR, SOURCE, source_branch="release"), "expected branch"),
        (ProvenanceExpectation(GENERATOR, SOURCE, source_tag="v1.0.0"), "expected tag"),
        (ProvenanceExpectation(GENERATOR, SOURCE, build_type="https://example.com/other"), "buildType"),
    ],
)
def test_real_provenance_fails_with_other_expectations(
    expectation: ProvenanceExpectation, reason: str
) -> None:
    with pytest.raises(VerificationFailed, match=reason):
        verify_provenance(real_verified_statement(), expectation)


def _with_predicate(
    stmt: VerifiedStatement, predicate_type: str, predicate: dict[str, Any], identity: Any = None
) -> VerifiedStatement:
    doc = json.loads(stmt.statement.raw)
    doc["predicateType"] = predicate_type
    doc["predicate"] = predicate
    raw = json.dumps(doc).encode()
    return replace(
        statement_from_envelope(VerifiedEnvelope("application/vnd.in-toto+json", raw, stmt.signers)),
        identity=identity,
    )


def test_builder_must_match_the_certificate_identity() -> None:
    stmt = real_verified_statement()
    predicate = json.loads(json.dumps(dict(stmt.statement.predicate)))
    predicate["builder"]["id"] = GENERATOR + "@refs/tags/v2.2.0"  # claims another release than the signer
    forged = _with_predicate(stmt, "https://slsa.dev/provenance/v0.2", predicate, stmt.identity)
    with pytest.raises(VerificationFailed, match="not the certificate identity"):
        verify_provenance(forged, ProvenanceExpectation(GENERATOR, SOURCE))


def test_generator_on_a_branch_is_not_trusted() -> None:
    stmt = real_verified_statement(with_identity=False)
    predicate = json.loads(json.dumps(dict(stmt.statement.predicate)))
    predicate["builder"]["id"] = GENERATOR + "@refs/heads/main"
    with pytest.raises(VerificationFailed, match="not a tagged release"):
        verify_provenance(
            _with_predicate(stmt, "https://slsa.dev/provenance/v0.2", predicate),
            ProvenanceExpectation(GENERATOR, SOURCE),
        )


def test_v02_falls_back_to_materials_and_requires_a_builder() -> None:
    stmt = real_verified_statement(with_identity=False)
    predicate = json.loads(json.dumps(dict(stmt.statement.predicate)))
    del predicate["invocation"]["configSource"]
    result = verify_provenance(
        _with_predicate(stmt, "https://slsa.dev/provenance/v0.2", predicate),
        ProvenanceExpectation(GENERATOR, SOURCE),
    )
    assert result.source_ref == "refs/heads/main"
    predicate["builder"] = {"id": ""}
    with pytest.raises(VerificationFailed, match=r"builder\.id is missing"):
        verify_provenance(
            _with_predicate(stmt, "https://slsa.dev/provenance/v0.2", predicate),
            ProvenanceExpectation(GENERATOR, SOURCE),
        )


def v1_predicate(*, workflow: bool = True) -> dict[str, Any]:
    external: dict[str, Any] = {}
    if workflow:
        external["workflow"] = {
            "ref": "refs/tags/v1.2.3",
            "repository": "https://github.com/org/repo",
            "path": ".github/workflows/release.yml",
        }
    return {
        "buildDefinition": {
            "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "externalParameters": external,
            "resolvedDependencies": [
                {
                    "uri": "git+https://github.com/org/repo@refs/tags/v1.2.3",
                    "digest": {"gitCommit": "ab" * 20},
                }
            ],
        },
        "runDetails": {
            "builder": {
                "id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v2.0.0"
            }
        },
    }


@pytest.mark.parametrize("workflow", [True, False])
def test_v1_provenance(workflow: bool) -> None:
    stmt = _with_predicate(
        real_verified_statement(with_identity=False),
        "https://slsa.dev/provenance/v1",
        v1_predicate(workflow=workflow),
    )
    builder = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml"
    result = verify_provenance(
        stmt, ProvenanceExpectation(builder, "github.com/org/repo", source_tag="v1.2.3")
    )
    assert (result.slsa_version, result.builder_version, result.source_ref) == (
        "1",
        "v2.0.0",
        "refs/tags/v1.2.3",
    )
    with pytest.raises(VerificationFailed, match="source"):
        verify_provenance(stmt, ProvenanceExpectation(builder, "github.com/org/repo2"))
    with pytest.raises(VerificationFailed, match="builder"):
        verify_provenance(stmt, ProvenanceExpectation(GENERATOR, "github.com/org/repo"))


def test_not_provenance_and_bad_expectations() -> None:
    stmt = _with_predicate(real_verified_statement(with_identity=False), "https://spdx.dev/Document", {})
    with pytest.raises(VerificationFailed, match="not SLSA provenance"):
        verify_provenance(stmt, ProvenanceExpectation(GENERATOR, SOURCE))
    with pytest.raises(ConfigError):
        ProvenanceExpectation(GENERATOR, SOURCE, source_tag="v1", source_branch="main")
    with pytest.raises(ConfigError):
        ProvenanceExpectation("", SOURCE)
