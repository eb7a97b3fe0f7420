"""The rpm header structure stored per package in every rpmdb backend (rpm's lib/header.c format).

Layout: big-endian ``il`` (index entries) and ``dl`` (data bytes), then ``il`` 16-byte entries
``(tag, type, offset, count)``, then the data store.  Only the tags the catalog needs are decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_VENDOR = 1011
TAG_LICENSE = 1014
TAG_ARCH = 1022
TAG_OLDFILENAMES = 1027
TAG_SOURCERPM = 1044
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118

_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_WANTED = {
    TAG_NAME,
    TAG_VERSION,
    TAG_RELEASE,
    TAG_EPOCH,
    TAG_VENDOR,
    TAG_LICENSE,
    TAG_ARCH,
    TAG_OLDFILENAMES,
    TAG_SOURCERPM,
    TAG_DIRINDEXES,
    TAG_BASENAMES,
    TAG_DIRNAMES,
}


class MalformedHeader(ValueError):
    """A header blob whose index or data store does not fit its own declared sizes."""


@dataclass(frozen=True)
class RpmHeader:
    name: str
    version: str
    release: str
    epoch: int | None
    arch: str | None
    source_rpm: str | None
    license: str | None
    vendor: str | None
    files: tuple[str, ...]


def parse_header(blob: bytes) -> RpmHeader:
    if len(blob) < 8:
        raise MalformedHeader("header shorter than its 8-byte preamble")
    il, dl = struct.unpack_from(">II", blob, 0)
    store = 8 + 16 * il
    if il > len(blob) // 16 or store + dl > len(blob):
        raise MalformedHeader(f"header declares {il} entries and {dl} data bytes in a {len(blob)}-byte blob")
    end = store + dl
    values: dict[int, str | list[str] | list[int]] = {}
    for i in range(il):
        tag, typ, offset, count = struct.unpack_from(">IIII", blob, 8 + 16 * i)
        if tag not in _WANTED:
            continue
        if offset >= dl and not (offset == dl and count == 0):
            raise MalformedHeader(f"tag {tag} points outside the data store")
        if typ in (_STRING, _I18NSTRING):
            values[tag] = _strings(blob, store + offset, end, 1)[0]
        elif typ == _STRING_ARRAY:
            if count > dl:
                raise MalformedHeader(f"tag {tag} declares more strings than the data store holds")
            values[tag] = _strings(blob, store + offset, end, count)
        elif typ == _INT32:
            if offset + 4 * count > dl:
                raise MalformedHeader(f"tag {tag} runs past the data store")
            values[tag] = list(struct.unpack_from(f">{count}i", blob, store + offset))
    name = _one(values, TAG_NAME)
    version = _one(values, TAG_VERSION)
    release = _one(values, TAG_RELEASE)
    if not name or version is None or release is None:
        raise MalformedHeader("header lacks NAME, VERSION or RELEASE")
    epoch_values = values.get(TAG_EPOCH)
    epoch = epoch_values[0] if isinstance(epoch_values, list) and epoch_values else None
    return RpmHeader(
        name=name,
        version=version,
        release=release,
        epoch=int(epoch) if epoch is not None else None,
        arch=_one(values, TAG_ARCH),
        source_rpm=_one(values, TAG_SOURCERPM),
        license=_one(values, TAG_LICENSE),
        vendor=_one(values, TAG_VENDOR),
        files=_files(values),
    )


def _strings(blob: bytes, pos: int, end: int, count: int) -> list[str]:
    out: list[str] = []
    for _ in range(count):
        nul = blob.find(b"\0", pos, end)
        if nul < 0:
            raise MalformedHeader("string runs past the data store")
        out.append(blob[pos:nul].decode("utf-8", "surrogateescape"))
        pos = nul + 1
    return out


def _one(values: dict[int, str | list[str] | list[int]], tag: int) -> str | None:
    value = values.get(tag)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def _files(values: dict[int, str | list[str] | list[int]]) -> tuple[str, ...]:
    basenames = values.get(TAG_BASENAMES)
    dirnames = values.get(TAG_DIRNAMES)
    indexes = values.get(TAG_DIRINDEXES)
    paths: list[str] = []
    if isinstance(basenames, list) and isinstance(dirnames, list) and isinstance(indexes, list):
        for base, idx in zip(basenames, indexes, strict=False):
            if isinstance(idx, int) and 0 <= idx < len(dirnames):
                paths.append(f"{dirnames[idx]}{base}".lstrip("/"))
    else:
        old = values.get(TAG_OLDFILENAMES)
        if isinstance(old, list):
            paths = [str(p).lstrip("/") for p in old]
    return tuple(paths)
