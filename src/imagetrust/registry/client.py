"""One client per registry host: picks the scheme once, answers auth challenges, counts requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from imagetrust.errors import AuthenticationError, RegistryProtocolError
from imagetrust.registry.auth import Authorizer, Scope, parse_challenge
from imagetrust.registry.credentials import lookup_credentials
from imagetrust.registry.http import TlsFailure, Transport, one_line, read_bounded
from imagetrust.registry.options import RegistryOptions, plain_http_allowed
from imagetrust.registry.wire import Response

__all__ = ["RegistryClient", "RegistryOptions", "describe_error_body", "unexpected_status"]


class RegistryClient:
    """Talks to one registry host; shared by every repository opened on it.

    ``registry`` is the reference's registry name (``docker.io``), used to look up credentials;
    ``api_host`` is where requests go (``registry-1.docker.io``).
    """

    def __init__(self, registry: str, api_host: str, options: RegistryOptions) -> None:
        self.registry = registry
        self.api_host = api_host
        self.options = options
        self.limits = options.limits
        self.label = f"registry {registry}"
        self.transport = Transport(self.label, options)
        self._scheme: str | None = None if plain_http_allowed(api_host, options) else "https"
        self._authorizer: Authorizer | None = None
        self._lock = threading.Lock()

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (including retries and token requests), for benchmarks."""
        return self.transport.request_count

    @property
    def scheme(self) -> str | None:
        return self._scheme

    def close(self) -> None:
        self.transport.close()

    def _auth(self) -> Authorizer:
        if self._authorizer is None:
            creds = lookup_credentials(self.registry, self.options)
            self._authorizer = Authorizer(self.label, self.transport, creds)
        return self._authorizer

    def url(self, path: str) -> str:
        return f"{self._scheme or 'https'}://{self.api_host}{path}"

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scopes: tuple[Scope, ...],
        what: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | Any = None,
        params: Mapping[str, str | list[str]] | None = None,
    ) -> Response:
        """Send one API request, authenticating as the registry demands; 401/403 become errors here.

        Any other status is returned for the caller to interpret; the caller closes the response.
        """
        with self._lock:
            if self._scheme is None:
                return self._probe_scheme(method, path_or_url, scopes, what, headers, data, params)
        return self._authenticated(method, path_or_url, scopes, what, headers, data, params)

    def _probe_scheme(
        self,
        method: str,
        path_or_url: str,
        scopes: tuple[Scope, ...],
        what: str,
        headers: Mapping[str, str] | None,
        data: bytes | Any,
        params: Mapping[str, str | list[str]] | None,
    ) -> Response:
        """For hosts allowed plain HTTP: HTTPS first, plain HTTP only if the peer does not speak TLS.

        A certificate the user does not trust is an error, never a reason to drop to plain HTTP.
        """
        self._scheme = "https"
        try:
            return self._authenticated(method, path_or_url, scopes, what, headers, data, params)
        except TlsFailure as e:
            if e.certificate_problem:
                self._scheme = None
                raise
        self._scheme = "http"
        return self._authenticated(method, path_or_url, scopes, what, headers, data, params)

    def _authenticated(
        self,
        method: str,
        path_or_url: str,
        scopes: tuple[Scope, ...],
        what: str,
        headers: Mapping[str, str] | None,
        data: bytes | Any,
        params: Mapping[str, str | list[str]] | None,
    ) -> Response:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        auth = self._auth()
        scheme = self._scheme or "https"
        retried_stale = False
        fresh_challenge = False
        while True:
            auth_headers, fetched = auth.header(scopes, scheme, self.api_host)
            sent_auth = "Authorization" in auth_headers
            merged = {**(headers or {}), **auth_headers}
            response = self.transport.send(method, url, headers=merged, data=data, params=params, what=what)
            if response.status_code not in (401, 403):
                return response
            challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
            detail = _error_detail(response, self.limits.error_body_bytes, self.label, what)
            if response.status_code == 401 and challenge is not None and not fresh_challenge:
                changed = auth.challenge != challenge and (
                    auth.challenge is None
                    or (auth.challenge.scheme, auth.challenge.realm, auth.challenge.service)
                    != (challenge.scheme, challenge.realm, challenge.service)
                )
                if changed or not sent_auth:
                    auth.challenge = challenge
                    fresh_challenge = True
                    if challenge.scheme == "basic" and auth.credentials is None:
                        raise auth.refused(scopes)
                    continue
            if (
                response.status_code == 401
                and sent_auth
                and not fetched
                and not retried_stale
                and auth.challenge is not None
                and auth.challenge.scheme == "bearer"
            ):
                # A cached token may have expired or been revoked early: one fresh token, then give up.
                auth.forget_token(auth_headers["Authorization"].removeprefix("Bearer "))
                retried_stale = True
                continue
            error = auth.refused(scopes)
            if detail:
                raise AuthenticationError(f"{error.diagnostics()}: {detail}")
            raise error


def _error_detail(response: Response, max_bytes: int, label: str, what: str) -> str:
    """``CODE: message`` from a distribution error body, read within bounds; empty if there is none."""
    try:
        raw = read_bounded(response, max_bytes, label, what)
    except Exception:
        response.close()
        return ""
    return describe_error_body(raw)


def describe_error_body(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return one_line(raw.decode("utf-8", "replace"), 160) if raw.strip() else ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        parts = []
        for entry in errors[:3]:
            if isinstance(entry, dict):
                code = entry.get("code")
                message = entry.get("message")
                parts.append(": ".join(str(x) for x in (code, message) if isinstance(x, str) and x))
        return one_line("; ".join(p for p in parts if p), 200)
    return ""


def unexpected_status(response: Response, label: str, what: str, max_bytes: int) -> RegistryProtocolError:
    """A ``RegistryProtocolError`` naming the status and the registry's own error code and message."""
    status = f"{response.status_code} {response.reason or ''}".strip()
    detail = _error_detail(response, max_bytes, label, what)
    return RegistryProtocolError(f"{label}: {what}: unexpected {status}" + (f" ({detail})" if detail else ""))
