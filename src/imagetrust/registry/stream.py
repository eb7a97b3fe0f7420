"""A reader that verifies size and digest as bytes stream past, so blobs are never held whole."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

from imagetrust.errors import IntegrityError, LimitExceeded
from imagetrust.oci.digest import Digest


class VerifyingReader(io.RawIOBase):
    """Wraps a byte stream; raises ``IntegrityError`` as soon as the content is proven wrong.

    Too many bytes fail at once; a wrong digest or a short body fail at end of stream.  Consumers must read
    to EOF (``drain()`` does) before trusting anything they derived from the bytes.
    """

    def __init__(
        self,
        raw: BinaryIO,
        digest: Digest,
        size: int | None,
        what: str,
        *,
        on_verified: Callable[[], None] | None = None,
        on_failed: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._digest = digest
        self._size = size
        self._what = what
        self._hasher = digest.hasher()
        self._count = 0
        self._done = False
        self._error: IntegrityError | None = None
        self._on_verified = on_verified
        self._on_failed = on_failed
        # straight into the caller's buffer when the stream can (a registry body, a file): one copy less
        self._raw_readinto: Callable[[memoryview], int | None] | None = getattr(raw, "readinto", None)

    def readable(self) -> bool:
        return True

    @property
    def bytes_read(self) -> int:
        return self._count

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._error is not None:
            raise self._error  # a stream proven wrong stays wrong: it never turns into a clean EOF
        if self._done:
            return 0
        view = memoryview(buffer).cast("B")
        want = len(view)
        if want == 0:
            return 0  # read(0) is not end of stream
        if self._size is not None:
            # Ask for one byte beyond the declared size so an overlong body is caught without reading it all.
            want = min(want, self._size - self._count + 1)
        if want <= 0:
            count = 0
        elif self._raw_readinto is not None:
            count = self._raw_readinto(view[:want]) or 0
        else:
            chunk = self._raw.read(want)
            count = len(chunk)
            view[:count] = chunk
        if not count:
            self._finish()
            return 0
        self._count += count
        if self._size is not None and self._count > self._size:
            self._fail(f"{self._what}: more than the declared {self._size} bytes")
        self._hasher.update(view[:count])
        return count

    def _fail(self, message: str) -> None:
        self._done = True
        self._error = IntegrityError(message)
        if self._on_failed:
            self._on_failed()
        raise self._error

    def _finish(self) -> None:
        self._done = True
        if self._size is not None and self._count != self._size:
            self._fail(f"{self._what}: got {self._count} bytes, expected {self._size}")
        actual = self._hasher.hexdigest()
        if actual != self._digest.hex:
            algorithm = self._digest.algorithm
            self._fail(f"{self._what}: content digest is {algorithm}:{actual}, expected {self._digest}")
        if self._on_verified:
            self._on_verified()

    def drain(self, chunk_size: int = 1 << 20) -> int:
        """Read to EOF (verifying) and return the number of bytes read."""
        while self.read(chunk_size):
            pass
        return self._count

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def read_verified(reader: BinaryIO, max_bytes: int, what: str) -> bytes:
    """Read a small verified blob into memory, refusing more than ``max_bytes``.

    Reads until EOF (so the digest is checked): a raw stream may return fewer bytes than asked for.
    """
    data = bytearray()
    while True:
        chunk = reader.read(max_bytes + 1 - len(data))
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > max_bytes:
            raise LimitExceeded(f"{what}: larger than the limit of {max_bytes} bytes")
