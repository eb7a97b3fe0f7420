"""Alpine packages from apk's installed database (lib/apk/db/installed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import FileIndex, Unknown

INSTALLED = "lib/apk/db/installed"


@dataclass
class _Record:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    directory: str = ""


class ApkCataloger:
    name = "apk"

    def wanted(self, path: str) -> bool:
        return path == INSTALLED

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        if files.get(INSTALLED) is None:
            return CatalogResult()
        data = files.content(INSTALLED)
        if data is None:
            return CatalogResult(
                unknowns=(Unknown(INSTALLED, "apk database present but its content was not read"),)
            )
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        for record in _records(data.decode("utf-8", "replace")):
            name, version = record.fields.get("P"), record.fields.get("V")
            if not name or not version:
                unknowns.append(Unknown(INSTALLED, f"apk record without P or V: {name or '?'}"))
                continue
            packages.append(_package(record, name, version, distro))
        return CatalogResult(tuple(packages), tuple(unknowns))


def _records(text: str) -> list[_Record]:
    records: list[_Record] = []
    current = _Record()
    for line in text.splitlines():
        if not line.strip():
            if current.fields:
                records.append(current)
            current = _Record()
            continue
        key, sep, value = line.partition(":")
        if not sep or len(key) != 1:
            continue
        if key == "F":
            current.directory = value.strip("/")
        elif key == "R":
            current.files.append(f"{current.directory}/{value}" if current.directory else value)
        elif key not in current.fields:  # first value wins; later F/R-scoped keys (a, M, Z) are per-file
            current.fields[key] = value
    if current.fields:
        records.append(current)
    return records


def _package(record: _Record, name: str, version: str, distro: OSRelease | None) -> Package:
    fields = record.fields
    arch = fields.get("A") or None
    origin = fields.get("o") or None
    license_text = fields.get("L", "").strip()
    purl = make_purl(
        "apk",
        distro.id if distro else "alpine",
        name,
        version,
        {
            "arch": arch,
            "upstream": origin if origin and origin != name else None,
            "distro": distro.distro_qualifier if distro else None,
        },
    )
    return Package(
        name=name,
        version=version,
        type="apk",
        purl=purl,
        arch=arch,
        source_name=origin or name,
        source_version=version,
        licenses=(license_text,) if license_text else (),
        maintainer=fields.get("m") or None,
        locations=(INSTALLED,),
        files=tuple(sorted({f for f in record.files if f})),
    )
