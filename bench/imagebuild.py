# ruff: noqa: PTH118
"""Streaming OCI image builder for the benchmarks: layers far larger than memory, written straight to disk.

tests/support/images.py builds images in memory, which is right for tests and wrong for a 1 GB layer.
Layers here are tar streams written through a hashing writer (diff id) into isal gzip and a second
hashing writer (blob digest), directly into an OCI layout's blob directory.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from isal import igzip

LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class _Hashing(io.RawIOBase):
    def __init__(self, inner: BinaryIO | io.RawIOBase) -> None:
        super().__init__()
        self.inner = inner
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sha.update(data)
        self.size += len(data)
        self.inner.write(data)
        return len(data)


@dataclass(frozen=True)
class Layer:
    digest: str  # sha256:<hex> of the gzip blob
    diff_id: str
    size: int


def _blobs(layout: Path) -> Path:
    path = layout / "blobs" / "sha256"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_layer(layout: Path, fill: callable, level: int = 1) -> Layer:  # type: ignore[valid-type]
    """``fill(tar)`` adds members; the layer lands in ``layout``'s blobs under its digest."""
    tmp = _blobs(layout) / f".tmp-{os.getpid()}"
    with tmp.open("wb") as raw:
        outer = _Hashing(raw)
        gz = igzip.GzipFile(fileobj=outer, mode="wb", compresslevel=level, mtime=0)  # type: ignore[no-untyped-call]
        inner = _Hashing(gz)
        with tarfile.open(fileobj=inner, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            fill(tar)
        gz.close()
    digest = outer.sha.hexdigest()
    tmp.replace(_blobs(layout) / digest)
    return Layer(f"sha256:{digest}", f"sha256:{inner.sha.hexdigest()}", outer.size)


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def dir_layer(layout: Path, root: Path, prefix: str = "") -> Layer:
    """Every entry under ``root`` (sorted, owner root), placed under ``prefix`` in the image."""

    def fill(tar: tarfile.TarFile) -> None:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                arc = os.path.normpath(os.path.join(prefix, rel, name))
                tar.add(full, arcname=arc, recursive=False, filter=_reset)

    return write_layer(layout, fill)


def generated_files(count: int, size: int, seed: int, prefix: str) -> Iterator[tuple[str, bytes]]:
    """Deterministic text-like files: base64 of seeded random bytes in 76-column lines."""
    rng = random.Random(seed)
    raw = size * 3 // 4
    for n in range(count):
        data = base64.encodebytes(rng.randbytes(raw))[:size]
        yield f"{prefix}/{n // 1000:04d}/f{n:07d}.txt", data


def files_layer(layout: Path, files: Iterable[tuple[str, bytes]]) -> Layer:
    def fill(tar: tarfile.TarFile) -> None:
        dirs: set[str] = set()
        for path, data in files:
            parent = path.rsplit("/", 1)[0]
            parts = parent.split("/")
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = _reset(tarfile.TarInfo(d))
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = _reset(tarfile.TarInfo(path))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))

    return write_layer(layout, fill)


def _put_json(layout: Path, value: object) -> tuple[str, int]:
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    (_blobs(layout) / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def write_image(layout: Path, tag: str, layers: list[Layer]) -> str:
    """Config + manifest for ``layers`` (bottom first), tagged in ``layout``'s index; returns the digest."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "User": "1000",
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": "imagetrust bench"} for _ in layers],
    }
    config_digest, config_size = _put_json(layout, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": LAYER_GZIP, "digest": layer.digest, "size": layer.size} for layer in layers],
    }
    digest, size = _put_json(layout, manifest)
    index_path = layout / "index.json"
    index = (
        json.loads(index_path.read_text()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
    )
    index["manifests"] = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
    ]
    index["manifests"].append(
        {
            "mediaType": MANIFEST,
            "digest": digest,
            "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    )
    index_path.write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return digest
