"""HTTP plumbing for registries: timeouts, bounded retries, redirects that never carry secrets, counting.

Every third-party network exception is translated here, so callers see only ``RegistryUnreachable``
(could not ask), ``RegistryProtocolError`` (asked, got nonsense) and their own status handling.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from imagetrust.errors import LimitExceeded, RegistryProtocolError, RegistryUnreachable
from imagetrust.limits import Limits
from imagetrust.registry.options import RegistryOptions, plain_http_allowed
from imagetrust.registry.wire import ConnectPhaseError, Pool, Response, form_body

RETRY_STATUSES = frozenset({429, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
# Headers that carry a secret; dropped whenever a request leaves the origin it was meant for.
_SECRET_HEADERS = ("authorization", "cookie", "proxy-authorization")


class TlsFailure(RegistryUnreachable):
    """The TLS handshake failed; ``certificate_problem`` says the peer spoke TLS but was not trusted."""

    def __init__(self, message: str, *, certificate_problem: bool) -> None:
        super().__init__(message)
        self.certificate_problem = certificate_problem


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and effective port: two URLs with the same origin may share credentials."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _exception_chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(nested, BaseException):
                todo.append(nested)
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))


def _is_certificate_problem(error: BaseException) -> bool:
    for item in _exception_chain(error):
        if isinstance(item, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(item) or "hostname mismatch" in str(item).lower():
            return True
    return False


def _is_connection_reset(error: BaseException) -> bool:
    """A connection that was made and then dropped: worth a retry, unlike one that was refused."""
    for item in _exception_chain(error):
        if isinstance(item, ConnectionRefusedError):
            return False
    for item in _exception_chain(error):
        if isinstance(item, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return True
        if type(item).__name__ in ("RemoteDisconnected", "ProtocolError", "IncompleteRead"):
            return True
    return False


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def one_line(text: str, limit: int = 200) -> str:
    """Untrusted server text made safe for a one-line message."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


class Transport:
    """The connections to one registry host (and wherever it redirects): reuse, timeouts, retries,
    redirects.  Proxies come from the environment; credentials never do (no ``.netrc``)."""

    def __init__(
        self,
        label: str,
        options: RegistryOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.label = label
        self.options = options
        self.limits = options.limits
        self.request_count = 0
        self._sleep = sleep
        self._pool = Pool(
            user_agent=options.user_agent,
            ca_file=str(options.ca_file) if options.ca_file else None,
            connect_timeout=self.limits.connect_timeout_seconds,
            read_timeout=self.limits.read_timeout_seconds,
            may_be_plain=lambda netloc: plain_http_allowed(netloc, options),
        )

    def close(self) -> None:
        self._pool.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | Any = None,
        params: Mapping[str, str | list[str]] | None = None,
        what: str,
    ) -> Response:
        """Send with retries for 429/502/503/504 and dropped connections; follow redirects for GET/HEAD.

        The response is returned streaming and unread, whatever its status; the caller must close it.
        """
        current_url = url
        current_headers = dict(headers or {})
        current_params = params
        hops = 0
        while True:
            response = self._send_with_retries(
                method, current_url, current_headers, data, current_params, what
            )
            if response.status_code not in REDIRECT_STATUSES or method not in ("GET", "HEAD"):
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise RegistryProtocolError(f"{self.label}: {what}: redirect without a Location header")
            hops += 1
            if hops > self.limits.redirects:
                raise RegistryProtocolError(
                    f"{self.label}: {what}: more than {self.limits.redirects} redirects"
                )
            target = urljoin(response.url, location)
            current_headers = self.headers_for_redirect(response.url, target, current_headers)
            self.check_scheme(target, what)
            current_url = target
            current_params = None

    @staticmethod
    def headers_for_redirect(source: str, target: str, headers: Mapping[str, str]) -> dict[str, str]:
        """Keep secret-bearing headers only when the redirect stays on the same origin."""
        if origin(source) == origin(target):
            return dict(headers)
        return {k: v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}

    def check_scheme(self, url: str, what: str) -> None:
        """Refuse to follow anything to plain HTTP on a host that is not allowed it."""
        parts = urlsplit(url)
        if parts.scheme == "https":
            return
        if parts.scheme == "http" and plain_http_allowed(parts.netloc, self.options):
            return
        raise RegistryProtocolError(
            f"{self.label}: {what}: refusing to follow the registry to {parts.scheme}://{parts.netloc} "
            "(only HTTPS, or plain HTTP to loopback and --insecure-registry hosts)"
        )

    def _send_with_retries(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | Any,
        params: Mapping[str, str | list[str]] | None,
        what: str,
    ) -> Response:
        replayable = data is None or isinstance(data, bytes | str | dict)
        attempt = 0
        while True:
            try:
                response = self._send_once(method, url, headers, data, params, what)
            except RegistryProtocolError:
                if attempt >= self.limits.retries or not replayable:
                    raise
                self._sleep(self.limits.backoff_seconds * (2**attempt))
                attempt += 1
                continue
            if response.status_code not in RETRY_STATUSES:
                return response
            status = f"{response.status_code} {response.reason or ''}".strip()
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            response.close()
            if retry_after is not None and retry_after > self.limits.max_retry_after_seconds:
                raise RegistryProtocolError(
                    f"{self.label}: {what}: {status}, and the registry asks to wait {retry_after:.0f} s "
                    f"(more than the {self.limits.max_retry_after_seconds:g} s limit)"
                )
            if attempt >= self.limits.retries or not replayable:
                raise RegistryProtocolError(f"{self.label}: {what}: {status} after {attempt + 1} attempts")
            delay = retry_after if retry_after is not None else self.limits.backoff_seconds * (2**attempt)
            self._sleep(delay)
            attempt += 1

    def _send_once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | Any,
        params: Mapping[str, str | list[str]] | None,
        what: str,
    ) -> Response:
        body = data
        if isinstance(data, dict):
            body = form_body(data)
            headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        elif isinstance(data, str):
            body = data.encode()
        self.request_count += 1
        try:
            response = self._pool.request(method, url, headers, body, params)
        except ConnectPhaseError as e:
            raise self._connect_failure(e.error, url, what) from e.error
        except ssl.SSLError as e:
            raise self._tls_failure(e, what) from e
        except TimeoutError as e:
            raise RegistryUnreachable(
                f"{self.label}: {what}: no answer within {self.limits.read_timeout_seconds:g} s"
            ) from e
        except (OSError, http.client.HTTPException) as e:
            if _is_connection_reset(e) or isinstance(e, http.client.HTTPException):
                raise RegistryProtocolError(f"{self.label}: {what}: connection dropped ({_reason(e)})") from e
            raise RegistryUnreachable(f"{self.label}: {what}: request failed ({_reason(e)})") from e
        setattr(response, _LIMITS_ATTR, self.limits)
        return response

    def _tls_failure(self, error: BaseException, what: str) -> TlsFailure:
        problem = _is_certificate_problem(error)
        hint = " (use --registry-ca for a private CA)" if problem else ""
        return TlsFailure(
            f"{self.label}: {what}: TLS failed{hint}: {_reason(error)}", certificate_problem=problem
        )

    def _connect_failure(self, error: BaseException, url: str, what: str) -> RegistryUnreachable:
        if isinstance(error, ssl.SSLError):
            return self._tls_failure(error, what)
        if isinstance(error, TimeoutError):
            return RegistryUnreachable(
                f"{self.label}: {what}: no connection within {self.limits.connect_timeout_seconds:g} s"
            )
        if url.startswith("https:") and isinstance(
            error, ConnectionResetError | http.client.RemoteDisconnected
        ):
            # the peer hung up on our ClientHello: it does not speak TLS
            return TlsFailure(
                f"{self.label}: {what}: TLS failed: {_reason(error)}", certificate_problem=False
            )
        if isinstance(error, socket.gaierror):
            return RegistryUnreachable(
                f"{self.label}: {what}: cannot connect (name not resolved: {_reason(error)})"
            )
        return RegistryUnreachable(f"{self.label}: {what}: cannot connect ({_reason(error)})")


def _reason(error: BaseException) -> str:
    """The innermost useful message of an exception chain."""
    innermost = error
    for item in _exception_chain(error):
        innermost = item
    text = str(innermost) or type(innermost).__name__
    for item in _exception_chain(error):
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, ssl.SSLError) and item.reason:
            return one_line(str(item.reason))
    return one_line(text)


_LIMITS_ATTR = "_imagetrust_limits"


class _Deadline:
    """Shuts a response's socket down when its time is up.

    The read timeout bounds each socket read, not the body: a server dripping one byte a second
    would hold a reader for as long as it likes.  The timer is armed only while the body is being read, so
    it can never reach a connection that has gone back to the pool.
    """

    def __init__(self, response: Response, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._response = response
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        sock = _socket_of(self._response)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _socket_of(response: Response) -> socket.socket | None:
    sock = response.sock
    return sock if isinstance(sock, socket.socket) else None


def body_deadline(response: Response, max_bytes: int) -> float | None:
    """Seconds allowed for the whole body: a fixed allowance plus its length at the minimum rate."""
    limits = getattr(response, _LIMITS_ATTR, None)
    if not isinstance(limits, Limits):
        return None
    declared = response.headers.get("Content-Length")
    size = min(int(declared), max_bytes) if declared and declared.isdigit() else max_bytes
    return limits.request_deadline_seconds + size / max(1, limits.min_bytes_per_second)


class BodyReader:
    """A streaming body, read within its deadline with network failures translated: in chunks, or straight
    into the caller's buffer (a blob's bytes are then copied once, from the socket to the inflater).

    The deadline's clock starts with the first read; ``end()`` stops it (reading to the end does).
    """

    def __init__(self, response: Response, label: str, what: str, max_bytes: int | None = None) -> None:
        limits = getattr(response, _LIMITS_ATTR, None)
        if max_bytes is None:
            max_bytes = limits.blob_bytes if isinstance(limits, Limits) else 0
        self._response = response
        self._label = label
        self._what = what
        self._seconds = body_deadline(response, max_bytes)
        self._deadline: _Deadline | None = None
        self._ended = False

    def readinto(self, view: memoryview) -> int:
        """Bytes of the body into ``view``; 0 at its end."""
        self._arm()
        with self._translated():
            count = self._response.readinto(view)
        self._check_time()
        if not count:
            self.end()
        return count

    def chunks(self) -> Iterator[bytes]:
        self._arm()
        pieces = self._response.iter_content(_CHUNK)
        try:
            while True:
                with self._translated():
                    chunk = next(pieces, b"")
                self._check_time()
                if not chunk:
                    return
                yield chunk
        finally:
            self.end()

    def end(self) -> None:
        self._ended = True
        if self._deadline is not None:
            self._deadline.cancel()

    def _arm(self) -> None:
        if self._deadline is None and self._seconds is not None and not self._ended:
            self._deadline = _Deadline(self._response, self._seconds)

    def _expired(self) -> bool:
        return self._deadline is not None and self._deadline.expired

    def _check_time(self) -> None:
        # also after a clean-looking end: a close-delimited body cut short by the deadline looks like one
        if self._expired():
            self.end()
            raise self._late()

    def _late(self) -> RegistryUnreachable:
        assert self._deadline is not None
        return RegistryUnreachable(
            f"{self._label}: {self._what}: the registry did not finish sending within "
            f"{self._deadline.seconds:g} s (request deadline; is it dripping bytes?)"
        )

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (OSError, http.client.HTTPException, zlib.error) as e:  # TimeoutError is an OSError
            self.end()
            if self._expired():
                raise self._late() from e
            if isinstance(e, TimeoutError):
                raise RegistryUnreachable(
                    f"{self._label}: {self._what}: the registry stopped sending ({_reason(e)})"
                ) from e
            raise RegistryProtocolError(
                f"{self._label}: {self._what}: connection dropped mid-body ({_reason(e)})"
            ) from e


def iter_body(response: Response, label: str, what: str, max_bytes: int | None = None) -> Iterator[bytes]:
    """Chunks of a streaming body with network failures translated, within the body's deadline."""
    return BodyReader(response, label, what, max_bytes).chunks()


def read_bounded(response: Response, max_bytes: int, label: str, what: str) -> bytes:
    """The whole body, refusing (and not reading) more than ``max_bytes``."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise LimitExceeded(f"{label}: {what}: {declared} bytes exceeds the limit of {max_bytes}")
    buffer = bytearray()
    try:
        for chunk in iter_body(response, label, what, max_bytes):
            buffer += chunk
            if len(buffer) > max_bytes:
                raise LimitExceeded(f"{label}: {what}: larger than the limit of {max_bytes} bytes")
    finally:
        response.close()
    return bytes(buffer)


class ResponseStream(io.RawIOBase):
    """A file-like view of a streaming response, for ``VerifyingReader``; closes the response with it."""

    def __init__(self, response: Response, label: str, what: str) -> None:
        super().__init__()
        self._response = response
        self._body = BodyReader(response, label, what)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return self._body.readinto(memoryview(buffer).cast("B"))

    def close(self) -> None:
        try:
            self._body.end()
            self._response.close()
        finally:
            super().close()
