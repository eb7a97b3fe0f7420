"""Python distributions: ``*.dist-info/METADATA`` (+ RECORD for owned files) and ``*.egg-info``."""

from __future__ import annotations

import csv
import io
import re
from email.message import Message
from email.parser import HeaderParser

from imagetrust.audit.catalog._lang import Unreadable, join_under, parent, read, unknown
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import EntryType, FileIndex, Unknown

_NORMALISE = re.compile(r"[-_.]+")
_LICENSE_CLASSIFIER = "License :: "


def normalise_name(name: str) -> str:
    """PEP 503 normalisation, which is also what the pypi purl type requires."""
    return _NORMALISE.sub("-", name).lower()


def _metadata_kind(path: str) -> str | None:
    if path.endswith(".dist-info/METADATA"):
        return "dist-info"
    if path.endswith(".egg-info/PKG-INFO"):
        return "egg-info"
    if path.endswith(".egg-info") and "/" in path:
        return "egg-info-file"  # a single-file egg-info, as distutils installed it
    return None


class PythonCataloger:
    name = "python"

    def wanted(self, path: str) -> bool:
        return (
            _metadata_kind(path) is not None
            or path.endswith(".dist-info/RECORD")
            or path.endswith(".egg-info/installed-files.txt")
        )

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        for path in sorted(files.live):
            kind = _metadata_kind(path)
            if kind is None:
                continue
            entry = files.live[path]
            if kind == "egg-info-file" and entry.type is not EntryType.FILE:
                continue
            try:
                packages.append(_package(files, path, kind))
            except Unreadable as e:
                unknowns.append(unknown(path, e))
        return CatalogResult(tuple(packages), tuple(unknowns))


def _package(files: FileIndex, path: str, kind: str) -> Package:
    data = read(files, path, "python metadata")
    headers = HeaderParser().parsestr(data.decode("utf-8", "replace"))
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        raise Unreadable("python metadata without Name or Version")
    meta_dir = path if kind == "egg-info-file" else parent(path)
    owned = _owned(files, meta_dir, kind)
    return Package(
        name=name,
        version=version,
        type="pypi",
        purl=make_purl("pypi", None, normalise_name(name), version, {}),
        licenses=_licenses(headers.get_all("License-Expression") or [], headers),
        locations=(path,),
        files=owned,
    )


def _licenses(expressions: list[str], headers: Message) -> tuple[str, ...]:
    found: list[str] = [e.strip() for e in expressions if e.strip()]
    if not found:
        field = (headers.get("License") or "").strip()
        if field and "\n" not in field and len(field) <= 100 and field.upper() != "UNKNOWN":
            found.append(field)  # a long License field is the licence text, not a name
    if not found:
        for classifier in headers.get_all("Classifier") or []:
            if classifier.startswith(_LICENSE_CLASSIFIER):
                found.append(classifier.rsplit("::", 1)[-1].strip())
    return tuple(dict.fromkeys(found))


def _owned(files: FileIndex, meta_dir: str, kind: str) -> tuple[str, ...]:
    """Files the installer recorded: RECORD for wheels, installed-files.txt for eggs."""
    if kind == "dist-info":
        base, listing = parent(meta_dir), files.content(f"{meta_dir}/RECORD")
        rows = csv.reader(io.StringIO(listing.decode("utf-8", "replace"))) if listing else iter(())
        names = [row[0] for row in rows if row]
    elif kind == "egg-info":
        base, listing = meta_dir, files.content(f"{meta_dir}/installed-files.txt")
        names = listing.decode("utf-8", "replace").splitlines() if listing else []
    else:
        return ()
    owned = {p for p in (join_under(base, n.strip()) for n in names if n.strip()) if p}
    return tuple(sorted(owned))
