"""One streaming pass over executables for the catalogers that read compiled-in metadata (Go, Rust).

Binaries are too many and too large to keep via the content policy, and a path says nothing about
whether a file is a binary, so this is a ``ContentVisitor``: the unpacker streams each regular file with
an execute bit, the sink keeps an ELF file's bytes only while it is within ``max_file_content_bytes`` and
keeps only the few parsed facts once the file ends.  For a larger ELF file it keeps nothing but looks for
the Go buildinfo magic as the bytes pass, which is enough for Go 1.18+ (inline) buildinfo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imagetrust.audit.catalog.cargoaudit import SECTION as DEP_SECTION
from imagetrust.audit.catalog.cargoaudit import CargoDep, MalformedDepInfo, parse_dep_v0
from imagetrust.audit.catalog.elf import MAGIC as ELF_MAGIC
from imagetrust.audit.catalog.elf import MalformedElf, Pieces, parse_elf
from imagetrust.audit.catalog.gobuildinfo import (
    MAGIC as GO_MAGIC,
)
from imagetrust.audit.catalog.gobuildinfo import (
    GoBuildInfo,
    MalformedBuildInfo,
    find_in_elf,
    find_magic,
    parse_blob,
)
from imagetrust.audit.unpack import ContentSink, Entry, FileIndex
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest

_MIN_ELF = 52


@dataclass(frozen=True)
class BinaryNote:
    """What one executable revealed; ``problems`` are reasons it could not be fully read."""

    layer: Digest
    go: GoBuildInfo | None = None
    cargo: tuple[CargoDep, ...] | None = None
    problems: tuple[str, ...] = ()


@dataclass
class BinaryScan:
    """The visitor to hand to ``unpack_layers``; the Go and Rust catalogers read its notes afterwards."""

    limits: Limits = DEFAULT_LIMITS
    notes: dict[str, BinaryNote] = field(default_factory=dict)
    attached: bool = False  # set once the unpacker has offered any file: proves the scan ran

    def open(self, entry: Entry) -> ContentSink | None:
        self.attached = True
        self.notes.pop(entry.path, None)  # a later layer's file replaces a lower one's note
        if not entry.mode & 0o111 or entry.size < _MIN_ELF:
            return None
        return _Sink(self, entry)

    def live_notes(self, files: FileIndex) -> list[tuple[str, BinaryNote]]:
        """Notes for binaries still present, unchanged, in the merged file system."""
        out = []
        for path, note in sorted(self.notes.items()):
            entry = files.get(path)
            if entry is not None and entry.layer == note.layer:
                out.append((path, note))
        return out


class _Sink:
    def __init__(self, scan: BinaryScan, entry: Entry) -> None:
        self.scan, self.entry = scan, entry
        limits = scan.limits
        # the file's chunks as they came (kept, not copied): the ELF headers are read at their offsets
        self.buffer: list[bytes] | None = [] if entry.size <= limits.max_file_content_bytes else None
        self.head = b""
        self.elf: bool | None = None
        self.seen = 0
        self.carry = b""  # streaming mode: the tail of the previous chunk, for a magic across chunks
        self.capture: bytearray | None = None

    def write(self, chunk: bytes) -> None:
        if self.elf is False:
            return
        if self.elf is None:
            self.head += chunk[:4]
            if len(self.head) < 4:
                self.seen += len(chunk)
                if self.buffer is not None:
                    self.buffer.append(chunk)
                return
            self.elf = self.head[:4] == ELF_MAGIC
            if not self.elf:
                self.buffer = None
                return
        if self.buffer is not None:
            self.buffer.append(chunk)
        else:
            self._stream(chunk)
        self.seen += len(chunk)

    def _stream(self, chunk: bytes) -> None:
        limit = self.scan.limits.embedded_metadata_bytes
        if self.capture is not None:
            self.capture += chunk[: limit - len(self.capture)]
            return
        window = self.carry + chunk
        base = self.seen - len(self.carry)
        pos = find_magic(window, base)
        if pos >= 0:
            self.capture = bytearray(window[pos : pos + limit])
        else:
            self.carry = window[-(len(GO_MAGIC) - 1) :]

    def close(self) -> None:
        if not self.elf:
            return
        layer = self.entry.layer
        limit = self.scan.limits.embedded_metadata_bytes
        if self.buffer is not None:
            note = _read_whole(Pieces(self.buffer), layer, limit)
            self.buffer = None
        elif self.capture is not None:
            try:
                note = BinaryNote(layer, go=parse_blob(bytes(self.capture)))
            except MalformedBuildInfo as e:
                note = BinaryNote(layer, problems=(f"Go buildinfo: {e}",))
        else:
            cap = self.scan.limits.max_file_content_bytes
            note = BinaryNote(
                layer,
                problems=(
                    f"ELF executable larger than {cap} bytes (max_file_content_bytes): "
                    f"only Go 1.18+ buildinfo could be looked for, and none was found",
                ),
            )
        if note.go is not None or note.cargo is not None or note.problems:
            self.scan.notes[self.entry.path] = note


def _read_whole(data: Pieces, layer: Digest, limit: int) -> BinaryNote:
    try:
        elf = parse_elf(data)
    except MalformedElf as e:
        return BinaryNote(layer, problems=(f"ELF headers unreadable: {e}",))
    problems: list[str] = []
    go = cargo = None
    try:
        go = find_in_elf(elf, limit)
    except (MalformedBuildInfo, MalformedElf) as e:
        problems.append(f"Go buildinfo: {e}")
    try:
        section = elf.section(DEP_SECTION)
        if section is not None:
            cargo = parse_dep_v0(section, limit)
    except (MalformedDepInfo, MalformedElf) as e:
        problems.append(f"cargo-auditable data: {e}")
    return BinaryNote(layer, go, cargo, tuple(problems))
