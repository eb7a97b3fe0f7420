"""What an audit produced, per platform image: the values reports and policy read."""

from __future__ import annotations

from dataclasses import dataclass

from imagetrust.audit.attribution import LocatedPackage
from imagetrust.audit.catalog import OSRelease
from imagetrust.audit.findings import Finding
from imagetrust.audit.unpack import Unknown
from imagetrust.oci.digest import Digest
from imagetrust.registry.resolve import PlatformImage, ResolvedImage


@dataclass(frozen=True)
class PlatformAudit:
    image: PlatformImage
    distro: OSRelease | None
    packages: tuple[LocatedPackage, ...]
    findings: tuple[Finding, ...]
    unknowns: tuple[Unknown, ...]
    not_checked: tuple[str, ...]
    base_layers: frozenset[Digest]
    base_source: str | None  # where the base attribution came from, or None when unknown


@dataclass(frozen=True)
class AuditResult:
    source: str
    resolved: ResolvedImage
    platforms: tuple[PlatformAudit, ...]
    scanners: tuple[str, ...]
