"""Pure decisions of the registry client: transport security, challenges, scopes, redirects, Retry-After."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from imagetrust.registry.auth import Scope, merge_scopes, parse_challenge
from imagetrust.registry.http import Transport, one_line, origin, parse_retry_after
from imagetrust.registry.options import (
    RegistryOptions,
    credentials_allowed_over,
    is_loopback,
    plain_http_allowed,
)

NO_CONFIG = RegistryOptions(docker_config=None)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.0.0.1:5000", "127.8.9.10:443", "localhost", "LOCALHOST:5000", "[::1]:5000", "::1"],
)
def test_loopback_hosts_may_use_plain_http(host: str) -> None:
    assert is_loopback(host)
    assert plain_http_allowed(host, NO_CONFIG)


@pytest.mark.parametrize(
    "host",
    [
        "registry.example.com",
        "registry.example.com:5000",
        "10.0.0.1:5000",
        "192.168.1.2",
        "[2001:db8::1]:5000",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "0.0.0.0:5000",
    ],
)
def test_everything_else_needs_https(host: str) -> None:
    assert not is_loopback(host)
    assert not plain_http_allowed(host, NO_CONFIG)


def test_insecure_registries_are_allowed_plain_http_only_as_listed() -> None:
    options = RegistryOptions(
        docker_config=None, insecure_registries=frozenset({"lab.example:5000", "ci.local"})
    )
    assert plain_http_allowed("lab.example:5000", options)
    assert plain_http_allowed("ci.local:8080", options)  # a bare host covers its ports
    assert not plain_http_allowed("lab.example:6000", options)  # a host:port entry covers that port only
    assert not plain_http_allowed("other.example", options)


def test_credentials_never_travel_over_plain_http_off_this_machine() -> None:
    assert credentials_allowed_over("https", "registry.example.com")
    assert credentials_allowed_over("http", "127.0.0.1:5000")
    assert not credentials_allowed_over("http", "lab.example:5000")


def test_redirect_to_another_origin_drops_secrets() -> None:
    headers = {"Authorization": "Bearer abc", "Accept": "x", "Cookie": "s=1"}
    same = Transport.headers_for_redirect("https://r.example/v2/a", "https://r.example:443/blob", headers)
    assert same == headers
    for target in (
        "https://storage.example/blob",
        "https://r.example:8443/blob",
        "http://r.example/blob",
        "https://R.example.evil/blob",
    ):
        stripped = Transport.headers_for_redirect("https://r.example/v2/a", target, headers)
        assert stripped == {"Accept": "x"}, target


def test_origin_normalises_default_ports() -> None:
    assert origin("https://R.example/x") == origin("https://r.example:443/y")
    assert origin("http://r.example/x") != origin("https://r.example/x")


def test_transport_refuses_plain_http_redirect_off_loopback() -> None:
    transport = Transport("registry test", NO_CONFIG)
    transport.check_scheme("https://anywhere.example/x", "t")
    transport.check_scheme("http://127.0.0.1:9/x", "t")
    with pytest.raises(Exception, match="refusing"):
        transport.check_scheme("http://storage.example/x", "t")
    with pytest.raises(Exception, match="refusing"):
        transport.check_scheme("file:///etc/passwd", "t")


def test_bearer_challenge_parsing() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:team/app:pull,push"'
    )
    challenge = parse_challenge(header)
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example/token"
    assert challenge.service == "registry.example"
    assert challenge.scope == "repository:team/app:pull,push"


def test_basic_and_unknown_challenges() -> None:
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None and basic.scheme == "basic" and basic.realm == "Registry Realm"
    assert parse_challenge("Negotiate abc") is None
    assert parse_challenge("") is None
    assert parse_challenge(None) is None


def test_scopes_cover_by_actions() -> None:
    push = Scope.repository("team/app", "pull", "push")
    pull = Scope.repository("team/app", "pull")
    assert push.covers(pull)
    assert not pull.covers(push)
    assert not push.covers(Scope.repository("team/other", "pull"))
    assert str(push) == "repository:team/app:pull,push"
    parsed = Scope.parse("repository:host:5000/app:pull")
    assert parsed == Scope.repository("host:5000/app", "pull")
    assert merge_scopes((pull, Scope.repository("team/app", "push"))) == (push,)


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 12, usegmt=True), now=now) == pytest.approx(12, abs=1)
    assert parse_retry_after(formatdate(now - 100, usegmt=True), now=now) == 0.0


def test_server_text_becomes_one_safe_line() -> None:
    assert one_line("bad\nthing\x1b[31m happened") == "bad thing [31m happened"
    assert len(one_line("x" * 1000)) == 200
