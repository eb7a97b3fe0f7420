"""Just enough ELF to find a named section and map virtual addresses to file offsets, over bytes in memory.

The bytes may stay in the pieces they streamed in (``Pieces``): headers and sections are read at their
offsets, and the pieces are joined only when a whole-file search needs them.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Sequence
from dataclasses import dataclass

MAGIC = b"\x7fELF"


class Pieces:
    """One file's bytes as consecutive pieces, read by offset without copying the rest of the file."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self._pieces = [p for p in pieces if p]
        self._starts: list[int] = []
        size = 0
        for piece in self._pieces:
            self._starts.append(size)
            size += len(piece)
        self._size = size
        self._whole: bytes | None = self._pieces[0] if len(self._pieces) == 1 else None

    def __len__(self) -> int:
        return self._size

    def read(self, offset: int, size: int) -> bytes:
        """``whole()[offset : offset + size]`` (offset and size are never negative here)."""
        end = min(offset + size, self._size)
        if offset >= end:
            return b""
        if self._whole is not None:
            return self._whole[offset:end]
        i = bisect.bisect_right(self._starts, offset) - 1
        parts = []
        while offset < end:
            piece, local = self._pieces[i], offset - self._starts[i]
            take = min(len(piece) - local, end - offset)
            parts.append(piece[local : local + take])
            offset += take
            i += 1
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def whole(self) -> bytes:
        if self._whole is None:
            self._whole = b"".join(self._pieces)
        return self._whole


class MalformedElf(ValueError):
    """Headers that do not fit the file they describe."""


@dataclass(frozen=True)
class Section:
    name: str
    offset: int
    size: int
    addr: int
    nobits: bool


@dataclass(frozen=True)
class Segment:
    vaddr: int
    offset: int
    filesz: int


@dataclass(frozen=True)
class ElfFile:
    source: Pieces
    little: bool
    bits64: bool
    sections: tuple[Section, ...]
    segments: tuple[Segment, ...]

    @property
    def data(self) -> bytes:
        """The whole file (joined on first use)."""
        return self.source.whole()

    def section(self, name: str) -> bytes | None:
        for sec in self.sections:
            if sec.name == name and not sec.nobits:
                if sec.offset + sec.size > len(self.source):
                    raise MalformedElf(f"section {name} runs past the end of the file")
                return self.source.read(sec.offset, sec.size)
        return None

    def read_vaddr(self, addr: int, size: int) -> bytes:
        for seg in self.segments:
            if seg.vaddr <= addr and addr + size <= seg.vaddr + seg.filesz:
                start = seg.offset + (addr - seg.vaddr)
                if start + size <= len(self.source):
                    return self.source.read(start, size)
        raise MalformedElf(f"address {addr:#x} is not in any loaded segment")


def parse_elf(data: bytes | Pieces) -> ElfFile:
    source = data if isinstance(data, Pieces) else Pieces((data,))
    header = source.read(0, 64)
    if len(source) < 52 or not header.startswith(MAGIC):
        raise MalformedElf("not an ELF file")
    bits64, little = header[4] == 2, header[5] == 1
    order = "<" if little else ">"
    if bits64:
        if len(source) < 64:
            raise MalformedElf("truncated ELF header")
        phoff, shoff = struct.unpack_from(order + "QQ", header, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(order + "HHHHH", header, 54)
    else:
        phoff, shoff = struct.unpack_from(order + "II", header, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(order + "HHHHH", header, 42)
    segments = _segments(source, order, bits64, phoff, phentsize, phnum)
    raw = _raw_sections(source, order, bits64, shoff, shentsize, shnum)
    names = b""
    if 0 <= shstrndx < len(raw):
        _, _, off, size, _, _ = raw[shstrndx]
        names = source.read(off, size)
    sections = tuple(
        Section(_cstr(names, name_off), off, size, addr, typ == 8)
        for name_off, typ, off, size, addr, _ in raw
    )
    return ElfFile(source, little, bits64, sections, segments)


def _segments(
    source: Pieces, order: str, bits64: bool, off: int, entsize: int, num: int
) -> tuple[Segment, ...]:
    need = 56 if bits64 else 32
    if num == 0:
        return ()
    if entsize < need or off + entsize * num > len(source):
        raise MalformedElf("program headers do not fit the file")
    data = source.read(off, entsize * num)
    out: list[Segment] = []
    for i in range(num):
        base = i * entsize
        if bits64:
            ptype, _flags, p_off, vaddr, _paddr, filesz = struct.unpack_from(order + "IIQQQQ", data, base)
        else:
            ptype, p_off, vaddr, _paddr, filesz = struct.unpack_from(order + "IIIII", data, base)
        if ptype == 1:  # PT_LOAD
            out.append(Segment(vaddr, p_off, filesz))
    return tuple(out)


def _raw_sections(
    source: Pieces, order: str, bits64: bool, off: int, entsize: int, num: int
) -> list[tuple[int, int, int, int, int, int]]:
    need = 64 if bits64 else 40
    if num == 0:
        return []
    if entsize < need or off + entsize * num > len(source):
        raise MalformedElf("section headers do not fit the file")
    data = source.read(off, entsize * num)
    out: list[tuple[int, int, int, int, int, int]] = []
    for i in range(num):
        base = i * entsize
        if bits64:
            name, typ, _flags, addr, s_off, size = struct.unpack_from(order + "IIQQQQ", data, base)
        else:
            name, typ, _flags, addr, s_off, size = struct.unpack_from(order + "IIIIII", data, base)
        out.append((name, typ, s_off, size, addr, i))
    return out


def _cstr(table: bytes, off: int) -> str:
    if off >= len(table):
        return ""
    end = table.find(b"\0", off)
    return table[off : end if end >= 0 else len(table)].decode("ascii", "replace")
