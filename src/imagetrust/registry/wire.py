"""HTTP/1.1 on the standard library: pooled keep-alive connections, separate connect and read timeouts,
environment proxies, streaming bodies.

We do not use ``requests`` here: importing it (with urllib3, idna, charset_normalizer and a CA bundle
loaded even for plain HTTP) cost about 0.1 s, twice a whole keyed ``cosign verify``.  What registries need
is small: no cookies, no auth handlers (``auth.py`` does that), redirects handled by ``http.Transport``.
Errors are plain ``OSError``/``http.client`` exceptions; ``http.Transport`` translates them.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlencode, urlsplit

_IDLE_PER_ORIGIN = 16
_DRAIN_BYTES = 64 * 1024  # a small unread body is read to the end so its connection can be reused
_STALE = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)


class ConnectPhaseError(Exception):
    """Wraps an error raised before the request was sent (DNS, TCP connect, proxy tunnel, TLS)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # a Proxy-Authorization header value


def _no_proxy_matches(host: str, port: int, no_proxy: str) -> bool:
    """``NO_PROXY`` as curl and requests read it: ``*``, hosts, domain suffixes, ``host:port``, CIDRs."""
    for raw in no_proxy.replace(" ", "").split(","):
        entry = raw.lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port.isdigit() and int(entry_port) != port:
            continue
        if "/" in name:
            import ipaddress  # only for CIDR entries

            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                continue
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(scheme: str, host: str, port: int, environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy the environment asks for this URL, if any (``https_proxy``, ``http_proxy``,
    ``all_proxy``, lower case first, minus ``no_proxy``)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return env.get(name) or env.get(name.upper()) or ""

    url = get(f"{scheme}_proxy") or get("all_proxy")
    if not url or _no_proxy_matches(host.lower(), port, get("no_proxy")):
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ConnectPhaseError(
            OSError(f"proxy {parts.scheme}://{parts.hostname or ''} is not supported (only http:// proxies)")
        )
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    return Proxy(parts.hostname, parts.port or 80, authorization)


def _system_store_present() -> bool:
    paths = ssl.get_default_verify_paths()
    return bool(
        (paths.cafile and Path(paths.cafile).is_file()) or (paths.capath and Path(paths.capath).is_dir())
    )


def _tune(sock: socket.socket | None, read_timeout: float) -> None:
    """Reads wait at most ``read_timeout``; small writes leave at once (no Nagle delay, as urllib3 does)."""
    assert sock is not None
    sock.settimeout(read_timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Http(http.client.HTTPConnection):
    """Connects within ``connect_timeout``; every read after that waits at most ``read_timeout``."""

    def __init__(
        self, host: str, port: int, connect_timeout: float, read_timeout: float, *, via_proxy: bool = False
    ) -> None:
        super().__init__(host, port, timeout=connect_timeout)
        self.read_timeout = read_timeout
        self.via_proxy = via_proxy  # requests on it carry absolute URLs (a plain HTTP proxy)

    def connect(self) -> None:
        super().connect()
        _tune(self.sock, self.read_timeout)


class _Https(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, connect_timeout: float, read_timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=connect_timeout, context=context)
        self.read_timeout = read_timeout

    def connect(self) -> None:
        super().connect()  # TCP, proxy tunnel and TLS handshake, all within the connect timeout
        _tune(self.sock, self.read_timeout)


_Origin = tuple[str, str, int]


class Response:
    """A response whose body has not been read yet; ``close()`` returns its connection to the pool when
    the body was read to the end (or was small enough to finish reading), and drops it otherwise."""

    def __init__(
        self,
        raw: http.client.HTTPResponse,
        connection: http.client.HTTPConnection,
        pool: Pool,
        key: _Origin,
        url: str,
    ) -> None:
        self._raw = raw
        self._connection: http.client.HTTPConnection | None = connection
        self._pool = pool
        self._key = key
        self.url = url
        self.status_code = raw.status
        self.reason = raw.reason
        self.headers = raw.headers
        encoding = (raw.headers.get("Content-Encoding") or "").strip().lower()
        self._decoder = (
            zlib.decompressobj(16 + zlib.MAX_WBITS)
            if encoding in ("gzip", "x-gzip")
            else zlib.decompressobj()
            if encoding == "deflate"
            else None
        )
        self._decoded: Iterator[bytes] | None = None  # readinto over a content-decoded body
        self._pending = b""

    @property
    def sock(self) -> socket.socket | None:
        connection = self._connection
        return connection.sock if connection is not None else None

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        """The body in chunks of at most ``chunk_size`` bytes, content-decoded if the server encoded it
        although we asked for ``identity`` (decoded output is produced in bounded pieces)."""
        while True:
            chunk = self._raw.read(chunk_size)
            if not chunk:
                break
            if self._decoder is None:
                yield chunk
                continue
            pending = chunk
            while pending:
                out = self._decoder.decompress(pending, chunk_size)
                pending = self._decoder.unconsumed_tail
                if out:
                    yield out
        if self._decoder is not None:
            tail = self._decoder.flush()
            if tail:
                yield tail

    def readinto(self, buffer: memoryview) -> int:
        """Body bytes straight into ``buffer`` (0 at the end); a content-decoded body via ``iter_content``."""
        if self._decoder is None:
            return self._raw.readinto(buffer)
        if self._decoded is None:
            self._decoded = self.iter_content(len(buffer) or 1)
        while not self._pending:
            self._pending = next(self._decoded, b"")
            if not self._pending:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        raw = self._raw
        try:
            if not raw.isclosed() and raw.length is not None and raw.length <= _DRAIN_BYTES:
                raw.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            return
        if raw.isclosed() and not raw.will_close:
            self._pool.put(self._key, connection)
        else:
            raw.close()
            connection.close()


class Pool:
    """Idle keep-alive connections per origin, shared by the threads of one ``Transport``."""

    def __init__(
        self,
        *,
        user_agent: str,
        ca_file: str | None,
        connect_timeout: float,
        read_timeout: float,
        may_be_plain: Callable[[str], bool] = lambda netloc: False,
    ) -> None:
        self.may_be_plain = may_be_plain
        self.user_agent = user_agent
        self.ca_file = ca_file
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: dict[_Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None

    def tls_context(self) -> ssl.SSLContext:
        """Built on first HTTPS use: ``--registry-ca`` alone when given, else the system's trust store (as
        cosign and the Go clients use; OpenSSL reads it lazily, per verification), else certifi's bundle
        when the system has none."""
        with self._lock:
            if self._context is None:
                if self.ca_file is not None:
                    self._context = ssl.create_default_context(cafile=self.ca_file)
                elif _system_store_present():
                    self._context = ssl.create_default_context()
                else:
                    import certifi  # a requests dependency, present wherever we are installed

                    self._context = ssl.create_default_context(cafile=certifi.where())
            return self._context

    def put(self, key: _Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < _IDLE_PER_ORIGIN:
                idle.append(connection)
                return
        connection.close()

    def _take(self, key: _Origin) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _new(self, scheme: str, netloc: str, host: str, port: int) -> http.client.HTTPConnection:
        """A connection for the origin, through the environment's proxy if it names one."""
        proxy = proxy_for(scheme, host, port)
        if scheme == "https":
            target = (proxy.host, proxy.port) if proxy else (host, port)
            tunnel_headers = (
                {"Proxy-Authorization": proxy.authorization} if proxy and proxy.authorization else {}
            )
            if self._context is None and self.may_be_plain(netloc):
                self._probe_tls(target, (host, port) if proxy else None, tunnel_headers)
            https = _Https(*target, self.connect_timeout, self.read_timeout, self.tls_context())
            if proxy is not None:
                https.set_tunnel(host, port, headers=tunnel_headers)
            return https
        if proxy is not None:
            return _Http(proxy.host, proxy.port, self.connect_timeout, self.read_timeout, via_proxy=True)
        return _Http(host, port, self.connect_timeout, self.read_timeout)

    def _probe_tls(
        self, target: tuple[str, int], tunnel: tuple[str, int] | None, tunnel_headers: dict[str, str]
    ) -> None:
        """For a host that may serve plain HTTP: learn whether it speaks TLS at all before loading the CA
        store (about 20 ms).  A handshake with no trust anchors fails on the certificate if it does, and
        fails otherwise if it does not; only the second failure is raised, for the caller's fallback."""
        probe = _Https(
            *target, self.connect_timeout, self.read_timeout, ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        )
        if tunnel is not None:
            probe.set_tunnel(*tunnel, headers=tunnel_headers)
        try:
            probe.connect()
        except ssl.SSLCertVerificationError:
            pass  # it speaks TLS: connect again, verifying against the real store
        finally:
            probe.close()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | _Readable | None,
        params: Mapping[str, str | list[str]] | None = None,
    ) -> Response:
        """Send one request and return its response unread.  A reused connection the server has closed
        meanwhile is replaced once, transparently, when the body can be sent again."""
        if params:
            url = f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params, doseq=True)}"
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
        if scheme not in ("http", "https") or not host:
            raise ConnectPhaseError(OSError(f"unsupported URL {scheme}://{parts.netloc}"))
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host.lower(), port)
        all_headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity", **headers}
        if body is not None and not isinstance(body, bytes) and isinstance(body, Sized):
            all_headers.setdefault("Content-Length", str(len(body)))
        elif body is None and method in ("POST", "PUT", "PATCH"):
            all_headers.setdefault("Content-Length", "0")
        replayable = body is None or isinstance(body, bytes)
        connection = self._take(key)
        reused = connection is not None
        while True:
            if connection is None:
                try:
                    connection = self._new(scheme, parts.netloc, host, port)
                    connection.connect()
                except ConnectPhaseError:
                    raise
                except (OSError, http.client.HTTPException) as e:
                    raise ConnectPhaseError(e) from e
            absolute = isinstance(connection, _Http) and connection.via_proxy
            target = url if absolute else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            try:
                connection.request(method, target, body=body, headers=all_headers)
                raw = connection.getresponse()
            except _STALE:
                connection.close()
                if reused and replayable:
                    connection, reused = None, False
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            return Response(raw, connection, self, key, url)


def form_body(data: Mapping[str, Any]) -> bytes:
    return urlencode(data, doseq=True).encode()


__all__ = ["ConnectPhaseError", "Pool", "Proxy", "Response", "form_body", "proxy_for"]
