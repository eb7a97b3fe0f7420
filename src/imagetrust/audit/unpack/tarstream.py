"""A forward-only tar member reader over one decompressed layer, with ``tarfile`` as the fallback.

``tarfile`` spends most of an audit's parsing time building ``TarInfo`` objects and wrapping each
member's data; this reader parses each 512-byte header straight from a read buffer and hands out member
contents as slices.  It reproduces what ``tarfile`` (Python 3.11) reports for every member it handles
itself: same names (including ustar prefixes, GNU ``L``/``K`` and pax ``x``/``g`` records applied in
``tarfile``'s order), same types, sizes, modes, owners and link names, same end-of-archive offset.

Anything it does not handle with certainty (a bad checksum or number field, sparse files, Solaris
extended headers, ``GNU.sparse`` records, a ``hdrcharset`` value that is not UTF-8, odd pax numbers,
global ``size`` records, huge extended headers, a truncated header) is never guessed at: the stream, from
the first header of the member in question, is handed to ``tarfile``, which decides exactly as it did
before this reader existed; after that one member the fast path reads on from where ``tarfile`` would
read its next header.  Errors of either path are ``TarFormatError``.
"""

from __future__ import annotations

import re
import struct
import tarfile
from collections.abc import Iterator, Mapping
from typing import NamedTuple
from zlib import adler32

from imagetrust.audit.unpack.model import ByteStream
from imagetrust.errors import MalformedContent

BLOCK = 512
_FILL = 128 * 1024  # read-ahead; the decompressor keeps >= 256 KiB of tail, enough for the trailing check
_EXT_MAX = 1 << 20  # larger L/K/x/g data is left to tarfile (it reads it whole, as before)
_DISCARD = 1 << 20

_ENCODING, _ERRORS = "utf-8", "surrogateescape"
_REGULAR = frozenset(tarfile.REGULAR_TYPES)  # with GNU sparse, which only tarfile reads
_SUPPORTED = frozenset(tarfile.SUPPORTED_TYPES)
_EXTENDED = frozenset((tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE))
_HANDED_OFF = frozenset((tarfile.GNUTYPE_SPARSE, tarfile.SOLARIS_XHDTYPE))
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")  # the record grammar tarfile accepts
_HDRCHARSET = re.compile(rb"\d+ hdrcharset=([^\n]+)\n")
_NUMBER_KEYS = ("size", "uid", "gid")
_HIGH = bytes(range(0x80, 0x100))
# name, mode, uid, gid, size, mtime, chksum, type, linkname, (magic, version, uname, gname), devmajor,
# devminor, prefix: the ustar layout (GNU headers share it up to the prefix, which tarfile reads alike)
_LAYOUT = struct.Struct("100s8s8s8s12s12s8sc100s72x8s8s155s12x")
_Fields = tuple[str, bytes, int, int, int, int, str]  # name, type, mode, uid, gid, size, linkname


class TarFormatError(MalformedContent):
    """The decompressed layer is not a tar stream that can be read to its end."""


class TarMember(NamedTuple):
    """One member as ``tarfile`` would report it (a tuple: built once per member on the hot path)."""

    name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str

    @property
    def has_data(self) -> bool:
        """Whether ``size`` bytes of content follow the header (regular files and unknown types)."""
        return self.type in _REGULAR or self.type not in _SUPPORTED


class _HandOff(Exception):
    """Internal: the member starting at the current chain is left to tarfile."""


class TarStream:
    """Members of one tar stream, in order, read forward once; ``chunks()`` reads the current one.

    Iterate to get members; content not read before the next member is skipped.  After iteration
    ``end`` is the offset where the end-of-archive blocks (or whatever ended the archive) begin, as
    ``tarfile``'s ``offset`` was.  ``fast=False`` reads everything with ``tarfile`` (for comparison).
    """

    def __init__(self, source: ByteStream, *, fast: bool = True) -> None:
        self._src = source
        self._fast = fast
        self._buf = b""
        self._pos = 0  # parse position in _buf
        self._base = 0  # stream offset of _buf[0]
        self._eof = False
        self._next = 0  # stream offset of the next header
        self._left = 0  # unread content bytes of the current member (fast path)
        self._globals: dict[str, str] = {}  # pax global records in force
        self._tar: tarfile.TarFile | None = None  # set once handed off
        self._current: tarfile.TarInfo | None = None
        self.end: int | None = None
        self.handed_off_at: int | None = None  # stream offset of the first member left to tarfile
        self.tarfile_members = 0  # members tarfile read (the fast path resumes after each when it can)

    # --- iteration -----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[TarMember]:
        try:
            while self.end is None:
                if self._fast:
                    yield from self._fast_members()
                    if self.end is not None:
                        break
                # tarfile reads the member the fast path left (then gives the stream back), or everything
                yield from self._tarfile_members(one=self._fast)
        except (tarfile.TarError, EOFError, ValueError, OverflowError) as e:
            raise TarFormatError(f"not a valid tar stream ({e})") from e

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The current member's content in pieces of ``size`` bytes (the last may be shorter)."""
        try:
            if self._tar is not None:
                yield from self._tarfile_chunks(size)
            else:
                yield from self._fast_chunks(size)
        except (tarfile.TarError, EOFError, ValueError, OverflowError) as e:
            raise TarFormatError(f"not a valid tar stream ({e})") from e

    # --- buffer --------------------------------------------------------------------------------------
    def _ensure(self, pos: int, n: int) -> int:
        """Make ``n`` bytes available at ``_buf[pos]`` (fewer only at end of stream), keeping everything
        from ``_pos`` (the chain being parsed, for a hand-off); returns ``pos`` in the new buffer."""
        start = self._pos
        buf = self._buf[start:] if start else self._buf
        self._base += start
        self._pos = 0
        pos -= start
        parts = [buf]
        have = len(buf)
        need = pos + n
        while have < need and not self._eof:
            data = self._src.read(max(_FILL, need - have))
            if not data:
                self._eof = True
                break
            parts.append(data)
            have += len(data)
        self._buf = b"".join(parts) if len(parts) > 1 else buf
        return pos

    def _skip_to(self, offset: int) -> None:
        """Move the parse position to stream ``offset`` (forward), reading and dropping what lies between."""
        target = offset - self._base
        if target <= len(self._buf):
            self._pos = target
            return
        self._base += len(self._buf)
        self._buf, self._pos = b"", 0
        remaining = offset - self._base
        while remaining > 0:
            data = self._src.read(min(remaining, _DISCARD))
            if not data:
                self._eof = True
                raise TarFormatError("not a valid tar stream (unexpected end of data)")
            self._base += len(data)
            remaining -= len(data)

    # --- fast path -----------------------------------------------------------------------------------
    def _fast_members(self) -> Iterator[TarMember]:
        while True:
            self._skip_to(self._next)
            self._left = 0
            globals_before = self._globals
            try:
                member = self._parse_chain([])
            except _HandOff:
                self._globals = globals_before  # tarfile re-reads the chain, global records included
                return
            if member is None:
                self.end = self._base + self._pos
                return
            yield member

    def _parse_chain(self, patches: list[tuple[bytes, object]]) -> TarMember | None:
        """Parse the member at ``_pos`` with its extended headers; None at end of archive.

        ``_pos`` stays on the first header of the chain until the member is complete, so a hand-off can
        give tarfile the whole chain.
        """
        pos = self._pos
        while True:
            if len(self._buf) - pos < BLOCK:
                pos = self._ensure(pos, BLOCK)
                if len(self._buf) - pos < BLOCK:
                    if pos == len(self._buf) and pos == self._pos:
                        return None  # the stream ends on a member boundary: tarfile ends here too
                    raise _HandOff
            h = self._buf[pos : pos + BLOCK]
            if h[0] == 0 and h.count(0) == BLOCK:
                if pos != self._pos:
                    raise _HandOff  # a zero block after an extended header
                return None
            fields = _header(h)
            if fields is None:
                raise _HandOff
            kind, size = fields[1], fields[5]
            pos += BLOCK
            if kind in _EXTENDED:
                if size > _EXT_MAX:
                    raise _HandOff
                padded = -(-size // BLOCK) * BLOCK
                if len(self._buf) - pos < padded:
                    pos = self._ensure(pos, padded)
                    if len(self._buf) - pos < padded:
                        raise _HandOff
                data = self._buf[pos : pos + padded]
                pos += padded
                if kind == tarfile.XGLTYPE:
                    records = _pax(data)
                    if records is None or "size" in records:
                        raise _HandOff
                    self._globals = {**self._globals, **records}
                elif kind == tarfile.XHDTYPE:
                    records = _pax(data)
                    if records is None:
                        raise _HandOff
                    patches.append((kind, {**self._globals, **records}))
                else:
                    patches.append((kind, data.partition(b"\0")[0].decode(_ENCODING, _ERRORS)))
                continue
            if kind in _HANDED_OFF:
                raise _HandOff
            self._pos = pos
            return self._member(fields, patches)

    def _member(self, fields: _Fields, patches: list[tuple[bytes, object]]) -> TarMember:
        name, kind, mode, uid, gid, size, linkname = fields
        has_data = kind in _REGULAR or kind not in _SUPPORTED
        is_dir = kind == tarfile.DIRTYPE
        data_size = size if has_data else 0
        if self._globals:
            name, linkname, uid, gid, size = _apply_pax(self._globals, name, linkname, uid, gid, size)
        if is_dir:
            name = name.rstrip("/")  # again: a ustar prefix may end in '/'
        for patch_kind, value in reversed(patches):
            if patch_kind == tarfile.XHDTYPE:
                assert isinstance(value, dict)
                name, linkname, uid, gid, size = _apply_pax(value, name, linkname, uid, gid, size)
                if "size" in value:
                    data_size = size if has_data else 0
            else:
                assert isinstance(value, str)
                if patch_kind == tarfile.GNUTYPE_LONGNAME:
                    name = value
                else:
                    linkname = value
                if is_dir:
                    name = name.removesuffix("/")
        data_at = self._base + self._pos
        self._next = data_at + -(-data_size // BLOCK) * BLOCK
        self._left = data_size
        return TarMember(name, kind, mode, uid, gid, size, linkname)

    def _fast_chunks(self, size: int) -> Iterator[bytes]:
        while self._left > 0:
            want = min(size, self._left)
            avail = len(self._buf) - self._pos
            if avail >= want:
                chunk = self._buf[self._pos : self._pos + want]
                self._pos += want
            else:
                parts = [self._buf[self._pos :]] if avail else []  # (a lone part is not copied again)
                self._base += len(self._buf)
                self._buf, self._pos = b"", 0
                have = avail
                while have < want:
                    data = self._src.read(want - have)
                    if not data:
                        self._eof = True
                        raise TarFormatError("not a valid tar stream (unexpected end of data)")
                    parts.append(data)
                    have += len(data)
                    self._base += len(data)
                chunk = parts[0] if len(parts) == 1 else b"".join(parts)
            self._left -= want
            yield chunk

    # --- tarfile path --------------------------------------------------------------------------------
    def _tarfile_members(self, *, one: bool) -> Iterator[TarMember]:
        """Members read by tarfile from the current position: one (then the fast path resumes where
        tarfile would read its next header) or all the rest."""
        replay = _Replay(self._buf[self._pos :], self._src, self._base + self._pos, self._eof)
        if self.handed_off_at is None:
            self.handed_off_at = replay.tell()
        if replay.empty_at_start():
            self.end = replay.tell()
            return
        # A TarFile over a forward-only object whose offsets continue the stream's: tarfile decides about
        # the rest exactly as it would have had it read the whole stream (an invalid header past offset 0
        # ends the archive), with the pax global records already in force.
        tar = tarfile.TarFile(
            fileobj=replay,  # type: ignore[arg-type]
            mode="r",
            encoding=_ENCODING,
            errors=_ERRORS,
            format=tarfile.PAX_FORMAT,
            pax_headers=dict(self._globals),
        )
        self._tar = tar
        for info in tar:  # tarfile's own iteration: it knows when the archive already ended
            tar.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every TarInfo; none is looked up
            self._current = info
            self.tarfile_members += 1
            yield TarMember(info.name, info.type, info.mode, info.uid, info.gid, info.size, info.linkname)
            if one and _resumable(tar.pax_headers):
                self._resume(replay, int(tar.offset), dict(tar.pax_headers))
                return
        self._current = None
        self._tar = None
        self.end = int(tar.offset)

    def _resume(self, replay: _Replay, next_header: int, pax_globals: dict[str, str]) -> None:
        """Take the stream back from tarfile after one member: the fast path reads on from its next header."""
        self._buf, self._base, self._eof = replay.rest()
        self._pos = 0
        self._next = next_header  # _skip_to reports a stream ending before it, as tarfile's next() would
        self._left = 0
        self._globals = pax_globals
        self._tar = None
        self._current = None

    def _tarfile_chunks(self, size: int) -> Iterator[bytes]:
        info, tar = self._current, self._tar
        if info is None or tar is None or not (info.isreg() or info.type not in _SUPPORTED):
            return
        stream = tar.extractfile(info)
        if stream is None:
            return
        while True:
            chunk = stream.read(size)
            if not chunk:
                return
            yield chunk


def _number(field: bytes) -> int | None:
    """A numeric header field as tarfile reads it (octal text or GNU base-256); None when invalid."""
    try:
        return int(field.partition(b"\0")[0] or b"0", 8)
    except ValueError:
        pass
    first = field[0]
    if first == 0o200:
        return int.from_bytes(field[1:], "big")
    if first == 0o377:
        return int.from_bytes(field[1:], "big") - (1 << (8 * len(field) - 8))
    try:
        text = field.partition(b"\0")[0].decode("ascii").strip()
        return int(text or "0", 8)
    except ValueError:
        return None


def _header(h: bytes) -> _Fields | None:
    """Name, type, mode, uid, gid, size, linkname of a valid header block; None if tarfile would refuse it
    (or it needs care this reader leaves to tarfile: negative sizes).

    The common header (every number plain octal, unsigned checksum) takes one ``struct`` pass and no
    helper calls; anything else goes through ``_careful_header``.
    """
    name_b, mode_b, uid_b, gid_b, size_b, mtime_b, chk_b, kind, link_b, major_b, minor_b, prefix_b = (
        _LAYOUT.unpack(h)
    )
    try:
        checksum = int(chk_b.partition(b"\0")[0] or b"0", 8)
        mode = int(mode_b.partition(b"\0")[0] or b"0", 8)
        uid = int(uid_b.partition(b"\0")[0] or b"0", 8)
        gid = int(gid_b.partition(b"\0")[0] or b"0", 8)
        size = int(size_b.partition(b"\0")[0] or b"0", 8)
        int(mtime_b.partition(b"\0")[0] or b"0", 8)
        int(major_b.partition(b"\0")[0] or b"0", 8)
        int(minor_b.partition(b"\0")[0] or b"0", 8)
    except ValueError:
        return _careful_header(h)
    if checksum != _byte_sum(h) - _byte_sum(chk_b) + 256 or size < 0:
        return _careful_header(h)
    name = name_b.partition(b"\0")[0].decode(_ENCODING, _ERRORS)
    if kind == tarfile.AREGTYPE and name.endswith("/"):
        kind = tarfile.DIRTYPE  # V7: a directory is a regular file whose name ends in '/'
    if kind == tarfile.DIRTYPE:
        name = name.rstrip("/")
    if prefix_b[0] and kind not in tarfile.GNU_TYPES:
        name = prefix_b.partition(b"\0")[0].decode(_ENCODING, _ERRORS) + "/" + name
    linkname = link_b.partition(b"\0")[0].decode(_ENCODING, _ERRORS) if link_b[0] else ""
    return name, kind, mode, uid, gid, size, linkname


def _byte_sum(data: bytes) -> int:
    """Sum of the bytes of at most 512 bytes, in C: Adler-32's low half is 1 + the byte sum modulo 65521,
    exact for runs of up to 256 bytes (at most 65280), so two halves give the header checksum sum."""
    return (adler32(data[:256]) & 0xFFFF) + (adler32(data[256:]) & 0xFFFF) - 2


def _careful_header(h: bytes) -> _Fields | None:
    """``_header`` for base-256 numbers, odd spacing and signed checksums, field by field as tarfile."""
    checksum = _number(h[148:156])
    if checksum is None:
        return None
    unsigned = sum(h) - sum(h[148:156]) + 256
    if checksum != unsigned:
        rest = h[:148] + h[156:]
        high = len(rest) - len(rest.translate(None, _HIGH))
        if not high or checksum != unsigned - 256 * high:
            return None
    mode, uid, gid = _number(h[100:108]), _number(h[108:116]), _number(h[116:124])
    size = _number(h[124:136])
    if mode is None or uid is None or gid is None or size is None or size < 0:
        return None
    if _number(h[136:148]) is None or _number(h[329:337]) is None or _number(h[337:345]) is None:
        return None  # mtime and device numbers: tarfile refuses the header when they do not parse
    kind = h[156:157]
    name = h[:100].partition(b"\0")[0].decode(_ENCODING, _ERRORS)
    linkname = h[157:257].partition(b"\0")[0].decode(_ENCODING, _ERRORS)
    if kind == tarfile.AREGTYPE and name.endswith("/"):
        kind = tarfile.DIRTYPE  # V7: a directory is a regular file whose name ends in '/'
    if kind == tarfile.DIRTYPE:
        name = name.rstrip("/")
    if h[345] and kind not in tarfile.GNU_TYPES:
        name = h[345:500].partition(b"\0")[0].decode(_ENCODING, _ERRORS) + "/" + name
    return name, kind, mode, uid, gid, size, linkname


def _pax(data: bytes) -> dict[str, str] | None:
    """The records of a pax header block as tarfile parses them; None for what is left to tarfile."""
    if b"GNU.sparse" in data:
        return None
    if b"hdrcharset" in data:
        # tarfile looks the record up anywhere in the block and decodes it strictly; names decode the same
        # either way (UTF-8, else UTF-8 with surrogateescape), so only that failure is left to it.
        found = _HDRCHARSET.search(data)
        if found is not None and not _is_utf8(found.group(1)):
            return None
    records: dict[str, str] = {}
    pos = 0
    while True:
        match = _PAX_RECORD.match(data, pos)
        if match is None:
            break
        length = int(match.group(1))
        if length == 0:
            return None  # tarfile: invalid header
        value = data[match.end(2) + 1 : match.start(1) + length - 1]
        records[match.group(2).decode(_ENCODING, _ERRORS)] = value.decode(_ENCODING, _ERRORS)
        pos += length
    for key in _NUMBER_KEYS:
        text = records.get(key)
        if text is not None and not (text.isascii() and text.isdigit()):
            return None  # tarfile reads odd numbers as 0 or negative; left to it
    return records


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _resumable(pax_globals: Mapping[str, str]) -> bool:
    """Whether the fast path can apply these global records as tarfile would (else tarfile keeps going)."""
    if "size" in pax_globals or any(key.startswith("GNU.sparse") for key in pax_globals):
        return False
    return all(
        pax_globals.get(k, "0").isascii() and pax_globals.get(k, "0").isdigit() for k in ("uid", "gid")
    )


def _apply_pax(
    records: dict[str, str], name: str, linkname: str, uid: int, gid: int, size: int
) -> tuple[str, str, int, int, int]:
    value = records.get("path")
    if value is not None:
        name = value.rstrip("/")
    value = records.get("linkpath")
    if value is not None:
        linkname = value
    value = records.get("uid")
    if value is not None:
        uid = int(value)
    value = records.get("gid")
    if value is not None:
        gid = int(value)
    value = records.get("size")
    if value is not None:
        size = int(value)
    return name, linkname, uid, gid, size


class _Replay:
    """Forward-only file object: buffered bytes, then the source; offsets continue the stream's."""

    def __init__(self, head: bytes, source: ByteStream, offset: int, eof: bool) -> None:
        self._head = head
        self._at = 0  # read position in _head
        self._src = source
        self._offset = offset  # stream offset of _head[_at]
        self._eof = eof

    def empty_at_start(self) -> bool:
        self._more(1)
        return self._offset == 0 and len(self._head) == self._at

    def _more(self, n: int) -> None:
        """Have ``n`` bytes after ``_at`` (fewer only at end of stream)."""
        parts = [self._head[self._at :]]
        have = len(parts[0])
        while have < n and not self._eof:
            data = self._src.read(min(max(n - have, _FILL), _DISCARD))
            if not data:
                self._eof = True
                break
            parts.append(data)
            have += len(data)
        self._head = b"".join(parts)
        self._at = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise tarfile.StreamError("unbounded read of a tar stream")
        if len(self._head) - self._at < n:
            self._more(n)
        data = self._head[self._at : self._at + n]
        self._at += len(data)
        self._offset += len(data)
        return data

    def tell(self) -> int:
        return self._offset

    def rest(self) -> tuple[bytes, int, bool]:
        """The bytes read ahead but not consumed, their stream offset, and whether the source is drained."""
        return self._head[self._at :], self._offset, self._eof

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence != 0 or pos < self._offset:
            raise tarfile.StreamError("seeking backwards is not allowed")
        while self._offset < pos:
            if not self.read(min(pos - self._offset, _DISCARD)):
                break
        return self._offset


__all__ = ["BLOCK", "TarFormatError", "TarMember", "TarStream"]
