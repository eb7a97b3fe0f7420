"""Which scanners exist, which run by default, and how each is built from the command's options.

Builders import their scanner lazily, so a run pays only for the scanners it uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imagetrust.audit.scanner import Scanner
from imagetrust.errors import UsageError
from imagetrust.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True)
class ScannerOptions:
    db_path: Path | None = None
    malware_rules: tuple[Path, ...] = ()
    clamd: str | None = None
    software_policy: Path | None = None
    secret_rules: Path | None = None
    cache_dir: Path | None = None
    limits: Limits = DEFAULT_LIMITS


def _vuln(options: ScannerOptions) -> Scanner:
    from imagetrust.audit.vulns.scanner import VulnScanner
    from imagetrust.pipeline.db import default_db_path

    if options.db_path is not None and not options.db_path.is_file():
        raise UsageError(f"--db {options.db_path}: no such advisory database")
    return VulnScanner(options.db_path or default_db_path())


def _secret(options: ScannerOptions) -> Scanner:
    from imagetrust.audit.secrets.audit_scanner import SecretAuditScanner

    return SecretAuditScanner(rules_file=options.secret_rules, limits=options.limits)


def _config(options: ScannerOptions) -> Scanner:
    from imagetrust.audit.config.scanner import ConfigScanner

    return ConfigScanner()


def _malware(options: ScannerOptions) -> Scanner:
    from imagetrust.audit.malware import ClamdClient
    from imagetrust.audit.malware.audit_scanner import MalwareAuditScanner

    clamd = ClamdClient(options.clamd) if options.clamd else None
    return MalwareAuditScanner(
        options.malware_rules, cache_dir=options.cache_dir, clamd=clamd, limits=options.limits
    )


def _license(options: ScannerOptions) -> Scanner:
    from imagetrust.audit.licenses.scanner import SoftwarePolicyScanner

    if options.software_policy is None:
        raise UsageError("the license scanner needs rules: --software-policy FILE (allow/deny lists)")
    return SoftwarePolicyScanner.from_file(options.software_policy)


_BUILDERS: dict[str, Callable[[ScannerOptions], Scanner]] = {
    "vuln": _vuln,
    "secret": _secret,
    "config": _config,
    "malware": _malware,
    "license": _license,
}

SCANNER_NAMES: tuple[str, ...] = ("vuln", "secret", "config", "malware", "license")


def default_scanners(options: ScannerOptions | None = None) -> tuple[str, ...]:
    """Every available scanner that needs nothing more from the user, plus those the user gave rules for."""
    options = options or ScannerOptions()
    names = [name for name in ("vuln", "secret", "config") if name in _BUILDERS]
    if "malware" in _BUILDERS and (options.malware_rules or options.clamd):
        names.append("malware")
    if "license" in _BUILDERS and options.software_policy:
        names.append("license")
    return tuple(names)


def build_scanners(names: Sequence[str], options: ScannerOptions) -> list[Scanner]:
    scanners = []
    for name in names:
        builder = _BUILDERS.get(name)
        if builder is None:
            raise UsageError(f"--scanners: the {name} scanner is not available in this version")
        scanners.append(builder(options))
    return scanners
