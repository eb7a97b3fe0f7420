"""Reading a registry body straight into the caller's buffer: plain, chunked and content-encoded bodies."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator

import pytest

from imagetrust.errors import IntegrityError
from imagetrust.oci.digest import Digest
from imagetrust.registry.http import ResponseStream
from imagetrust.registry.stream import VerifyingReader
from imagetrust.registry.wire import Pool

BODY = bytes(range(256)) * 1200 + b"tail"  # ~300 KiB, more than one read


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path == "/gzip":  # a server that ignores Accept-Encoding: identity
            data = gzip.compress(BODY)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BODY), 70_000):
                piece = BODY[start : start + 70_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _read_verified(url: str, digest: Digest, size: int) -> bytes:
    pool = Pool(user_agent="t", ca_file=None, connect_timeout=5, read_timeout=5)
    response = pool.request("GET", url, {}, None)
    reader = VerifyingReader(ResponseStream(response, "test", "blob"), digest, size, "blob")  # type: ignore[arg-type]
    out = bytearray()
    buffer = bytearray(100_000)
    while count := reader.readinto(buffer):
        out += buffer[:count]
    reader.close()
    pool.close()
    return bytes(out)


@pytest.mark.parametrize("path", ["/plain", "/chunked", "/gzip"])
def test_body_read_into_buffers_is_whole_and_verified(server: str, path: str) -> None:
    digest = Digest("sha256", hashlib.sha256(BODY).hexdigest())
    assert _read_verified(server + path, digest, len(BODY)) == BODY


def test_wrong_digest_still_fails_at_the_end(server: str) -> None:
    wrong = Digest("sha256", hashlib.sha256(b"other").hexdigest())
    with pytest.raises(IntegrityError, match="content digest"):
        _read_verified(server + "/plain", wrong, len(BODY))
