"""Values produced by unpacking: one entry per path, and explicit unknowns for what could not be read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol

from imagetrust.oci.digest import Digest

Compression = Literal["gzip", "zstd", "none"]


class ByteStream(Protocol):
    """Anything with ``read(n)``: an open file, a ``VerifyingReader`` over a registry response."""

    def read(self, n: int = -1, /) -> bytes: ...


class EntryType(Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR_DEVICE = "char"
    BLOCK_DEVICE = "block"
    FIFO = "fifo"
    OTHER = "other"


@dataclass(frozen=True)
class Entry:
    """One path in the image file system.

    ``path`` is normalised: relative to the image root, no leading ``/`` or ``./``, no ``..``.
    ``link_target`` is the symlink target exactly as written, or the normalised path a hardlink names.
    ``deleted_by`` is set on entries a later layer removed (whiteout, opaque directory, or replacement):
    their bytes still ship in the image, so secret and malware scanners may still want to see them.
    """

    path: str
    type: EntryType
    mode: int
    size: int
    uid: int
    gid: int
    layer: Digest
    link_target: str | None = None
    deleted_by: Digest | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_by is not None


@dataclass(frozen=True)
class Unknown:
    """Something that was not examined, and why: reports list these rather than silently skipping."""

    path: str
    reason: str
    layer: Digest | None = None


@dataclass(frozen=True)
class LayerInput:
    """One layer blob as a stream, in application order (lowest first)."""

    stream: ByteStream
    digest: Digest
    compression: Compression = "gzip"


@dataclass(frozen=True)
class Hide:
    """A whiteout (``hide_self``) or opaque marker read from a layer, applied when the layer ends."""

    path: str
    hide_self: bool


@dataclass(frozen=True)
class KeptContent:
    """Bytes kept for a path; ``counted`` when they were charged to ``max_total_content_bytes``."""

    path: str
    data: bytes
    counted: bool


LayerOp = Entry | Unknown | Hide | KeptContent


@dataclass(frozen=True)
class LayerRecord:
    """What applying one layer did to the index, in order, and what it cost against the limits."""

    digest: Digest
    ops: tuple[LayerOp, ...]
    decompressed_bytes: int
    members: int
