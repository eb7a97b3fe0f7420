"""What catalogers produce, and the one small protocol every package source implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from imagetrust.audit.unpack import FileIndex, Unknown

PackageType = Literal[
    "deb", "apk", "rpm", "pypi", "npm", "golang", "maven", "cargo", "gem", "composer", "nuget"
]
OS_PACKAGE_TYPES: frozenset[str] = frozenset({"deb", "apk", "rpm"})


@dataclass(frozen=True)
class OSRelease:
    """The distribution an image claims to be, from os-release or its fallbacks."""

    id: str
    version_id: str | None = None
    version_codename: str | None = None
    pretty_name: str | None = None
    id_like: tuple[str, ...] = ()
    source: str = ""  # the file it was read from

    @property
    def distro_qualifier(self) -> str:
        """``debian-12``, ``alpine-3.10.2``: the purl ``distro`` qualifier."""
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


@dataclass(frozen=True)
class Package:
    """One installed package as its package manager records it.

    ``version`` is the full version string as the ecosystem writes it: ``epoch:upstream-revision`` for deb,
    ``ver-rN`` for apk, ``[epoch:]version-release`` for rpm.
    """

    name: str
    version: str
    type: PackageType
    purl: str
    arch: str | None = None
    source_name: str | None = None
    source_version: str | None = None
    licenses: tuple[str, ...] = ()
    maintainer: str | None = None
    locations: tuple[str, ...] = ()  # the database file(s) it was read from
    files: tuple[str, ...] = ()  # owned paths, image-relative


@dataclass(frozen=True)
class Suppressed:
    """A language package left out because an OS package owns the file it was read from."""

    package: Package
    path: str  # the owned file (for an archive member, the archive)
    owner: str  # purl of the OS package that owns ``path``


@dataclass(frozen=True)
class CatalogResult:
    packages: tuple[Package, ...] = ()
    unknowns: tuple[Unknown, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()

    def __add__(self, other: CatalogResult) -> CatalogResult:
        return CatalogResult(
            self.packages + other.packages,
            self.unknowns + other.unknowns,
            self.suppressed + other.suppressed,
        )


class Cataloger(Protocol):
    """One package source.  ``wanted`` tells the unpacker which file contents to keep for it."""

    @property
    def name(self) -> str: ...

    def wanted(self, path: str) -> bool: ...

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult: ...
