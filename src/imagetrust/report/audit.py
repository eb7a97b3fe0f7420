"""The ``audit`` document: inventory, findings, unknowns, with layer and base-image attribution.

Top-level ``packages[]`` and ``findings[]`` cover every audited platform; each entry names its platform and
image digest, so a single-platform report reads flat and a multi-platform one stays one list.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from imagetrust.audit.findings import Finding, Severity
from imagetrust.audit.result import AuditResult, PlatformAudit
from imagetrust.oci.digest import Digest

SCHEMA = "https://imagetrust.dev/schemas/audit/v1"


def _origin(layer: Digest | None, audit: PlatformAudit) -> str | None:
    if layer is None or audit.base_source is None:
        return None
    return "base" if layer in audit.base_layers else "application"


def _platform_label(audit: PlatformAudit) -> str | None:
    return str(audit.image.platform) if audit.image.platform else None


def filter_base(audit: PlatformAudit) -> PlatformAudit:
    """Drop what came from the base image (``--exclude-base``); unknown attribution keeps everything."""
    if audit.base_source is None:
        return audit
    return replace(
        audit,
        packages=tuple(p for p in audit.packages if p.layer not in audit.base_layers),
        findings=tuple(f for f in audit.findings if f.layer not in audit.base_layers),
    )


def _package_json(audit: PlatformAudit) -> list[dict[str, Any]]:
    out = []
    for located in audit.packages:
        p = located.package
        item: dict[str, Any] = {
            "purl": p.purl,
            "name": p.name,
            "version": p.version,
            "type": p.type,
            "locations": list(p.locations),
            "layer": str(located.layer) if located.layer else None,
            "platform": _platform_label(audit),
            "image": str(audit.image.digest),
        }
        if p.arch:
            item["arch"] = p.arch
        if p.source_name:
            item["source"] = {"name": p.source_name, "version": p.source_version}
        if p.licenses:
            item["licenses"] = list(p.licenses)
        origin = _origin(located.layer, audit)
        if origin:
            item["origin"] = origin
        out.append(item)
    return out


def _finding_json(finding: Finding, audit: PlatformAudit) -> dict[str, Any]:
    item = finding.to_json()
    item["platform"] = _platform_label(audit)
    item["image"] = str(audit.image.digest)
    origin = _origin(finding.layer, audit)
    if origin:
        item["origin"] = origin
    return item


def _severity_key(finding: Finding) -> tuple[int, str, str]:
    return (-finding.severity.rank, finding.kind.value, finding.id)


def audit_document(result: AuditResult) -> dict[str, Any]:
    images = []
    packages: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    unknowns: list[dict[str, Any]] = []
    for audit in result.platforms:
        images.append(
            {
                "platform": _platform_label(audit),
                "digest": str(audit.image.digest),
                "distro": (
                    {
                        "id": audit.distro.id,
                        "versionId": audit.distro.version_id,
                        "prettyName": audit.distro.pretty_name,
                    }
                    if audit.distro
                    else None
                ),
                "layers": [
                    {
                        "digest": str(layer.digest),
                        "size": layer.size,
                        "mediaType": layer.media_type,
                        "origin": _origin(layer.digest, audit),
                    }
                    for layer in audit.image.manifest.layers
                ],
                "base": audit.base_source,
                "notChecked": list(audit.not_checked),
            }
        )
        packages.extend(_package_json(audit))
        findings.extend(_finding_json(f, audit) for f in sorted(audit.findings, key=_severity_key))
        unknowns.extend(
            {
                "path": u.path,
                "reason": u.reason,
                "layer": str(u.layer) if u.layer else None,
                "platform": _platform_label(audit),
            }
            for u in audit.unknowns
        )
    return {
        "schema": SCHEMA,
        "source": result.source,
        "digest": str(result.resolved.digest),
        "scanners": list(result.scanners),
        "images": images,
        "packages": packages,
        "findings": findings,
        "unknowns": unknowns,
        "summary": summary(result),
    }


def summary(result: AuditResult) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    for audit in result.platforms:
        for finding in audit.findings:
            counts[f"{finding.kind.value}:{finding.severity.value}"] += 1
    return {
        "packages": sum(len(a.packages) for a in result.platforms),
        "findings": sum(len(a.findings) for a in result.platforms),
        "unknowns": sum(len(a.unknowns) for a in result.platforms),
        "byKindAndSeverity": dict(sorted(counts.items())),
    }


def worst_severity(result: AuditResult) -> Severity | None:
    severities = [f.severity for a in result.platforms for f in a.findings]
    return max(severities, default=None)


def audit_text(result: AuditResult) -> str:
    ran = ", ".join(result.scanners) if result.scanners else "none (inventory only: nothing was scanned)"
    lines = [f"image:    {result.source}", f"digest:   {result.resolved.digest}", f"scanners: {ran}"]
    for audit in result.platforms:
        distro = audit.distro.pretty_name or audit.distro.id if audit.distro else "unknown distribution"
        lines.append("")
        lines.append(f"{_platform_label(audit) or 'image'} {audit.image.digest.short}: {distro}")
        lines.append(f"  packages: {len(audit.packages)}")
        by_type = Counter(p.package.type for p in audit.packages)
        if by_type:
            lines.append("    " + ", ".join(f"{n} {t}" for t, n in sorted(by_type.items())))
        if audit.base_source:
            lines.append(
                f"  base: {audit.base_source} ({len(audit.base_layers)} of"
                f" {len(audit.image.manifest.layers)} layers)"
            )
        if audit.findings:
            lines.append(f"  findings: {len(audit.findings)}")
            for finding in sorted(audit.findings, key=_severity_key):
                where = finding.package_purl or finding.path or ""
                layer = f" [layer {finding.layer.short}]" if finding.layer else ""
                origin = _origin(finding.layer, audit)
                lines.append(
                    f"    {finding.severity.value.upper():10} {finding.kind.value:16} {finding.id}"
                    f"  {where}{layer}{f' ({origin})' if origin else ''}"
                )
                if finding.title:
                    lines.append(f"      {finding.title}")
        elif result.scanners:
            lines.append(f"  findings: none from {', '.join(result.scanners)}")
        for note in audit.not_checked:
            lines.append(f"  NOT CHECKED: {note}")
        if audit.unknowns:
            lines.append(f"  unknowns: {len(audit.unknowns)} (not examined; see --format json)")
    return "\n".join(lines) + "\n"
