"""How imagetrust may talk to registries: transport security, credentials, bounds.

Plain HTTP is a decision made here and only here, so no other module can quietly downgrade a connection.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from imagetrust import __version__
from imagetrust.limits import DEFAULT_LIMITS, Limits

USER_AGENT = f"imagetrust/{__version__}"


def default_docker_config() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (the docker CLI's rule)."""
    base = os.environ.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path.home() / ".docker" / "config.json"


@dataclass(frozen=True)
class RegistryOptions:
    """Everything the command line says about talking to registries."""

    insecure_registries: frozenset[str] = frozenset()  # host[:port] allowed plain HTTP
    ca_file: Path | None = None  # extra CA bundle for TLS (--registry-ca); system CAs otherwise
    username: str | None = None  # applies to every registry named on the command line
    password: str | None = field(default=None, repr=False)
    # $DOCKER_CONFIG/config.json or ~/.docker/config.json; None: no docker config is read
    docker_config: Path | None = field(default_factory=default_docker_config)
    limits: Limits = DEFAULT_LIMITS
    user_agent: str = USER_AGENT
    credential_helper_timeout_seconds: float = 10.0


def split_host(host: str) -> tuple[str, str | None]:
    """``host[:port]`` or ``[v6]:port`` into hostname and port."""
    if host.startswith("["):
        end = host.find("]")
        name = host[1:end] if end > 0 else host[1:]
        rest = host[end + 1 :] if end > 0 else ""
        return name, rest[1:] if rest.startswith(":") else None
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, None


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (with or without a port)."""
    name, _ = split_host(host)
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def plain_http_allowed(host: str, options: RegistryOptions) -> bool:
    """Plain HTTP only for loopback hosts or hosts the user listed as insecure; HTTPS everywhere else."""
    if is_loopback(host):
        return True
    insecure = {_bare_host(entry) for entry in options.insecure_registries}
    name, _ = split_host(host)
    return host.lower() in insecure or name.lower() in insecure


def _bare_host(entry: str) -> str:
    """``http://lab:5000/`` as users sometimes write it, reduced to ``lab:5000``."""
    text = entry.strip().lower()
    for prefix in ("http://", "https://"):
        text = text.removeprefix(prefix)
    return text.split("/", 1)[0]


def credentials_allowed_over(scheme: str, host: str) -> bool:
    """Secrets travel over TLS, or over plain HTTP to this machine only."""
    return scheme == "https" or is_loopback(host)
