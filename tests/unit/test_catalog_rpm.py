"""rpm header parsing and the three rpmdb backends, on databases built here (valid and hostile)."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest

from imagetrust.audit.catalog import OSRelease, RpmCataloger
from imagetrust.audit.catalog.rpm import split_source_rpm
from imagetrust.audit.catalog.rpmheader import MalformedHeader, parse_header
from imagetrust.audit.unpack import FileIndex

STRING, STRING_ARRAY, INT32 = 6, 8, 4


def build_header(name: str = "curl", epoch: int | None = 1, dirindexes: list[int] | None = None) -> bytes:
    tags: list[tuple[int, int, object]] = [
        (1000, STRING, name),
        (1001, STRING, "7.76.1"),
        (1002, STRING, "26.el9"),
        (1022, STRING, "x86_64"),
        (1014, STRING, "MIT"),
        (1044, STRING, f"{name}-7.76.1-26.el9.src.rpm"),
        (1117, STRING_ARRAY, ["curl", "curl.1.gz"]),
        (1118, STRING_ARRAY, ["/usr/bin/", "/usr/share/man/man1/"]),
        (1116, INT32, dirindexes if dirindexes is not None else [0, 1]),
    ]
    if epoch is not None:
        tags.append((1003, INT32, [epoch]))
    index, store = b"", b""
    for tag, typ, value in tags:
        if typ == INT32:
            store += b"\0" * (-len(store) % 4)
            assert isinstance(value, list)
            index += struct.pack(">IIII", tag, typ, len(store), len(value))
            store += struct.pack(f">{len(value)}i", *value)
        else:
            items = value if isinstance(value, list) else [value]
            index += struct.pack(">IIII", tag, typ, len(store), len(items))
            store += b"".join(s.encode() + b"\0" for s in items)
    return struct.pack(">II", len(tags), len(store)) + index + store


def test_header_fields_and_files() -> None:
    header = parse_header(build_header())
    assert (header.name, header.version, header.release, header.epoch) == ("curl", "7.76.1", "26.el9", 1)
    assert header.files == ("usr/bin/curl", "usr/share/man/man1/curl.1.gz")
    assert split_source_rpm("util-linux-2.32.1-42.el8_8.src.rpm") == ("util-linux", "2.32.1-42.el8_8")
    assert split_source_rpm("nonsense") is None


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\0\0\0\x01",
        struct.pack(">II", 0xFFFFFFF, 16),
        build_header()[:-20],
        struct.pack(">II", 1, 3) + struct.pack(">IIII", 1000, STRING, 0, 1) + b"abc",  # unterminated string
        struct.pack(">II", 1, 4) + struct.pack(">IIII", 1116, INT32, 0, 1000) + b"\0\0\0\0",
    ],
)
def test_malformed_headers_are_refused(blob: bytes) -> None:
    with pytest.raises(MalformedHeader):
        parse_header(blob)


def test_out_of_range_dirindex_is_ignored_not_crashing() -> None:
    assert parse_header(build_header(dirindexes=[0, 99])).files == ("usr/bin/curl",)


def sqlite_db(tmp_path: Path, blobs: list[bytes], wal: bool = False) -> bytes:
    path = tmp_path / "rpmdb.sqlite"
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    con.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    con.commit()
    if wal:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path.read_bytes()


@pytest.mark.parametrize("wal", [False, True])
def test_sqlite_backend_with_epoch_purl(tmp_path: Path, wal: bool) -> None:
    data = sqlite_db(tmp_path, [build_header("curl"), build_header("bash", epoch=None)], wal)
    assert wal == (data[18] == 2)
    files = FileIndex.from_contents({"var/lib/rpm/rpmdb.sqlite": data})
    result = RpmCataloger().catalog(files, OSRelease("rhel", "9.3"))
    assert result.unknowns == ()
    pkgs = {p.name: p for p in result.packages}
    assert pkgs["curl"].version == "1:7.76.1-26.el9" and pkgs["bash"].version == "7.76.1-26.el9"
    assert pkgs["curl"].purl == (
        "pkg:rpm/rhel/curl@7.76.1-26.el9?arch=x86_64&distro=rhel-9.3&epoch=1&upstream=curl-7.76.1-26.el9.src.rpm"
    )
    assert (pkgs["curl"].source_name, pkgs["curl"].source_version) == ("curl", "7.76.1-26.el9")


def test_garbage_databases_become_unknowns() -> None:
    files = FileIndex.from_contents(
        {
            "var/lib/rpm/rpmdb.sqlite": b"SQLite format 3\0" + b"\xff" * 2000,
            "usr/lib/sysimage/rpm/Packages": b"\0" * 4096,
            "usr/share/rpm/Packages.db": b"RpmP" + b"\0" * 100,
        }
    )
    result = RpmCataloger().catalog(files)
    assert result.packages == ()
    assert sorted(u.path for u in result.unknowns) == [
        "usr/lib/sysimage/rpm/Packages",
        "usr/share/rpm/Packages.db",
        "var/lib/rpm/rpmdb.sqlite",
    ]


def test_sqlite_bad_header_skipped_with_unknown(tmp_path: Path) -> None:
    data = sqlite_db(tmp_path, [build_header("ok"), b"\0\0\0\x09junk"])
    result = RpmCataloger().catalog(FileIndex.from_contents({"var/lib/rpm/rpmdb.sqlite": data}))
    assert [p.name for p in result.packages] == ["ok"]
    assert len(result.unknowns) == 1 and "header skipped" in result.unknowns[0].reason


def ndb_db(blob: bytes, blob_magic: bytes = b"BlbS") -> bytes:
    page = bytearray(4096)
    struct.pack_into("<4sIII", page, 0, b"RpmP", 0, 1, 1)
    for slot in range(2, 256):
        struct.pack_into("<4sIII", page, slot * 16, b"Slot", 0, 0, 0)
    struct.pack_into("<4sIII", page, 2 * 16, b"Slot", 7, 4096 // 16, 1 + len(blob) // 16)
    return bytes(page) + struct.pack("<4sIII", blob_magic, 7, 0, len(blob)) + blob + b"\0" * 16


def test_ndb_backend() -> None:
    files = FileIndex.from_contents({"usr/lib/sysimage/rpm/Packages.db": ndb_db(build_header("zypper"))})
    (pkg,) = RpmCataloger().catalog(files).packages
    assert pkg.name == "zypper" and pkg.locations == ("usr/lib/sysimage/rpm/Packages.db",)
    bad = FileIndex.from_contents({"usr/lib/sysimage/rpm/Packages.db": ndb_db(build_header(), b"XXXX")})
    assert "bad blob header" in RpmCataloger().catalog(bad).unknowns[0].reason


def bdb_db(blob: bytes, loop: bool = False) -> bytes:
    size = 4096
    meta = bytearray(size)
    struct.pack_into("<III", meta, 12, 0x061561, 9, size)
    meta[25] = 8
    struct.pack_into("<I", meta, 32, 2)
    hashp = bytearray(size)
    struct.pack_into("<H", hashp, 20, 2)
    hashp[25] = 13
    struct.pack_into("<HH", hashp, 26, 200, 100)  # key at 200, value at 100
    struct.pack_into("<B3xII", hashp, 100, 3, 2, len(blob))
    over = bytearray(size)
    struct.pack_into("<III", over, 8, 2, 0, 2 if loop else 0)
    struct.pack_into("<H", over, 22, len(blob))
    over[25] = 7
    over[26 : 26 + len(blob)] = blob
    return bytes(meta + hashp + over)


def test_bdb_backend_and_overflow_loop() -> None:
    files = FileIndex.from_contents({"var/lib/rpm/Packages": bdb_db(build_header("libuuid"))})
    (pkg,) = RpmCataloger().catalog(files).packages
    assert (pkg.name, pkg.arch) == ("libuuid", "x86_64")
    looping = FileIndex.from_contents({"var/lib/rpm/Packages": bdb_db(build_header(), loop=True)})
    result = RpmCataloger().catalog(looping)
    assert result.packages == () and "loops" in result.unknowns[0].reason
