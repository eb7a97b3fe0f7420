"""A pure-Python OCI image builder for tests: layers, configs, manifests, indexes, layouts and archives.

Output is deterministic (fixed mtimes, owners, ordering, gzip header without a timestamp) so digests are
stable across runs and machines.  Blobs are held in memory: test images are small.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.oci.platform import Platform

EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z: the fixed mtime of every member
CREATED = "2023-11-14T22:13:20Z"
REF_NAME = "org.opencontainers.image.ref.name"


# -- layer entries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    path: str
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Dir:
    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str


@dataclass(frozen=True)
class Hardlink:
    path: str
    target: str  # an earlier path in the same layer


@dataclass(frozen=True)
class Whiteout:
    """Deletes ``path`` from lower layers (written as ``dir/.wh.name``)."""

    path: str


@dataclass(frozen=True)
class OpaqueDir:
    """Hides everything lower layers put in ``path`` (written as ``path/.wh..wh..opq``)."""

    path: str


@dataclass(frozen=True)
class Raw:
    """A tar member written as given, for hostile layers (``../x``, devices, odd types)."""

    info: tarfile.TarInfo
    data: bytes = b""


Entry = File | Dir | Symlink | Hardlink | Whiteout | OpaqueDir | Raw


@dataclass(frozen=True)
class LayerSpec:
    entries: tuple[Entry, ...]
    compression: str = "gzip"  # gzip | zstd | none
    created_by: str = "imagetrust-tests: add files"
    auto_parents: bool = True  # add missing parent directories before their children

    @classmethod
    def from_files(
        cls,
        files: Mapping[str, bytes | str],
        *,
        modes: Mapping[str, int] | None = None,
        symlinks: Mapping[str, str] | None = None,
        compression: str = "gzip",
        created_by: str = "imagetrust-tests: add files",
    ) -> LayerSpec:
        modes = modes or {}
        entries: list[Entry] = [
            File(p, d.encode() if isinstance(d, str) else d, modes.get(p, 0o644)) for p, d in files.items()
        ]
        entries += [Symlink(p, t) for p, t in (symlinks or {}).items()]
        return cls(tuple(entries), compression, created_by)

    @classmethod
    def from_dir(
        cls,
        root: Path,
        *,
        prefix: str = "",
        compression: str = "gzip",
        created_by: str = "imagetrust-tests: copy directory",
    ) -> LayerSpec:
        """Every file, directory, symlink and hardlink under ``root`` with its mode (owner forced to root)."""
        return cls(tuple(dir_entries(root, prefix=prefix)), compression, created_by)


def dir_entries(root: Path, *, prefix: str = "") -> list[Entry]:
    entries: list[Entry] = []
    seen_inodes: dict[tuple[int, int], str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted([*dirnames, *filenames]):
            full = base / name
            rel = "/".join(x for x in (prefix.strip("/"), full.relative_to(root).as_posix()) if x)
            info = full.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                entries.append(Symlink(rel, os.readlink(full)))
            elif stat.S_ISDIR(info.st_mode):
                entries.append(Dir(rel, mode))
            elif stat.S_ISREG(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if info.st_nlink > 1 and key in seen_inodes:
                    entries.append(Hardlink(rel, seen_inodes[key]))
                else:
                    seen_inodes[key] = rel
                    entries.append(File(rel, full.read_bytes(), mode))
    return entries


def _info(name: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.uname = info.gname = "root" if uid == 0 else ""
    info.mtime = EPOCH
    return info


def layer_tar(spec: LayerSpec) -> bytes:
    """The uncompressed tar of one layer (its digest is the diff_id)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        made: set[str] = set()

        def parents(path: str) -> None:
            if not spec.auto_parents:
                return
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                name = "/".join(parts[:i])
                if name not in made:
                    made.add(name)
                    tar.addfile(_info(name + "/", tarfile.DIRTYPE, 0o755))

        for entry in spec.entries:
            if isinstance(entry, Raw):
                tar.addfile(entry.info, io.BytesIO(entry.data) if entry.data else None)
                continue
            path = entry.path.strip("/")
            parents(path)
            if isinstance(entry, File):
                info = _info(path, tarfile.REGTYPE, entry.mode, entry.uid, entry.gid)
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            elif isinstance(entry, Dir):
                if path not in made:
                    made.add(path)
                    tar.addfile(_info(path + "/", tarfile.DIRTYPE, entry.mode, entry.uid, entry.gid))
            elif isinstance(entry, Symlink):
                info = _info(path, tarfile.SYMTYPE, 0o777)
                info.linkname = entry.target
                tar.addfile(info)
            elif isinstance(entry, Hardlink):
                info = _info(path, tarfile.LNKTYPE, 0o644)
                info.linkname = entry.target.strip("/")
                tar.addfile(info)
            elif isinstance(entry, Whiteout):
                head, _, name = path.rpartition("/")
                marker = f"{head}/.wh.{name}" if head else f".wh.{name}"
                info = _info(marker, tarfile.REGTYPE, 0o644)
                tar.addfile(info, io.BytesIO(b""))
            elif isinstance(entry, OpaqueDir):
                info = _info(f"{path}/.wh..wh..opq", tarfile.REGTYPE, 0o644)
                tar.addfile(info, io.BytesIO(b""))
    return out.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    if compression == "none":
        return data
    raise ValueError(f"unknown compression {compression!r}")


LAYER_MEDIA_TYPES = {"gzip": media.OCI_LAYER_GZIP, "zstd": media.OCI_LAYER_ZSTD, "none": media.OCI_LAYER}


# -- images ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSpec:
    user: str | None = None
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = ("/bin/sh",)
    working_dir: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    extra_history: tuple[Mapping[str, Any], ...] = ()  # appended after the layer entries (e.g. empty layers)
    created: str = CREATED


@dataclass(frozen=True)
class Blob:
    descriptor: Descriptor
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class BuiltImage:
    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]
    diff_ids: tuple[Digest, ...]
    platform: Platform

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.manifest, self.config, *self.layers)

    @property
    def digest(self) -> Digest:
        return self.manifest.descriptor.digest


@dataclass(frozen=True)
class BuiltIndex:
    index: Blob
    images: tuple[BuiltImage, ...]

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.index, *(b for image in self.images for b in image.blobs))

    @property
    def digest(self) -> Digest:
        return self.index.descriptor.digest


Built = BuiltImage | BuiltIndex


def json_bytes(value: Any) -> bytes:
    """Stable JSON as our builder writes it (sorted keys is NOT used: field order is part of the bytes)."""
    return json.dumps(value, separators=(",", ":")).encode()


def blob(data: bytes, media_type: str, **extra: Any) -> Blob:
    return Blob(Descriptor(media_type, Digest.of(data), len(data), **extra), data)


def config_json(
    spec: ConfigSpec, diff_ids: Sequence[Digest], history: Sequence[Mapping[str, Any]], platform: Platform
) -> bytes:
    cfg: dict[str, Any] = {"Env": list(spec.env)}
    if spec.user is not None:
        cfg["User"] = spec.user
    if spec.entrypoint is not None:
        cfg["Entrypoint"] = list(spec.entrypoint)
    if spec.cmd is not None:
        cfg["Cmd"] = list(spec.cmd)
    if spec.working_dir:
        cfg["WorkingDir"] = spec.working_dir
    if spec.exposed_ports:
        cfg["ExposedPorts"] = {p: {} for p in spec.exposed_ports}
    if spec.labels:
        cfg["Labels"] = dict(spec.labels)
    obj: dict[str, Any] = {"created": spec.created, "architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        obj["variant"] = platform.variant
    obj["config"] = cfg
    obj["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in diff_ids]}
    obj["history"] = list(history)
    return json_bytes(obj)


def build_image(
    layers: Sequence[LayerSpec],
    config: ConfigSpec | None = None,
    *,
    platform: Platform | str = "linux/amd64",
    annotations: Mapping[str, str] | None = None,
    subject: Descriptor | None = None,
    artifact_type: str | None = None,
) -> BuiltImage:
    """An OCI image manifest with its config and layers (layers built in order, bottom first)."""
    config = config or ConfigSpec()
    plat = Platform.parse(platform) if isinstance(platform, str) else platform
    layer_blobs: list[Blob] = []
    diff_ids: list[Digest] = []
    history: list[Mapping[str, Any]] = []
    for spec in layers:
        tar = layer_tar(spec)
        diff_ids.append(Digest.of(tar))
        layer_blobs.append(blob(compress(tar, spec.compression), LAYER_MEDIA_TYPES[spec.compression]))
        history.append({"created": config.created, "created_by": spec.created_by})
    history.extend(config.extra_history)
    config_blob = blob(config_json(config, diff_ids, history, plat), media.OCI_CONFIG)
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST}
    if artifact_type:
        manifest["artifactType"] = artifact_type
    manifest["config"] = config_blob.descriptor.to_json()
    manifest["layers"] = [b.descriptor.to_json() for b in layer_blobs]
    if subject is not None:
        manifest["subject"] = {
            "mediaType": subject.media_type,
            "digest": str(subject.digest),
            "size": subject.size,
        }
    if annotations:
        manifest["annotations"] = dict(annotations)
    manifest_blob = blob(json_bytes(manifest), media.OCI_MANIFEST, platform=plat)
    return BuiltImage(manifest_blob, config_blob, tuple(layer_blobs), tuple(diff_ids), plat)


def build_index(images: Sequence[BuiltImage], *, annotations: Mapping[str, str] | None = None) -> BuiltIndex:
    """A multi-platform image index over ``images`` (each carries its platform)."""
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": [image.manifest.descriptor.to_json() for image in images],
    }
    if annotations:
        body["annotations"] = dict(annotations)
    return BuiltIndex(blob(json_bytes(body), media.OCI_INDEX), tuple(images))


def top_descriptor(item: Built) -> Descriptor:
    """The descriptor index.json lists for ``item`` (no platform: it is the top level)."""
    d = item.index.descriptor if isinstance(item, BuiltIndex) else item.manifest.descriptor
    return Descriptor(d.media_type, d.digest, d.size)


# -- writers -----------------------------------------------------------------------------------------------


def layout_files(
    tagged: Mapping[str, Built] | Iterable[tuple[str | None, Built]],
    *,
    extra_blobs: Iterable[Blob] = (),
) -> dict[str, bytes]:
    """Path -> bytes of an OCI layout holding ``tagged`` (tag None: an untagged index.json entry)."""
    pairs = list(tagged.items()) if isinstance(tagged, Mapping) else list(tagged)
    files: dict[str, bytes] = {"oci-layout": json_bytes({"imageLayoutVersion": "1.0.0"})}
    entries = []
    for tag, item in pairs:
        d = top_descriptor(item).to_json()
        if tag is not None:
            d["annotations"] = {REF_NAME: tag}
        entries.append(d)
        for b in item.blobs:
            files[f"blobs/{b.descriptor.digest.algorithm}/{b.descriptor.digest.hex}"] = b.data
    for b in extra_blobs:
        files[f"blobs/{b.descriptor.digest.algorithm}/{b.descriptor.digest.hex}"] = b.data
    files["index.json"] = json_bytes({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": entries})
    return files


def write_layout(
    path: Path,
    tagged: Mapping[str, Built] | Iterable[tuple[str | None, Built]],
    *,
    extra_blobs: Iterable[Blob] = (),
) -> Path:
    """Write an OCI image layout directory at ``path`` (created if needed) and return it."""
    for name, data in layout_files(tagged, extra_blobs=extra_blobs).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def _tar_of(files: Mapping[str, bytes], *, gzip_it: bool = False) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for name in sorted(files):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    tar.addfile(_info(d + "/", tarfile.DIRTYPE, 0o755))
            info = _info(name, tarfile.REGTYPE, 0o644)
            info.size = len(files[name])
            tar.addfile(info, io.BytesIO(files[name]))
    data = out.getvalue()
    return gzip.compress(data, mtime=0) if gzip_it else data


def write_oci_archive(
    path: Path,
    tagged: Mapping[str, Built] | Iterable[tuple[str | None, Built]],
    *,
    gzip_it: bool = False,
) -> Path:
    """An ``oci-archive`` tar (optionally gzip) of the layout ``write_layout`` would write."""
    path.write_bytes(_tar_of(layout_files(tagged), gzip_it=gzip_it))
    return path


def write_tar(path: Path, members: Sequence[tuple[tarfile.TarInfo, bytes]]) -> Path:
    """A tar with exactly the members given, for hostile archives."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    path.write_bytes(out.getvalue())
    return path


def member(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, linkname: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = _info(name, kind, 0o644)
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = linkname
    return info, data


def write_docker_archive(
    path: Path,
    image: BuiltImage,
    repo_tags: Sequence[str],
    *,
    oci_layout: bool = False,
    layer_compression: str = "none",
) -> Path:
    """A ``docker save`` archive: legacy form (``<hex>.json``, ``<hex>/layer.tar``) or, with ``oci_layout``,
    docker 25+'s form (blobs under ``blobs/sha256`` plus ``index.json``/``oci-layout`` beside manifest.json).
    """
    files: dict[str, bytes] = {}
    layer_paths = []
    for layer, diff_id in zip(image.layers, image.diff_ids, strict=True):
        tar = _decompress(layer.data, layer.descriptor.media_type)
        data = compress(tar, layer_compression)
        name = f"blobs/sha256/{Digest.of(data).hex}" if oci_layout else f"{diff_id.hex}/layer.tar"
        files[name] = data
        layer_paths.append(name)
    config_name = (
        f"blobs/sha256/{image.config.descriptor.digest.hex}"
        if oci_layout
        else f"{image.config.descriptor.digest.hex}.json"
    )
    files[config_name] = image.config.data
    entry = {"Config": config_name, "RepoTags": list(repo_tags), "Layers": layer_paths}
    files["manifest.json"] = json_bytes([entry])
    if oci_layout:
        files.update(layout_files({t: image for t in repo_tags[:1]}))
    path.write_bytes(_tar_of(files))
    return path


def _decompress(data: bytes, media_type: str) -> bytes:
    kind = media.layer_compression(media_type)
    if kind == "gzip":
        return gzip.decompress(data)
    if kind == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data
