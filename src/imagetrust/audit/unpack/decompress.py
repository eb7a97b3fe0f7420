"""Streaming decompression of one layer, charged against an image-wide byte budget.

Each layer is decompressed exactly once, as it is read; the budget turns a decompression bomb into
``LimitExceeded`` after at most ``max_decompressed_bytes`` of output, whatever the compressed size.
"""

from __future__ import annotations

import zlib
from typing import Any, cast

import zstandard
from isal import igzip
from isal.igzip_lib import IsalError as _IsalError

from imagetrust.audit.unpack.model import ByteStream, Compression
from imagetrust.errors import LimitExceeded, MalformedContent
from imagetrust.oci.digest import Digest

_TAIL = 256 * 1024
# isal reports a corrupt deflate stream with its own exception, which is not an OSError as zlib's is.
_CORRUPT = (OSError, EOFError, zlib.error, zstandard.ZstdError, cast(type[Exception], _IsalError))


class ByteBudget:
    """Decompressed bytes still allowed for the whole image."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, n: int, what: str) -> None:
        self.used += n
        if self.used > self.limit:
            raise LimitExceeded(
                f"{what}: more than {self.limit} bytes after decompression (max_decompressed_bytes)"
            )


class DecompressingReader:
    """A read-only file object over the decompressed bytes of one layer blob."""

    def __init__(self, raw: ByteStream, compression: Compression, digest: Digest, budget: ByteBudget) -> None:
        self._what = f"layer {digest.short}"
        self.position = 0  # decompressed bytes handed out so far
        # the last chunks handed out (at least _TAIL bytes when available), kept by reference, not copied
        self._recent: list[bytes] = []
        self._recent_bytes = 0
        self._budget = budget
        self._inner: Any
        if compression == "gzip":
            self._inner = igzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[no-untyped-call]
        elif compression == "zstd":
            self._inner = zstandard.ZstdDecompressor().stream_reader(
                raw,  # type: ignore[arg-type]
                read_across_frames=True,
                closefd=False,
            )
        elif compression == "none":
            self._inner = raw
        else:
            raise MalformedContent(f"{self._what}: unsupported compression {compression!r}")

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 20
        try:
            data: bytes = self._inner.read(n)
        except _CORRUPT as e:
            raise MalformedContent(f"{self._what}: cannot decompress: {e}") from e
        self._budget.charge(len(data), self._what)
        self.position += len(data)
        if data:
            self._recent.append(data)
            self._recent_bytes += len(data)
            while self._recent_bytes - len(self._recent[0]) >= _TAIL:
                self._recent_bytes -= len(self._recent.pop(0))
        return data

    def nonzero_after(self, offset: int) -> int:
        """Non-zero bytes already handed out at or after ``offset`` (within the kept tail)."""
        tail = b"".join(self._recent)
        start = self.position - len(tail)
        view = memoryview(tail)[max(0, offset - start) :]
        return len(view) - bytes(view).count(0)

    def drain(self) -> int:
        """Read to the end (so a verifying reader below sees every byte); count non-zero bytes found."""
        nonzero = 0
        while True:
            chunk = self.read(1 << 20)
            if not chunk:
                return nonzero
            nonzero += len(chunk) - chunk.count(0)
