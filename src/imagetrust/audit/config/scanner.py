"""The configuration checks as an audit ``Scanner``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imagetrust.audit.config import WANTED_PATHS, check_image
from imagetrust.audit.findings import Finding
from imagetrust.audit.scanner import ScanContext, ScanResult
from imagetrust.audit.unpack import ContentVisitor

_WANTED = frozenset(WANTED_PATHS)


@dataclass(frozen=True)
class ConfigScanner:
    name: str = "config"

    def wanted(self, path: str) -> bool:
        return path in _WANTED

    def visitors(self) -> Sequence[ContentVisitor]:
        return ()

    def scan(self, context: ScanContext) -> ScanResult:
        annotations = dict(context.manifest.annotations)
        findings: list[Finding] = check_image(context.config, context.files, annotations)
        return ScanResult(findings=tuple(findings))
