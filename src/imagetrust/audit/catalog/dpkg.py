"""Debian packages from dpkg's status database, including distroless ``status.d`` files."""

from __future__ import annotations

import re

from imagetrust.audit.catalog.deb822 import parse_stanzas
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import FileIndex, Unknown

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"
INFO = "var/lib/dpkg/info/"
_SOURCE_RE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?\s*$")


class DpkgCataloger:
    name = "dpkg"

    def wanted(self, path: str) -> bool:
        if path == STATUS:
            return True
        if path.startswith(STATUS_D):
            rest = path[len(STATUS_D) :]
            return "/" not in rest and not rest.endswith(".md5sums")
        return path.startswith(INFO) and path.endswith(".list") and "/" not in path[len(INFO) :]

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        sources = [STATUS] if files.get(STATUS) is not None else []
        sources += [p for p in files.glob(STATUS_D + "*") if self.wanted(p)]
        for location in sources:
            data = files.content(location)
            if data is None:
                unknowns.append(Unknown(location, "dpkg database present but its content was not read"))
                continue
            distroless = location.startswith(STATUS_D)
            for stanza in parse_stanzas(data.decode("utf-8", "replace")):
                pkg = _package(stanza, location, distroless, distro, files, unknowns)
                if pkg is not None:
                    packages.append(pkg)
        return CatalogResult(tuple(packages), tuple(unknowns))


def _installed(stanza: dict[str, str], distroless: bool) -> bool:
    status = stanza.get("status")
    if status is None:
        return distroless  # distroless status.d files list only what was installed, often without Status
    words = status.split()
    # want flag (install/hold/...), error flag, state: only the state says whether files are on disk
    return len(words) == 3 and words[1] == "ok" and words[2] == "installed"


def _package(
    stanza: dict[str, str],
    location: str,
    distroless: bool,
    distro: OSRelease | None,
    files: FileIndex,
    unknowns: list[Unknown],
) -> Package | None:
    name = stanza.get("package")
    version = stanza.get("version")
    if not name or not _installed(stanza, distroless):
        return None
    if not version:
        unknowns.append(Unknown(location, f"dpkg package {name!r} has no Version"))
        return None
    arch = stanza.get("architecture") or None
    source_name, source_version = name, version
    source = stanza.get("source")
    if source:
        match = _SOURCE_RE.match(source)
        if match:
            source_name = match.group(1)
            source_version = match.group(2) or version
    upstream = None
    if (source_name, source_version) != (name, version):
        upstream = source_name if source_version == version else f"{source_name}@{source_version}"
    purl = make_purl(
        "deb",
        distro.id if distro else "debian",
        name,
        version,
        {
            "arch": arch,
            "upstream": upstream,
            "distro": distro.distro_qualifier if distro else None,
        },
    )
    return Package(
        name=name,
        version=version,
        type="deb",
        purl=purl,
        arch=arch,
        source_name=source_name,
        source_version=source_version,
        maintainer=stanza.get("maintainer") or None,
        locations=(location,),
        files=_owned_files(files, name, arch),
    )


def _owned_files(files: FileIndex, name: str, arch: str | None) -> tuple[str, ...]:
    candidates = [f"{INFO}{name}.list"]
    if arch:
        candidates.insert(0, f"{INFO}{name}:{arch}.list")
    for path in candidates:
        data = files.content(path)
        if data is not None:
            lines = data.decode("utf-8", "surrogateescape").splitlines()
            paths = {line.strip().strip("/") for line in lines}
            return tuple(sorted(p for p in paths if p and p != "."))
    return ()
