"""Language packages whose metadata file an OS package owns are the OS package, reported once.

A Debian ``python3-jinja2`` ships ``Jinja2-3.1.2.egg-info``; reporting it again as ``pkg:pypi/jinja2``
would double every vulnerability and match it against the wrong advisories (Debian patches in place).
Ownership is decided on the resolved path, so ``/lib`` on a merged-/usr image still matches ``usr/lib``.
"""

from __future__ import annotations

from imagetrust.audit.catalog.model import OS_PACKAGE_TYPES, CatalogResult, Package, Suppressed
from imagetrust.audit.unpack import FileIndex, ResolveError


def _resolved(files: FileIndex, path: str) -> str:
    try:
        return files.resolve(path)
    except ResolveError:
        return path


def drop_os_owned(result: CatalogResult, files: FileIndex) -> CatalogResult:
    owners: dict[str, str] = {}
    for pkg in result.packages:
        if pkg.type in OS_PACKAGE_TYPES:
            for path in pkg.files:
                owners.setdefault(path, pkg.purl)
                owners.setdefault(_resolved(files, path), pkg.purl)
    if not owners:
        return result
    kept: list[Package] = []
    suppressed: list[Suppressed] = list(result.suppressed)
    for pkg in result.packages:
        owned = None if pkg.type in OS_PACKAGE_TYPES else _owned_location(pkg, owners, files)
        if owned is None:
            kept.append(pkg)
        else:
            suppressed.append(Suppressed(pkg, owned[0], owned[1]))
    return CatalogResult(tuple(kept), result.unknowns, tuple(suppressed))


def _owned_location(pkg: Package, owners: dict[str, str], files: FileIndex) -> tuple[str, str] | None:
    for location in pkg.locations:
        path = location.split("!", 1)[0]  # a member of an archive is owned with its archive
        for candidate in (path, _resolved(files, path)):
            owner = owners.get(candidate)
            if owner is not None:
                return candidate, owner
    return None
