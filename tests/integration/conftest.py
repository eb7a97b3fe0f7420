"""Real docker-registry processes (plain HTTP, TLS + htpasswd, bearer tokens) shared by a test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imagetrust.registry.repository import close_clients
from tests.conftest import tool_path
from tests.support.registry import RegistryServer, TinyImage, build_tiny_image, start_registry
from tests.support.tokenserver import User

# Users of the auth-mode registries.  alice may pull and push everywhere; bob may only pull;
# carol may pull only from private/*.
PASSWORDS = {"alice": "wonderland", "bob": "builder", "carol": "caramel"}
TOKEN_USERS = {
    "alice": User(PASSWORDS["alice"], {"*": {"pull", "push"}}),
    "bob": User(PASSWORDS["bob"], {"*": {"pull"}}),
    "carol": User(PASSWORDS["carol"], {"private/*": {"pull"}}),
}
REFRESH_TOKENS = {"refresh-token-for-alice": "alice"}


@pytest.fixture(scope="session", autouse=True)
def _close_registry_clients() -> Iterator[None]:
    yield
    close_clients()


@pytest.fixture(scope="session")
def registry_binary() -> Path:
    return tool_path("docker-registry")


@pytest.fixture(scope="session")
def skopeo() -> Path:
    return tool_path("skopeo")


@pytest.fixture(scope="session")
def registry_plain(
    registry_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """docker-registry on plain HTTP, anonymous pull and push."""
    server = start_registry(registry_binary, tmp_path_factory.mktemp("registry-plain"), "plain")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry_tls(registry_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """docker-registry on HTTPS (throwaway CA in ``server.ca_file``) with htpasswd users from PASSWORDS."""
    server = start_registry(registry_binary, tmp_path_factory.mktemp("registry-tls"), "tls", users=PASSWORDS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry_token(
    registry_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """docker-registry with bearer-token auth; ``server.token_server`` issues tokens per TOKEN_USERS ACLs."""
    server = start_registry(
        registry_binary,
        tmp_path_factory.mktemp("registry-token"),
        "token",
        token_users=TOKEN_USERS,
        refresh_tokens=REFRESH_TOKENS,
    )
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["plain", "tls", "token"])
def any_registry(request: pytest.FixtureRequest) -> RegistryServer:
    """Each of the three registries in turn."""
    server: RegistryServer = request.getfixturevalue(f"registry_{request.param}")
    return server


@pytest.fixture(scope="session")
def tiny_image(tmp_path_factory: pytest.TempPathFactory) -> TinyImage:
    """A one-layer OCI image (in memory and as an OCI layout on disk)."""
    return build_tiny_image(tmp_path_factory.mktemp("tiny-image") / "layout")
