"""Hostile images through ``imagetrust audit`` end to end: crafted tars and package databases.

The unpacker's own unit tests (tests/unit/test_unpack.py) show each protection on a bare layer stream;
these show the whole command stays closed on the same inputs: exit 0 with the problem listed as an
unknown (the image was read, a part of it was not examined), or exit 3 when a bound is hit, and never a
traceback or an "internal error".  Cases needing small ``Limits`` go through ``pipeline.audit.audit_image``
since the CLI does not take limits.
"""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imagetrust.errors import LimitExceeded
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.pipeline.audit import audit_image
from imagetrust.pipeline.settings import SourceSettings
from tests.security.conftest import CliRun, assert_closed_failure
from tests.support.images import (
    EPOCH,
    Blob,
    BuiltImage,
    File,
    LayerSpec,
    Raw,
    build_image,
    write_docker_archive,
    write_layout,
)

Cli = Callable[..., CliRun]

OS_RELEASE = File("etc/os-release", b'ID=debian\nVERSION_ID="12"\n')
DPKG_STATUS = (
    b"Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\n\n"
    b"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4\n\n"
)


def raw(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "", **attrs: int) -> Raw:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o644
    info.mtime = EPOCH
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    for key, value in attrs.items():
        setattr(info, key, value)
    return Raw(info, data)


def _layout(tmp_path: Path, image: BuiltImage) -> str:
    write_layout(tmp_path / "layout", {"x": image})
    return f"oci:{tmp_path / 'layout'}:x"


def _audit(cli: Cli, source: str) -> tuple[CliRun, dict[str, Any]]:
    run: CliRun = cli("audit", "--format", "json", "--no-cache", "--scanners", "", source)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    assert run.code == 0, run.stderr
    return run, json.loads(run.stdout)


def _unknowns(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(u["path"], u["reason"]) for u in document["unknowns"]]


def _packages(document: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["version"] for p in document["packages"]}


def _base_with_dpkg() -> LayerSpec:
    return LayerSpec((OS_RELEASE, File("var/lib/dpkg/status", DPKG_STATUS)))


# -- tar paths and links -----------------------------------------------------------------------------------


def test_path_traversal_never_lands_outside_or_over_the_real_file(cli: Cli, tmp_path: Path) -> None:
    """``../etc/os-release`` and ``../../var/lib/dpkg/status`` must not replace the real ones."""
    evil_status = b"Package: evil\nStatus: install ok installed\nVersion: 1\n\n"
    top = LayerSpec(
        (
            raw("../var/lib/dpkg/status", data=evil_status),
            raw("a/../../var/lib/dpkg/status", data=evil_status),
            raw("/etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n"),
        ),
        auto_parents=False,
    )
    _, document = _audit(cli, _layout(tmp_path, build_image([_base_with_dpkg(), top])))
    assert "evil" not in _packages(document)
    assert _packages(document)["hello"] == "2.10-3"
    refused = [p for p, reason in _unknowns(document) if "'..'" in reason]
    assert len(refused) == 2, _unknowns(document)


def test_symlink_escape_cannot_redirect_a_database(cli: Cli, tmp_path: Path) -> None:
    """``var/lib/dpkg`` -> ``../../../../x`` then a member written under it stays inside the root."""
    layer = LayerSpec(
        (
            OS_RELEASE,
            raw("var/", tarfile.DIRTYPE),
            raw("var/lib/", tarfile.DIRTYPE),
            raw("var/lib/dpkg", tarfile.SYMTYPE, link="../../../../../../evil"),
            raw("var/lib/dpkg/status", data=DPKG_STATUS),
        ),
        auto_parents=False,
    )
    _, document = _audit(cli, _layout(tmp_path, build_image([layer])))
    # Whatever was placed, nothing names a path outside the image root.
    assert all(not p.startswith(("/", "..")) for p, _ in _unknowns(document))
    assert all(not str(p.get("locations", "")).startswith("..") for p in document["packages"])


def test_hardlink_escape_and_symlink_loop_are_unknowns(cli: Cli, tmp_path: Path) -> None:
    layer = LayerSpec(
        (
            OS_RELEASE,
            raw("etc/shadow-copy", tarfile.LNKTYPE, link="../../etc/shadow"),
            raw("etc/forward", tarfile.LNKTYPE, link="etc/not-yet"),
            raw("loop/a", tarfile.SYMTYPE, link="b"),
            raw("loop/b", tarfile.SYMTYPE, link="a"),
            raw("loop/a/inside", data=b"x"),
        )
    )
    _, document = _audit(cli, _layout(tmp_path, build_image([layer])))
    reasons = " | ".join(r for _, r in _unknowns(document))
    assert "hardlink target '../../etc/shadow' refused" in reasons
    assert "not a file seen before it" in reasons
    assert any(p.startswith("loop/a") for p, _ in _unknowns(document)), reasons


def test_device_files_fifos_and_odd_types_are_listed_not_read(cli: Cli, tmp_path: Path) -> None:
    layer = LayerSpec(
        (
            OS_RELEASE,
            raw("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
            raw("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1),
            raw("run/fifo", tarfile.FIFOTYPE),
            raw("odd", b"Z", data=b""),
        )
    )
    _, document = _audit(cli, _layout(tmp_path, build_image([layer])))
    paths = {p for p, _ in _unknowns(document)}
    assert "odd" in paths


def test_duplicate_entries_last_one_wins_and_the_first_is_not_inventoried(cli: Cli, tmp_path: Path) -> None:
    first = b"Package: first\nStatus: install ok installed\nVersion: 1\n\n"
    layer = LayerSpec(
        (OS_RELEASE, File("var/lib/dpkg/status", first), File("var/lib/dpkg/status", DPKG_STATUS))
    )
    _, document = _audit(cli, _layout(tmp_path, build_image([layer])))
    assert "first" not in _packages(document)
    assert "hello" in _packages(document)


def test_invalid_utf8_names_do_not_break_the_document(cli: Cli, tmp_path: Path) -> None:
    name = "srv/bad\udcff\udcfe-name"  # bytes ff fe in the tar header (surrogateescape)
    layer = LayerSpec((OS_RELEASE, raw(name, data=b"x"), File("var/lib/dpkg/status", DPKG_STATUS)))
    image = build_image([layer])
    assert b"bad\xff\xfe-name" in gzip.decompress(image.layers[0].data)
    run, document = _audit(cli, _layout(tmp_path, image))
    json.loads(run.stdout)  # still one valid JSON document
    assert "hello" in _packages(document)


# -- whiteouts of the root ---------------------------------------------------------------------------------


def test_opaque_marker_at_the_root_hides_lower_layers_as_a_runtime_would(cli: Cli, tmp_path: Path) -> None:
    top = LayerSpec((raw(".wh..wh..opq"), OS_RELEASE), auto_parents=False)
    _, document = _audit(cli, _layout(tmp_path, build_image([_base_with_dpkg(), top])))
    assert "hello" not in _packages(document)  # overlayfs shows none of the lower layers either


def test_whiteout_with_an_empty_name_does_not_erase_the_image(cli: Cli, tmp_path: Path) -> None:
    """``.wh.`` names no file.  Read as "delete ''" it erased every lower layer, hiding their packages from
    the audit; it is refused and listed instead (over-reporting is the safe side)."""
    for marker in (".wh.", "usr/.wh."):
        top = LayerSpec((raw(marker),), auto_parents=False)
        work = tmp_path / marker.replace("/", "_")
        _, document = _audit(cli, _layout(work, build_image([_base_with_dpkg(), top])))
        assert _packages(document).get("hello") == "2.10-3", marker
        assert any("whiteout" in reason for _, reason in _unknowns(document)), _unknowns(document)


# -- bombs and counts (small limits) -----------------------------------------------------------------------


def _audit_lib(tmp_path: Path, image: BuiltImage, limits: Limits) -> Any:
    source = _layout(tmp_path, image)
    return audit_image(source, SourceSettings(use_cache=False, limits=limits), [])


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_decompression_bomb_stops_at_the_limit(tmp_path: Path, compression: str) -> None:
    bomb = bytes(64 * 1024 * 1024)  # 64 MiB of zeros: ~64 KiB gzip, a few KiB zstd
    layer = LayerSpec((OS_RELEASE, File("bomb", bomb)), compression=compression)
    image = build_image([layer])
    assert image.layers[0].descriptor.size < 200_000
    limits = Limits(max_decompressed_bytes=8 * 1024 * 1024)
    with pytest.raises(LimitExceeded, match="max_decompressed_bytes"):
        _audit_lib(tmp_path, image, limits)


def test_millions_of_tiny_files_stop_at_max_files(tmp_path: Path) -> None:
    entries = tuple(File(f"f/{i}") for i in range(2_000))
    image = build_image([LayerSpec((OS_RELEASE, *entries))])
    with pytest.raises(LimitExceeded, match="max_files"):
        _audit_lib(tmp_path, image, Limits(max_files=500))


def test_overlong_member_name_is_an_unknown(cli: Cli, tmp_path: Path) -> None:
    long_name = "d/" * 3000 + "x"
    layer = LayerSpec((OS_RELEASE, raw(long_name, data=b"x")), auto_parents=False)
    _, document = _audit(cli, _layout(tmp_path, build_image([layer])))
    assert any("longer than" in reason for _, reason in _unknowns(document))


# -- hostile package databases -----------------------------------------------------------------------------


def _sqlite_garbage() -> bytes:
    return b"SQLite format 3\x00" + bytes(range(256)) * 40


def _sqlite_wrong_schema(tmp_path: Path) -> bytes:
    path = tmp_path / "rpmdb.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
        db.execute("INSERT INTO Packages VALUES (1, ?)", (b"\x8e\xad\xe8\x01not a header at all",))
    db.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "path", "data"),
    [
        ("truncated dpkg status", "var/lib/dpkg/status", DPKG_STATUS[:40]),
        ("binary dpkg status", "var/lib/dpkg/status", bytes(range(256)) * 16),
        ("apk db garbage", "lib/apk/db/installed", b"P:\nV:\n\x00\xff\xfe" * 100),
        ("corrupt rpmdb sqlite", "var/lib/rpm/rpmdb.sqlite", _sqlite_garbage()),
        ("bdb Packages garbage", "var/lib/rpm/Packages", b"\x00\x06\x15\x61" + b"\xff" * 8192),
        ("ndb Packages.db garbage", "usr/lib/sysimage/rpm/Packages.db", b"RpmP" + b"\xff" * 4096),
        ("python METADATA binary", "usr/lib/python3/dist-packages/x-1.dist-info/METADATA", b"\xff\x00" * 99),
        ("npm package.json not json", "app/node_modules/x/package.json", b'{"name": "x", "version": '),
    ],
)  # fmt: skip
def test_hostile_package_databases_never_crash(
    cli: Cli, tmp_path: Path, name: str, path: str, data: bytes
) -> None:
    layer = LayerSpec((OS_RELEASE, File(path, data)))
    run = cli(
        "audit", "--format", "json", "--no-cache", "--scanners", "", _layout(tmp_path, build_image([layer]))
    )
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, (name, run.stderr)
    assert run.code in (0, 3), (name, run.code, run.stderr)
    if run.code == 3:
        assert run.stdout == ""
        return
    document = json.loads(run.stdout)
    assert "evil" not in _packages(document)


def test_rpm_sqlite_with_bad_header_blobs_is_an_unknown(cli: Cli, tmp_path: Path) -> None:
    layer = LayerSpec((OS_RELEASE, File("var/lib/rpm/rpmdb.sqlite", _sqlite_wrong_schema(tmp_path))))
    _, document = _audit(cli, _layout(tmp_path, build_image([layer])))
    assert document["unknowns"], "a database that could not be read must be listed as not examined"


def test_huge_metadata_is_not_kept_whole(tmp_path: Path) -> None:
    metadata = b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\n\n" + b"x" * (2 * 1024 * 1024)
    path = "usr/lib/python3/site-packages/big-1.0.dist-info/METADATA"
    image = build_image([LayerSpec((OS_RELEASE, File(path, metadata)))])
    result = _audit_lib(tmp_path, image, Limits(max_file_content_bytes=1024 * 1024))
    unknowns = result.platforms[0].unknowns
    assert any(u.path == path and "larger than" in u.reason for u in unknowns), unknowns


def test_a_bound_hit_in_the_cli_is_exit_3_without_a_document(cli: Cli, tmp_path: Path) -> None:
    """Too many layers for the default ``Limits.layers``: exit 3, one line, no partial report."""
    image = build_image([LayerSpec((File(f"l{i}", b""),), compression="none") for i in range(513)])
    assert_closed_failure(
        cli("audit", "--format", "json", "--no-cache", "--scanners", "", _layout(tmp_path, image)),
        3,
        "layers",
    )


# -- corrupt compressed streams (found by the tar_layer fuzz target) ---------------------------------------


def _corrupt_deflate(gz: bytes) -> bytes:
    """Keep the gzip header; make the first deflate block use the reserved block type 3."""
    return gz[:10] + b"\xff" * 16 + gz[26:]


def test_corrupt_gzip_layer_is_an_unknown_not_a_crash(cli: Cli, tmp_path: Path) -> None:
    """isal raises its own ``IsalError`` (not an ``OSError``) for a bad deflate block; it escaped the
    unpacker as an internal error before the fuzzer found it."""
    image = build_image([LayerSpec((OS_RELEASE, File("srv/x", b"y" * 4000)), compression="none")])
    tar = image.layers[0].data
    bad = _corrupt_deflate(gzip.compress(tar, mtime=0))
    layer = Blob(Descriptor(media.OCI_LAYER_GZIP, Digest.of(bad), len(bad)), bad)
    hostile = _replace_layer(image, layer)
    _, document = _audit(cli, _layout(tmp_path, hostile))
    assert any("cannot decompress" in reason for _, reason in _unknowns(document)), _unknowns(document)


def test_corrupt_gzip_layer_in_a_docker_archive_is_refused_not_a_crash(cli: Cli, tmp_path: Path) -> None:
    image = build_image([LayerSpec((OS_RELEASE, File("srv/x", b"y" * 4000)))])
    archive = write_docker_archive(tmp_path / "a.tar", image, ["app:v1"], layer_compression="gzip")
    members = []
    with tarfile.open(archive) as tar:
        for info in tar.getmembers():
            data = tar.extractfile(info).read() if info.isfile() else b""  # type: ignore[union-attr]
            if info.name.endswith("layer.tar"):
                data = _corrupt_deflate(data)
            members.append((info, data))
    with tarfile.open(archive, "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    run = cli("audit", "--format", "json", "--no-cache", "--scanners", "", f"docker-archive:{archive}:app:v1")
    assert_closed_failure(run, 2, "does not decompress")


def _replace_layer(image: BuiltImage, layer: Blob) -> BuiltImage:
    from tests.support.images import json_bytes

    manifest = json.loads(image.manifest.data)
    manifest["layers"] = [layer.descriptor.to_json()]
    raw = json_bytes(manifest)
    descriptor = Descriptor(media.OCI_MANIFEST, Digest.of(raw), len(raw), platform=image.platform)
    return BuiltImage(Blob(descriptor, raw), image.config, (layer,), image.diff_ids, image.platform)
