"""in-toto Statements (v0.1 and v1): parsing, subject binding by digest, and predicate-type matching.

The predicate type is read from the signed Statement only, never from a layer annotation or the DSSE
payloadType (cosign CVE-2022-35929: an attestation of one type passed a check for another).  Subjects are
matched by digest only (in-toto spec); a subject naming only sha512 does not match a sha256 image digest.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from imagetrust.errors import LimitExceeded, UsageError, VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest
from imagetrust.verify.dsse import IN_TOTO_PAYLOAD_TYPE
from imagetrust.verify.encoding import load_strict_object
from imagetrust.verify.results import Statement, Subject, VerifiedEnvelope, VerifiedStatement

STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = frozenset({STATEMENT_V01, STATEMENT_V1})

# cosign's --type short names (cmd/cosign/cli/options/predicate.go) mapped to the URIs it writes.
PREDICATE_SHORT_NAMES: dict[str, str] = {
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "spdx": "https://spdx.dev/Document",
    "spdxjson": "https://spdx.dev/Document",
    "cyclonedx": "https://cyclonedx.org/bom",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "link": "https://in-toto.io/attestation/link/v0.3",
    "custom": "https://cosign.sigstore.dev/attestation/v1",
    "openvex": "https://openvex.dev/ns",
}
_FIELDS = ("_type", "subject", "predicateType", "predicate")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_WHAT = "in-toto Statement"


def _normalise(key: str) -> str:
    return key.casefold().replace("_", "")


def _refuse_ambiguous_keys(doc: dict[str, Any]) -> None:
    """``predicate_type`` next to ``predicateType`` reads differently in protojson and plain JSON readers."""
    canonical = {_normalise(name): name for name in _FIELDS}
    for key in doc:
        name = canonical.get(_normalise(key))
        if name is not None and key != name:
            raise VerificationFailed(f"{_WHAT}: key {key!r} is an ambiguous spelling of {name!r}")


def _subject(entry: Any, index: int) -> Subject:
    if not isinstance(entry, dict):
        raise VerificationFailed(f"{_WHAT}: subject {index} is not an object")
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise VerificationFailed(f"{_WHAT}: subject {index} name is not a string")
    digests = entry.get("digest")
    if not isinstance(digests, dict) or not digests:
        raise VerificationFailed(f"{_WHAT}: subject {index} ({name!r}) has no digest")
    for algorithm, value in digests.items():
        if not isinstance(value, str) or not value:
            raise VerificationFailed(f"{_WHAT}: subject {index} digest {algorithm!r} is not a string")
    return Subject(name, MappingProxyType(dict(digests)))


def parse_statement(raw: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Statement:
    """Parse a Statement; unknown fields are ignored, the four defined ones must be well formed."""
    doc = load_strict_object(raw, _WHAT, max_bytes=limits.small_blob_bytes, max_depth=limits.json_depth)
    _refuse_ambiguous_keys(doc)
    statement_type = doc.get("_type")
    if not isinstance(statement_type, str) or statement_type not in STATEMENT_TYPES:  # a list is unhashable
        raise VerificationFailed(f"{_WHAT}: unsupported _type {statement_type!r}")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise VerificationFailed(f"{_WHAT}: no subjects")
    if len(subjects) > limits.statement_subjects:
        raise LimitExceeded(
            f"{_WHAT}: {len(subjects)} subjects exceeds the limit of {limits.statement_subjects}"
        )
    predicate_type = doc.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise VerificationFailed(f"{_WHAT}: predicateType is missing")
    predicate = doc.get("predicate", {})
    if predicate is None:
        predicate = {}
    if not isinstance(predicate, dict):
        raise VerificationFailed(f"{_WHAT}: predicate is not an object")
    return Statement(
        type=statement_type,
        subjects=tuple(_subject(entry, index) for index, entry in enumerate(subjects)),
        predicate_type=predicate_type,
        predicate=MappingProxyType(predicate),
        raw=raw,
    )


def statement_from_envelope(
    envelope: VerifiedEnvelope, *, limits: Limits = DEFAULT_LIMITS
) -> VerifiedStatement:
    """The Statement a verified envelope carries; only the in-toto payload type is a Statement."""
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationFailed(
            f"DSSE payloadType is {envelope.payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE!r}"
        )
    return VerifiedStatement(parse_statement(envelope.payload, limits=limits), envelope.signers)


def subject_matches(subject: Subject, digest: Digest) -> bool:
    value = subject.digests.get(digest.algorithm)
    return isinstance(value, str) and bool(_HEX.match(value)) and value.lower() == digest.hex


def require_subject(statement: VerifiedStatement, digest: Digest) -> Subject:
    """The subject naming ``digest``; the subject's name plays no part (in-toto matches by digest only)."""
    for subject in statement.statement.subjects:
        if subject_matches(subject, digest):
            return subject
    names = ", ".join(sorted({alg for s in statement.statement.subjects for alg in s.digests})) or "none"
    raise VerificationFailed(
        f"attestation subjects do not include {digest} "
        f"({len(statement.statement.subjects)} subject(s), digest algorithms: {names})"
    )


def resolve_predicate_type(wanted: str) -> str:
    """A ``--type`` value: a cosign short name or a full URI (compared exactly)."""
    if wanted in PREDICATE_SHORT_NAMES:
        return PREDICATE_SHORT_NAMES[wanted]
    if "://" not in wanted:
        known = ", ".join(sorted(PREDICATE_SHORT_NAMES))
        raise UsageError(f"unknown predicate type {wanted!r}: give a URI or one of {known}")
    return wanted


def require_predicate_type(statement: VerifiedStatement, wanted: str) -> None:
    """Exact comparison with the signed predicateType; ``wanted`` may be a cosign short name."""
    expected = resolve_predicate_type(wanted)
    if statement.statement.predicate_type != expected:
        raise VerificationFailed(
            f"attestation predicateType is {statement.statement.predicate_type!r}, expected {expected!r}"
        )
