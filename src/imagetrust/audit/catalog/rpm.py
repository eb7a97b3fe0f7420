"""RPM packages from an rpmdb in any of its three backends (SQLite, Berkeley DB, NDB)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.catalog.rpmdb import MalformedRpmDb, bdb_blobs, ndb_blobs, sqlite_blobs
from imagetrust.audit.catalog.rpmheader import MalformedHeader, RpmHeader, parse_header
from imagetrust.audit.unpack import FileIndex, ResolveError, Unknown

_DIRS = ("var/lib/rpm/", "usr/lib/sysimage/rpm/", "usr/share/rpm/")
_BACKENDS: dict[str, Callable[[bytes], Iterator[bytes]]] = {
    "rpmdb.sqlite": sqlite_blobs,
    "Packages": bdb_blobs,
    "Packages.db": ndb_blobs,
}
DATABASE_PATHS = tuple(d + f for d in _DIRS for f in _BACKENDS)


class RpmCataloger:
    name = "rpm"

    def wanted(self, path: str) -> bool:
        return path in DATABASE_PATHS

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        result = CatalogResult()
        seen: set[str] = set()
        for location in DATABASE_PATHS:
            if files.get(location) is None:
                continue
            try:
                real = files.resolve(location)
            except ResolveError as e:
                result += CatalogResult(unknowns=(Unknown(location, f"rpm database: {e}"),))
                continue
            if real in seen:
                continue  # var/lib/rpm is often a symlink to usr/lib/sysimage/rpm
            seen.add(real)
            result += catalog_database(files.content(location), location, distro)
        return result


def catalog_database(data: bytes | None, location: str, distro: OSRelease | None) -> CatalogResult:
    """Packages of one rpmdb file; a database that cannot be fully read yields an Unknown, never silence."""
    if data is None:
        return CatalogResult(
            unknowns=(Unknown(location, "rpm database present but its content was not read"),)
        )
    read_blobs = _BACKENDS[location.rsplit("/", 1)[-1]]
    packages: list[Package] = []
    unknowns: list[Unknown] = []
    try:
        for blob in read_blobs(data):
            try:
                header = parse_header(blob)
            except MalformedHeader as e:
                unknowns.append(Unknown(location, f"rpm header skipped: {e}"))
                continue
            packages.append(_package(header, location, distro))
    except MalformedRpmDb as e:
        unknowns.append(Unknown(location, f"rpm database not fully read: {e}"))
    return CatalogResult(tuple(packages), tuple(unknowns))


def split_source_rpm(source_rpm: str) -> tuple[str, str] | None:
    """``bash-5.1.8-1.cm2.src.rpm`` -> ``("bash", "5.1.8-1.cm2")``."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if source_rpm.endswith(suffix):
            parts = source_rpm[: -len(suffix)].rsplit("-", 2)
            if len(parts) == 3 and all(parts):
                return parts[0], f"{parts[1]}-{parts[2]}"
    return None


def _package(header: RpmHeader, location: str, distro: OSRelease | None) -> Package:
    version_release = f"{header.version}-{header.release}"
    full = f"{header.epoch}:{version_release}" if header.epoch is not None else version_release
    source = split_source_rpm(header.source_rpm) if header.source_rpm else None
    purl = make_purl(
        "rpm",
        distro.id if distro else None,
        header.name,
        version_release,
        {
            "arch": header.arch,
            "epoch": str(header.epoch) if header.epoch is not None else None,
            "upstream": header.source_rpm,
            "distro": distro.distro_qualifier if distro else None,
        },
    )
    return Package(
        name=header.name,
        version=full,
        type="rpm",
        purl=purl,
        arch=header.arch,
        source_name=source[0] if source else None,
        source_version=source[1] if source else None,
        licenses=(header.license,) if header.license else (),
        maintainer=header.vendor,
        locations=(location,),
        files=tuple(sorted(set(header.files))),
    )
