"""Network failure handling: unreachable hosts, silent peers, 429/503, resets, redirects, pagination.

The real registry cannot be made to rate-limit, drop connections or redirect to blob storage, so these tests
use ``FaultInjector``: a small in-test HTTP server that plays a misbehaving registry, clearly not a real one.
Unreachable and silent hosts use plain sockets.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imagetrust.errors import (
    AuthenticationError,
    LimitExceeded,
    RegistryProtocolError,
    RegistryUnreachable,
)
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.client import RegistryClient
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.repository import RegistryRepository, open_repository
from tests.support.registry import TinyImage, free_port

FAST = Limits(retries=3, backoff_seconds=0.01, connect_timeout_seconds=2, read_timeout_seconds=2)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop: bool = False  # close the connection without answering (a reset, as a client sees it)


Route = Callable[["Seen"], Reply]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class FaultInjector:
    """NOT a registry: a scripted HTTP server that misbehaves on purpose, on a loopback address."""

    def __init__(self, route: Route, address: str = "127.0.0.1") -> None:
        self.route = route
        self.seen: list[Seen] = []
        injector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body leave in separate writes: without this, Nagle's algorithm holds the body until
            # the client's delayed ACK (about 40 ms per response on a kept-alive connection)
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                injector.seen.append(seen)
                reply = injector.route(seen)
                if reply.drop:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_HEAD = do_PUT = do_POST = _handle

        self._server = ThreadingHTTPServer((address, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        address, port = self._server.server_address[:2]
        return f"{address}:{port}"

    def api(self) -> list[Seen]:
        """Requests made to the registry API (the client's TLS probe of this plain server is not one)."""
        return [s for s in self.seen if s.path.startswith("/v2/")]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def injectors() -> Iterator[list[FaultInjector]]:
    started: list[FaultInjector] = []
    yield started
    for injector in started:
        injector.stop()


def _start(injectors: list[FaultInjector], route: Route, address: str = "127.0.0.1") -> FaultInjector:
    injector = FaultInjector(route, address)
    injectors.append(injector)
    return injector


def _repo(host: str, reference: str = "app:v1", limits: Limits = FAST, **kw: object) -> RegistryRepository:
    options = RegistryOptions(docker_config=None, limits=limits, **kw)  # type: ignore[arg-type]
    ref = parse_registry_ref(f"{host}/{reference}")
    return open_repository(ref, options, client=RegistryClient(ref.registry, ref.api_host, options))


def _manifest(image: TinyImage) -> Reply:
    return Reply(
        200,
        {"Content-Type": media.OCI_MANIFEST, "Docker-Content-Digest": str(image.manifest.digest)},
        image.manifest_raw,
    )


def test_closed_port_fails_fast() -> None:
    port = free_port()  # nothing listens here
    start = time.monotonic()
    with pytest.raises(RegistryUnreachable, match="cannot connect"):
        _repo(f"127.0.0.1:{port}", limits=Limits()).resolve()
    assert time.monotonic() - start < 5


def test_silent_listener_fails_within_the_timeouts() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel accepts; nobody ever answers
        port = listener.getsockname()[1]
        limits = Limits(connect_timeout_seconds=0.5, read_timeout_seconds=0.5, backoff_seconds=0.01)
        start = time.monotonic()
        with pytest.raises(RegistryUnreachable):
            _repo(f"127.0.0.1:{port}", limits=limits).resolve()
        assert time.monotonic() - start < 3


def test_429_retry_after_is_honoured(injectors: list[FaultInjector], tiny_image: TinyImage) -> None:
    calls = iter([Reply(429, {"Retry-After": "1"}), _manifest(tiny_image)])
    server = _start(injectors, lambda seen: next(calls) if seen.path.startswith("/v2/") else Reply(400))
    start = time.monotonic()
    assert _repo(server.host).resolve().digest == tiny_image.manifest.digest
    assert time.monotonic() - start >= 1.0  # waited as asked, not the 0.01 s backoff
    assert len(server.api()) == 2


def test_503_storm_ends_in_protocol_error(injectors: list[FaultInjector]) -> None:
    server = _start(injectors, lambda seen: Reply(503))
    with pytest.raises(RegistryProtocolError, match="503") as caught:
        _repo(server.host).resolve()
    assert "4 attempts" in caught.value.diagnostics()
    assert len(server.api()) == 1 + FAST.retries


def test_retry_after_beyond_the_limit_is_an_outage(injectors: list[FaultInjector]) -> None:
    server = _start(injectors, lambda seen: Reply(429, {"Retry-After": "3600"}))
    start = time.monotonic()
    with pytest.raises(RegistryProtocolError, match="3600"):
        _repo(server.host).resolve()
    assert time.monotonic() - start < 2
    assert len(server.api()) == 1


def test_dropped_connection_is_retried(injectors: list[FaultInjector], tiny_image: TinyImage) -> None:
    calls = iter([Reply(drop=True), _manifest(tiny_image)])
    server = _start(injectors, lambda seen: next(calls) if seen.path.startswith("/v2/") else Reply(400))
    assert _repo(server.host).resolve().digest == tiny_image.manifest.digest
    assert len(server.api()) == 2


def test_unexpected_status_carries_the_registry_error(injectors: list[FaultInjector]) -> None:
    body = json.dumps({"errors": [{"code": "UNKNOWN", "message": "disk on fire\nsecond line"}]}).encode()
    server = _start(injectors, lambda seen: Reply(500, {"Content-Type": "application/json"}, body))
    with pytest.raises(RegistryProtocolError) as caught:
        _repo(server.host).resolve()
    message = caught.value.diagnostics()
    assert "500" in message and "UNKNOWN: disk on fire second line" in message


def test_oversized_manifest_is_refused(injectors: list[FaultInjector]) -> None:
    server = _start(injectors, lambda seen: Reply(200, {"Content-Type": media.OCI_MANIFEST}, b" " * 5000))
    with pytest.raises(LimitExceeded):
        _repo(server.host, limits=Limits(manifest_bytes=4096)).resolve()


def test_cross_host_redirect_drops_authorization(
    injectors: list[FaultInjector], tiny_image: TinyImage
) -> None:
    """Blob storage on another host must never see the registry's credentials (CVE-2025-27403 class)."""
    good = "Basic " + base64.b64encode(b"alice:secret").decode()
    storage = _start(injectors, lambda seen: Reply(200, {}, tiny_image.layer_raw), address="127.0.0.2")

    def registry(seen: Seen) -> Reply:
        if not seen.path.startswith("/v2/"):
            return Reply(400)
        if seen.headers.get("authorization") != good:
            return Reply(401, {"WWW-Authenticate": 'Basic realm="test"'})
        return Reply(307, {"Location": f"http://{storage.host}/bucket/layer?sig=abc"})

    server = _start(injectors, registry)
    repo = _repo(server.host, username="alice", password="secret")
    assert repo.read_blob(tiny_image.layer, 1 << 20) == tiny_image.layer_raw
    assert [s.path for s in storage.seen] == ["/bucket/layer?sig=abc"]
    assert "authorization" not in storage.seen[0].headers


def test_same_origin_redirect_keeps_authorization(
    injectors: list[FaultInjector], tiny_image: TinyImage
) -> None:
    good = "Basic " + base64.b64encode(b"alice:secret").decode()

    def registry(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != good:
            return Reply(401, {"WWW-Authenticate": 'Basic realm="test"'})
        if seen.path.startswith("/storage/"):
            return Reply(200, {}, tiny_image.layer_raw)
        return Reply(307, {"Location": "/storage/layer"})

    server = _start(injectors, registry)
    repo = _repo(server.host, username="alice", password="secret")
    assert repo.read_blob(tiny_image.layer, 1 << 20) == tiny_image.layer_raw
    assert server.seen[-1].path == "/storage/layer"


def test_redirect_to_plain_http_elsewhere_is_refused(
    injectors: list[FaultInjector], tiny_image: TinyImage
) -> None:
    server = _start(injectors, lambda seen: Reply(307, {"Location": "http://storage.example/layer"}))
    with pytest.raises(RegistryProtocolError, match=r"storage\.example"):
        _repo(server.host).read_blob(tiny_image.layer, 1 << 20)


def test_credentials_refused_when_the_registry_demands_them_anonymously(
    injectors: list[FaultInjector],
) -> None:
    server = _start(injectors, lambda seen: Reply(401, {"WWW-Authenticate": 'Basic realm="x"'}))
    with pytest.raises(AuthenticationError, match="anonymous"):
        _repo(server.host).resolve()


def _referrer(index: int) -> dict[str, object]:
    digest = Digest.of(f"referrer {index}".encode())
    return {
        "mediaType": media.OCI_MANIFEST,
        "digest": str(digest),
        "size": 100 + index,
        "artifactType": "application/vnd.example+json",
    }


def _referrer_pages(pages: int, per_page: int, next_host: str | None = None) -> Route:
    def route(seen: Seen) -> Reply:
        if "/referrers/" not in seen.path:
            return Reply(400)
        page = int(seen.path.split("page=")[1]) if "page=" in seen.path else 0
        items = [_referrer(page * per_page + i) for i in range(per_page)]
        headers = {"Content-Type": media.OCI_INDEX}
        if page + 1 < pages:
            base = f"http://{next_host}" if next_host else ""
            headers["Link"] = f'<{base}{seen.path.split("?")[0]}?page={page + 1}>; rel="next"'
        body = json.dumps({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": items}).encode()
        return Reply(200, headers, body)

    return route


def test_referrers_follow_pagination(injectors: list[FaultInjector], tiny_image: TinyImage) -> None:
    server = _start(injectors, _referrer_pages(pages=3, per_page=4))
    found = _repo(server.host).referrers(tiny_image.manifest.digest)
    assert found is not None and len(found) == 12
    assert isinstance(found[0], Descriptor) and found[0].artifact_type == "application/vnd.example+json"
    assert len(server.api()) == 3


def test_referrers_page_and_count_limits(injectors: list[FaultInjector], tiny_image: TinyImage) -> None:
    server = _start(injectors, _referrer_pages(pages=50, per_page=1))
    with pytest.raises(LimitExceeded, match="pages"):
        _repo(server.host, limits=Limits(referrer_pages=5)).referrers(tiny_image.manifest.digest)
    assert len(server.api()) == 5
    server = _start(injectors, _referrer_pages(pages=1, per_page=30))
    with pytest.raises(LimitExceeded, match="referrers"):
        _repo(server.host, limits=Limits(referrers=10)).referrers(tiny_image.manifest.digest)


def test_referrers_link_to_another_host_is_refused(
    injectors: list[FaultInjector], tiny_image: TinyImage
) -> None:
    server = _start(injectors, _referrer_pages(pages=2, per_page=1, next_host="127.0.0.2:1"))
    with pytest.raises(RegistryProtocolError, match="another host"):
        _repo(server.host).referrers(tiny_image.manifest.digest)


def test_referrers_errors_are_not_absence(injectors: list[FaultInjector], tiny_image: TinyImage) -> None:
    """Only a 404 means "no referrers API"; a 500 must never read as "nothing refers to this"."""
    server = _start(injectors, lambda seen: Reply(500))
    with pytest.raises(RegistryProtocolError):
        _repo(server.host).referrers(tiny_image.manifest.digest)


def test_tag_list_follows_link_pagination(injectors: list[FaultInjector]) -> None:
    def route(seen: Seen) -> Reply:
        last = seen.path.split("last=")[1] if "last=" in seen.path else None
        start = 0 if last is None else int(last[1:]) + 1
        tags = [f"t{i}" for i in range(start, min(start + 3, 8))]
        headers = {"Content-Type": "application/json"}
        if start + 3 < 8:
            headers["Link"] = f'</v2/app/tags/list?n=3&last={tags[-1]}>; rel="next"'
        return Reply(200, headers, json.dumps({"name": "app", "tags": tags}).encode())

    server = _start(injectors, route)
    assert _repo(server.host).list_tags(page_size=3) == [f"t{i}" for i in range(8)]
    with pytest.raises(LimitExceeded):
        _repo(server.host, limits=Limits(tags=5)).list_tags(page_size=3)
