"""Tar archives as image sources: ``oci-archive:`` (a tarred OCI layout), ``docker-archive:`` (docker save).

Nothing is extracted to disk.  The archive is indexed once (member names normalised, ``..`` and absolute
names refused) and each blob is streamed from its offset in the tar, through the same digest and size
verification as every other source.

A docker-archive carries no manifest of its own, so one is synthesised exactly as containers/image's
``docker/tarfile`` source does (skopeo, podman): a Docker schema2 manifest, config typed as a Docker config,
each layer named by its diff_id with the *uncompressed* size and the media type
``application/vnd.docker.image.rootfs.diff.tar.gzip`` whatever its real compression, encoded the way Go's
``json.Marshal`` writes it.  Our digest then equals ``skopeo inspect docker-archive:...``.  The layer blob
served for such a descriptor is therefore the decompressed tar stream: consumers must sniff compression from
the bytes, not from the media type (skopeo's GetBlob does the same).
"""

from __future__ import annotations

import bz2
import io
import json
import lzma
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import zstandard
from isal import igzip
from isal.igzip_lib import IsalError

from imagetrust.errors import (
    InvalidReference,
    LimitExceeded,
    LocalInputError,
    MalformedContent,
    NotFound,
)
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.jsonbytes import load_json
from imagetrust.oci.manifest import Descriptor, parse_config
from imagetrust.oci.reference import DockerArchiveRef, OciArchiveRef, OciLayoutRef, parse_registry_ref
from imagetrust.registry.layout import LayoutStoreBase, OciLayoutStore
from imagetrust.registry.store import FetchedManifest, ImageStore
from imagetrust.registry.stream import VerifyingReader, read_verified

DOCKER_LAYER = media.DOCKER_LAYER_GZIP  # what containers/image writes for every docker-archive layer
_LINK_HOPS = 8
_CHUNK = 1 << 20

# isal reports a corrupt deflate stream with its own exception, which is not an OSError as zlib's is.
_ISAL_ERROR = cast(type[Exception], IsalError)


class _Section(io.RawIOBase):
    """``size`` bytes of ``raw`` from where it stands: one tar member's data."""

    def __init__(self, raw: BinaryIO, size: int) -> None:
        super().__init__()
        self._raw = raw
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        chunk = self._raw.read(min(len(view), self._left))
        if not chunk:
            raise LocalInputError("archive ends inside a member (truncated tar)")
        view[: len(chunk)] = chunk
        self._left -= len(chunk)
        return len(chunk)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def normalise_member_name(name: str, what: str) -> str:
    """``./blobs//sha256/x`` -> ``blobs/sha256/x``; absolute names and ``..`` components are refused."""
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise LocalInputError(f"{what}: refusing tar member {name!r} (absolute or odd path)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LocalInputError(f"{what}: refusing tar member {name!r} (a '..' path)")
    return "/".join(parts)


@dataclass(frozen=True)
class _Member:
    name: str
    info: tarfile.TarInfo


class TarIndex:
    """The members of one tar (plain or gzip), indexed once; members are then streamed by offset."""

    def __init__(self, path: Path, location: str, limits: Limits) -> None:
        self.path = path
        self.location = location
        self._limits = limits
        try:
            with path.open("rb") as handle:
                magic = handle.read(6)
        except OSError as e:
            raise LocalInputError(f"{location}: cannot open the archive: {e.strerror or e}") from e
        compression = media.compression_from_magic(magic)
        if compression not in ("gzip", "none"):
            raise LocalInputError(f"{location}: only plain or gzip-compressed tar archives are supported")
        self._gzip = compression == "gzip"
        self._members = self._index()

    def _index(self) -> dict[str, tarfile.TarInfo]:
        members: dict[str, tarfile.TarInfo] = {}
        bound = self._limits.archive_members
        try:
            with self._open_raw() as raw, tarfile.open(fileobj=raw, mode="r:") as tar:
                for count, info in enumerate(tar, start=1):
                    if count > bound:
                        raise LimitExceeded(f"{self.location}: more than {bound} tar members")
                    name = normalise_member_name(info.name, self.location)
                    if info.isdir() or not name:
                        continue
                    if name in members:
                        # Tools disagree on which duplicate wins; an archive that depends on it is refused.
                        raise LocalInputError(f"{self.location}: tar member {name!r} appears more than once")
                    members[name] = info
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise LocalInputError(f"{self.location}: not a readable tar archive ({e})") from e
        return members

    def _open_raw(self) -> BinaryIO:
        if self._gzip:
            return cast(BinaryIO, igzip.open(self.path, "rb"))  # type: ignore[no-untyped-call]
        return self.path.open("rb")

    def names(self) -> list[str]:
        return sorted(self._members)

    def _lookup(self, name: str) -> tarfile.TarInfo | None:
        info = self._members.get(name)
        for _ in range(_LINK_HOPS):
            if info is None or info.isreg():
                return info
            if info.issym():
                target = posixpath.join(posixpath.dirname(name), info.linkname)
            elif info.islnk():
                target = info.linkname
            else:
                raise LocalInputError(f"{self.location}: tar member {name!r} is not a regular file")
            if target.startswith("/"):
                raise LocalInputError(f"{self.location}: tar member {name!r} links outside the archive")
            name = normalise_member_name(posixpath.normpath(target), self.location)
            info = self._members.get(name)
        raise LocalInputError(f"{self.location}: tar member {name!r}: too many link hops")

    def open(self, name: str) -> tuple[BinaryIO, int] | None:
        """Stream one member's bytes (links followed inside the archive); ``None`` if there is none."""
        info = self._lookup(name)
        if info is None:
            return None
        if info.sparse is not None:
            raise LocalInputError(f"{self.location}: tar member {name!r} is sparse; refusing it")
        raw = self._open_raw()
        try:
            raw.seek(info.offset_data)
        except (OSError, EOFError, zlib.error) as e:
            raw.close()
            raise LocalInputError(f"{self.location}: cannot read member {name!r}: {e}") from e
        return io.BufferedReader(_Section(raw, info.size), _CHUNK), info.size


class OciArchiveStore(LayoutStoreBase):
    """A tar (optionally gzip) of an OCI image layout, as ``skopeo copy ... oci-archive:`` writes."""

    def __init__(self, path: Path, tag: str | None, limits: Limits) -> None:
        location = f"oci-archive:{path}" + (f":{tag}" if tag else "")
        self._tar = TarIndex(path, location, limits)
        super().__init__(location, tag, limits)

    def _open_file(self, relative: str) -> tuple[BinaryIO, int] | None:
        return self._tar.open(relative)


@dataclass(frozen=True)
class DockerArchiveImage:
    """One entry of a docker-archive ``manifest.json``."""

    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]


@dataclass(frozen=True)
class _Layer:
    member: str
    size: int  # uncompressed
    compression: str  # none, gzip, zstd, bzip2, xz


@dataclass(frozen=True)
class _Synthesised:
    descriptor: Descriptor
    raw: bytes
    config: Descriptor
    config_member: str
    layers: dict[Digest, _Layer]


def _decompressing(raw: BinaryIO, compression: str) -> BinaryIO:
    if compression == "gzip":
        return cast(BinaryIO, igzip.IGzipFile(fileobj=raw, mode="rb"))  # type: ignore[no-untyped-call]
    if compression == "zstd":
        return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    if compression == "bzip2":
        return cast(BinaryIO, bz2.BZ2File(raw, "rb"))
    if compression == "xz":
        return cast(BinaryIO, lzma.LZMAFile(raw, "rb"))
    return raw


def _go_json(value: Any) -> bytes:
    """Compact JSON in insertion order, as Go's ``json.Marshal`` writes these ASCII-only structs."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _same_reference(a: str, b: str) -> bool:
    try:
        return parse_registry_ref(a) == parse_registry_ref(b)
    except InvalidReference:
        return False


class DockerArchiveStore:
    """The ``docker save`` format (and docker 25+'s, which adds an OCI layout beside manifest.json)."""

    def __init__(self, path: Path, tag: str | None, limits: Limits) -> None:
        self._limits = limits
        self._tag = tag
        self._location = f"docker-archive:{path}" + (f":{tag}" if tag else "")
        self._tar = TarIndex(path, self._location, limits)
        self.images = self._load_manifest_json()
        self._cache: dict[int, _Synthesised] = {}

    @property
    def location(self) -> str:
        return self._location

    # -- manifest.json -------------------------------------------------------------------------------------

    def _load_manifest_json(self) -> tuple[DockerArchiveImage, ...]:
        what = f"{self._location}: manifest.json"
        opened = self._tar.open("manifest.json")
        if opened is None:
            raise LocalInputError(f"{what} is missing (not a docker save archive?)")
        handle, size = opened
        with handle:
            if size > self._limits.manifest_bytes:
                raise LimitExceeded(f"{what}: {size} bytes, over the limit of {self._limits.manifest_bytes}")
            raw = handle.read()
        try:
            value = load_json(
                raw, what, max_bytes=self._limits.manifest_bytes, max_depth=self._limits.json_depth
            )
        except MalformedContent as e:
            raise LocalInputError(e.diagnostics()) from e
        if not isinstance(value, list) or not value:
            raise LocalInputError(f"{what}: expected a non-empty list of images")
        if len(value) > self._limits.index_entries:
            raise LimitExceeded(f"{what}: more than {self._limits.index_entries} images")
        images = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise LocalInputError(f"{what}: entry {i} is not an object")
            config = item.get("Config")
            tags = item.get("RepoTags") or []
            layers = item.get("Layers")
            if not isinstance(config, str) or not config:
                raise LocalInputError(f"{what}: entry {i} has no Config path")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise LocalInputError(f"{what}: entry {i}: RepoTags must be a list of strings")
            if not isinstance(layers, list) or not all(isinstance(x, str) and x for x in layers):
                raise LocalInputError(f"{what}: entry {i}: Layers must be a list of paths")
            if len(layers) > self._limits.layers:
                raise LimitExceeded(f"{what}: entry {i} has more than {self._limits.layers} layers")
            images.append(DockerArchiveImage(config, tuple(tags), tuple(layers)))
        return tuple(images)

    def _names(self) -> str:
        names = [t for image in self.images for t in image.repo_tags]
        return ", ".join(names) if names else "none"

    def _matching(self, tag: str) -> list[int]:
        exact = [i for i, image in enumerate(self.images) if tag in image.repo_tags]
        if exact:
            return exact
        normal = [i for i, im in enumerate(self.images) if any(_same_reference(t, tag) for t in im.repo_tags)]
        if normal:
            return normal
        return [
            i
            for i, image in enumerate(self.images)
            if any(t.rpartition(":")[2] == tag and "/" not in t.rpartition(":")[2] for t in image.repo_tags)
        ]

    def _select(self, tag: str | None) -> int | None:
        if tag is None:
            if len(self.images) == 1:
                return 0
            raise LocalInputError(
                f"{self._location}: the archive holds {len(self.images)} images; name one with :NAME:TAG "
                f"(tags: {self._names()})"
            )
        found = self._matching(tag)
        if len(found) > 1:
            raise LocalInputError(f"{self._location}: {tag!r} matches several images (tags: {self._names()})")
        return found[0] if found else None

    # -- synthesis -----------------------------------------------------------------------------------------

    def _read_member(self, name: str, max_bytes: int, what: str) -> bytes:
        opened = self._tar.open(name)
        if opened is None:
            raise LocalInputError(f"{what}: {name} is missing from the archive")
        handle, size = opened
        with handle:
            if size > max_bytes:
                raise LimitExceeded(f"{what}: {name} is {size} bytes, over the limit of {max_bytes}")
            return handle.read()

    def _layer(self, name: str, what: str) -> _Layer:
        opened = self._tar.open(name)
        if opened is None:
            raise LocalInputError(f"{what}: layer {name} is missing from the archive")
        handle, size = opened
        with handle:
            head = handle.peek(6)[:6] if isinstance(handle, io.BufferedReader) else b""
            compression = media.compression_from_magic(head)
            if compression == "none":
                return _Layer(name, size, compression)
            # The manifest names the uncompressed size: a compressed layer is decompressed once to count it.
            total = 0
            try:
                with _decompressing(handle, compression) as stream:
                    while chunk := stream.read(_CHUNK):
                        total += len(chunk)
                        if total > self._limits.blob_bytes:
                            raise LimitExceeded(
                                f"{what}: layer {name} decompresses past {self._limits.blob_bytes}"
                            )
            except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError, _ISAL_ERROR) as e:
                raise LocalInputError(f"{what}: layer {name} does not decompress ({e})") from e
            return _Layer(name, total, compression)

    def _synthesise(self, index: int) -> _Synthesised:
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        image = self.images[index]
        what = f"{self._location}: image {index}"
        config_member = normalise_member_name(image.config, what)
        config_raw = self._read_member(config_member, self._limits.config_bytes, what)
        config_digest = Digest.of(config_raw)
        try:
            config = parse_config(config_raw, config_digest, limits=self._limits)
        except MalformedContent as e:
            raise LocalInputError(f"{what}: config {image.config}: {e.diagnostics()}") from e
        if len(config.diff_ids) != len(image.layers):
            raise LocalInputError(
                f"{what}: {len(image.layers)} layers in manifest.json, "
                f"{len(config.diff_ids)} diff_ids in the config"
            )
        layers: dict[Digest, _Layer] = {}
        used: dict[str, Digest] = {}
        for diff_id, layer_path in zip(config.diff_ids, image.layers, strict=True):
            if diff_id in layers:
                continue  # docker save repeats a layer as a link; the diff_id check makes them equal
            member = normalise_member_name(posixpath.normpath(layer_path), what)
            if member in used:
                raise LocalInputError(f"{what}: layer file {layer_path} is used for two different diff_ids")
            used[member] = diff_id
            layers[diff_id] = self._layer(member, what)
        config_descriptor = Descriptor(media.DOCKER_CONFIG, config_digest, len(config_raw))
        document = {
            "schemaVersion": 2,
            "mediaType": media.DOCKER_MANIFEST,
            "config": {
                "mediaType": media.DOCKER_CONFIG,
                "size": len(config_raw),
                "digest": str(config_digest),
            },
            "layers": [
                {"mediaType": DOCKER_LAYER, "size": layers[d].size, "digest": str(d)} for d in config.diff_ids
            ],
        }
        raw = _go_json(document)
        descriptor = Descriptor(media.DOCKER_MANIFEST, Digest.of(raw), len(raw))
        result = _Synthesised(descriptor, raw, config_descriptor, config_member, layers)
        self._cache[index] = result
        return result

    # -- ImageStore ----------------------------------------------------------------------------------------

    def resolve(self) -> Descriptor:
        index = self._select(self._tag)
        if index is None:
            raise NotFound(f"{self._location}: no image tagged {self._tag!r} (tags: {self._names()})")
        return self._synthesise(index).descriptor

    def get_manifest(self, digest: Digest) -> FetchedManifest:
        for synthesised in self._cache.values():
            if synthesised.descriptor.digest == digest:
                return FetchedManifest(synthesised.descriptor, synthesised.raw)
        for index in range(len(self.images)):
            synthesised = self._synthesise(index)
            if synthesised.descriptor.digest == digest:
                return FetchedManifest(synthesised.descriptor, synthesised.raw)
        raise NotFound(f"{self._location}: no manifest {digest}")

    def get_tagged(self, tag: str) -> FetchedManifest | None:
        index = self._select(tag)
        if index is None:
            return None
        synthesised = self._synthesise(index)
        return FetchedManifest(synthesised.descriptor, synthesised.raw)

    @contextmanager
    def open_blob(self, descriptor: Descriptor) -> Iterator[BinaryIO]:
        what = f"{self._location}: blob {descriptor.digest}"
        if descriptor.size > self._limits.blob_bytes:
            raise LimitExceeded(
                f"{what}: {descriptor.size} bytes, over the limit of {self._limits.blob_bytes}"
            )
        member, compression = self._blob_member(descriptor.digest, what)
        opened = self._tar.open(member)
        if opened is None:
            raise NotFound(f"{what}: {member} is missing from the archive")
        handle, _ = opened
        stream = _decompressing(handle, compression)
        reader = VerifyingReader(stream, descriptor.digest, descriptor.size, what)
        try:
            yield cast(BinaryIO, reader)
        except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError, _ISAL_ERROR) as e:
            raise LocalInputError(f"{what}: cannot read {member} ({e})") from e
        finally:
            reader.close()

    def read_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        what = f"{self._location}: blob {descriptor.digest}"
        if descriptor.size > max_bytes:
            raise LimitExceeded(f"{what}: {descriptor.size} bytes, over the limit of {max_bytes}")
        with self.open_blob(descriptor) as reader:
            return read_verified(reader, max_bytes, what)

    def referrers(self, digest: Digest) -> list[Descriptor] | None:
        """``docker save`` has nowhere to keep referrers: no API, and ``get_tagged`` finds no fallback tag."""
        return None

    def _blob_member(self, digest: Digest, what: str) -> tuple[str, str]:
        if not self._cache:
            for index in range(len(self.images)):
                self._synthesise(index)
        for synthesised in self._cache.values():
            if synthesised.config.digest == digest:
                return synthesised.config_member, "none"
            layer = synthesised.layers.get(digest)
            if layer is not None:
                return layer.member, layer.compression
        raise NotFound(f"{what}: not in the archive")


def open_offline_store(ref: OciLayoutRef | OciArchiveRef | DockerArchiveRef, limits: Limits) -> ImageStore:
    """The store for an offline reference (``oci:``, ``oci-archive:``, ``docker-archive:``)."""
    if isinstance(ref, OciLayoutRef):
        return OciLayoutStore(ref.path, ref.tag, limits)
    if isinstance(ref, OciArchiveRef):
        return OciArchiveStore(ref.path, ref.tag, limits)
    return DockerArchiveStore(ref.path, ref.tag, limits)
