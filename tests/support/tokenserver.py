"""A small Docker token server (the distribution "token" auth spec) for bearer-auth registry tests.

It checks Basic credentials against a user table with per-repository ACLs and issues ES256 JWTs whose
``x5c`` header carries a signing certificate issued by a CA that the registry's ``rootcertbundle`` names.
It grants the intersection of what was asked and what the ACL allows, as real token servers do, so a
pull-only user asking for push gets a pull-only token and the registry then refuses the push.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class User:
    password: str
    # repository glob -> actions granted, e.g. {"private/*": {"pull"}}
    acl: dict[str, set[str]] = field(default_factory=dict)

    def allowed(self, repository: str) -> set[str]:
        granted: set[str] = set()
        for pattern, actions in self.acl.items():
            if fnmatch.fnmatchcase(repository, pattern):
                granted |= actions
        return granted


class TokenServer:
    """Threaded HTTP token endpoint on 127.0.0.1 (plain HTTP: loopback only).

    ``signing_cert`` must chain to a CA in the registry's ``rootcertbundle``.
    """

    def __init__(
        self,
        signing_key: ec.EllipticCurvePrivateKey,
        signing_cert: x509.Certificate,
        users: dict[str, User],
        *,
        service: str = "imagetrust-test-registry",
        issuer: str = "imagetrust-test-token-issuer",
        anonymous_acl: dict[str, set[str]] | None = None,
        refresh_tokens: dict[str, str] | None = None,
    ) -> None:
        self.service = service
        self.issuer = issuer
        self.users = users
        self.anonymous = User("", anonymous_acl or {})
        self.refresh_tokens = dict(refresh_tokens or {})  # refresh token -> user name
        self.requests: list[dict[str, object]] = []
        self._key = signing_key
        self._cert = signing_cert
        self._cert_der = self._cert.public_bytes(serialization.Encoding.DER)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def issue(self, subject: str, access: list[dict[str, object]], lifetime: int = 300) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self._cert_der).decode()]}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + lifetime,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64url(signature)}"

    def _grant(self, user: User, scopes: list[str]) -> list[dict[str, object]]:
        access: list[dict[str, object]] = []
        for scope in scopes:
            for item in scope.split(" "):
                parts = item.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                name = ":".join(parts[1:-1])
                wanted = set(parts[-1].split(","))
                granted = sorted(wanted & user.allowed(name))
                if granted:
                    access.append({"type": "repository", "name": name, "actions": granted})
        return access

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _basic_user(self) -> tuple[str | None, User | None, bool]:
                header = self.headers.get("Authorization", "")
                if not header:
                    return None, None, True
                if not header.startswith("Basic "):
                    return None, None, False
                try:
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except ValueError:
                    return None, None, False
                user = server.users.get(name)
                if user is None or not secrets.compare_digest(user.password, password):
                    return name, None, False
                return name, user, True

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/token":
                    self._reply(404, {"error": "not found"})
                    return
                query = parse_qs(url.query)
                name, user, ok = self._basic_user()
                server.requests.append(
                    {
                        "method": "GET",
                        "user": name,
                        "scope": query.get("scope", []),
                        "service": query.get("service", [None])[0],
                    }
                )
                if not ok:
                    self._reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                    return
                subject = name or "anonymous"
                access = server._grant(user or server.anonymous, query.get("scope", []))
                token = server.issue(subject, access)
                self._reply(200, {"token": token, "access_token": token, "expires_in": 300})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                refresh = form.get("refresh_token", [""])[0]
                name = server.refresh_tokens.get(refresh)
                server.requests.append(
                    {
                        "method": "POST",
                        "user": name,
                        "scope": form.get("scope", []),
                        "grant_type": form.get("grant_type", [None])[0],
                    }
                )
                if form.get("grant_type", [""])[0] != "refresh_token" or name is None:
                    self._reply(401, {"error": "invalid_grant"})
                    return
                access = server._grant(server.users[name], form.get("scope", []))
                token = server.issue(name, access)
                self._reply(200, {"access_token": token, "expires_in": 300})

        return Handler
