"""Finding the credentials for one registry host: explicit flags, docker config.json, credential helpers.

Credentials are looked up per host and handed only to that host's client, so one registry's secret is never
offered to another.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from imagetrust.errors import ConfigError
from imagetrust.localfiles import read_if_present
from imagetrust.oci.reference import DOCKER_HUB
from imagetrust.registry.options import RegistryOptions

DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
_HUB_KEYS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_CONFIG_MAX_BYTES = 4 * 1024 * 1024
_HELPER_OUTPUT_MAX_BYTES = 1024 * 1024
# docker-credential-helpers' message for "nothing stored for this server": absence, not failure.
_HELPER_NOT_FOUND = "credentials not found"


@dataclass(frozen=True)
class Credentials:
    """A username with a password, or an OAuth2 refresh token (``identitytoken``) for the token flow."""

    username: str
    password: str = field(default="", repr=False)
    identity_token: str | None = field(default=None, repr=False)
    source: str = "command line"


def config_key(registry: str) -> str:
    """The key docker uses for a registry in config.json and with credential helpers."""
    return DOCKER_HUB_CONFIG_KEY if registry == DOCKER_HUB else registry


def _normalise_key(key: str) -> str:
    """``https://host/v1/``, ``http://host`` and ``host`` all name ``host``."""
    text = key.strip()
    if "://" in text:
        text = urlsplit(text).netloc or text
    text = text.split("/", 1)[0].lower()
    return DOCKER_HUB if text in _HUB_KEYS else text


def lookup_credentials(registry: str, options: RegistryOptions) -> Credentials | None:
    """Credentials for ``registry`` (a reference's registry part, ``docker.io`` for Docker Hub)."""
    if options.username is not None:
        return Credentials(options.username, options.password or "", source="command line")
    if options.docker_config is None:
        return None
    config = _load_config(options.docker_config)
    if config is None:
        return None
    wanted = _normalise_key(registry)
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, helper in helpers.items():
            if isinstance(helper, str) and _normalise_key(key) == wanted:
                return run_credential_helper(helper, config_key(registry), options)
    auths = config.get("auths")
    if isinstance(auths, dict):
        for key, entry in auths.items():
            if isinstance(entry, dict) and _normalise_key(key) == wanted:
                found = _from_auth_entry(entry, options.docker_config, key)
                if found is not None:
                    return found
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return run_credential_helper(store, config_key(registry), options)
    return None


def _load_config(path: Path) -> dict[str, Any] | None:
    raw = read_if_present(path, _CONFIG_MAX_BYTES, "docker config", ConfigError)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"docker config {path}: not valid JSON ({e})") from e
    if not isinstance(value, dict):
        raise ConfigError(f"docker config {path}: top level must be an object")
    return value


def _from_auth_entry(entry: dict[str, Any], path: Path, key: str) -> Credentials | None:
    where = f"docker config {path}, auths[{key!r}]"
    identity = entry.get("identitytoken")
    auth = entry.get("auth")
    username = entry.get("username")
    password = entry.get("password")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as e:
            raise ConfigError(f"{where}: 'auth' is not base64 of user:password") from e
        username, sep, password = decoded.partition(":")
        if not sep:
            raise ConfigError(f"{where}: 'auth' does not decode to user:password")
    if isinstance(identity, str) and identity:
        return Credentials(
            username if isinstance(username, str) else "",
            identity_token=identity,
            source=f"docker config {path}",
        )
    if isinstance(username, str) and username and isinstance(password, str):
        return Credentials(username, password, source=f"docker config {path}")
    return None


def run_credential_helper(helper: str, server: str, options: RegistryOptions) -> Credentials | None:
    """``docker-credential-<helper> get`` with the server on stdin; ``None`` if it stores nothing for it."""
    if not helper.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ConfigError(f"credential helper name {helper!r} is not a plain program name")
    import shutil  # with subprocess below: only runs that use a credential helper load them

    program = f"docker-credential-{helper}"
    path = shutil.which(program)
    if path is None:
        raise ConfigError(f"credential helper {program} (for {server}) is not on PATH")
    timeout = options.credential_helper_timeout_seconds
    import subprocess

    try:
        done = subprocess.run(
            [path, "get"],
            input=server.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise ConfigError(
            f"credential helper {program} gave no answer for {server} within {timeout:g} s"
        ) from e
    except OSError as e:
        raise ConfigError(f"credential helper {program} could not be run ({e.strerror or e})") from e
    output = done.stdout[:_HELPER_OUTPUT_MAX_BYTES]
    if done.returncode != 0:
        message = (output or done.stderr).decode("utf-8", "replace").strip()
        if _HELPER_NOT_FOUND in message.lower():
            return None
        first = message.splitlines()[0][:200] if message else f"exit status {done.returncode}"
        raise ConfigError(f"credential helper {program} failed for {server}: {first}")
    try:
        value = json.loads(output)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"credential helper {program} for {server}: output is not JSON") from e
    if not isinstance(value, dict):
        raise ConfigError(f"credential helper {program} for {server}: output is not a JSON object")
    username = value.get("Username")
    secret = value.get("Secret")
    if not isinstance(username, str) or not isinstance(secret, str):
        raise ConfigError(f"credential helper {program} for {server}: Username and Secret must be strings")
    source = f"credential helper {program}"
    if username == "<token>":
        return Credentials("", identity_token=secret, source=source)
    return Credentials(username, secret, source=source)
