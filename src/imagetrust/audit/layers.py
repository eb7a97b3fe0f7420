"""Turn a manifest's layer descriptors into the unpacker's inputs, streaming from any ImageStore."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import BinaryIO

from imagetrust.audit.unpack import LayerInput
from imagetrust.audit.unpack.model import Compression
from imagetrust.errors import MalformedContent
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor, Manifest
from imagetrust.registry.store import ImageStore

_HEAD = 6


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read to sniff the compression.

    The gzip reader fills its own buffer through ``readinto``, which goes straight to the blob's
    verifying reader when it has one: each compressed byte is copied once on its way to the inflater.
    """

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._rest = rest
        self._readinto: Callable[[memoryview], int | None] | None = getattr(rest, "readinto", None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        if self._readinto is not None:
            return self._readinto(view) or 0
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _compression(head: bytes, descriptor: Descriptor) -> Compression:
    found = media.compression_from_magic(head)
    if found in ("gzip", "zstd", "none"):
        return found  # type: ignore[return-value]
    raise MalformedContent(f"layer {descriptor.digest.short}: unsupported compression {found}")


@contextmanager
def open_layer(store: ImageStore, descriptor: Descriptor) -> Iterator[LayerInput]:
    """One layer, open while the caller reads it, then drained to EOF so its digest is verified."""
    with store.open_blob(descriptor) as raw:
        head = raw.read(_HEAD)
        compression = _compression(head, descriptor)
        stream = _Prefixed(head, raw)
        # isal's gzip reader asks for 512 KiB at a time itself; zstd and plain tar read through a buffer
        yield LayerInput(
            stream if compression == "gzip" else io.BufferedReader(stream, 1 << 20),
            descriptor.digest,
            compression,
        )
        while raw.read(1 << 20):
            pass


def layer_openers(
    store: ImageStore, manifest: Manifest
) -> list[tuple[Digest, Callable[[], AbstractContextManager[LayerInput]]]]:
    """Each layer's digest with a way to open it, so a cached layer is never fetched."""
    return [(d.digest, partial(open_layer, store, d)) for d in manifest.layers]


def layer_inputs(store: ImageStore, manifest: Manifest) -> Iterator[LayerInput]:
    """Each layer opened only while the unpacker reads it, drained to EOF so its digest is verified."""
    for descriptor in manifest.layers:
        with open_layer(store, descriptor) as layer:
            yield layer
