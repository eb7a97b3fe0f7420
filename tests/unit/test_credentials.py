"""Credential lookup: explicit flags, docker config.json forms, Docker Hub's key, credential helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from imagetrust.errors import ConfigError
from imagetrust.registry.credentials import Credentials, config_key, lookup_credentials
from imagetrust.registry.options import RegistryOptions, default_docker_config


def _options(config: Path | None, **kw: object) -> RegistryOptions:
    return RegistryOptions(docker_config=config, **kw)  # type: ignore[arg-type]


def _config(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    return path


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_explicit_credentials_win(tmp_path: Path) -> None:
    config = _config(tmp_path, {"auths": {"r.example": {"auth": _auth("other", "x")}}})
    found = lookup_credentials("r.example", _options(config, username="alice", password="pw"))
    assert found == Credentials("alice", "pw", source="command line")


def test_auth_field_and_key_forms(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        {
            "auths": {
                "https://r.example:5000/v1/": {"auth": _auth("alice", "pa:ss")},
                "http://other.example": {"username": "bob", "password": "pw"},
                "https://index.docker.io/v1/": {"auth": _auth("hubuser", "hubpw")},
            }
        },
    )
    options = _options(config)
    found = lookup_credentials("r.example:5000", options)
    assert found is not None and (found.username, found.password) == ("alice", "pa:ss")
    found = lookup_credentials("other.example", options)
    assert found is not None and (found.username, found.password) == ("bob", "pw")
    found = lookup_credentials("docker.io", options)
    assert found is not None and found.username == "hubuser"
    # Credentials belong to one host: neither another port nor another name gets them.
    assert lookup_credentials("r.example", options) is None
    assert lookup_credentials("r.example:5001", options) is None
    assert lookup_credentials("evil.example", options) is None


def test_identity_token(tmp_path: Path) -> None:
    config = _config(tmp_path, {"auths": {"r.example": {"identitytoken": "refresh-me"}}})
    found = lookup_credentials("r.example", _options(config))
    assert found is not None and found.identity_token == "refresh-me"


def test_missing_config_means_anonymous(tmp_path: Path) -> None:
    assert lookup_credentials("r.example", _options(tmp_path / "absent.json")) is None
    assert lookup_credentials("r.example", _options(None)) is None


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"auths": {"r.example": {"auth": "!!!not base64"}}}),
        json.dumps({"auths": {"r.example": {"auth": base64.b64encode(b"no-colon").decode()}}}),
    ],
)
def test_malformed_config_is_a_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=str(path)):
        lookup_credentials("r.example", _options(path))


def test_default_config_path_follows_docker_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert default_docker_config() == tmp_path / "config.json"
    assert RegistryOptions().docker_config == tmp_path / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert default_docker_config() == Path.home() / ".docker" / "config.json"


def test_docker_hub_config_key() -> None:
    assert config_key("docker.io") == "https://index.docker.io/v1/"
    assert config_key("ghcr.io") == "ghcr.io"


@pytest.fixture
def helper_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return directory


def _helper(directory: Path, name: str, body: str) -> None:
    script = directory / f"docker-credential-{name}"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_credential_helper_gets_the_server_on_stdin(tmp_path: Path, helper_bin: Path) -> None:
    _helper(
        helper_bin,
        "fake",
        'read server; [ "$1" = get ] || exit 9\n'
        'printf \'{"ServerURL":"%s","Username":"u-%s","Secret":"s3cret"}\' "$server" "$server"\n',
    )
    config = _config(tmp_path, {"credHelpers": {"r.example": "fake"}, "credsStore": "fake"})
    found = lookup_credentials("r.example", _options(config))
    assert found is not None and (found.username, found.password) == ("u-r.example", "s3cret")
    # Docker Hub is asked for under its legacy key, via credsStore.
    found = lookup_credentials("docker.io", _options(config))
    assert found is not None and found.username == "u-https://index.docker.io/v1/"


def test_credential_helper_token_and_not_found(tmp_path: Path, helper_bin: Path) -> None:
    _helper(
        helper_bin,
        "fake",
        'read server\nif [ "$server" = r.example ]; then echo \'{"Username":"<token>","Secret":"rt"}\'; '
        "else echo 'credentials not found in native keychain'; exit 1; fi\n",
    )
    config = _config(tmp_path, {"credsStore": "fake"})
    found = lookup_credentials("r.example", _options(config))
    assert found is not None and found.identity_token == "rt"
    assert lookup_credentials("other.example", _options(config)) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("exit 4\n", "exit status 4"),
        ("echo 'not json'\n", "not JSON"),
        ("echo '{\"Username\": 1}'\n", "must be strings"),
        ("sleep 5\n", "no answer"),
    ],
)
def test_credential_helper_failures_are_config_errors(
    tmp_path: Path, helper_bin: Path, body: str, message: str
) -> None:
    _helper(helper_bin, "fake", body)
    config = _config(tmp_path, {"credHelpers": {"r.example": "fake"}})
    with pytest.raises(ConfigError, match=message):
        lookup_credentials("r.example", _options(config, credential_helper_timeout_seconds=0.5))


def test_missing_or_odd_helper_names(tmp_path: Path, helper_bin: Path) -> None:
    config = _config(tmp_path, {"credHelpers": {"r.example": "not-installed"}})
    with pytest.raises(ConfigError, match="not on PATH"):
        lookup_credentials("r.example", _options(config))
    config = _config(tmp_path, {"credHelpers": {"r.example": "../../bin/sh"}})
    with pytest.raises(ConfigError, match="plain program name"):
        lookup_credentials("r.example", _options(config))
