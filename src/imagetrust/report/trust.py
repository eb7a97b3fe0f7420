"""The trust report: one digest, every verification result with its evidence, every finding with its
layer and base/application origin, what was not checked, each policy check and the decision.

``trust_document`` is the JSON contract (docs/trust-report.schema.json); the SARIF, Markdown and HTML
renderers read that document, so every format says the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from imagetrust.audit.findings import Finding
from imagetrust.audit.result import AuditResult, PlatformAudit
from imagetrust.oci.digest import Digest
from imagetrust.policy.evaluate import Decision, Outcome
from imagetrust.policy.model import Policy, Verification, VerifiedSigner
from imagetrust.report.verify import ItemResult, VerifyResult

SCHEMA = "https://imagetrust.dev/schemas/trust-report/v1"


@dataclass(frozen=True)
class TrustReport:
    """Everything one ``check`` established; every renderer starts from this."""

    source: str  # the reference pinned to the digest that was checked
    image_name: str  # registry/repository (what policy rules match)
    digest: Digest
    policy: Policy
    verify_results: tuple[VerifyResult, ...]
    verification: Verification
    audit: AuditResult | None
    audit_error: str | None
    decision: Decision
    scanners_unavailable: tuple[str, ...] = ()


def _signer_json(signer: VerifiedSigner) -> dict[str, Any]:
    return {
        "id": signer.distinct_id,
        "keyId": str(signer.key_id) if signer.key_id is not None else None,
        "identity": signer.identity.san if signer.identity is not None else None,
        "issuer": signer.identity.issuer if signer.identity is not None else None,
        "evidence": signer.evidence,
    }


def _item_json(item: ItemResult, subject: Digest) -> dict[str, Any]:
    signer = item.signer
    return {
        "subject": str(subject),
        "kind": item.kind,
        "format": item.format,
        "verified": item.verified,
        "reason": item.reason,
        "predicateType": item.predicate_type,
        "signer": None
        if signer is None
        else {"keyId": signer.key_id, "identity": signer.identity, "issuer": signer.issuer},
        "foundIn": item.found_in.describe(),
        "tlog": item.tlog,
        "logIndex": item.log_index,
    }


def _origin(layer: Digest | None, platform: PlatformAudit) -> str:
    if layer is None or platform.base_source is None:
        return "unknown"
    return "base" if layer in platform.base_layers else "application"


def _finding_json(finding: Finding, platform: PlatformAudit) -> dict[str, Any]:
    extra = {k: v for k, v in finding.details if isinstance(v, str | int | float | bool | list | type(None))}
    return {
        "kind": finding.kind.value,
        "id": finding.id,
        "severity": finding.severity.value,
        "title": finding.title,
        "path": finding.path,
        "layer": str(finding.layer) if finding.layer is not None else None,
        "origin": _origin(finding.layer, platform),
        "package": finding.package_purl,
        "details": extra,
    }


def _platform_json(platform: PlatformAudit) -> dict[str, Any]:
    image = platform.image
    return {
        "digest": str(image.digest),
        "platform": str(image.platform) if image.platform is not None else None,
        "distro": platform.distro.pretty_name or platform.distro.distro_qualifier
        if platform.distro
        else None,
        "packages": len(platform.packages),
        "base": platform.base_source,
        "baseLayers": sorted(str(d) for d in platform.base_layers),
        "findings": [
            _finding_json(f, platform)
            for f in sorted(platform.findings, key=lambda f: (-f.severity.rank, f.kind.value, f.id))
        ],
        "unknowns": [
            {"path": u.path, "reason": u.reason, "layer": str(u.layer) if u.layer else None}
            for u in platform.unknowns
        ],
        "notChecked": list(platform.not_checked),
    }


def _not_checked(report: TrustReport) -> list[str]:
    notes = [f"verification: {c}" for c in report.verification.could_not_check]
    notes += [
        f"attestation {t}: verified, but its content was not available to policy"
        for t, _ in report.verification.unread_types
    ]
    if report.audit_error is not None:
        notes.append(f"audit: {report.audit_error}")
    notes += [f"scanner {name}: not available in this build" for name in report.scanners_unavailable]
    if report.audit is not None:
        notes += [note for p in report.audit.platforms for note in p.not_checked]
    return notes


def trust_document(report: TrustReport) -> dict[str, Any]:
    decision = report.decision
    verification = report.verification
    items = [
        _item_json(item, subject.digest)
        for result in report.verify_results
        for subject in result.subjects
        for item in (*subject.signatures, *subject.attestations)
    ]
    return {
        "schema": SCHEMA,
        "source": report.source,
        "image": report.image_name,
        "digest": str(report.digest),
        "generatedAt": decision.evaluated_at.isoformat(),
        "policy": {
            "name": report.policy.name,
            "source": report.policy.source,
            "mode": report.policy.mode.value,
        },
        "decision": {
            "outcome": decision.outcome.value,
            "blocking": decision.blocking,
            "reasons": list(decision.reasons),
            "expiredWaivers": list(decision.expired_waivers),
            "suppressed": [
                {"rule": s.rule, "finding": s.finding_id, "package": s.package, "by": s.by}
                for s in decision.suppressed
            ],
        },
        "rules": [
            {
                "id": r.id,
                "rule": r.rule,
                "check": r.check,
                "outcome": r.outcome.value,
                "reasons": list(r.reasons),
                "findings": [f.id for f in r.findings],
            }
            for r in decision.results
        ],
        "verification": {
            "signers": [_signer_json(s) for s in verification.signers],
            "attestations": [
                {
                    "predicateType": a.statement.predicate_type,
                    "signer": a.signer.distinct_id,
                    "evidence": a.signer.evidence,
                }
                for a in verification.attestations
            ],
            "items": items,
            "couldNotCheck": list(verification.could_not_check),
        },
        "audit": {
            "completed": report.audit is not None,
            "error": report.audit_error,
            "scanners": list(report.audit.scanners) if report.audit is not None else [],
            "platforms": [_platform_json(p) for p in report.audit.platforms] if report.audit else [],
        },
        "notChecked": _not_checked(report),
    }


_MARK = {
    Outcome.PASS.value: "PASS",
    Outcome.FAIL.value: "FAIL",
    Outcome.INDETERMINATE.value: "????",
    Outcome.NOT_APPLICABLE.value: " -- ",
}


def trust_text(doc: dict[str, Any]) -> str:
    """The terminal rendering: decision first, then each check, evidence, findings and gaps."""
    decision = doc["decision"]
    policy = doc["policy"]
    lines = [
        f"{doc['source']}: {decision['outcome'].upper()}"
        + (
            " (warn mode: not blocking)" if policy["mode"] == "warn" and decision["outcome"] != "pass" else ""
        ),
        f"  policy: {policy['name']} ({policy['source']}, mode {policy['mode']})",
    ]
    lines += [f"  reason: {r}" for r in decision["reasons"]]
    lines.append("  checks:")
    for rule in doc["rules"]:
        lines.append(f"    [{_MARK[rule['outcome']]}] {rule['id']}")
        lines += [f"           {r}" for r in rule["reasons"]]
    for note in decision["expiredWaivers"]:
        lines.append(f"  expired waiver: {note}")
    for s in decision["suppressed"]:
        lines.append(f"  suppressed: {s['finding']} ({s['package'] or '-'}) by {s['by']}")
    verification = doc["verification"]
    lines.append("  evidence:")
    for signer in verification["signers"]:
        lines.append(f"    signer {signer['id']}: {signer['evidence']}")
    for att in verification["attestations"]:
        lines.append(f"    attestation {att['predicateType']} by {att['signer']}")
    for item in verification["items"]:
        if not item["verified"]:
            lines.append(
                f"    not verified: {item['kind']} {item['format']} from {item['foundIn']}: {item['reason']}"
            )
    for platform in doc["audit"]["platforms"]:
        label = platform["platform"] or "image"
        lines.append(f"  findings ({label} {platform['digest']}): {len(platform['findings'])}")
        for f in platform["findings"][:50]:
            where = f.get("package") or f.get("path") or ""
            if f["origin"] != "unknown":
                tag = f"  [{f['origin']}]"
            else:  # no base attribution: name the layer instead of printing "unknown"
                tag = f"  [layer {f['layer'].split(':')[-1][:12]}]" if f.get("layer") else ""
            lines.append(f"    {f['severity']:<10} {f['kind']:<16} {f['id']}  {where}{tag}")
        if len(platform["findings"]) > 50:
            lines.append(f"    ... {len(platform['findings']) - 50} more (see --format json)")
        if platform["unknowns"]:
            lines.append(f"    not examined: {len(platform['unknowns'])} file(s) (see --format json)")
    for note in doc["notChecked"]:
        lines.append(f"  not checked: {note}")
    return "\n".join(_CONTROL.sub(_escape, line) for line in lines) + "\n"


# Image content (paths, titles) reaches the terminal: control characters such as ESC are shown escaped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"
