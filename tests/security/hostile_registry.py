"""NOT a registry: a loopback HTTP server that serves an image over the distribution API, then lies.

It speaks just enough of the API (``/v2/``, manifests by tag and digest, blobs, referrers, tags) for
``imagetrust inspect`` and ``audit`` to run against it.  Each test installs *hooks*: functions that see a
request and may answer it themselves (wrong bytes, a changed manifest, a storm of 503s, a redirect, a
slow drip, a body shorter than its ``Content-Length``...).  Every request is recorded, so tests can count
what the client asked for.  The real registry (``tests/support/registry.py``) is used wherever it can
misbehave in the way a test needs; this one exists for the misbehaviour a real registry cannot show.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from tests.support.images import Blob, BuiltImage, BuiltIndex, json_bytes


@dataclass
class Reply:
    """What to send.  ``content_length`` overrides the true length (a lie); ``truncate`` sends only that
    many body bytes and hangs up; ``drip`` sends one byte every ``drip`` seconds; ``drop`` closes the
    connection without any answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_length: int | None = None
    truncate: int | None = None
    drip: float | None = None
    drop: bool = False


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]

    @property
    def kind(self) -> str:
        """``manifests``, ``blobs``, ``referrers``, ``tags`` or ``base`` (the ``/v2/`` ping)."""
        parts = self.path.split("?")[0].split("/")
        for name in ("manifests", "blobs", "referrers", "tags"):
            if name in parts:
                return name
        return "base"

    @property
    def reference(self) -> str:
        """The last path element (tag or digest), without the query."""
        return self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]


Hook = Callable[[Request], Reply | None]

_API = re.compile(r"^/v2/(?P<repo>.+)/(?P<kind>manifests|blobs|referrers)/(?P<ref>[^/?]+)$")
_TAGS = re.compile(r"^/v2/(?P<repo>.+)/tags/list$")


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-answer are what these tests provoke: no tracebacks from server threads."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class HostileRegistry:
    """An in-test server on 127.0.0.1 holding manifests and blobs in memory; see the module docstring."""

    def __init__(self, repository: str = "app") -> None:
        self.repository = repository
        self.manifests: dict[str, tuple[str, bytes]] = {}  # digest -> (media type, bytes)
        self.tags: dict[str, str] = {}  # tag -> digest
        self.blobs: dict[str, bytes] = {}
        self.referrers: dict[str, list[dict[str, Any]]] = {}
        self.hooks: list[Hook] = []
        self.seen: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body leave in separate writes: without this, Nagle's algorithm holds the body until
            # the client's delayed ACK (about 40 ms per response on a kept-alive connection)
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with registry._lock:
                    registry.seen.append(request)
                reply = registry.answer(request)
                try:
                    registry._send(self, reply)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

            do_GET = do_HEAD = do_PUT = do_POST = _handle

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    # -- content ------------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        address, port = self._server.server_address[:2]
        return f"{address}:{port}"

    def ref(self, tag_or_digest: str = "v1") -> str:
        """A reference to this repository on this server, for the CLI or ``parse_registry_ref``."""
        separator = "@" if ":" in tag_or_digest else ":"
        return f"{self.host}/{self.repository}{separator}{tag_or_digest}"

    def put_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> Digest:
        digest = Digest.of(raw)
        self.manifests[str(digest)] = (media_type, raw)
        if tag is not None:
            self.tags[tag] = str(digest)
        return digest

    def put_blob(self, item: Blob | bytes) -> None:
        data = item.data if isinstance(item, Blob) else item
        self.blobs[str(Digest.of(data))] = data

    def put_image(self, image: BuiltImage | BuiltIndex, tag: str | None = "v1") -> Digest:
        """Store every blob of ``image`` and tag its top manifest (or index)."""
        for item in image.blobs:
            if item.descriptor.media_type in (*media.MANIFEST_TYPES, *media.INDEX_TYPES):
                self.put_manifest(item.data, item.descriptor.media_type)
            else:
                self.put_blob(item)
        top = image.index if isinstance(image, BuiltIndex) else image.manifest
        return self.put_manifest(top.data, top.descriptor.media_type, tag)

    def requests(self, kind: str) -> list[Request]:
        """Requests of one kind (``manifests``, ``blobs``, ...) seen so far."""
        with self._lock:
            return [r for r in self.seen if r.kind == kind]

    # -- behaviour ----------------------------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        for hook in list(self.hooks):
            reply = hook(request)
            if reply is not None:
                return reply
        return self.honest(request)

    def honest(self, request: Request) -> Reply:
        """What a correct registry would answer."""
        path = request.path.split("?")[0]
        if path in ("/v2/", "/v2"):
            return Reply(200, {"Content-Type": "application/json"}, b"{}")
        tags = _TAGS.match(path)
        if tags:
            return Reply(200, {"Content-Type": "application/json"}, json_bytes({"tags": sorted(self.tags)}))
        match = _API.match(path)
        if not match or match.group("repo") != self.repository:
            return Reply(404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
        kind, ref = match.group("kind"), match.group("ref")
        if kind == "manifests":
            digest = self.tags.get(ref, ref)
            if digest not in self.manifests:
                return Reply(404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            media_type, raw = self.manifests[digest]
            return Reply(200, {"Content-Type": media_type, "Docker-Content-Digest": digest}, raw)
        if kind == "blobs":
            if ref not in self.blobs:
                return Reply(404, {}, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
            return Reply(200, {"Content-Type": "application/octet-stream"}, self.blobs[ref])
        if ref not in self.referrers:
            return Reply(404, {}, b"")
        body = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": self.referrers[ref]}
        return Reply(200, {"Content-Type": media.OCI_INDEX}, json_bytes(body))

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.drop:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.send_response(reply.status)
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        length = len(reply.body) if reply.content_length is None else reply.content_length
        handler.send_header("Content-Length", str(length))
        if reply.truncate is not None or reply.content_length is not None:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.flush()
        if handler.command == "HEAD":
            return
        body = reply.body if reply.truncate is None else reply.body[: reply.truncate]
        if reply.drip is None:
            handler.wfile.write(body)
            handler.wfile.flush()
            return
        handler.close_connection = True
        for i in range(len(body)):
            if self._stopping.wait(reply.drip):
                return
            handler.wfile.write(body[i : i + 1])
            handler.wfile.flush()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
