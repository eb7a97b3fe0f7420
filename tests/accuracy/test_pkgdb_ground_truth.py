"""Catalogers against real package databases and the answers of the real tools (dpkg-query, rpm -qa).

Each test reads ground truth produced by the distribution's own tool (see ../shared/data/pkgdb/MANIFEST.md)
and demands exact agreement on every package: nothing missing, nothing extra, every field equal.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from imagetrust.audit.catalog import (
    ApkCataloger,
    DpkgCataloger,
    RpmCataloger,
    catalog_image,
    content_policy,
    content_visitors,
    default_catalogers,
    detect_os,
    parse_os_release,
)
from imagetrust.audit.catalog.model import Package
from imagetrust.audit.unpack import FileIndex, LayerInput, unpack_layers
from imagetrust.oci.digest import Digest
from tests.conftest import shared_data

DPKG_DBS = ["ubuntu-20.04-amd64", "debian-bookworm-sid-riscv64", "ubuntu-20.04.1-arm"]
APK_DBS = [
    "apk/alpine-3.14.0-armv7-minirootfs/installed",
    "apk/alpine-3.10.2-x86_64-from-trivy-tarball/installed",
    "apk/syft-multiple-2.installed",
    "apk/osv-scalibr.installed",
]


def _tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines() if line.strip()]


# --- dpkg: dpkg-query -W ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DPKG_DBS)
def test_dpkg_matches_dpkg_query(name: str) -> None:
    root = shared_data(f"pkgdb/dpkg/{name}")
    files = FileIndex.from_contents(
        {
            "var/lib/dpkg/status": (root / "status").read_bytes(),
            "usr/lib/os-release": (root / "os-release").read_bytes(),
        }
    )
    distro = detect_os(files)
    result = DpkgCataloger().catalog(files, distro)

    truth = _tsv(root / "ground-truth.dpkg-query.tsv")
    installed = [row for row in truth if row[3].strip() == "ii"]
    not_installed = [row for row in truth if row[3].strip() != "ii"]
    expected = Counter((r[0], r[1], r[2], r[4], r[5]) for r in installed)
    got = Counter((p.name, p.version, p.arch, p.source_name, p.source_version) for p in result.packages)
    assert got == expected, f"missing {expected - got}, extra {got - expected}"
    # dpkg-query lists removed-but-configured packages ("rc"); they are not installed and must not appear
    assert not {r[0] for r in not_installed} & {p.name for p in result.packages}
    assert result.unknowns == ()
    assert distro is not None and distro.id in ("ubuntu", "debian")
    for p in result.packages:
        assert p.purl.startswith(f"pkg:deb/{distro.id}/") and f"arch={p.arch}" in p.purl


def test_dpkg_non_installed_status_is_the_edge_case_dpkg_query_reports() -> None:
    root = shared_data("pkgdb/dpkg/ubuntu-20.04.1-arm")
    truth = _tsv(root / "ground-truth.dpkg-query.tsv")
    others = [r for r in truth if r[3].strip() != "ii"]
    assert len(others) == 1  # the manifest promises one, and the test above is only meaningful with it
    files = FileIndex.from_contents({"var/lib/dpkg/status": (root / "status").read_bytes()})
    names = {p.name for p in DpkgCataloger().catalog(files).packages}
    assert others[0][0] not in names
    assert len(names) == len(truth) - 1


# --- apk: no apk tool in Debian, so an independent minimal reading of the same file is the oracle -----
def _apk_oracle(text: str) -> Counter[tuple[str, str, str | None, str | None]]:
    out: Counter[tuple[str, str, str | None, str | None]] = Counter()
    for block in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":" and line[0] in "PVAo" and line[0] not in fields:
                fields[line[0]] = line[2:]
        if "P" in fields:
            out[(fields["P"], fields["V"], fields.get("A"), fields.get("o", fields["P"]))] += 1
    return out


def _apk_key(p: Package) -> tuple[str, str, str | None, str | None]:
    return (p.name, p.version, p.arch, p.source_name)


@pytest.mark.parametrize("relative", APK_DBS)
def test_apk_matches_database_records(relative: str) -> None:
    path = shared_data(f"pkgdb/{relative}")
    data = path.read_bytes()
    result = ApkCataloger().catalog(FileIndex.from_contents({"lib/apk/db/installed": data}))
    assert Counter(_apk_key(p) for p in result.packages) == _apk_oracle(data.decode())
    assert len(result.packages) == sum(1 for line in data.splitlines() if line.startswith(b"P:"))
    assert result.unknowns == ()
    assert all(p.purl.startswith("pkg:apk/alpine/") for p in result.packages)


def _docker_save_layers(path: Path) -> list[bytes]:
    with tarfile.open(path) as outer:
        manifest = json.loads(outer.extractfile("manifest.json").read())  # type: ignore[union-attr]
        return [outer.extractfile(name).read() for name in manifest[0]["Layers"]]  # type: ignore[union-attr]


def test_apk_through_the_unpacker_on_a_real_alpine_image() -> None:
    tarball = shared_data("pkgdb/image-tarballs/trivy-alpine-310.docker-save.tar.gz")
    reference = shared_data("pkgdb/apk/alpine-3.10.2-x86_64-from-trivy-tarball/installed").read_bytes()
    layers = _docker_save_layers(tarball)
    catalogers = default_catalogers()
    index = unpack_layers(
        [LayerInput(io.BytesIO(raw), Digest.of(raw), "none") for raw in layers],
        content_policy(catalogers),
        content_visitors(catalogers),
    )
    assert index.unknowns == []
    assert index.content("lib/apk/db/installed") == reference

    distro, result = catalog_image(index, catalogers)
    assert distro is not None and distro.id == "alpine"
    assert distro == parse_os_release(index.content("etc/os-release") or b"", "etc/os-release")
    assert Counter(_apk_key(p) for p in result.packages) == _apk_oracle(reference.decode())
    assert {p.type for p in result.packages} == {"apk"} and result.unknowns == ()
    # every file apk says it installed is really in the layer
    owned = [f for p in result.packages for f in p.files]
    assert owned and all(index.get(f) is not None for f in owned), [f for f in owned if index.get(f) is None]
    musl = next(p for p in result.packages if p.name == "musl")
    assert musl.purl == f"pkg:apk/alpine/musl@{musl.version}?arch=x86_64&distro=alpine-{distro.version_id}"


# --- rpm: rpm -qa (and go-rpmdb's expectations for NDB, which Debian's rpm cannot read) -----------------
RPM_DBS = [
    ("cbl-mariner-2.0", "rpmdb.sqlite.gz", "var/lib/rpm/rpmdb.sqlite", "ground-truth.rpm-qa.tsv"),
    ("libuuid", "Packages", "var/lib/rpm/Packages", "ground-truth.rpm-qa.tsv"),
    ("sle15-bci", "Packages.db", "usr/lib/sysimage/rpm/Packages.db", "expected-by-go-rpmdb.tsv"),
]


def _rpm_truth(row: list[str]) -> tuple[str, str, str, str]:
    name, epoch, version, release, arch, source_rpm = row[:6]
    full = f"{version}-{release}" if epoch == "(none)" else f"{epoch}:{version}-{release}"
    return (name, full, arch, source_rpm)


def _rpm_got(p: Package) -> tuple[str, str, str, str]:
    return (p.name, p.version, p.arch or "(none)", f"{p.source_name}-{p.source_version}.src.rpm")


@pytest.mark.parametrize(("name", "db_file", "image_path", "truth_file"), RPM_DBS)
def test_rpm_matches_rpm_qa(name: str, db_file: str, image_path: str, truth_file: str) -> None:
    root = shared_data(f"pkgdb/rpm/{name}")
    raw = (root / db_file).read_bytes()
    data = gzip.decompress(raw) if db_file.endswith(".gz") else raw
    result = RpmCataloger().catalog(FileIndex.from_contents({image_path: data}))
    truth = _tsv(root / truth_file)
    assert Counter(_rpm_got(p) for p in result.packages) == Counter(_rpm_truth(r) for r in truth)
    assert result.unknowns == ()
    vendors = {r[0]: r[6] for r in truth if len(r) > 6}
    for p in result.packages:
        if p.name in vendors:
            assert p.maintainer == vendors[p.name]
        assert p.locations == (image_path,)
        assert all(f and not f.startswith("/") and "//" not in f for f in p.files)
        epoch = p.version.split(":", 1)[0] if ":" in p.version else None
        assert ("epoch=" + epoch in p.purl) if epoch else ("epoch=" not in p.purl)
    # meta-packages own no files, but nearly every real package does
    assert sum(1 for p in result.packages if p.files) >= 0.9 * len(result.packages)


def test_rpm_sqlite_through_a_layer_with_the_fedora_symlink() -> None:
    data = gzip.decompress(shared_data("pkgdb/rpm/cbl-mariner-2.0/rpmdb.sqlite.gz").read_bytes())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("var/lib/rpm")
        link.type, link.linkname = tarfile.SYMTYPE, "../../usr/lib/sysimage/rpm"
        tar.addfile(link)
        db = tarfile.TarInfo("usr/lib/sysimage/rpm/rpmdb.sqlite")
        db.size = len(data)
        tar.addfile(db, io.BytesIO(data))
    raw = gzip.compress(buf.getvalue(), compresslevel=1)
    catalogers = default_catalogers()
    index = unpack_layers([LayerInput(io.BytesIO(raw), Digest.of(raw), "gzip")], content_policy(catalogers))
    _, result = catalog_image(index, catalogers)
    truth = _tsv(shared_data("pkgdb/rpm/cbl-mariner-2.0/ground-truth.rpm-qa.tsv"))
    assert len(result.packages) == len(truth)  # counted once although two paths lead to the database
    assert Counter(_rpm_got(p) for p in result.packages) == Counter(_rpm_truth(r) for r in truth)
