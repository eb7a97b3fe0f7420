"""OCI image layout directories (``oci:PATH[:TAG]``) as an ``ImageStore``.

The layout logic (``oci-layout`` check, ``index.json`` tags, verified blob reads, a local referrers scan)
lives in ``LayoutStoreBase`` so the directory store and the tar store (``archive.py``) differ only in how
they open a file.  Blob names are built from a validated ``Digest`` only, and every byte is verified
against the descriptor that named it: a file name is never trusted to be the hash of its content.
"""

from __future__ import annotations

import errno
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from imagetrust.errors import (
    LimitExceeded,
    LocalInputError,
    MalformedContent,
    NotFound,
)
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.jsonbytes import load_object
from imagetrust.oci.manifest import Descriptor, Index, Manifest, parse_manifest_or_index
from imagetrust.registry.store import FetchedManifest
from imagetrust.registry.stream import VerifyingReader, read_verified

REF_NAME = "org.opencontainers.image.ref.name"
# containerd writes the full reference here and only the tag in REF_NAME.
CONTAINERD_NAME = "io.containerd.image.name"
LAYOUT_VERSION = "1.0.0"
_MANIFESTISH = media.MANIFEST_TYPES | media.INDEX_TYPES


def blob_path(digest: Digest) -> str:
    """``blobs/<alg>/<hex>``: safe because ``Digest`` only admits known algorithms and lower-case hex."""
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _tag_of_reference(name: str) -> str | None:
    """The tag part of a full reference such as ``docker.io/library/alpine:3.19`` (skopeo, buildah)."""
    name = name.split("@", 1)[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    return name[colon + 1 :] if colon > last_slash else None


class LayoutStoreBase(ABC):
    """An OCI image layout read through ``_open_file``; subclasses say where the files are."""

    def __init__(self, location: str, tag: str | None, limits: Limits) -> None:
        self._location = location
        self._tag = tag
        self._limits = limits
        self._check_layout_file()
        self._index = self._load_index()

    # -- what subclasses provide -------------------------------------------------------------------------

    @abstractmethod
    def _open_file(self, relative: str) -> tuple[BinaryIO, int] | None:
        """Open ``relative`` (already safe, ``/``-separated) for reading with its size; ``None`` if absent.

        Raises ``LocalInputError`` when the file exists but cannot be used (unreadable, not a regular file,
        a link leaving the layout).
        """

    # -- ImageStore ----------------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self._location

    @property
    def entries(self) -> tuple[Descriptor, ...]:
        """The descriptors listed in ``index.json``."""
        return self._index.manifests

    def ref_names(self) -> list[str]:
        return [name for d in self._index.manifests if (name := d.annotation(REF_NAME))]

    def resolve(self) -> Descriptor:
        if self._tag is None:
            entries = self._index.manifests
            if len(entries) == 1:
                return entries[0]
            if not entries:
                raise LocalInputError(f"{self._location}: index.json lists no manifests")
            raise LocalInputError(
                f"{self._location}: index.json lists {len(entries)} manifests; name one with :TAG "
                f"(tags: {self._describe_names()})"
            )
        found = self._find_tag(self._tag)
        if found is None:
            raise NotFound(
                f"{self._location}: no manifest tagged {self._tag!r} (tags: {self._describe_names()})"
            )
        return found

    def get_manifest(self, digest: Digest) -> FetchedManifest:
        descriptor = self._known_descriptor(digest)
        if descriptor is not None:
            return self._fetch_manifest(descriptor)
        # Not listed in index.json (a platform manifest inside an index, a referrer): the size is unknown
        # until read, so read within the manifest limit and let the digest vouch for the bytes.
        what = f"{self._location}: manifest {digest}"
        with self._open_verified(digest, None, what) as reader:
            raw = read_verified(reader, self._limits.manifest_bytes, what)
        media_type = _declared_media_type(raw, what, self._limits)
        return FetchedManifest(Descriptor(media_type, digest, len(raw)), raw)

    def get_tagged(self, tag: str) -> FetchedManifest | None:
        descriptor = self._find_tag(tag)
        return None if descriptor is None else self._fetch_manifest(descriptor)

    @contextmanager
    def open_blob(self, descriptor: Descriptor) -> Iterator[BinaryIO]:
        if descriptor.size > self._limits.blob_bytes:
            raise LimitExceeded(
                f"{self._location}: blob {descriptor.digest.short} is {descriptor.size} bytes, "
                f"over the limit of {self._limits.blob_bytes}"
            )
        what = f"{self._location}: blob {descriptor.digest}"
        with self._open_verified(descriptor.digest, descriptor.size, what) as reader:
            yield reader

    def read_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        what = f"{self._location}: blob {descriptor.digest}"
        if descriptor.size > max_bytes:
            raise LimitExceeded(f"{what}: {descriptor.size} bytes, over the limit of {max_bytes}")
        with self.open_blob(descriptor) as reader:
            return read_verified(reader, max_bytes, what)

    def referrers(self, digest: Digest) -> list[Descriptor] | None:
        """The local equivalent of the referrers API: manifests in ``index.json`` whose subject is ``digest``.

        Tools that copy referrers into a layout (``oras copy -r``, ``cosign save``) list them in index.json;
        a referrers-tag-schema index tagged ``<alg>-<hex>`` is merged in too, so evidence stored either
        way is found.  Every candidate manifest is read and verified; a broken one raises.
        """
        found: dict[Digest, Descriptor] = {}
        for entry in self._index.manifests:
            if entry.media_type not in _MANIFESTISH or entry.digest == digest:
                continue
            parsed = self._fetch_manifest(entry).parse(self._limits)
            if parsed.subject is None or parsed.subject.digest != digest:
                continue
            found.setdefault(entry.digest, _referrer_descriptor(entry, parsed))
            self._check_referrer_count(found)
        fallback = self._find_exact(digest.tag_form)
        if fallback is not None and fallback.media_type in media.INDEX_TYPES:
            listing = self._fetch_manifest(fallback).parse(self._limits)
            if isinstance(listing, Index):
                for item in listing.manifests:
                    found.setdefault(item.digest, item)
                    self._check_referrer_count(found)
        return list(found.values())

    # -- internals -----------------------------------------------------------------------------------------

    def _check_referrer_count(self, found: dict[Digest, Descriptor]) -> None:
        if len(found) > self._limits.referrers:
            raise LimitExceeded(f"{self._location}: more than {self._limits.referrers} referrers")

    def _read_small(self, relative: str, max_bytes: int) -> bytes:
        opened = self._open_file(relative)
        if opened is None:
            raise LocalInputError(f"{self._location}: {relative} is missing (not an OCI image layout?)")
        handle, size = opened
        with handle:
            if size > max_bytes:
                raise LimitExceeded(
                    f"{self._location}: {relative} is {size} bytes, over the limit {max_bytes}"
                )
            try:
                data = handle.read(max_bytes + 1)
            except OSError as e:
                raise LocalInputError(f"{self._location}: cannot read {relative}: {e.strerror or e}") from e
        if len(data) > max_bytes:
            raise LimitExceeded(f"{self._location}: {relative} is over the limit of {max_bytes} bytes")
        return bytes(data)

    def _check_layout_file(self) -> None:
        raw = self._read_small("oci-layout", self._limits.manifest_bytes)
        what = f"{self._location}: oci-layout"
        obj = _local_json(raw, what, self._limits)
        version = obj.get("imageLayoutVersion")
        if version != LAYOUT_VERSION:
            raise LocalInputError(
                f"{what}: unsupported imageLayoutVersion {version!r} (want {LAYOUT_VERSION})"
            )

    def _load_index(self) -> Index:
        raw = self._read_small("index.json", self._limits.manifest_bytes)
        what = f"{self._location}: index.json"
        obj = _local_json(raw, what, self._limits)
        if "manifests" not in obj:
            raise LocalInputError(f"{what}: no manifests list")
        try:
            parsed = parse_manifest_or_index(
                raw, Digest.of(raw), declared_media_type=media.OCI_INDEX, what=what, limits=self._limits
            )
        except MalformedContent as e:
            raise LocalInputError(e.diagnostics()) from e
        if not isinstance(parsed, Index):
            raise LocalInputError(f"{what}: is not an image index")
        return parsed

    def _describe_names(self) -> str:
        names = self.ref_names()
        return ", ".join(sorted(names)) if names else "none"

    def _find_exact(self, tag: str) -> Descriptor | None:
        matches = [d for d in self._index.manifests if d.annotation(REF_NAME) == tag]
        if len(matches) > 1 and len({d.digest for d in matches}) > 1:
            raise LocalInputError(f"{self._location}: tag {tag!r} names {len(matches)} different manifests")
        return matches[0] if matches else None

    def _find_tag(self, tag: str) -> Descriptor | None:
        exact = self._find_exact(tag)
        if exact is not None:
            return exact
        # Full-reference names (``localhost/app:1.0``, containerd's io.containerd.image.name): match the tag
        # part, but only when that picks exactly one manifest.
        loose = {
            d.digest: d
            for d in self._index.manifests
            for key in (REF_NAME, CONTAINERD_NAME)
            if (name := d.annotation(key)) and ("/" in name or ":" in name) and _tag_of_reference(name) == tag
        }
        if len(loose) > 1:
            raise LocalInputError(
                f"{self._location}: tag {tag!r} matches several references ({self._describe_names()}); "
                "use the full name"
            )
        return next(iter(loose.values()), None)

    def _known_descriptor(self, digest: Digest) -> Descriptor | None:
        for entry in self._index.manifests:
            if entry.digest == digest:
                return entry
        return None

    def _fetch_manifest(self, descriptor: Descriptor) -> FetchedManifest:
        what = f"{self._location}: manifest {descriptor.digest}"
        if descriptor.size > self._limits.manifest_bytes:
            raise LimitExceeded(
                f"{what}: {descriptor.size} bytes, over the limit of {self._limits.manifest_bytes}"
            )
        with self._open_verified(descriptor.digest, descriptor.size, what) as reader:
            raw = read_verified(reader, self._limits.manifest_bytes, what)
        return FetchedManifest(descriptor, raw)

    @contextmanager
    def _open_verified(self, digest: Digest, size: int | None, what: str) -> Iterator[BinaryIO]:
        relative = blob_path(digest)
        opened = self._open_file(relative)
        if opened is None:
            raise NotFound(f"{what}: {relative} is missing from the layout")
        handle, _ = opened
        reader = VerifyingReader(handle, digest, size, what)
        try:
            yield cast(BinaryIO, reader)
        except OSError as e:
            raise LocalInputError(f"{what}: cannot read {relative}: {e.strerror or e}") from e
        finally:
            reader.close()


def _local_json(raw: bytes, what: str, limits: Limits) -> dict[str, Any]:
    try:
        return load_object(raw, what, max_bytes=limits.manifest_bytes, max_depth=limits.json_depth)
    except MalformedContent as e:
        raise LocalInputError(e.diagnostics()) from e


def _declared_media_type(raw: bytes, what: str, limits: Limits) -> str:
    obj = load_object(raw, what, max_bytes=limits.manifest_bytes, max_depth=limits.json_depth)
    value = obj.get("mediaType")
    if isinstance(value, str) and value:
        return value
    return media.OCI_INDEX if "manifests" in obj else media.OCI_MANIFEST


def _referrer_descriptor(entry: Descriptor, parsed: Manifest | Index) -> Descriptor:
    """What the referrers API would list: artifactType (or the config type) and the manifest's annotations."""
    artifact_type = parsed.artifact_type
    if artifact_type is None and isinstance(parsed, Manifest):
        artifact_type = parsed.config.media_type
    return Descriptor(
        media_type=parsed.media_type,
        digest=entry.digest,
        size=entry.size,
        annotations=parsed.annotations,
        artifact_type=artifact_type,
    )


class OciLayoutStore(LayoutStoreBase):
    """An OCI image layout directory on disk."""

    def __init__(self, path: Path, tag: str | None, limits: Limits) -> None:
        self._root = path
        try:
            self._real_root = path.resolve(strict=True)
        except OSError as e:
            raise LocalInputError(f"oci:{path}: cannot open the layout directory: {e.strerror or e}") from e
        if not self._real_root.is_dir():
            raise LocalInputError(f"oci:{path}: not a directory")
        super().__init__(f"oci:{path}" + (f":{tag}" if tag else ""), tag, limits)

    def _open_file(self, relative: str) -> tuple[BinaryIO, int] | None:
        candidate = self._real_root / relative
        try:
            real = candidate.resolve(strict=True)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise LocalInputError(f"{self._location}: cannot open {relative}: {e.strerror or e}") from e
        if not real.is_relative_to(self._real_root):
            raise LocalInputError(f"{self._location}: {relative} is a link to {real}, outside the layout")
        try:
            # O_NONBLOCK so a FIFO planted as a blob cannot hang us before the regular-file check below.
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None
            raise LocalInputError(f"{self._location}: cannot open {relative}: {e.strerror or e}") from e
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise LocalInputError(f"{self._location}: {relative} is not a regular file")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb"), info.st_size
        except BaseException:
            os.close(fd)
            raise


__all__ = [
    "CONTAINERD_NAME",
    "REF_NAME",
    "LayoutStoreBase",
    "OciLayoutStore",
    "blob_path",
]
