"""Header blobs out of the three rpmdb backends: SQLite, Berkeley DB hash, and NDB.

Formats learned from rpm's lib/backend and the go-rpmdb project; the code here is our own and reads only
bytes already in memory, bounded by the size of the database itself.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator


class MalformedRpmDb(ValueError):
    """A database file that is not, or not entirely, what its name says."""


# --- SQLite (rpm >= 4.16 default) -----------------------------------------------------------------------
def sqlite_blobs(data: bytes) -> Iterator[bytes]:
    if not data.startswith(b"SQLite format 3\0"):
        raise MalformedRpmDb("not an SQLite database")
    image = bytearray(data)
    if len(image) > 19 and image[18] == 2 and image[19] == 2:
        image[18] = image[19] = 1  # WAL mode cannot be deserialised; the main file is complete without it
    con = sqlite3.connect(":memory:")
    try:
        con.deserialize(bytes(image))
        con.execute("PRAGMA query_only = ON")
        con.execute("PRAGMA trusted_schema = OFF")
        rows = con.execute("SELECT blob FROM Packages ORDER BY hnum").fetchall()
    except sqlite3.Error as e:
        raise MalformedRpmDb(f"cannot read Packages table: {e}") from e
    finally:
        con.close()
    for (blob,) in rows:
        if isinstance(blob, bytes):
            yield blob


# --- Berkeley DB hash (rpm < 4.16, RHEL/CentOS <= 8) ------------------------------------------------------
_BDB_HASH_MAGIC = 0x061561
_PAGE_HEADER = 26
_HASH_PAGE, _HASH_UNSORTED, _OVERFLOW, _HASH_META, _H_OFFPAGE = 13, 2, 7, 8, 3
_PAGE_SIZES = {512 << i for i in range(8)}


def bdb_blobs(data: bytes) -> Iterator[bytes]:
    if len(data) < 512:
        raise MalformedRpmDb("too short for a Berkeley DB file")
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", data, 12)[0] == _BDB_HASH_MAGIC:
            break
    else:
        raise MalformedRpmDb("not a Berkeley DB hash database")
    (page_size,) = struct.unpack_from(order + "I", data, 20)
    (last_page,) = struct.unpack_from(order + "I", data, 32)
    if page_size not in _PAGE_SIZES or data[25] != _HASH_META:
        raise MalformedRpmDb(f"unexpected page size {page_size} or metadata page type")
    pages = min(last_page + 1, len(data) // page_size)
    for pgno in range(pages):
        page = data[pgno * page_size : (pgno + 1) * page_size]
        if page[25] not in (_HASH_PAGE, _HASH_UNSORTED):
            continue
        (entries,) = struct.unpack_from(order + "H", page, 20)
        if _PAGE_HEADER + 2 * entries > page_size:
            raise MalformedRpmDb(f"page {pgno}: {entries} entries do not fit")
        # entries are key/value pairs; the value of each pair is at the odd index
        for i in range(1, entries, 2):
            (off,) = struct.unpack_from(order + "H", page, _PAGE_HEADER + 2 * i)
            if off + 12 > page_size or page[off] != _H_OFFPAGE:
                continue
            first, length = struct.unpack_from(order + "II", page, off + 4)
            yield _overflow_chain(data, first, length, page_size, pages, order)


def _overflow_chain(data: bytes, pgno: int, length: int, page_size: int, pages: int, order: str) -> bytes:
    out = bytearray()
    seen: set[int] = set()
    while pgno != 0:
        if pgno in seen or pgno >= pages:
            raise MalformedRpmDb(f"overflow chain loops or leaves the file at page {pgno}")
        seen.add(pgno)
        page = data[pgno * page_size : (pgno + 1) * page_size]
        if page[25] != _OVERFLOW:
            raise MalformedRpmDb(f"page {pgno} is not an overflow page")
        (next_pgno,) = struct.unpack_from(order + "I", page, 16)
        (used,) = struct.unpack_from(order + "H", page, 22)  # overflow pages keep their byte count here
        chunk = page[_PAGE_HEADER : _PAGE_HEADER + used] if next_pgno == 0 else page[_PAGE_HEADER:]
        out += chunk
        pgno = next_pgno
    if length and len(out) > length:
        del out[length:]
    return bytes(out)


# --- NDB (SUSE, rpm >= 4.16 with --with-ndb) ---------------------------------------------------------
_NDB_MAGIC = b"RpmP"
_SLOT_MAGIC = b"Slot"
_BLOB_MAGIC = b"BlbS"
_NDB_SLOTS_PER_PAGE = 4096 // 16
_NDB_MAX_SLOT_PAGES = 2048


def ndb_blobs(data: bytes) -> Iterator[bytes]:
    if len(data) < 32 or data[:4] != _NDB_MAGIC:
        raise MalformedRpmDb("not an rpm NDB database")
    version, _generation, slot_pages = struct.unpack_from("<III", data, 4)
    if version != 0 or not 0 < slot_pages <= _NDB_MAX_SLOT_PAGES or slot_pages * 4096 > len(data):
        raise MalformedRpmDb(f"unsupported NDB version {version} or slot page count {slot_pages}")
    # the first two 16-byte slots are taken by the database header
    for slot in range(2, slot_pages * _NDB_SLOTS_PER_PAGE):
        magic, pkg_index, blk_offset, _blk_count = struct.unpack_from("<4sIII", data, slot * 16)
        if magic != _SLOT_MAGIC:
            raise MalformedRpmDb(f"slot {slot} has a bad magic number")
        if pkg_index == 0:
            continue
        start = blk_offset * 16
        if start + 16 > len(data):
            raise MalformedRpmDb(f"package {pkg_index}: blob outside the file")
        bmagic, bindex, _cksum, blen = struct.unpack_from("<4sIII", data, start)
        if bmagic != _BLOB_MAGIC or bindex != pkg_index or start + 16 + blen > len(data):
            raise MalformedRpmDb(f"package {pkg_index}: bad blob header")
        yield data[start + 16 : start + 16 + blen]
