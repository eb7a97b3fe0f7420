"""Rust crates compiled into binaries built with cargo-auditable (``.dep-v0``, read by ``BinaryScan``)."""

from __future__ import annotations

from imagetrust.audit.catalog.binaries import BinaryScan
from imagetrust.audit.catalog.golang import not_attached
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import FileIndex, Unknown


class RustCataloger:
    name = "rust-binary"

    def __init__(self, scan: BinaryScan) -> None:
        self.visitor = scan

    def wanted(self, path: str) -> bool:
        return False  # binaries are read by streaming, see BinaryScan

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        result = not_attached(self.visitor, files, "cargo-auditable dependency data")
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        for path, note in self.visitor.live_notes(files):
            unknowns += [Unknown(path, p, note.layer) for p in note.problems if not p.startswith("Go ")]
            for dep in note.cargo or ():
                if dep.source == "local":
                    continue  # the binary's own workspace crates: no registry identity to match
                purl = make_purl("cargo", None, dep.name, dep.version, {})
                packages.append(Package(dep.name, dep.version, "cargo", purl, locations=(path,)))
        return result + CatalogResult(tuple(packages), tuple(unknowns))
