"""Progress events of a long audit, so the CLI can show a bar without the pipeline knowing about terminals."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from imagetrust.audit.unpack import LayerInput
from imagetrust.oci.digest import Digest


class AuditProgress(Protocol):
    def start(self, label: str, total_bytes: int) -> None:
        """An image's layers are about to be read (``total_bytes`` compressed)."""
        ...

    def advance(self, label: str, n: int) -> None:
        """``n`` more compressed bytes were read (cached layers advance by their whole size)."""
        ...

    def step(self, label: str, text: str) -> None:
        """A step after reading: cataloguing, a scanner running."""
        ...

    def finish(self, label: str) -> None: ...


class _Counting(io.RawIOBase):
    """Reports every byte read through to ``advance`` (decompressors call ``readinto``)."""

    def __init__(self, stream: object, advance: Callable[[int], None]) -> None:
        super().__init__()
        self._stream = stream
        self._advance = advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data: bytes = self._stream.read(len(view))  # type: ignore[attr-defined]
        view[: len(data)] = data
        if data:
            self._advance(len(data))
        return len(data)


LayerOpener = Callable[[], AbstractContextManager[LayerInput]]


def with_progress(
    openers: Sequence[tuple[Digest, LayerOpener]], progress: AuditProgress, label: str
) -> list[tuple[Digest, LayerOpener]]:
    """The same openers, reporting compressed bytes as each layer streams (a cached layer is never opened,
    so the bar jumps to done at ``finish``)."""

    def wrap(opener: LayerOpener) -> LayerOpener:
        @contextmanager
        def opened() -> Iterator[LayerInput]:
            with opener() as layer:
                counted = io.BufferedReader(_Counting(layer.stream, lambda n: progress.advance(label, n)))
                yield LayerInput(counted, layer.digest, layer.compression)

        return opened

    return [(digest, wrap(opener)) for digest, opener in openers]
