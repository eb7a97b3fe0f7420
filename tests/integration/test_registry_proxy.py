"""Registry requests through an HTTP proxy named by the environment, against the real docker-registry.

A plain HTTP proxy receives absolute URLs; the client must keep sending them on a connection it reuses,
and must go direct to a host ``no_proxy`` names.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from imagetrust.limits import Limits
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.client import RegistryClient
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.repository import RegistryRepository, open_repository
from tests.support.registry import RegistryServer, TinyImage, push_image

pytestmark = [pytest.mark.registry]


class ForwardingProxy:
    """A minimal plain-HTTP forward proxy: records (client port, request target) and forwards the request."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.seen.append((self.client_address[1], self.path))
                target = urlsplit(self.path)
                upstream = http.client.HTTPConnection(target.netloc, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "authorization")}
                upstream.request(
                    "GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers
                )
                response = upstream.getresponse()
                body = response.read()
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                upstream.close()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def proxy() -> Iterator[ForwardingProxy]:
    server = ForwardingProxy()
    yield server
    server.stop()


def _repo(host: str, name: str) -> RegistryRepository:
    options = RegistryOptions(docker_config=None, limits=Limits())
    ref = parse_registry_ref(f"{host}/{name}")
    return open_repository(ref, options, client=RegistryClient(ref.registry, ref.api_host, options))


def test_requests_go_through_the_proxy_with_absolute_urls_on_a_reused_connection(
    registry_plain: RegistryServer,
    tiny_image: TinyImage,
    proxy: ForwardingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest = push_image(_repo(registry_plain.host, "proxy/app"), tiny_image, "v1")
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", proxy.url)
    repo = _repo(registry_plain.host, "proxy/app:v1")
    assert repo.resolve().digest == digest
    repo.read_blob(tiny_image.config, 1 << 20)
    manifest_url = f"http://{registry_plain.host}/v2/proxy/app/manifests/v1"
    assert [target for _, target in proxy.seen][:1] == [manifest_url]
    assert all(target.startswith(f"http://{registry_plain.host}/v2/") for _, target in proxy.seen)
    assert len(proxy.seen) >= 2 and len({port for port, _ in proxy.seen}) == 1  # one kept-alive connection

    proxy.seen.clear()
    monkeypatch.setenv("no_proxy", registry_plain.host.split(":")[0])
    _repo(registry_plain.host, "proxy/app:v1").resolve()
    assert proxy.seen == []
