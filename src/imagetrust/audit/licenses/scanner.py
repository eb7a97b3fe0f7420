"""The software and license policy as an audit ``Scanner`` (needs a rule file from the user)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imagetrust.audit.catalog import Package
from imagetrust.audit.licenses import SoftwareRule, evaluate_software_policy, load_software_rules
from imagetrust.audit.scanner import ScanContext, ScanResult
from imagetrust.audit.unpack import ContentVisitor


@dataclass(frozen=True)
class SoftwarePolicyScanner:
    rules: tuple[SoftwareRule, ...]
    name: str = "license"

    @classmethod
    def from_file(cls, path: Path) -> SoftwarePolicyScanner:
        return cls(tuple(load_software_rules(path)))

    def wanted(self, path: str) -> bool:
        return False

    def visitors(self) -> Sequence[ContentVisitor]:
        return ()

    def scan(self, context: ScanContext) -> ScanResult:
        layers = {id(p.package): p.layer for p in context.packages}
        known_base = bool(context.base_layers)

        def layer_is_app(package: Package) -> bool:
            # Without base attribution every layer counts as the application's: fail closed.
            return not known_base or layers.get(id(package)) not in context.base_layers

        packages = [p.package for p in context.packages]
        findings = evaluate_software_policy(packages, self.rules, layer_is_app)
        return ScanResult(findings=tuple(findings))
