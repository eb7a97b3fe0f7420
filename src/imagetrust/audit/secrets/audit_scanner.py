"""Secret scanning as an audit ``Scanner``: file contents as they stream, then config and history."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imagetrust.audit.scanner import ScanContext, ScanResult
from imagetrust.audit.secrets.matcher import Matcher
from imagetrust.audit.secrets.scanner import SecretScanner, default_matcher, scan_config
from imagetrust.audit.secrets.userconfig import load_user_config
from imagetrust.audit.unpack import ContentVisitor
from imagetrust.limits import Limits


class SecretAuditScanner:
    name = "secret"

    def __init__(self, *, rules_file: Path | None, limits: Limits) -> None:
        self._matcher: Matcher = load_user_config(rules_file) if rules_file else default_matcher()
        self._limits = limits
        self._current: SecretScanner | None = None

    def wanted(self, path: str) -> bool:
        return False

    def visitors(self) -> Sequence[ContentVisitor]:
        self._current = SecretScanner(self._matcher, self._limits)
        return (self._current,)

    def scan(self, context: ScanContext) -> ScanResult:
        current, self._current = self._current, None
        if current is None:
            return ScanResult(not_checked=("secrets: the scanner did not see the image's files",))
        layers = [layer.digest for layer in context.manifest.layers]
        findings = [*current.findings(context.files), *scan_config(context.config, self._matcher, layers)]
        return ScanResult(findings=tuple(findings), unknowns=tuple(current.unknowns))
