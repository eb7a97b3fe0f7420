"""Which proxy the environment names for a registry URL (curl's and requests' reading of the variables)."""

from __future__ import annotations

import base64

import pytest

from imagetrust.registry.wire import ConnectPhaseError, Proxy, proxy_for


def test_scheme_variables_then_all_proxy_lower_case_first() -> None:
    env = {"http_proxy": "http://p1:3128", "HTTPS_PROXY": "p2:8080", "all_proxy": "http://p3"}
    assert proxy_for("http", "r.example", 80, env) == Proxy("p1", 3128, None)
    assert proxy_for("https", "r.example", 443, env) == Proxy("p2", 8080, None)  # no scheme: http://
    assert proxy_for("https", "r.example", 443, {"all_proxy": "http://p3"}) == Proxy("p3", 80, None)
    both = {"http_proxy": "http://lower:1", "HTTP_PROXY": "http://upper:2"}
    assert proxy_for("http", "r.example", 80, both) == Proxy("lower", 1, None)
    assert proxy_for("http", "r.example", 80, {}) is None


def test_credentials_become_a_basic_proxy_authorization() -> None:
    proxy = proxy_for("http", "r.example", 80, {"http_proxy": "http://us%40er:p%3Ass@p:3128"})
    assert proxy is not None and proxy.authorization == "Basic " + base64.b64encode(b"us@er:p:ss").decode()


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypassed"),
    [
        ("*", "r.example", 443, True),
        ("r.example", "r.example", 443, True),
        ("example", "r.example", 443, True),  # a domain suffix
        (".example", "r.example", 443, True),
        ("other.example, r.example", "r.example", 443, True),
        ("xr.example", "r.example", 443, False),  # not a suffix on a label boundary
        ("r.example:5000", "r.example", 5000, True),
        ("r.example:5000", "r.example", 443, False),
        ("10.0.0.0/8", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "11.1.2.3", 443, False),
        ("10.0.0.0/8", "r.example", 443, False),  # a name is not in a network
        ("", "r.example", 443, False),
    ],
)
def test_no_proxy(no_proxy: str, host: str, port: int, bypassed: bool) -> None:
    env = {"https_proxy": "http://p:3128", "no_proxy": no_proxy}
    assert (proxy_for("https", host, port, env) is None) is bypassed


def test_only_plain_http_proxies_are_supported() -> None:
    with pytest.raises(ConnectPhaseError, match="only http:// proxies"):
        proxy_for("https", "r.example", 443, {"https_proxy": "https://p:3128"})
