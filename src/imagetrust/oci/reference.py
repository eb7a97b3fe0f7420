"""Image references: registry references with Docker Hub normalisation, and offline sources.

A reference names where an image is; it is resolved to a digest exactly once (``pipeline``), after which
only the digest is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from imagetrust.errors import InvalidReference
from imagetrust.oci.digest import Digest

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)
_MAX_REFERENCE = 2048
_MAX_REPOSITORY = 255  # distribution's NameTotalLengthMax, as registries enforce it on the repository path


@dataclass(frozen=True)
class RegistryRef:
    """``registry/repository[:tag][@digest]``, normalised the way Docker clients do."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def api_host(self) -> str:
        """The host to talk to: Docker Hub's API lives on another name than its references."""
        return "registry-1.docker.io" if self.registry == DOCKER_HUB else self.registry

    @property
    def hostname(self) -> str:
        """Host without port, for loopback and insecure-registry decisions."""
        host = self.registry
        if host.startswith("["):
            return host[1 : host.index("]")]
        return host.rsplit(":", 1)[0] if ":" in host else host

    def with_digest(self, digest: Digest) -> RegistryRef:
        return RegistryRef(self.registry, self.repository, self.tag, digest)

    def with_tag(self, tag: str) -> RegistryRef:
        return RegistryRef(self.registry, self.repository, tag, None)

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@dataclass(frozen=True)
class OciLayoutRef:
    """``oci:PATH[:TAG]`` — an OCI image layout directory."""

    path: Path
    tag: str | None = None

    def __str__(self) -> str:
        return f"oci:{self.path}" + (f":{self.tag}" if self.tag else "")


@dataclass(frozen=True)
class OciArchiveRef:
    """``oci-archive:PATH[:TAG]`` — a tar of an OCI image layout."""

    path: Path
    tag: str | None = None

    def __str__(self) -> str:
        return f"oci-archive:{self.path}" + (f":{self.tag}" if self.tag else "")


@dataclass(frozen=True)
class DockerArchiveRef:
    """``docker-archive:PATH[:REF]`` — the ``docker save`` format; REF picks one of several images."""

    path: Path
    tag: str | None = None

    def __str__(self) -> str:
        return f"docker-archive:{self.path}" + (f":{self.tag}" if self.tag else "")


@dataclass(frozen=True)
class DirRef:
    """``dir:PATH`` — a root filesystem directory (no manifest, no signatures)."""

    path: Path

    def __str__(self) -> str:
        return f"dir:{self.path}"


SourceRef = RegistryRef | OciLayoutRef | OciArchiveRef | DockerArchiveRef | DirRef


def parse_registry_ref(text: str) -> RegistryRef:
    """Parse ``[registry/]repository[:tag][@digest]`` with Docker Hub rules.

    ``alpine`` becomes ``docker.io/library/alpine:latest``; the first component is a registry only if it
    contains ``.`` or ``:`` or is ``localhost`` (the Docker rule).  No tag and no digest means ``latest``.
    """
    original = text
    if not text or len(text) > _MAX_REFERENCE or text != text.strip():
        raise InvalidReference(f"invalid image reference {original!r}")
    text = text.removeprefix("docker://")
    digest: Digest | None = None
    if "@" in text:
        text, _, digest_text = text.partition("@")
        try:
            digest = Digest.parse(digest_text)
        except InvalidReference as e:
            raise InvalidReference(f"invalid image reference {original!r}: {e}") from e
    registry = DOCKER_HUB
    first, slash, rest = text.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        if not _HOST_RE.fullmatch(first):
            raise InvalidReference(f"invalid registry host {first!r} in {original!r}")
        registry = DOCKER_HUB if first.lower() in _HUB_ALIASES else first
        text = rest
    tag: str | None = None
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReference(f"invalid tag {tag!r} in {original!r}")
    if not _PATH_RE.fullmatch(text):
        raise InvalidReference(
            f"invalid repository {text!r} in {original!r} (lower-case letters, digits, '.', '_', '-', '/')"
        )
    if registry == DOCKER_HUB and "/" not in text:
        text = f"library/{text}"
    if len(text) > _MAX_REPOSITORY:
        raise InvalidReference(
            f"invalid image reference {original!r}: repository longer than {_MAX_REPOSITORY}"
        )
    if tag is None and digest is None:
        tag = "latest"
    return RegistryRef(registry, text, tag, digest)


_REF_NAME_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_REF_NAME_RE = re.compile(rf"{_REF_NAME_COMPONENT}(?:/{_REF_NAME_COMPONENT})*")


def _split_path_tag(body: str, transport: str) -> tuple[Path, str | None]:
    """``PATH[:NAME]`` split at the FIRST ``:``, as containers/image (skopeo) does on Unix.

    A path containing ``:`` therefore cannot be named, exactly as with skopeo, and the digests and names
    imagetrust and skopeo print for the same argument agree.  For oci layouts NAME is an OCI ref name; for
    docker-archive it is a docker reference (``app:v1``) or ``@N``.
    """
    path, colon, name = body.partition(":")
    if not path:
        raise InvalidReference(f"{transport}: needs a path, as in {transport}:PATH")
    if not colon:
        return Path(path), None
    valid = (
        _REF_NAME_RE.fullmatch(name)
        if transport != "docker-archive"
        else (re.fullmatch(r"@[0-9]{1,6}", name) or _REF_NAME_RE.fullmatch(name))
    )
    if not valid:
        raise InvalidReference(f"invalid image name {name!r} in {transport}:{body}")
    return Path(path), name


def parse_source(text: str) -> SourceRef:
    """Parse any reference a command accepts: a transport prefix or a registry reference."""
    if not text:
        raise InvalidReference("empty image reference")
    transport, colon, body = text.partition(":")
    if colon and transport in ("oci", "oci-archive", "docker-archive", "dir"):
        if not body:
            raise InvalidReference(f"{transport}: needs a path, as in {transport}:PATH")
        if transport == "dir":
            return DirRef(Path(body))
        path, tag = _split_path_tag(body, transport)
        if transport == "oci":
            return OciLayoutRef(path, tag)
        if transport == "oci-archive":
            return OciArchiveRef(path, tag)
        return DockerArchiveRef(path, tag)
    return parse_registry_ref(text)
