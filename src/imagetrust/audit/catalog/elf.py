"""Just enough ELF to find a named section and map virtual addresses to file offsets, over bytes in memory."""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"\x7fELF"


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
    data: bytes
    little: bool
    bits64: bool
    sections: tuple[Section, ...]
    segments: tuple[Segment, ...]

    def section(self, name: str) -> bytes | None:
        for sec in self.sections:
            if sec.name == name and not sec.nobits:
                if sec.offset + sec.size > len(self.data):
                    raise MalformedElf(f"section {name} runs past the end of the file")
                return self.data[sec.offset : sec.offset + sec.size]
        return None

    def read_vaddr(self, addr: int, size: int) -> bytes:
        for seg in self.segments:
            if seg.vaddr <= addr and addr + size <= seg.vaddr + seg.filesz:
                start = seg.offset + (addr - seg.vaddr)
                if start + size <= len(self.data):
                    return self.data[start : start + size]
        raise MalformedElf(f"address {addr:#x} is not in any loaded segment")


def parse_elf(data: bytes) -> ElfFile:
    if len(data) < 52 or not data.startswith(MAGIC):
        raise MalformedElf("not an ELF file")
    bits64, little = data[4] == 2, data[5] == 1
    order = "<" if little else ">"
    if bits64:
        if len(data) < 64:
            raise MalformedElf("truncated ELF header")
        phoff, shoff = struct.unpack_from(order + "QQ", data, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(order + "HHHHH", data, 54)
    else:
        phoff, shoff = struct.unpack_from(order + "II", data, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(order + "HHHHH", data, 42)
    segments = _segments(data, order, bits64, phoff, phentsize, phnum)
    raw = _raw_sections(data, order, bits64, shoff, shentsize, shnum)
    names = b""
    if 0 <= shstrndx < len(raw):
        _, _, off, size, _, _ = raw[shstrndx]
        names = data[off : off + size]
    sections = tuple(
        Section(_cstr(names, name_off), off, size, addr, typ == 8)
        for name_off, typ, off, size, addr, _ in raw
    )
    return ElfFile(data, little, bits64, sections, segments)


def _segments(data: bytes, order: str, bits64: bool, off: int, entsize: int, num: int) -> tuple[Segment, ...]:
    need = 56 if bits64 else 32
    if num == 0:
        return ()
    if entsize < need or off + entsize * num > len(data):
        raise MalformedElf("program headers do not fit the file")
    out: list[Segment] = []
    for i in range(num):
        base = off + i * entsize
        if bits64:
            ptype, _flags, p_off, vaddr, _paddr, filesz = struct.unpack_from(order + "IIQQQQ", data, base)
        else:
            ptype, p_off, vaddr, _paddr, filesz = struct.unpack_from(order + "IIIII", data, base)
        if ptype == 1:  # PT_LOAD
            out.append(Segment(vaddr, p_off, filesz))
    return tuple(out)


def _raw_sections(
    data: bytes, order: str, bits64: bool, off: int, entsize: int, num: int
) -> list[tuple[int, int, int, int, int, int]]:
    need = 64 if bits64 else 40
    if num == 0:
        return []
    if entsize < need or off + entsize * num > len(data):
        raise MalformedElf("section headers do not fit the file")
    out: list[tuple[int, int, int, int, int, int]] = []
    for i in range(num):
        base = off + i * entsize
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
