"""Package catalogers: one module per package source, each a small ``Cataloger``."""

from __future__ import annotations

from collections.abc import Sequence

from imagetrust.audit.catalog import osrelease
from imagetrust.audit.catalog.apk import ApkCataloger
from imagetrust.audit.catalog.dpkg import DpkgCataloger
from imagetrust.audit.catalog.model import Cataloger, CatalogResult, OSRelease, Package, PackageType
from imagetrust.audit.catalog.osrelease import detect_os, parse_os_release
from imagetrust.audit.catalog.rpm import RpmCataloger
from imagetrust.audit.unpack import ContentPolicy, FileIndex


def default_catalogers() -> list[Cataloger]:
    return [DpkgCataloger(), ApkCataloger(), RpmCataloger()]


def content_policy(catalogers: Sequence[Cataloger], policy: ContentPolicy | None = None) -> ContentPolicy:
    """A policy keeping what the catalogers and OS detection read (add to a scanner's policy if given)."""
    policy = policy or ContentPolicy()
    policy.want_paths(osrelease.WANTED_PATHS)
    for cataloger in catalogers:
        policy.want(cataloger.wanted)
    return policy


def catalog_image(
    files: FileIndex, catalogers: Sequence[Cataloger]
) -> tuple[OSRelease | None, CatalogResult]:
    """Detect the distribution, then run every cataloger over the same index."""
    distro = detect_os(files)
    result = CatalogResult()
    for cataloger in catalogers:
        result += cataloger.catalog(files, distro)
    return distro, result


__all__ = [
    "ApkCataloger",
    "CatalogResult",
    "Cataloger",
    "DpkgCataloger",
    "OSRelease",
    "Package",
    "PackageType",
    "RpmCataloger",
    "catalog_image",
    "content_policy",
    "default_catalogers",
    "detect_os",
    "parse_os_release",
]
