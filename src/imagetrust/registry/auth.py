"""Registry authentication: challenges, Basic, and Bearer tokens scoped per repository and action.

Tokens are cached per (realm, service, scope set).  A cached token is reused only when its scopes cover the
request, so moving from pull to push asks the token server again instead of replaying a pull-only token.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from imagetrust.errors import AuthenticationError, RegistryProtocolError
from imagetrust.registry.credentials import Credentials
from imagetrust.registry.http import Transport, one_line, read_bounded
from imagetrust.registry.options import credentials_allowed_over

_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
_DEFAULT_TOKEN_SECONDS = 60
_EXPIRY_MARGIN_SECONDS = 10


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header."""

    scheme: str  # "basic" or "bearer"
    realm: str = ""
    service: str | None = None
    scope: str | None = None


def parse_challenge(header: str | None) -> Challenge | None:
    """The first Basic or Bearer challenge in a ``WWW-Authenticate`` value, or None."""
    if not header:
        return None
    text = header.strip()
    scheme, _, rest = text.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("basic", "bearer"):
        return None
    params: dict[str, str] = {}
    for match in _PARAM_RE.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return Challenge(scheme, params.get("realm", ""), params.get("service"), params.get("scope"))


@dataclass(frozen=True)
class Scope:
    """``repository:<name>:<actions>``; actions are a set so pull,push covers pull."""

    resource_type: str
    name: str
    actions: frozenset[str]

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        return cls("repository", name, frozenset(actions))

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        parts = text.split(":")
        if len(parts) < 3:
            return None
        return cls(parts[0], ":".join(parts[1:-1]), frozenset(a for a in parts[-1].split(",") if a))

    def covers(self, other: Scope) -> bool:
        return (
            self.resource_type == other.resource_type
            and self.name == other.name
            and self.actions >= other.actions
        )

    def __str__(self) -> str:
        order = {"pull": 0, "push": 1}
        actions = sorted(self.actions, key=lambda a: (order.get(a, 2), a))
        return f"{self.resource_type}:{self.name}:{','.join(actions)}"


def merge_scopes(scopes: tuple[Scope, ...]) -> tuple[Scope, ...]:
    merged: dict[tuple[str, str], frozenset[str]] = {}
    for scope in scopes:
        key = (scope.resource_type, scope.name)
        merged[key] = merged.get(key, frozenset()) | scope.actions
    return tuple(Scope(t, n, a) for (t, n), a in sorted(merged.items()))


@dataclass
class _Token:
    value: str
    scopes: tuple[Scope, ...]
    expires_at: float

    def covers(self, wanted: tuple[Scope, ...]) -> bool:
        return all(any(have.covers(want) for have in self.scopes) for want in wanted)


@dataclass
class Authorizer:
    """What one registry host asked for, and the secrets we may answer it with.

    ``credentials`` belong to this host only; they are sent to it (Basic) or to the token realm it names
    (Bearer), never over plain HTTP to a non-loopback host, and never along redirects.

    Shared by every thread talking to the host (one client per host pools connections), so the token list
    is guarded by a lock; holding it across a token fetch also stops threads fetching the same token twice.
    """

    label: str
    transport: Transport
    credentials: Credentials | None
    challenge: Challenge | None = None
    _tokens: list[_Token] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def describe_user(self) -> str:
        if self.credentials is None:
            return "anonymous access"
        if self.credentials.username:
            return f"user {self.credentials.username!r}"
        return f"the identity token from {self.credentials.source}"

    def forget_token(self, value: str) -> None:
        with self._lock:
            self._tokens = [t for t in self._tokens if t.value != value]

    def header(self, scopes: tuple[Scope, ...], scheme: str, host: str) -> tuple[dict[str, str], bool]:
        """Authorization header for a request needing ``scopes``; the flag says a new token was fetched."""
        if self.challenge is None:
            return {}, False
        if self.challenge.scheme == "basic":
            if self.credentials is None or self.credentials.identity_token:
                return {}, False
            if not credentials_allowed_over(scheme, host):
                raise AuthenticationError(
                    f"{self.label}: refusing to send the password for {self.describe_user()} over plain HTTP"
                )
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}, False
        with self._lock:
            now = time.monotonic()
            self._tokens = [t for t in self._tokens if t.expires_at > now]
            for token in self._tokens:
                if token.covers(scopes):
                    return {"Authorization": f"Bearer {token.value}"}, False
            token = self._fetch_token(scopes)
            self._tokens.append(token)
            return {"Authorization": f"Bearer {token.value}"}, True

    def _fetch_token(self, scopes: tuple[Scope, ...]) -> _Token:
        assert self.challenge is not None
        realm = self.challenge.realm
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryProtocolError(f"{self.label}: token realm {one_line(realm)!r} is not an HTTP URL")
        self.transport.check_scheme(realm, "token request")
        wanted = merge_scopes(scopes)
        creds = self.credentials
        if creds is not None and not credentials_allowed_over(parts.scheme, parts.netloc):
            raise AuthenticationError(
                f"{self.label}: refusing to send credentials over plain HTTP to token server {parts.netloc}"
            )
        what = f"token for {', '.join(str(s) for s in wanted)}"
        if creds is not None and creds.identity_token:
            form: dict[str, str] = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": "imagetrust",
                "scope": " ".join(str(s) for s in wanted),
            }
            if self.challenge.service:
                form["service"] = self.challenge.service
            response = self.transport.send("POST", realm, data=form, what=what)
        else:
            params: dict[str, str | list[str]] = {"scope": [str(s) for s in wanted]}
            if self.challenge.service:
                params["service"] = self.challenge.service
            headers: dict[str, str] = {}
            if creds is not None:
                pair = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
            response = self.transport.send("GET", realm, headers=headers, params=params, what=what)
        if response.status_code in (401, 403):
            response.close()
            raise self.refused(wanted)
        if response.status_code != 200:
            status = response.status_code
            response.close()
            raise RegistryProtocolError(f"{self.label}: {what}: token server answered {status}")
        raw = read_bounded(response, self.transport.limits.token_bytes, self.label, what)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise RegistryProtocolError(f"{self.label}: {what}: token response is not JSON") from e
        value = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value or not value.isascii() or not value.isprintable():
            raise RegistryProtocolError(f"{self.label}: {what}: token response has no usable token")
        lifetime = body.get("expires_in")
        seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else _DEFAULT_TOKEN_SECONDS
        expiry = time.monotonic() + max(1, seconds - _EXPIRY_MARGIN_SECONDS)
        return _Token(value, wanted, expiry)

    def refused(self, scopes: tuple[Scope, ...]) -> AuthenticationError:
        """The one-line error for a 401/403 the user must fix, naming who asked for what."""
        names = sorted({s.name for s in scopes}) or ["(registry)"]
        actions = sorted({a for s in scopes for a in s.actions}, key=lambda a: (a != "pull", a))
        access = ",".join(actions) or "pull"
        repo = ", ".join(names)
        if self.credentials is None:
            return AuthenticationError(
                f"{self.label}: anonymous {access} access to repository {repo} was refused "
                "(give credentials with --username/--password-stdin or a docker config.json)"
            )
        return AuthenticationError(
            f"{self.label}: authentication failed for {self.describe_user()} "
            f"(wrong password or no {access} access to repository {repo})"
        )
