"""Go modules compiled into binaries, from the buildinfo the Go linker embeds (read by ``BinaryScan``)."""

from __future__ import annotations

from imagetrust.audit.catalog.binaries import BinaryScan
from imagetrust.audit.catalog.gobuildinfo import GoBuildInfo, GoModule
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import EntryType, FileIndex, Unknown

STDLIB = "stdlib"
_DEVEL = "(devel)"


def go_purl(module_path: str, version: str | None) -> str:
    namespace, _, name = module_path.rpartition("/")
    return make_purl("golang", namespace or None, name, version, {})


def not_attached(scan: BinaryScan, files: FileIndex, who: str) -> CatalogResult:
    """Fail closed when the unpacker never streamed files to the scan but the image has executables."""
    if scan.attached:
        return CatalogResult()
    for entry in files.live.values():
        if entry.type is EntryType.FILE and entry.mode & 0o111 and entry.size:
            reason = f"executables not scanned for {who}: the binary scan was not given to the unpacker"
            return CatalogResult(unknowns=(Unknown("", reason),))
    return CatalogResult()


class GoCataloger:
    name = "go-binary"

    def __init__(self, scan: BinaryScan) -> None:
        self.visitor = scan

    def wanted(self, path: str) -> bool:
        return False  # binaries are read by streaming, see BinaryScan

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        result = not_attached(self.visitor, files, "Go build information")
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        for path, note in self.visitor.live_notes(files):
            unknowns += [Unknown(path, p, note.layer) for p in note.problems if p.startswith("Go ")]
            if note.go is None:
                continue
            packages += binary_packages(note.go, path)
        return result + CatalogResult(tuple(packages), tuple(unknowns))


def binary_packages(info: GoBuildInfo, path: str) -> list[Package]:
    """The main module, every dependency as built (replacements applied), and the toolchain as stdlib."""
    out: list[Package] = []
    if info.main is not None and info.main.path:
        out.append(_module_package(info.main, path))
    for dep in info.deps:
        out.append(_module_package(dep, path))
    toolchain = info.go_version.removeprefix("go").split()[0] if info.go_version else ""
    if toolchain:
        out.append(Package(STDLIB, toolchain, "golang", go_purl(STDLIB, toolchain), locations=(path,)))
    return out


def _module_package(module: GoModule, path: str) -> Package:
    used = module
    if module.replace is not None:
        # a versioned replacement is what was compiled in; a directory replacement keeps the original name
        used = module.replace if module.replace.version else GoModule(module.path, _DEVEL)
    version = used.version or _DEVEL
    return Package(
        name=used.path,
        version=version,
        type="golang",
        purl=go_purl(used.path, None if version == _DEVEL else version),
        locations=(path,),
    )
