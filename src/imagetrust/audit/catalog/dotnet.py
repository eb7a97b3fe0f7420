"""NuGet packages a .NET application was built against, from its ``*.deps.json``.

Only ``libraries`` entries of type ``package`` are NuGet packages; ``project`` and ``reference`` entries
are the application itself and framework assemblies.
"""

from __future__ import annotations

from imagetrust.audit.catalog._lang import Unreadable, load_json, read, unknown
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import EntryType, FileIndex, Unknown


class DotnetCataloger:
    name = "dotnet-deps"

    def wanted(self, path: str) -> bool:
        return path.endswith(".deps.json")

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        for path in sorted(files.live):
            if not self.wanted(path) or files.live[path].type is EntryType.DIR:
                continue
            try:
                packages += _packages(read(files, path, ".deps.json"), path)
            except Unreadable as e:
                unknowns.append(unknown(path, e))
        return CatalogResult(tuple(packages), tuple(unknowns))


def _packages(data: bytes, path: str) -> list[Package]:
    doc = load_json(data, ".deps.json")
    libraries = doc.get("libraries") if isinstance(doc, dict) else None
    if not isinstance(libraries, dict):
        raise Unreadable(".deps.json has no libraries object")
    out: list[Package] = []
    for key, value in libraries.items():
        if not isinstance(value, dict) or value.get("type") != "package":
            continue
        name, sep, version = key.rpartition("/")
        if not sep or not name or not version:
            raise Unreadable(f".deps.json library key {key[:80]!r} is not name/version")
        out.append(
            Package(name, version, "nuget", make_purl("nuget", None, name, version, {}), locations=(path,))
        )
    return out
