"""Vulnerability matching as an audit ``Scanner``.

No advisory database is not "no vulnerabilities": the scan then reports the whole area as not checked, and
so does every ecosystem the database holds no data for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from imagetrust.audit.findings import Finding
from imagetrust.audit.scanner import ScanContext, ScanResult
from imagetrust.audit.unpack import ContentVisitor, Unknown
from imagetrust.audit.vulns.db import AdvisoryDB
from imagetrust.audit.vulns.match import match_packages


@dataclass(frozen=True)
class VulnScanner:
    db_path: Path
    name: str = "vuln"

    def wanted(self, path: str) -> bool:
        return False

    def visitors(self) -> Sequence[ContentVisitor]:
        return ()

    def scan(self, context: ScanContext) -> ScanResult:
        if not self.db_path.is_file():
            return ScanResult(
                not_checked=(
                    f"vulnerabilities: no advisory database at {self.db_path}"
                    " (run 'imagetrust db update' or 'imagetrust db import')",
                )
            )
        layers = {p.package.purl: p.layer for p in context.packages}
        with AdvisoryDB.open(self.db_path) as db:
            found, skipped = match_packages([p.package for p in context.packages], db, context.distro)
        findings: list[Finding] = [
            replace(f, layer=layers.get(f.package_purl or "")) if f.layer is None else f for f in found
        ]
        missing = sorted({s.ecosystem for s in skipped if s.not_checked})
        unknowns = tuple(Unknown(s.purl, s.reason) for s in skipped if not s.not_checked)
        not_checked = tuple(f"vulnerabilities: no advisory data for {eco}" for eco in missing)
        return ScanResult(findings=tuple(findings), unknowns=unknowns, not_checked=not_checked)
