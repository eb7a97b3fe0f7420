"""Authentication against the real registry: htpasswd over TLS, bearer tokens, docker config, helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from imagetrust.errors import AuthenticationError, ConfigError, ExitCode, RegistryUnreachable
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.client import RegistryClient
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.repository import RegistryRepository, open_repository
from tests.support.registry import RegistryServer, TinyImage, options_for, push_image

pytestmark = pytest.mark.registry


def _repo(server: RegistryServer, reference: str, options: RegistryOptions) -> RegistryRepository:
    ref = parse_registry_ref(f"{server.host}/{reference}")
    return open_repository(ref, options, client=RegistryClient(ref.registry, ref.api_host, options))


@pytest.fixture(scope="module")
def pushed(registry_tls: RegistryServer, registry_token: RegistryServer, tiny_image: TinyImage) -> TinyImage:
    for server in (registry_tls, registry_token):
        push_image(_repo(server, "auth/app:v1", options_for(server, "alice")), tiny_image)
        push_image(_repo(server, "private/app:v1", options_for(server, "alice")), tiny_image)
    return tiny_image


@pytest.mark.parametrize("mode", ["tls", "token"])
def test_anonymous_access_is_refused(request: pytest.FixtureRequest, mode: str, pushed: TinyImage) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{mode}")
    with pytest.raises(AuthenticationError) as caught:
        _repo(server, "auth/app:v1", options_for(server)).resolve()
    message = caught.value.diagnostics()
    assert caught.value.exit_code == ExitCode.USAGE
    assert "anonymous" in message and "auth/app" in message and "\n" not in message


@pytest.mark.parametrize("mode", ["tls", "token"])
def test_wrong_password_is_one_clear_line(
    request: pytest.FixtureRequest, mode: str, pushed: TinyImage
) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{mode}")
    options = options_for(server, username="alice", password="not-her-password")
    with pytest.raises(AuthenticationError) as caught:
        _repo(server, "auth/app:v1", options).resolve()
    message = caught.value.diagnostics()
    assert message.startswith(f"registry {server.host}: authentication failed for user 'alice'")
    assert "auth/app" in message and "\n" not in message
    assert "not-her-password" not in message


def test_right_password_reads(registry_tls: RegistryServer, pushed: TinyImage) -> None:
    repo = _repo(registry_tls, "auth/app:v1", options_for(registry_tls, "bob"))
    assert repo.resolve().digest == pushed.manifest.digest
    assert repo.read_blob(pushed.config, 1 << 20) == pushed.config_raw


def test_untrusted_certificate_is_not_downgraded_to_http(
    registry_tls: RegistryServer, pushed: TinyImage
) -> None:
    """Without --registry-ca the TLS registry is unreachable: never retried over plain HTTP."""
    options = options_for(registry_tls, "alice", ca_file=None)
    repo = _repo(registry_tls, "auth/app:v1", options)
    with pytest.raises(RegistryUnreachable) as caught:
        repo.resolve()
    assert "TLS" in caught.value.diagnostics() and "--registry-ca" in caught.value.diagnostics()
    assert repo.client.scheme != "http"
    assert repo.request_count == 1


def test_token_scope_is_re_requested_for_push(registry_token: RegistryServer, tiny_image: TinyImage) -> None:
    assert registry_token.token_server is not None
    seen = registry_token.token_server.requests
    repo = _repo(registry_token, "scoped/app:v1", options_for(registry_token, "alice"))
    assert repo.get_tagged("v1") is None  # pull token first
    start = len(seen)
    push_image(repo, tiny_image)
    scopes = [tuple(r["scope"]) for r in seen[start:]]  # type: ignore[arg-type]
    assert ("repository:scoped/app:pull,push",) in scopes
    # Reading again reuses the broader token: no new token request.
    count = len(seen)
    assert repo.resolve().digest == tiny_image.manifest.digest
    assert len(seen) == count


def test_pull_only_user_cannot_push(
    registry_token: RegistryServer, tiny_image: TinyImage, pushed: TinyImage
) -> None:
    repo = _repo(registry_token, "auth/app:v1", options_for(registry_token, "bob"))
    assert repo.resolve().digest == pushed.manifest.digest  # bob may pull
    with pytest.raises(AuthenticationError) as caught:
        repo.push_manifest(tiny_image.manifest_raw, tiny_image.manifest.media_type, "bob-was-here")
    message = caught.value.diagnostics()
    assert "user 'bob'" in message and "pull,push" in message and "auth/app" in message


def test_acl_per_repository(registry_token: RegistryServer, pushed: TinyImage) -> None:
    options = options_for(registry_token, "carol")
    assert _repo(registry_token, "private/app:v1", options).resolve().digest == pushed.manifest.digest
    with pytest.raises(AuthenticationError, match="carol"):
        _repo(registry_token, "auth/app:v1", options).resolve()


def _write_config(path: Path, content: dict[str, object]) -> Path:
    path.write_text(json.dumps(content))
    return path


def _docker_options(server: RegistryServer, config: Path) -> RegistryOptions:
    return options_for(server, docker_config=config)


@pytest.mark.parametrize("mode", ["tls", "token"])
def test_credentials_from_docker_config_auth_field(
    request: pytest.FixtureRequest, mode: str, pushed: TinyImage, tmp_path: Path
) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{mode}")
    auth = base64.b64encode(b"bob:" + server.users["bob"].encode()).decode()
    config = _write_config(
        tmp_path / "config.json",
        {"auths": {f"https://{server.host}": {"auth": auth}, "other.example:5000": {"auth": "eDp5"}}},
    )
    repo = _repo(server, "auth/app:v1", _docker_options(server, config))
    assert repo.resolve().digest == pushed.manifest.digest


def test_identity_token_uses_the_oauth2_refresh_flow(
    registry_token: RegistryServer, pushed: TinyImage, tmp_path: Path
) -> None:
    config = _write_config(
        tmp_path / "config.json",
        {"auths": {registry_token.host: {"identitytoken": "refresh-token-for-alice"}}},
    )
    repo = _repo(registry_token, "auth/app:v1", _docker_options(registry_token, config))
    assert repo.resolve().digest == pushed.manifest.digest
    assert registry_token.token_server is not None
    assert registry_token.token_server.requests[-1]["method"] == "POST"


def _helper(directory: Path, body: str) -> None:
    script = directory / "docker-credential-imagetrusttest"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def helper_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return directory


@pytest.mark.parametrize("mode", ["tls", "token"])
def test_credentials_from_a_credential_helper(
    request: pytest.FixtureRequest, mode: str, pushed: TinyImage, tmp_path: Path, helper_dir: Path
) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{mode}")
    log = tmp_path / "helper.log"
    _helper(
        helper_dir,
        f'read server; echo "$1 $server" >> {log}\n'
        f'if [ "$server" = "{server.host}" ]; then\n'
        f'  printf \'{{"ServerURL":"%s","Username":"bob","Secret":"{server.users["bob"]}"}}\' "$server"\n'
        "else echo 'credentials not found in native keychain'; exit 1; fi\n",
    )
    config = _write_config(tmp_path / "config.json", {"credHelpers": {server.host: "imagetrusttest"}})
    repo = _repo(server, "auth/app:v1", _docker_options(server, config))
    assert repo.resolve().digest == pushed.manifest.digest
    assert log.read_text().split("\n")[0] == f"get {server.host}"


def test_broken_credential_helper_is_a_config_error(
    registry_tls: RegistryServer, tmp_path: Path, helper_dir: Path
) -> None:
    _helper(helper_dir, "echo 'keychain is locked' >&2; exit 3\n")
    config = _write_config(tmp_path / "config.json", {"credsStore": "imagetrusttest"})
    with pytest.raises(ConfigError, match="keychain is locked"):
        _repo(registry_tls, "auth/app:v1", _docker_options(registry_tls, config)).resolve()
