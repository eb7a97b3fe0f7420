"""Which scanners exist, which run by default, and how each is built from the command's options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imagetrust.audit.scanner import Scanner
from imagetrust.errors import UsageError


@dataclass(frozen=True)
class ScannerOptions:
    db_path: Path | None = None
    malware_rules: tuple[Path, ...] = ()


_BUILDERS: dict[str, Callable[[ScannerOptions], Scanner]] = {}

SCANNER_NAMES: tuple[str, ...] = ("vuln", "secret", "config", "malware", "license")


def default_scanners() -> tuple[str, ...]:
    """All scanners that need no rules from the user (malware needs --malware-rules)."""
    return tuple(name for name in ("vuln", "secret", "config") if name in _BUILDERS)


def build_scanners(names: Sequence[str], options: ScannerOptions) -> list[Scanner]:
    scanners = []
    for name in names:
        builder = _BUILDERS.get(name)
        if builder is None:
            raise UsageError(f"--scanners: the {name} scanner is not available in this version")
        scanners.append(builder(options))
    return scanners
