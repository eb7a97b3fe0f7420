"""in-toto Statements: parsing v0.1/v1, subject binding by digest only, predicate-type matching."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from imagetrust.errors import LimitExceeded, UsageError, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.trust.keys import KeyId
from imagetrust.verify.results import VerifiedEnvelope, VerifiedStatement
from imagetrust.verify.statement import (
    PREDICATE_SHORT_NAMES,
    parse_statement,
    require_predicate_type,
    require_subject,
    resolve_predicate_type,
    statement_from_envelope,
)
from tests.conftest import shared_data

SLSA_BLOBS = "sigstore/slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch/blobs/sha256/"
INDEX = Digest.parse("sha256:234e2c830c2fb31ac5671789d22adfe44d30c3ee831d01beae5e237841a13122")
PLATFORM = Digest.parse("sha256:d1fc0de9c6a33e502c488221644de1736c53d8ddb59b0e41b4946fb26af50e69")
IMAGE = Digest.of(b"image")
SIGNER = frozenset({KeyId("00" * 32)})


def statement(**fields: Any) -> bytes:
    doc: dict[str, Any] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "img", "digest": {"sha256": IMAGE.hex}}],
        "predicateType": "https://spdx.dev/Document",
        "predicate": {},
    }
    doc.update(fields)
    return json.dumps(doc).encode()


def verified(raw: bytes, payload_type: str = "application/vnd.in-toto+json") -> VerifiedStatement:
    return statement_from_envelope(VerifiedEnvelope(payload_type, raw, SIGNER))


def real_slsa_statement() -> VerifiedStatement:
    envelope = json.loads(
        shared_data(
            SLSA_BLOBS + "e163b472f2e5d66e5a2a45e26e020c51a0d2da7dc8b567b31fc2ebfd33dbc33a"
        ).read_bytes()
    )
    return verified(base64.b64decode(envelope["payload"]))


def test_real_v01_statement_parses_and_binds_to_the_index_only() -> None:
    """Subject binding: the cosign .att for the index does not vouch for the platform manifest."""
    stmt = real_slsa_statement()
    assert stmt.statement.type == "https://in-toto.io/Statement/v0.1"
    assert stmt.predicate_type == "https://slsa.dev/provenance/v0.2"
    assert require_subject(stmt, INDEX).name.startswith("ghcr.io/slsa-framework/")
    with pytest.raises(VerificationFailed, match="do not include"):
        require_subject(stmt, PLATFORM)


def test_real_buildkit_v01_statement_binds_to_the_platform_manifest() -> None:
    stmt = verified(
        shared_data(
            SLSA_BLOBS + "8d63b5e440cc7cfa68622b4a3cae2dbe215f8f8dcc9f2fa4ffd3078d40d61a84"
        ).read_bytes()
    )
    require_subject(stmt, PLATFORM)
    with pytest.raises(VerificationFailed):
        require_subject(stmt, INDEX)


def test_real_sha512_only_subject_does_not_match_a_sha256_digest() -> None:
    """sigstore-go's npm provenance names its subject by sha512 only."""
    bundle = json.loads(
        shared_data("sigstore/sigstore-go/pkg/testing/data/bundles/dsse.sigstore.json").read_bytes()
    )
    stmt = verified(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    sha512 = stmt.statement.subjects[0].digests["sha512"]
    require_subject(stmt, Digest("sha512", sha512))
    with pytest.raises(VerificationFailed, match="digest algorithms: sha512"):
        require_subject(stmt, Digest("sha256", sha512[:64]))


def test_v1_statement_with_unknown_fields_parses() -> None:
    raw = statement(
        extra={"anything": [1, 2]},
        subject=[{"name": "a", "uri": "x", "digest": {"sha256": IMAGE.hex}, "new": 1}],
    )
    stmt = verified(raw)
    assert stmt.statement.raw == raw
    require_subject(stmt, IMAGE)


def test_multi_subject_and_name_ignored() -> None:
    """pgsty/mc#18: a subject's name is not evidence; only the digest binds."""
    raw = statement(
        subject=[
            {"name": "the-image-you-want", "digest": {"sha256": Digest.of(b"other").hex}},
            {"name": "something else", "digest": {"sha512": "ab" * 64, "sha256": IMAGE.hex.upper()}},
        ]
    )
    assert require_subject(verified(raw), IMAGE).name == "something else"
    with pytest.raises(VerificationFailed):
        require_subject(
            verified(statement(subject=[{"name": str(IMAGE), "digest": {"sha256": Digest.of(b"x").hex}}])),
            IMAGE,
        )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (statement(_type="https://in-toto.io/Statement/v2"), "unsupported _type"),
        (statement(subject=[]), "no subjects"),
        (statement(subject=[{"name": "a"}]), "has no digest"),
        (statement(subject=[{"name": "a", "digest": {}}]), "has no digest"),
        (statement(subject=[{"name": "a", "digest": {"sha256": 5}}]), "not a string"),
        (statement(subject=["a"]), "not an object"),
        (statement(predicateType=""), "predicateType is missing"),
        (statement(predicate=[1]), "predicate is not an object"),
        (statement(predicate_type="https://slsa.dev/provenance/v1"), "ambiguous spelling"),
        (statement(PredicateType="https://slsa.dev/provenance/v1"), "ambiguous spelling"),
        (b"not json", "not valid JSON"),
        (b'{"_type":"https://in-toto.io/Statement/v1","_type":"x"}', "duplicate JSON key"),
    ],
)
def test_cve_2026_39395_malformed_statements_refused(raw: bytes, reason: str) -> None:
    """GHSA-w6c6-c85g-mmv6: malformed attestation payloads must not verify."""
    with pytest.raises(VerificationFailed, match=reason):
        verified(raw)


def test_only_the_in_toto_payload_type_carries_a_statement() -> None:
    with pytest.raises(VerificationFailed, match="payloadType"):
        verified(statement(), payload_type="application/vnd.in-toto.spdx+json")


def test_too_many_subjects_is_a_limit() -> None:
    subjects = [{"name": str(i), "digest": {"sha256": IMAGE.hex}} for i in range(5)]
    with pytest.raises(LimitExceeded):
        parse_statement(statement(subject=subjects), limits=Limits(statement_subjects=4))


def test_cve_2022_35929_type_confusion_vuln_attestation_does_not_pass_spdx() -> None:
    """GHSA-vjxv-45g9-9296 / CVE-2022-35930: --type spdx must not accept a vuln attestation."""
    vuln = verified(statement(predicateType="https://cosign.sigstore.dev/attestation/vuln/v1"))
    with pytest.raises(VerificationFailed, match="predicateType"):
        require_predicate_type(vuln, "spdx")
    require_predicate_type(vuln, "vuln")
    spdx = verified(statement())
    require_predicate_type(spdx, "spdx")
    require_predicate_type(spdx, "spdxjson")
    require_predicate_type(spdx, "https://spdx.dev/Document")
    with pytest.raises(VerificationFailed):
        require_predicate_type(spdx, "https://spdx.dev/Document/v2.3")  # exact, not prefix
    with pytest.raises(VerificationFailed):
        require_predicate_type(spdx, "cyclonedx")


def test_kyverno_3918_predicate_type_comes_from_the_signed_statement() -> None:
    """The att layer annotation says SLSA v0.2; what counts is the signed Statement, checked exactly."""
    stmt = real_slsa_statement()
    require_predicate_type(stmt, "slsaprovenance")
    require_predicate_type(stmt, "slsaprovenance02")
    with pytest.raises(VerificationFailed):
        require_predicate_type(stmt, "slsaprovenance1")


def test_short_names_and_unknown_names() -> None:
    assert set(PREDICATE_SHORT_NAMES) >= {
        "slsaprovenance",
        "slsaprovenance02",
        "slsaprovenance1",
        "spdx",
        "spdxjson",
        "cyclonedx",
        "vuln",
        "link",
        "custom",
        "openvex",
    }
    assert resolve_predicate_type("slsaprovenance1") == "https://slsa.dev/provenance/v1"
    with pytest.raises(UsageError, match="unknown predicate type"):
        resolve_predicate_type("sbom")
