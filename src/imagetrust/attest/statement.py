"""in-toto Statements imagetrust signs about an image: its own audit predicate and a SLSA VSA.

Both bind to the image by digest (the resolved top-level digest first, then each platform manifest that was
examined): cosign ``verify-attestation`` and our ``verify`` match the digest they resolved against the
subjects, and matching is by digest only.  Payload bytes are compact JSON with sorted keys, so the same
assessment always serialises to the same bytes.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from imagetrust.oci.digest import Digest

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
AUDIT_PREDICATE_TYPE = "https://imagetrust.dev/attestation/audit/v1"
VSA_PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://imagetrust.dev/verifier/imagetrust"
BUILTIN_POLICY_URI = "https://imagetrust.dev/policy/builtin/audit/v1"
# VSA verifiedLevels: imagetrust checks signatures and content, not how the image was built, so it claims
# nothing above build level 0; a failed assessment reports FAILED as the VSA spec asks.
LEVEL_NONE = "SLSA_BUILD_LEVEL_0"
LEVEL_FAILED = "FAILED"


class Result(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    INCOMPLETE = "INCOMPLETE"  # nothing failed, but something could not be examined


@dataclass(frozen=True)
class SubjectDigest:
    """One digest the statement is about: the resolved image (role image/index) or one platform manifest."""

    digest: Digest
    role: str  # "image" | "index" | "platform"
    platform: str | None = None


@dataclass(frozen=True)
class PolicyRef:
    """What the decision was made against: a policy file, or the built-in audit rules and their settings."""

    uri: str
    digest: Digest
    source: str  # "file" | "builtin"
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputAttestation:
    """Evidence the decision relied on (a verified signature or attestation), named by location and digest."""

    uri: str
    digest: Digest


@dataclass(frozen=True)
class Assessment:
    """Everything a signed statement says about one image; built by the ``attest`` pipeline."""

    name: str  # registry/repository
    media_type: str
    subjects: tuple[SubjectDigest, ...]  # the first is the resolved reference
    result: Result
    reasons: tuple[str, ...]
    policy: PolicyRef
    time_verified: datetime.datetime
    tool_version: str
    verification: Mapping[str, Any] | None = None
    audit: Mapping[str, Any] | None = None
    inputs: tuple[InputAttestation, ...] = ()

    @property
    def digest(self) -> Digest:
        return self.subjects[0].digest

    @property
    def resource_uri(self) -> str:
        return f"{self.name}@{self.digest}"


def _digest_set(digest: Digest) -> dict[str, str]:
    return {digest.algorithm: digest.hex}


def _timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def statement_subjects(assessment: Assessment) -> list[dict[str, Any]]:
    out = []
    for subject in assessment.subjects:
        name = assessment.name if subject.platform is None else f"{assessment.name}#{subject.platform}"
        out.append({"name": name, "digest": _digest_set(subject.digest)})
    return out


def _policy_json(policy: PolicyRef) -> dict[str, Any]:
    out: dict[str, Any] = {"uri": policy.uri, "digest": _digest_set(policy.digest), "source": policy.source}
    if policy.settings:
        out["settings"] = dict(policy.settings)
    return out


def audit_predicate(assessment: Assessment) -> dict[str, Any]:
    """The ``https://imagetrust.dev/attestation/audit/v1`` predicate (docs/predicate-audit-v1.md)."""
    return {
        "verifier": {"id": VERIFIER_ID, "version": {"imagetrust": assessment.tool_version}},
        "timeVerified": _timestamp(assessment.time_verified),
        "image": {
            "name": assessment.name,
            "digest": str(assessment.digest),
            "mediaType": assessment.media_type,
            "platforms": [
                {"platform": s.platform, "digest": str(s.digest)}
                for s in assessment.subjects
                if s.role == "platform"
            ],
        },
        "result": assessment.result.value,
        "reasons": list(assessment.reasons),
        "policy": _policy_json(assessment.policy),
        "verification": dict(assessment.verification) if assessment.verification is not None else None,
        "audit": dict(assessment.audit) if assessment.audit is not None else None,
    }


def vsa_predicate(assessment: Assessment) -> dict[str, Any]:
    """A SLSA Verification Summary Attestation v1 predicate; PASSED only when our result is PASSED."""
    passed = assessment.result is Result.PASSED
    predicate: dict[str, Any] = {
        "verifier": {"id": VERIFIER_ID, "version": {"imagetrust": assessment.tool_version}},
        "timeVerified": _timestamp(assessment.time_verified),
        "resourceUri": assessment.resource_uri,
        "policy": {"uri": assessment.policy.uri, "digest": _digest_set(assessment.policy.digest)},
        "inputAttestations": [
            {"uri": item.uri, "digest": _digest_set(item.digest)} for item in assessment.inputs
        ],
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [LEVEL_NONE if passed else LEVEL_FAILED],
        "slsaVersion": "1.0",
    }
    return predicate


def statement(assessment: Assessment, predicate_type: str, predicate: Mapping[str, Any]) -> bytes:
    """An in-toto Statement v1 as canonical JSON bytes (the DSSE payload)."""
    return canonical_json(
        {
            "_type": STATEMENT_V1,
            "subject": statement_subjects(assessment),
            "predicateType": predicate_type,
            "predicate": dict(predicate),
        }
    )


def audit_statement(assessment: Assessment) -> bytes:
    return statement(assessment, AUDIT_PREDICATE_TYPE, audit_predicate(assessment))


def vsa_statement(assessment: Assessment) -> bytes:
    return statement(assessment, VSA_PREDICATE_TYPE, vsa_predicate(assessment))
