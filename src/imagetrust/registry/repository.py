"""A repository on a registry, behind the same ``ImageStore`` interface as offline sources.

Manifests are kept as the exact bytes served and checked against their digest before anything reads them;
blobs stream through ``VerifyingReader``.  A tag is fetched once: ``resolve()`` keeps the bytes it pinned, so
the manifest that is verified later is the one that was resolved.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urljoin, urlsplit

from imagetrust.errors import (
    IntegrityError,
    InvalidReference,
    LimitExceeded,
    MalformedContent,
    NotFound,
    RegistryProtocolError,
)
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.jsonbytes import load_object
from imagetrust.oci.manifest import Descriptor, parse_descriptor
from imagetrust.oci.reference import RegistryRef
from imagetrust.registry.auth import Scope
from imagetrust.registry.client import RegistryClient, unexpected_status
from imagetrust.registry.http import ResponseStream, origin, read_bounded
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.store import FetchedManifest
from imagetrust.registry.stream import VerifyingReader, read_verified
from imagetrust.registry.wire import Response

if TYPE_CHECKING:  # the cache module loads only when a cache is in use (start-up of --no-cache runs)
    from imagetrust.registry.cache import BlobCache

_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_LINK_NEXT_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)
_MANIFEST_MEMO_ENTRIES = 256
_TAGS_PAGE = 1000


_clients: dict[tuple[str, RegistryOptions], RegistryClient] = {}
_clients_lock = threading.Lock()


def client_for(ref: RegistryRef, options: RegistryOptions) -> RegistryClient:
    """The shared client for a registry host under these options (one connection pool per host)."""
    key = (ref.registry, options)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = RegistryClient(ref.registry, ref.api_host, options)
            _clients[key] = client
        return client


def close_clients() -> None:
    """Close every pooled connection (end of a command, end of a test session)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def open_repository(
    ref: RegistryRef,
    options: RegistryOptions,
    cache: BlobCache | None = None,
    *,
    client: RegistryClient | None = None,
) -> RegistryRepository:
    """A repository handle; no request is made until something is asked of it."""
    return RegistryRepository(ref, client or client_for(ref, options), cache)


class RegistryRepository:
    """One repository on one registry (implements ``ImageStore``), plus the push and tag-list operations."""

    def __init__(self, ref: RegistryRef, client: RegistryClient, cache: BlobCache | None = None) -> None:
        self.ref = ref
        self.client = client
        self.cache = cache
        self.limits = client.limits
        self._label = client.label
        self._base = f"/v2/{ref.repository}"
        self._pull = (Scope.repository(ref.repository, "pull"),)
        self._push = (Scope.repository(ref.repository, "pull", "push"),)
        self._resolved: Descriptor | None = None
        self._manifests: dict[Digest, FetchedManifest] = {}

    # -- ImageStore ---------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.ref.name

    @property
    def request_count(self) -> int:
        """Requests made by this repository's host client so far (shared with other repositories on it)."""
        return self.client.request_count

    def resolve(self) -> Descriptor:
        if self._resolved is not None:
            return self._resolved
        if self.ref.digest is not None:
            fetched = self.get_manifest(self.ref.digest)
        else:
            tag = self.ref.tag or "latest"
            found = self.get_tagged(tag)
            if found is None:
                raise NotFound(f"{self._label}: {self.ref.repository}:{tag} does not exist")
            fetched = found
        self._resolved = fetched.descriptor
        return fetched.descriptor

    def get_manifest(self, digest: Digest) -> FetchedManifest:
        known = self._manifests.get(digest)
        if known is not None:
            return known
        what = f"manifest {self.ref.repository}@{digest}"
        fetched = self._fetch_manifest(str(digest), what, expected=digest)
        if fetched is None:
            raise NotFound(f"{self._label}: {what} does not exist")
        return fetched

    def get_tagged(self, tag: str) -> FetchedManifest | None:
        if not _TAG_RE.match(tag):
            raise InvalidReference(f"invalid tag {tag!r}")
        return self._fetch_manifest(tag, f"manifest {self.ref.repository}:{tag}", expected=None)

    def open_blob(self, descriptor: Descriptor) -> AbstractContextManager[BinaryIO]:
        return self._open_blob(descriptor)

    def read_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        what = f"blob {self.ref.repository}@{descriptor.digest.short}"
        if descriptor.size > max_bytes:
            raise LimitExceeded(
                f"{self._label}: {what}: {descriptor.size} bytes exceeds the limit of {max_bytes}"
            )
        with self._open_blob(descriptor) as reader:
            return read_verified(reader, max_bytes, f"{self._label}: {what}")

    def referrers(self, digest: Digest) -> list[Descriptor] | None:
        what = f"referrers of {self.ref.repository}@{digest.short}"
        url: str = f"{self._base}/referrers/{digest}"
        found: list[Descriptor] = []
        pages = 0
        while True:
            pages += 1
            if pages > self.limits.referrer_pages:
                raise LimitExceeded(
                    f"{self._label}: {what}: more than {self.limits.referrer_pages} pages of referrers"
                )
            response = self.client.request(
                "GET", url, scopes=self._pull, what=what, headers={"Accept": media.OCI_INDEX}
            )
            if response.status_code == 404 and pages == 1:
                response.close()
                return None
            if response.status_code != 200:
                raise unexpected_status(response, self._label, what, self.limits.error_body_bytes)
            next_url = self._next_link(response, what)
            raw = read_bounded(response, self.limits.manifest_bytes, self._label, what)
            obj = load_object(
                raw,
                f"{self._label}: {what}",
                max_bytes=self.limits.manifest_bytes,
                max_depth=self.limits.json_depth,
            )
            entries = obj.get("manifests", [])
            if not isinstance(entries, list):
                raise MalformedContent(f"{self._label}: {what}: 'manifests' is not a list")
            if len(found) + len(entries) > self.limits.referrers:
                raise LimitExceeded(f"{self._label}: {what}: more than {self.limits.referrers} referrers")
            for index, entry in enumerate(entries):
                found.append(parse_descriptor(entry, f"{self._label}: {what} entry {index}"))
            if next_url is None:
                return found
            url = next_url

    # -- beyond ImageStore --------------------------------------------------------------------------

    def list_tags(self, page_size: int = _TAGS_PAGE) -> list[str]:
        """Every tag, following ``Link`` pagination, bounded by ``limits.tags``."""
        what = f"tag list of {self.ref.repository}"
        url = f"{self._base}/tags/list?n={max(1, page_size)}"
        page_bytes = max(self.limits.manifest_bytes, self.limits.tags * 160)
        tags: list[str] = []
        while True:
            response = self.client.request("GET", url, scopes=self._pull, what=what)
            if response.status_code == 404:
                response.close()
                raise NotFound(f"{self._label}: repository {self.ref.repository} does not exist")
            if response.status_code != 200:
                raise unexpected_status(response, self._label, what, self.limits.error_body_bytes)
            next_url = self._next_link(response, what)
            raw = read_bounded(response, page_bytes, self._label, what)
            obj = load_object(
                raw, f"{self._label}: {what}", max_bytes=page_bytes, max_depth=self.limits.json_depth
            )
            page = obj.get("tags") or []
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise MalformedContent(f"{self._label}: {what}: 'tags' is not a list of strings")
            if len(tags) + len(page) > self.limits.tags:
                raise LimitExceeded(f"{self._label}: {what}: more than {self.limits.tags} tags")
            tags.extend(page)
            if next_url is None:
                return tags
            if not page:
                raise RegistryProtocolError(f"{self._label}: {what}: empty page with a link to another")
            url = next_url

    def push_blob(self, descriptor: Descriptor, data: bytes | BinaryIO) -> bool:
        """Upload a blob unless the registry already has it; True if bytes were sent."""
        digest = descriptor.digest
        what = f"upload of blob {digest.short} to {self.ref.repository}"
        if isinstance(data, bytes):
            if len(data) != descriptor.size:
                raise IntegrityError(f"{what}: {len(data)} bytes given, descriptor says {descriptor.size}")
            digest.check(data, what)
            body: bytes | BinaryIO = data
        else:
            body = cast(
                BinaryIO, _SizedBody(VerifyingReader(data, digest, descriptor.size, what), descriptor.size)
            )
        head = self.client.request("HEAD", f"{self._base}/blobs/{digest}", scopes=self._push, what=what)
        head.close()
        if head.status_code == 200:
            return False
        if head.status_code != 404:
            raise unexpected_status(head, self._label, what, self.limits.error_body_bytes)
        started = self.client.request("POST", f"{self._base}/blobs/uploads/", scopes=self._push, what=what)
        if started.status_code != 202:
            raise unexpected_status(started, self._label, what, self.limits.error_body_bytes)
        location = started.headers.get("Location")
        started.close()
        if not location:
            raise RegistryProtocolError(f"{self._label}: {what}: upload started without a Location")
        target = urljoin(started.url, location)
        self._check_same_origin(started.url, target, what)
        separator = "&" if urlsplit(target).query else "?"
        target = f"{target}{separator}digest={digest}"
        put = self.client.request(
            "PUT",
            target,
            scopes=self._push,
            what=what,
            headers={"Content-Type": "application/octet-stream"},
            data=body,
        )
        if put.status_code != 201:
            raise unexpected_status(put, self._label, what, self.limits.error_body_bytes)
        put.close()
        return True

    def has_blob(self, digest: Digest) -> bool:
        """Whether the registry already holds this blob (HEAD); errors raise, never read as absent."""
        what = f"blob {self.ref.repository}@{digest.short}"
        head = self.client.request("HEAD", f"{self._base}/blobs/{digest}", scopes=self._push, what=what)
        head.close()
        if head.status_code == 200:
            return True
        if head.status_code == 404:
            return False
        raise unexpected_status(head, self._label, what, self.limits.error_body_bytes)

    def mount_blob(self, digest: Digest, source_repository: str) -> bool:
        """Cross-repository mount from another repository on this registry; False if the registry declined.

        A declined mount (202) opens an upload session that is left to expire; the caller then uploads.
        """
        what = f"mount of blob {digest.short} from {source_repository} to {self.ref.repository}"
        scopes = (*self._push, Scope.repository(source_repository, "pull"))
        response = self.client.request(
            "POST",
            f"{self._base}/blobs/uploads/",
            scopes=scopes,
            what=what,
            params={"mount": str(digest), "from": source_repository},
        )
        response.close()
        if response.status_code == 201:
            return True
        if response.status_code == 202:
            return False
        raise unexpected_status(response, self._label, what, self.limits.error_body_bytes)

    def push_manifest(self, raw: bytes, media_type: str, reference: str | Digest | None = None) -> Digest:
        """Upload manifest bytes unchanged, under a tag or by digest (default: its own digest)."""
        digest = Digest.of(raw)
        if len(raw) > self.limits.manifest_bytes:
            raise LimitExceeded(
                f"manifest {digest.short}: {len(raw)} bytes exceeds {self.limits.manifest_bytes}"
            )
        if isinstance(reference, Digest):
            if reference != digest:
                raise IntegrityError(f"manifest bytes hash to {digest}, not the requested {reference}")
            target = str(digest)
        elif reference is None:
            target = str(digest)
        else:
            if not _TAG_RE.match(reference):
                raise InvalidReference(f"invalid tag {reference!r}")
            target = reference
        what = f"upload of manifest {self.ref.repository}:{target}"
        response = self.client.request(
            "PUT",
            f"{self._base}/manifests/{target}",
            scopes=self._push,
            what=what,
            headers={"Content-Type": media_type},
            data=raw,
        )
        if response.status_code != 201:
            raise unexpected_status(response, self._label, what, self.limits.error_body_bytes)
        echoed = response.headers.get("Docker-Content-Digest")
        response.close()
        if echoed and echoed.strip() != str(digest):
            raise RegistryProtocolError(
                f"{self._label}: {what}: registry stored it as {echoed.strip()}, not {digest}"
            )
        self._remember(FetchedManifest(Descriptor(media_type, digest, len(raw)), raw))
        return digest

    # -- internals ----------------------------------------------------------------------------------

    def _remember(self, fetched: FetchedManifest) -> None:
        if len(self._manifests) >= _MANIFEST_MEMO_ENTRIES:
            self._manifests.pop(next(iter(self._manifests)))
        self._manifests[fetched.descriptor.digest] = fetched

    def _fetch_manifest(
        self, reference: str, what: str, *, expected: Digest | None
    ) -> FetchedManifest | None:
        response = self.client.request(
            "GET",
            f"{self._base}/manifests/{reference}",
            scopes=self._pull,
            what=what,
            headers={"Accept": ", ".join(media.MANIFEST_ACCEPT)},
        )
        if response.status_code == 404:
            response.close()
            return None
        if response.status_code != 200:
            raise unexpected_status(response, self._label, what, self.limits.error_body_bytes)
        header_digest = response.headers.get("Docker-Content-Digest")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        raw = read_bounded(response, self.limits.manifest_bytes, self._label, what)
        if expected is not None:
            expected.check(raw, f"{self._label}: {what}")
            digest = expected
        else:
            digest = Digest.of(raw)
            if header_digest:
                try:
                    claimed = Digest.parse(header_digest.strip())
                except InvalidReference as e:
                    raise RegistryProtocolError(
                        f"{self._label}: {what}: malformed Docker-Content-Digest header"
                    ) from e
                claimed.check(raw, f"{self._label}: {what} (Docker-Content-Digest {claimed.short})")
        fetched = FetchedManifest(Descriptor(_manifest_media_type(content_type, raw), digest, len(raw)), raw)
        self._remember(fetched)
        return fetched

    @contextmanager
    def _open_blob(self, descriptor: Descriptor) -> Iterator[BinaryIO]:
        digest = descriptor.digest
        what = f"blob {self.ref.repository}@{digest.short}"
        if descriptor.size > self.limits.blob_bytes:
            raise LimitExceeded(
                f"{self._label}: {what}: {descriptor.size} bytes exceeds {self.limits.blob_bytes}"
            )
        if self.cache is not None:
            try:
                cached = self.cache.open(descriptor)
            except IntegrityError:
                cached = None  # the cache dropped a bad entry; fetch it again
            if cached is not None:
                with cached:
                    yield cached
                return
        response = self.client.request("GET", f"{self._base}/blobs/{digest}", scopes=self._pull, what=what)
        if response.status_code == 404:
            response.close()
            raise NotFound(f"{self._label}: {what} does not exist")
        if response.status_code != 200:
            raise unexpected_status(response, self._label, what, self.limits.error_body_bytes)
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) != descriptor.size:
            response.close()
            raise IntegrityError(
                f"{self._label}: {what}: registry sends {declared} bytes, descriptor says {descriptor.size}"
            )
        stream = cast(BinaryIO, ResponseStream(response, self._label, what))
        reader: BinaryIO
        if self.cache is not None:
            reader = self.cache.put_stream(descriptor, stream)  # verifies digest and size as it tees
        else:
            reader = cast(
                BinaryIO, VerifyingReader(stream, digest, descriptor.size, f"{self._label}: {what}")
            )
        try:
            yield reader
        finally:
            reader.close()

    def _next_link(self, response: Response, what: str) -> str | None:
        header = response.headers.get("Link")
        if not header:
            return None
        match = _LINK_NEXT_RE.search(header)
        if not match:
            return None
        target = urljoin(response.url, str(match.group(1)))
        self._check_same_origin(response.url, target, what)
        return target

    def _check_same_origin(self, source: str, target: str, what: str) -> None:
        if origin(source) != origin(target):
            raise RegistryProtocolError(
                f"{self._label}: {what}: registry points to another host ({urlsplit(target).netloc})"
            )


class _SizedBody:
    """A stream with a known length, so ``Content-Length`` is sent rather than chunked lines."""

    def __init__(self, reader: VerifyingReader, size: int) -> None:
        self._reader = reader
        self._size = size

    def __len__(self) -> int:
        return self._size

    def read(self, size: int = -1) -> bytes:
        return self._reader.read(size)


def _manifest_media_type(content_type: str, raw: bytes) -> str:
    """The served media type, or the document's own when the header is generic or missing."""
    if content_type in media.MANIFEST_TYPES or content_type in media.INDEX_TYPES:
        return content_type
    try:
        body: Any = load_object(raw, "manifest", max_bytes=len(raw) + 1, max_depth=64)
    except (MalformedContent, LimitExceeded):
        return content_type or media.OCI_MANIFEST
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return str(declared)
    return content_type or media.OCI_MANIFEST
