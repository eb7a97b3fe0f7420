"""Root filesystems from REAL packages: .debs with a real dpkg database, real wheels, real npm tarballs.

The packages come from tools/packages (scripts/fetch-tools.sh).  The dpkg status file is assembled from
each .deb's own control file, so catalogers are tested against what dpkg itself would record.
"""

from __future__ import annotations

import email.parser
import io
import json
import os
import subprocess
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from tests.conftest import REPO

PACKAGES = REPO / "tools" / "packages"
DEB_DIR = PACKAGES / "deb"
WHEEL_DIR = PACKAGES / "wheels"
NPM_DIR = PACKAGES / "npm"
SITE_PACKAGES = "usr/local/lib/python3.11/site-packages"


def _missing(what: str) -> None:
    message = f"{what} not found under {PACKAGES}: run `bash scripts/fetch-tools.sh`"
    if os.environ.get("IMAGETRUST_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def package_file(directory: Path, prefix: str, suffix: str) -> Path:
    """The one file in ``directory`` named ``<prefix>...<suffix>`` (case-insensitive prefix)."""
    if directory.is_dir():
        found = sorted(
            p
            for p in directory.iterdir()
            if p.name.lower().startswith(prefix.lower()) and p.name.endswith(suffix)
        )
        if found:
            return found[-1]
    _missing(f"{prefix}*{suffix}")
    raise AssertionError("unreachable")


def deb(name: str) -> Path:
    """The fetched .deb for package ``name`` (e.g. ``hello``)."""
    return package_file(DEB_DIR, f"{name}_", ".deb")


def wheel(name: str) -> Path:
    return package_file(WHEEL_DIR, f"{name}-", ".whl")


def npm_tarball(name: str) -> Path:
    return package_file(NPM_DIR, f"{name}-", ".tgz")


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    architecture: str
    control: str  # the control paragraph exactly as dpkg-deb -f prints it
    files: tuple[str, ...]  # absolute paths, as in /var/lib/dpkg/info/<pkg>.list
    source: Path


def deb_control(path: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(path)], check=True, capture_output=True, text=True).stdout


def deb_files(path: Path) -> tuple[str, ...]:
    """Paths in the .deb's data archive in dpkg's ``.list`` form (``/.``, ``/usr``, ``/usr/bin/hello``)."""
    listing = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(path)], check=True, capture_output=True
    ).stdout

    out: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(listing)) as tar:
        for info in tar:
            name = info.name.removeprefix("./").rstrip("/")
            out.append("/." if not name or name == "." else "/" + name)
    return tuple(out)


def read_deb(path: Path) -> DebPackage:
    control = deb_control(path)
    fields = email.parser.Parser().parsestr(control)
    return DebPackage(
        name=fields["Package"],
        version=fields["Version"],
        architecture=fields["Architecture"],
        control=control,
        files=deb_files(path),
        source=path,
    )


def status_paragraph(pkg: DebPackage) -> str:
    """The control paragraph with ``Status: install ok installed`` after Package, as dpkg writes it."""
    lines = pkg.control.rstrip("\n").split("\n")
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.startswith("Package:"):
            out.append("Status: install ok installed")
    return "\n".join(out) + "\n"


def build_deb_rootfs(root: Path, debs: Sequence[Path]) -> list[DebPackage]:
    """Unpack each .deb into ``root`` (``dpkg -x``) and write a real dpkg database for them."""
    root.mkdir(parents=True, exist_ok=True)
    packages = [read_deb(d) for d in debs]
    for pkg in packages:
        subprocess.run(["dpkg", "-x", str(pkg.source), str(root)], check=True)
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text("\n".join(status_paragraph(p) for p in packages))
    for pkg in packages:
        multi_arch = email.parser.Parser().parsestr(pkg.control).get("Multi-Arch")
        list_name = f"{pkg.name}:{pkg.architecture}" if multi_arch == "same" else pkg.name
        (info / f"{list_name}.list").write_text("\n".join(pkg.files) + "\n")
    return packages


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"unsafe archive member {name!r}")
    return path


def install_wheel(root: Path, wheel_path: Path, site_packages: str = SITE_PACKAGES) -> Path:
    """Unpack a real wheel into site-packages (with its .dist-info), as pip would lay it out."""
    target = root / site_packages
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel_path) as zf:
        for item in zf.infolist():
            rel = _safe_member(item.filename)
            if item.is_dir():
                continue
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zf.read(item))
    return target


def install_npm(root: Path, tarball: Path, node_modules: str = "app/node_modules") -> Path:
    """Unpack an ``npm pack`` tarball (``package/...``) into ``node_modules/<name>/``."""
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.isreg()]
        manifest = next(m for m in members if m.name in ("package/package.json", "./package/package.json"))
        meta = json.load(tar.extractfile(manifest))  # type: ignore[arg-type]
        target = root / node_modules / meta["name"]
        for m in members:
            rel = _safe_member(m.name)
            parts = rel.parts[1:] if rel.parts and rel.parts[0] == "package" else rel.parts
            dest = target.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(tar.extractfile(m).read())  # type: ignore[union-attr]
    return target
