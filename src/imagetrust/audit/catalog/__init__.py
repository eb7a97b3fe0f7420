"""Package catalogers: one module per package source, each a small ``Cataloger``."""

from __future__ import annotations

from collections.abc import Sequence

from imagetrust.audit.catalog import osrelease
from imagetrust.audit.catalog.apk import ApkCataloger
from imagetrust.audit.catalog.binaries import BinaryScan
from imagetrust.audit.catalog.dotnet import DotnetCataloger
from imagetrust.audit.catalog.dpkg import DpkgCataloger
from imagetrust.audit.catalog.golang import GoCataloger
from imagetrust.audit.catalog.java import JavaCataloger
from imagetrust.audit.catalog.model import (
    Cataloger,
    CatalogResult,
    OSRelease,
    Package,
    PackageType,
    Suppressed,
)
from imagetrust.audit.catalog.npm import NpmCataloger
from imagetrust.audit.catalog.osrelease import detect_os, parse_os_release
from imagetrust.audit.catalog.ownership import drop_os_owned
from imagetrust.audit.catalog.php import ComposerCataloger
from imagetrust.audit.catalog.python import PythonCataloger
from imagetrust.audit.catalog.rpm import RpmCataloger
from imagetrust.audit.catalog.ruby import GemCataloger
from imagetrust.audit.catalog.rust import RustCataloger
from imagetrust.audit.unpack import ContentPolicy, ContentVisitor, FileIndex
from imagetrust.limits import DEFAULT_LIMITS, Limits


def default_catalogers(limits: Limits = DEFAULT_LIMITS) -> list[Cataloger]:
    """Fresh catalogers for one image (the binary scan holds per-image state: make a new set per image)."""
    scan = BinaryScan(limits)
    return [
        DpkgCataloger(),
        ApkCataloger(),
        RpmCataloger(),
        PythonCataloger(),
        NpmCataloger(),
        GoCataloger(scan),
        JavaCataloger(limits),
        RustCataloger(scan),
        GemCataloger(),
        ComposerCataloger(),
        DotnetCataloger(),
    ]


def content_visitors(catalogers: Sequence[Cataloger]) -> list[ContentVisitor]:
    """The streaming visitors to pass to ``unpack_layers`` beside ``content_policy`` (each one once)."""
    out: list[ContentVisitor] = []
    for cataloger in catalogers:
        visitor = getattr(cataloger, "visitor", None)
        if visitor is not None and all(visitor is not v for v in out):
            out.append(visitor)
    return out


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
    """Detect the distribution, run every cataloger over the same index, then report each file once.

    Language packages read from a file an OS package owns move to ``CatalogResult.suppressed``.
    """
    distro = detect_os(files)
    result = CatalogResult()
    for cataloger in catalogers:
        result += cataloger.catalog(files, distro)
    return distro, drop_os_owned(result, files)


__all__ = [
    "ApkCataloger",
    "BinaryScan",
    "CatalogResult",
    "Cataloger",
    "ComposerCataloger",
    "DotnetCataloger",
    "DpkgCataloger",
    "GemCataloger",
    "GoCataloger",
    "JavaCataloger",
    "NpmCataloger",
    "OSRelease",
    "Package",
    "PackageType",
    "PythonCataloger",
    "RpmCataloger",
    "RustCataloger",
    "Suppressed",
    "catalog_image",
    "content_policy",
    "content_visitors",
    "default_catalogers",
    "detect_os",
    "parse_os_release",
]
