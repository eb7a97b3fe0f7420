"""The one small contract every content scanner (vulnerabilities, secrets, config, malware, policy) meets.

A scanner may ask the unpacker for file contents (``wanted``), watch every file stream past
(``visitors``), and then report from the finished file index and inventory (``scan``).  The audit
pipeline runs all of them over one pass of the layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from imagetrust.audit.attribution import LocatedPackage
from imagetrust.audit.catalog import OSRelease
from imagetrust.audit.findings import Finding
from imagetrust.audit.unpack import ContentVisitor, FileIndex, Unknown
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import ImageConfig, Manifest


@dataclass(frozen=True)
class ScanContext:
    """Everything known about one platform image once its layers are unpacked and catalogued."""

    manifest: Manifest
    config: ImageConfig
    files: FileIndex
    distro: OSRelease | None
    packages: tuple[LocatedPackage, ...]
    base_layers: frozenset[Digest]  # layers that came from the base image (empty if unknown)


@dataclass(frozen=True)
class ScanResult:
    findings: tuple[Finding, ...] = ()
    unknowns: tuple[Unknown, ...] = ()
    not_checked: tuple[str, ...] = ()  # whole areas that could not be examined, with the reason


class Scanner(Protocol):
    @property
    def name(self) -> str: ...

    def wanted(self, path: str) -> bool:
        """Whether the unpacker should keep this file's content for ``scan``."""
        ...

    def visitors(self) -> Sequence[ContentVisitor]:
        """Streaming hooks that see every regular file (fresh ones per image)."""
        ...

    def scan(self, context: ScanContext) -> ScanResult: ...
