"""The ``verify`` document: for each subject digest, what was found, what verified, and why not.

The JSON shape is a contract for scripts (docs/verify.md).  Items are built by the pipeline from verified
values only when ``verified`` is true; a failed item carries the verifier's one-line reason instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from imagetrust.oci.digest import Digest

SCHEMA = "https://imagetrust.dev/schemas/verify/v1"


class Outcome(StrEnum):
    VERIFIED = "verified"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True)
class FoundIn:
    """Where an item came from: a cosign tag or a referrer manifest, in which repository."""

    repository: str
    kind: str  # "tag" | "referrer"
    manifest: Digest
    layer: int
    tag: str | None = None

    def describe(self) -> str:
        where = f"tag {self.tag}" if self.tag else f"referrer {self.manifest.short}"
        return f"{where} layer {self.layer} in {self.repository}"


@dataclass(frozen=True)
class Signer:
    """A verified signer: a key id (keyed) or a certificate identity and issuer (keyless)."""

    key_id: str | None = None
    identity: str | None = None
    issuer: str | None = None

    @property
    def distinct_id(self) -> str:
        """What a threshold counts: one key, or one identity at one issuer."""
        if self.key_id is not None:
            return f"key {self.key_id}"
        return f"identity {self.identity} ({self.issuer})"

    def describe(self) -> str:
        if self.key_id is not None:
            return f"key {self.key_id[:19]}"
        return f"{self.identity} (issuer {self.issuer})"


@dataclass(frozen=True)
class ItemResult:
    """One signature or attestation and what happened to it."""

    kind: str  # "signature" | "attestation"
    format: str  # "cosign simple-signing" | "DSSE" | "sigstore bundle v0.3" ...
    verified: bool
    reason: str
    found_in: FoundIn
    signer: Signer | None = None
    predicate_type: str | None = None  # signed value when verified; the unsigned hint otherwise
    tlog: str | None = None
    log_index: int | None = None


@dataclass(frozen=True)
class RuleResult:
    """One trust-config rule applied to a subject: which of its authorities verified a signature."""

    glob: str
    threshold: int
    verified_authorities: tuple[str, ...]
    satisfied: bool
    reason: str


@dataclass(frozen=True)
class LayoutResult:
    """An in-toto layout checked against its links: verified or not, and why."""

    path: str
    verified: bool
    reason: str
    steps: tuple[str, ...] = ()
    layout_keys: tuple[str, ...] = ()
    expires: str | None = None


@dataclass(frozen=True)
class SubjectResult:
    """The verdict on one digest (the image, an index, or one platform manifest)."""

    digest: Digest
    role: str  # "image" | "index" | "platform"
    platform: str | None
    outcome: Outcome
    reason: str
    signatures: tuple[ItemResult, ...] = ()
    attestations: tuple[ItemResult, ...] = ()
    signers: tuple[str, ...] = ()  # distinct verified signers
    looked_in: tuple[str, ...] = ()
    rules: tuple[RuleResult, ...] = ()  # trust-config rules applied (empty without --trust-config)


@dataclass(frozen=True)
class Requirements:
    threshold: int
    signatures_required: bool
    predicate_types: tuple[str, ...]
    provenance: tuple[tuple[str, str], ...]  # (check, expected) pairs for display
    tlog_checked: bool


@dataclass(frozen=True)
class VerifyResult:
    source: str
    digest: Digest
    requirements: Requirements
    subjects: tuple[SubjectResult, ...]
    trust_config: str | None = None  # the trust-roots config file applied, if any
    layout: LayoutResult | None = None  # the in-toto layout check, if asked for

    @property
    def outcome(self) -> Outcome:
        outcomes = {s.outcome for s in self.subjects}
        if self.layout is not None and not self.layout.verified:
            return Outcome.FAILED
        if Outcome.FAILED in outcomes:
            return Outcome.FAILED
        if Outcome.INDETERMINATE in outcomes or not outcomes:
            return Outcome.INDETERMINATE
        return Outcome.VERIFIED

    @property
    def reason(self) -> str:
        bad = [s for s in self.subjects if s.outcome is not Outcome.VERIFIED]
        parts = [f"{s.digest.short} ({s.role}): {s.reason}" for s in bad]
        if self.layout is not None and not self.layout.verified:
            parts.append(f"layout {self.layout.path}: {self.layout.reason}")
        if not parts:
            return f"{len(self.subjects)} subject(s) verified"
        return "; ".join(parts)


def _item(item: ItemResult, subject: SubjectResult) -> dict[str, Any]:
    found = item.found_in
    out: dict[str, Any] = {
        "subject": str(subject.digest),
        "verified": item.verified,
        "reason": item.reason,
        "format": item.format,
        "signer": None,
        "predicateType": item.predicate_type,
        "foundIn": {
            "repository": found.repository,
            "kind": found.kind,
            "tag": found.tag,
            "manifest": str(found.manifest),
            "layer": found.layer,
        },
        "tlog": item.tlog,
        "logIndex": item.log_index,
    }
    if item.signer is not None:
        out["signer"] = {
            "keyId": item.signer.key_id,
            "identity": item.signer.identity,
            "issuer": item.signer.issuer,
        }
    return out


def _layout(layout: LayoutResult | None) -> dict[str, Any] | None:
    if layout is None:
        return None
    return {
        "path": layout.path,
        "verified": layout.verified,
        "reason": layout.reason,
        "steps": list(layout.steps),
        "layoutKeys": list(layout.layout_keys),
        "expires": layout.expires,
    }


def verify_document(result: VerifyResult) -> dict[str, Any]:
    req = result.requirements
    return {
        "schema": SCHEMA,
        "source": result.source,
        "digest": str(result.digest),
        "outcome": result.outcome.value,
        "reason": result.reason,
        "requirements": {
            "threshold": req.threshold,
            "signaturesRequired": req.signatures_required,
            "predicateTypes": list(req.predicate_types),
            "provenance": dict(req.provenance),
            "tlogChecked": req.tlog_checked,
            "trustConfig": result.trust_config,
        },
        "subjects": [
            {
                "digest": str(s.digest),
                "role": s.role,
                "platform": s.platform,
                "outcome": s.outcome.value,
                "reason": s.reason,
                "signers": list(s.signers),
                "lookedIn": list(s.looked_in),
                "rules": [
                    {
                        "glob": r.glob,
                        "threshold": r.threshold,
                        "verifiedAuthorities": list(r.verified_authorities),
                        "satisfied": r.satisfied,
                        "reason": r.reason,
                    }
                    for r in s.rules
                ],
            }
            for s in result.subjects
        ],
        "layout": _layout(result.layout),
        "signatures": [_item(i, s) for s in result.subjects for i in s.signatures],
        "attestations": [_item(i, s) for s in result.subjects for i in s.attestations],
    }


def _item_line(item: ItemResult) -> str:
    mark = "ok  " if item.verified else "FAIL"
    parts = [mark]
    if item.kind == "attestation":
        parts.append(item.predicate_type or "(unknown predicate type)")
    parts.append(item.format)
    if item.signer is not None:
        parts.append(f"by {item.signer.describe()}")
    parts.append(f"from {item.found_in.describe()}")
    line = "      " + "  ".join(parts)
    if item.verified:
        if item.tlog:
            line += f"\n            tlog: {item.tlog}"
    else:
        line += f"\n            reason: {item.reason}"
    return line


def verify_text(result: VerifyResult) -> str:
    lines = [f"{result.source}: {result.outcome.value.upper()}"]
    req = result.requirements
    wanted = [f"threshold {req.threshold} distinct signer(s)" if req.signatures_required else "no signatures"]
    wanted += [f"attestation {t}" for t in req.predicate_types]
    wanted += [f"provenance {k}={v}" for k, v in req.provenance]
    lines.append(f"  required: {', '.join(wanted)}")
    for subject in result.subjects:
        label = f"{subject.role} {subject.digest}"
        if subject.platform:
            label += f" ({subject.platform})"
        lines.append(f"  {label}: {subject.outcome.value}")
        lines.append(f"    {subject.reason}")
        if subject.signers:
            lines.append(f"    signers: {', '.join(subject.signers)}")
        for rule in subject.rules:
            lines.append(f"    {'ok  ' if rule.satisfied else 'FAIL'}  {rule.reason}")
        for title, items in (("signatures", subject.signatures), ("attestations", subject.attestations)):
            if items:
                verified = sum(1 for i in items if i.verified)
                lines.append(f"    {title}: {verified} of {len(items)} verified")
                lines.extend(_item_line(i) for i in items)
    if result.layout is not None:
        layout = result.layout
        lines.append(f"  layout {layout.path}: {'verified' if layout.verified else 'FAILED'}")
        lines.append(f"    {layout.reason}")
    return "\n".join(lines) + "\n"
