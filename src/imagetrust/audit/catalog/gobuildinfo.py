"""The build information the Go linker embeds in every module-aware binary (``debug/buildinfo`` format).

The ``.go.buildinfo`` blob starts with the 14-byte magic ``\\xff Go buildinf:``, a pointer size and a
flags byte.  Go 1.18+ sets flag 2 and writes the Go version and module info inline as varint-prefixed
strings after the 32-byte header; older binaries store two pointers to Go string headers instead, which
need the ELF's address map to follow.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from imagetrust.audit.catalog.elf import ElfFile, MalformedElf

MAGIC = b"\xff Go buildinf:"
HEADER = 32
_FLAG_BIG_ENDIAN, _FLAG_INLINE = 1, 2


class MalformedBuildInfo(ValueError):
    """A buildinfo blob whose header or strings do not fit."""


class NeedsAddressMap(MalformedBuildInfo):
    """Old pointer-format buildinfo seen without the whole binary to follow its pointers."""


@dataclass(frozen=True)
class GoModule:
    path: str
    version: str
    sum: str = ""
    replace: GoModule | None = None


@dataclass(frozen=True)
class GoBuildInfo:
    go_version: str
    path: str = ""
    main: GoModule | None = None
    deps: tuple[GoModule, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()


def find_in_elf(elf: ElfFile, max_bytes: int) -> GoBuildInfo | None:
    """The buildinfo of a fully read ELF binary, or None if it is not a Go binary.

    Go 1.13+ links the buildinfo into a ``.go.buildinfo`` section; a binary with section headers but no
    such section is not a Go binary (earlier Go wrote no buildinfo). Only a binary whose section headers
    were stripped (sstrip, some packers) is searched whole for the magic.
    """
    blob = elf.section(".go.buildinfo")
    if blob is None and elf.sections:
        return None
    if blob is None or not blob.startswith(MAGIC):
        start = find_magic(elf.data)
        if start < 0:
            return None
        blob = elf.data[start : start + max_bytes]
    return parse_blob(blob[:max_bytes], elf)


def find_magic(data: bytes, base: int = 0) -> int:
    """Offset of the first magic at a 16-byte aligned file position (``base`` is ``data``'s position)."""
    pos = data.find(MAGIC)
    while pos >= 0 and (base + pos) % 16:
        pos = data.find(MAGIC, pos + 1)
    return pos


def parse_blob(blob: bytes, elf: ElfFile | None = None) -> GoBuildInfo:
    if len(blob) < HEADER or not blob.startswith(MAGIC):
        raise MalformedBuildInfo("buildinfo header truncated")
    ptr_size, flags = blob[14], blob[15]
    if flags & _FLAG_INLINE:
        version, pos = _varint_string(blob, HEADER)
        modinfo, _ = _varint_string(blob, pos)
    else:
        if elf is None:
            raise NeedsAddressMap("pre-Go 1.18 buildinfo needs the whole binary to follow its pointers")
        if ptr_size not in (4, 8):
            raise MalformedBuildInfo(f"buildinfo pointer size {ptr_size}")
        order = ">" if flags & _FLAG_BIG_ENDIAN else "<"
        fmt = order + ("Q" if ptr_size == 8 else "I")
        version_addr = struct.unpack_from(fmt, blob, 16)[0]
        modinfo_addr = struct.unpack_from(fmt, blob, 16 + ptr_size)[0]
        version = _go_string(elf, version_addr, fmt, ptr_size, len(blob) * 64)
        modinfo = _go_string(elf, modinfo_addr, fmt, ptr_size, len(blob) * 64)
    go_version = version.decode("utf-8", "replace")
    if not go_version.startswith("go"):
        raise MalformedBuildInfo(f"buildinfo Go version {go_version[:40]!r} does not start with 'go'")
    return parse_modinfo(go_version, _strip_sentinels(modinfo))


def _varint_string(blob: bytes, pos: int) -> tuple[bytes, int]:
    length, shift = 0, 0
    while True:
        if pos >= len(blob) or shift > 63:
            raise MalformedBuildInfo("buildinfo string length runs past the data read")
        byte = blob[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    if pos + length > len(blob):
        raise MalformedBuildInfo(f"buildinfo string of {length} bytes runs past the data read")
    return blob[pos : pos + length], pos + length


def _go_string(elf: ElfFile, addr: int, fmt: str, ptr_size: int, max_len: int) -> bytes:
    try:
        header = elf.read_vaddr(addr, 2 * ptr_size)
        data_addr = struct.unpack_from(fmt, header, 0)[0]
        length = struct.unpack_from(fmt, header, ptr_size)[0]
        if length > max_len:
            raise MalformedBuildInfo(f"buildinfo string of {length} bytes is implausibly long")
        return elf.read_vaddr(data_addr, length) if length else b""
    except (MalformedElf, struct.error) as e:
        raise MalformedBuildInfo(f"buildinfo pointer does not resolve: {e}") from e


def _strip_sentinels(modinfo: bytes) -> str:
    # cmd/go wraps modinfo in two 16-byte sentinels so the runtime can find it; the text is between them
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    return modinfo.decode("utf-8", "replace")


def parse_modinfo(go_version: str, modinfo: str) -> GoBuildInfo:
    """The text cmd/go writes: ``path``, ``mod``, ``dep`` and ``=>`` (replaces the line before) lines."""
    path = ""
    main: GoModule | None = None
    deps: list[GoModule] = []
    settings: list[tuple[str, str]] = []
    last: str | None = None
    for line in modinfo.splitlines():
        key, _, rest = line.partition("\t")
        if key == "path":
            path = rest
        elif key in ("mod", "dep", "=>") and rest:
            module = _module(rest)
            if key == "mod":
                main = module
            elif key == "dep":
                deps.append(module)
            elif last == "dep" and deps:
                old = deps[-1]
                deps[-1] = GoModule(old.path, old.version, old.sum, module)
            elif last == "mod" and main is not None:
                main = GoModule(main.path, main.version, main.sum, module)
        elif key == "build":
            name, _, value = rest.partition("=")
            settings.append((name, value))
        last = key
    return GoBuildInfo(go_version, path, main, tuple(deps), tuple(settings))


def _module(rest: str) -> GoModule:
    fields = rest.split("\t")
    return GoModule(fields[0], fields[1] if len(fields) > 1 else "", fields[2] if len(fields) > 2 else "")
