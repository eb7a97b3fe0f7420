"""``dir:PATH``: a root filesystem directory served as a one-layer image, so audits treat it like any image.

The directory is written once into a temporary uncompressed tar (symlinks kept as links, never followed;
devices recorded, not read) whose digest is computed while writing.  A manifest and config are
synthesised around that layer; they carry no signatures and claim nothing beyond "these bytes".
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

from imagetrust.errors import LocalInputError, NotFound
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.oci.platform import Platform
from imagetrust.registry.store import FetchedManifest
from imagetrust.registry.stream import VerifyingReader, read_verified


class _HashingFile:
    """Write-through wrapper that hashes and counts what tarfile writes."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        return self._handle.write(data)

    def tell(self) -> int:
        return self.size


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


class DirectoryStore:
    """An ImageStore over a root filesystem directory (one synthetic, uncompressed layer)."""

    def __init__(self, path: Path, limits: Limits) -> None:
        if not path.is_dir():
            raise LocalInputError(f"dir:{path}: not a directory")
        self._path = path
        self._limits = limits
        self._workdir = tempfile.TemporaryDirectory(prefix="imagetrust-dir-")
        self._tar = Path(self._workdir.name) / "layer.tar"
        self._layer = self._write_layer()
        config = _json(
            {
                "architecture": Platform.host().architecture,
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [str(self._layer.digest)]},
                "history": [{"created_by": f"imagetrust: contents of directory {path}"}],
            }
        )
        self._config = (Descriptor(media.OCI_CONFIG, Digest.of(config), len(config)), config)
        manifest = _json(
            {
                "schemaVersion": 2,
                "mediaType": media.OCI_MANIFEST,
                "config": self._config[0].to_json(),
                "layers": [self._layer.to_json()],
            }
        )
        self._manifest = FetchedManifest(
            Descriptor(media.OCI_MANIFEST, Digest.of(manifest), len(manifest)), manifest
        )

    def _write_layer(self) -> Descriptor:
        try:
            out = self._tar.open("wb")
        except OSError as e:
            raise LocalInputError(f"dir:{self._path}: cannot create a temporary layer: {e.strerror}") from e
        sink = _HashingFile(out)
        try:
            with out, tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for root, dirs, files in os.walk(self._path, followlinks=False):
                    dirs.sort()
                    for name in [*sorted(dirs), *sorted(files)]:
                        full = Path(root) / name
                        arcname = str(full.relative_to(self._path))
                        info = tar.gettarinfo(str(full), arcname)
                        if info is None:  # sockets cannot be archived; nothing of them ships
                            continue
                        if info.isreg():
                            with full.open("rb") as handle:
                                tar.addfile(info, handle)
                        else:
                            tar.addfile(info)
                        if sink.size > self._limits.max_decompressed_bytes:
                            raise LocalInputError(f"dir:{self._path}: larger than max_decompressed_bytes")
        except OSError as e:
            raise LocalInputError(f"dir:{self._path}: cannot read {e.filename or ''}: {e.strerror}") from e
        return Descriptor(media.OCI_LAYER, Digest("sha256", sink.hasher.hexdigest()), sink.size)

    @property
    def location(self) -> str:
        return f"dir:{self._path}"

    def resolve(self) -> Descriptor:
        return self._manifest.descriptor

    def get_manifest(self, digest: Digest) -> FetchedManifest:
        if digest != self._manifest.descriptor.digest:
            raise NotFound(f"{self.location}: no manifest {digest}")
        return self._manifest

    def get_tagged(self, tag: str) -> FetchedManifest | None:
        return None

    def open_blob(self, descriptor: Descriptor) -> AbstractContextManager[BinaryIO]:
        if descriptor.digest == self._config[0].digest:
            return io.BytesIO(self._config[1])
        if descriptor.digest != self._layer.digest:
            raise NotFound(f"{self.location}: no blob {descriptor.digest}")
        handle = self._tar.open("rb")
        what = f"{self.location} layer"
        return VerifyingReader(handle, self._layer.digest, self._layer.size, what)  # type: ignore[return-value]

    def read_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        with self.open_blob(descriptor) as reader:
            return read_verified(reader, max_bytes, f"{self.location} blob {descriptor.digest.short}")

    def referrers(self, digest: Digest) -> list[Descriptor] | None:
        return None

    def close(self) -> None:
        self._workdir.cleanup()
