"""Manifests, indexes and image configs, parsed from raw bytes whose digest is already known.

Each parsed value keeps ``raw`` (the exact bytes) and ``digest``: signatures and attestations bind to
these, never to a re-serialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagetrust.errors import InvalidReference, LimitExceeded, MalformedContent
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.jsonbytes import load_object
from imagetrust.oci.platform import Platform


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    platform: Platform | None = None
    artifact_type: str | None = None
    urls: tuple[str, ...] = ()

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            plat: dict[str, str] = {"os": self.platform.os, "architecture": self.platform.architecture}
            if self.platform.variant:
                plat["variant"] = self.platform.variant
            out["platform"] = plat
        return out


def _str(obj: dict[str, Any], key: str, what: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedContent(f"{what}: field {key!r} must be a non-empty string")
    return value


def _annotations(value: Any, what: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MalformedContent(f"{what}: annotations must map strings to strings")
    return tuple(sorted(value.items()))


def parse_descriptor(obj: Any, what: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise MalformedContent(f"{what}: descriptor must be an object")
    media_type = _str(obj, "mediaType", what)
    assert media_type is not None
    digest_text = _str(obj, "digest", what)
    assert digest_text is not None
    try:
        digest = Digest.parse(digest_text)
    except InvalidReference as e:
        raise MalformedContent(f"{what}: {e.diagnostics()}") from e
    size = obj.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MalformedContent(f"{what}: size must be a non-negative integer")
    platform = None
    plat = obj.get("platform")
    if plat is not None:
        if not isinstance(plat, dict):
            raise MalformedContent(f"{what}: platform must be an object")
        os_name = _str(plat, "os", what)
        arch = _str(plat, "architecture", what)
        assert os_name is not None and arch is not None
        platform = Platform(os_name, arch, _str(plat, "variant", what, required=False) or None)
    urls = obj.get("urls") or ()
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise MalformedContent(f"{what}: urls must be a list of strings")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        annotations=_annotations(obj.get("annotations"), what),
        platform=platform,
        artifact_type=_str(obj, "artifactType", what, required=False),
        urls=tuple(urls),
    )


@dataclass(frozen=True)
class Manifest:
    """An image (or artifact) manifest: one config and a list of layers."""

    raw: bytes = field(repr=False)
    digest: Digest
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)


@dataclass(frozen=True)
class Index:
    """An image index / Docker manifest list: one manifest per platform (or artifact)."""

    raw: bytes = field(repr=False)
    digest: Digest
    media_type: str
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)


def parse_manifest_or_index(
    raw: bytes,
    digest: Digest,
    *,
    declared_media_type: str | None = None,
    what: str = "manifest",
    limits: Limits = DEFAULT_LIMITS,
) -> Manifest | Index:
    """Parse bytes already verified against ``digest``.

    The media type inside the document wins over the one the transport declared; when they disagree the
    document is refused, since a client that trusts the header can be shown a different structure.
    """
    obj = load_object(raw, what, max_bytes=limits.manifest_bytes, max_depth=limits.json_depth)
    body_type = obj.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise MalformedContent(f"{what}: mediaType must be a string")
    if declared_media_type == "application/json":
        declared_media_type = None  # a generic type says nothing about the structure
    media_type = body_type or declared_media_type
    if body_type and declared_media_type and declared_media_type != body_type:
        raise MalformedContent(f"{what}: served as {declared_media_type} but the document says {body_type}")
    schema_version = obj.get("schemaVersion")
    if type(schema_version) is not int or schema_version != 2:
        raise MalformedContent(f"{what}: unsupported schemaVersion {schema_version!r}")
    if "manifests" in obj and ("layers" in obj or "config" in obj):
        # CVE-2021-41190: one document readable as both an index and a manifest can show two clients two
        # different images under one digest.
        raise MalformedContent(f"{what}: ambiguous document with both 'manifests' and 'config'/'layers'")
    if media_type is None:
        media_type = media.OCI_INDEX if "manifests" in obj else media.OCI_MANIFEST
    subject = parse_descriptor(obj["subject"], f"{what} subject") if obj.get("subject") else None
    artifact_type = _str(obj, "artifactType", what, required=False)
    annotations = _annotations(obj.get("annotations"), what)
    if media_type in media.INDEX_TYPES:
        entries = obj.get("manifests")
        if not isinstance(entries, list):
            raise MalformedContent(f"{what}: index without a manifests list")
        if len(entries) > limits.index_entries:
            raise LimitExceeded(f"{what}: {len(entries)} entries exceeds the limit of {limits.index_entries}")
        return Index(
            raw=raw,
            digest=digest,
            media_type=media_type,
            manifests=tuple(parse_descriptor(e, f"{what} entry {i}") for i, e in enumerate(entries)),
            subject=subject,
            artifact_type=artifact_type,
            annotations=annotations,
        )
    if media_type in media.MANIFEST_TYPES:
        layers = obj.get("layers")
        if not isinstance(layers, list):
            raise MalformedContent(f"{what}: manifest without a layers list")
        if len(layers) > limits.layers:
            raise LimitExceeded(f"{what}: {len(layers)} layers exceeds the limit of {limits.layers}")
        return Manifest(
            raw=raw,
            digest=digest,
            media_type=media_type,
            config=parse_descriptor(obj.get("config"), f"{what} config"),
            layers=tuple(parse_descriptor(e, f"{what} layer {i}") for i, e in enumerate(layers)),
            subject=subject,
            artifact_type=artifact_type,
            annotations=annotations,
        )
    raise MalformedContent(f"{what}: unsupported media type {media_type!r}")


@dataclass(frozen=True)
class HistoryEntry:
    created: str | None
    created_by: str | None
    empty_layer: bool
    comment: str | None = None


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image config that trust decisions read."""

    raw: bytes = field(repr=False)
    digest: Digest
    os: str | None
    architecture: str | None
    variant: str | None
    user: str | None
    env: tuple[str, ...]
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    working_dir: str | None
    exposed_ports: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    history: tuple[HistoryEntry, ...]
    diff_ids: tuple[Digest, ...]
    created: str | None

    @property
    def env_names(self) -> tuple[str, ...]:
        """Variable names only: values may hold secrets and are not shown by ``inspect``."""
        return tuple(item.partition("=")[0] for item in self.env)


def _str_list(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedContent(f"{what}: expected a list of strings")
    return tuple(value)


def parse_config(raw: bytes, digest: Digest, *, limits: Limits = DEFAULT_LIMITS) -> ImageConfig:
    what = f"image config {digest.short}"
    obj = load_object(raw, what, max_bytes=limits.config_bytes, max_depth=limits.json_depth)
    # null means absent; any other non-object value is malformed, even an empty list
    cfg = {} if obj.get("config") is None else obj["config"]
    if not isinstance(cfg, dict):
        raise MalformedContent(f"{what}: config must be an object")
    history_raw = [] if obj.get("history") is None else obj["history"]
    if not isinstance(history_raw, list):
        raise MalformedContent(f"{what}: history must be a list")
    history = []
    for i, entry in enumerate(history_raw):
        if not isinstance(entry, dict):
            raise MalformedContent(f"{what}: history entry {i} must be an object")
        history.append(
            HistoryEntry(
                created=_str(entry, "created", what, required=False),
                created_by=_str(entry, "created_by", what, required=False),
                empty_layer=bool(entry.get("empty_layer", False)),
                comment=_str(entry, "comment", what, required=False),
            )
        )
    rootfs = {} if obj.get("rootfs") is None else obj["rootfs"]
    if not isinstance(rootfs, dict):
        raise MalformedContent(f"{what}: rootfs must be an object")
    diff_ids_raw = rootfs.get("diff_ids")
    if diff_ids_raw is not None and not isinstance(diff_ids_raw, list):
        raise MalformedContent(f"{what}: rootfs.diff_ids must be a list")
    diff_ids: list[Digest] = []
    for item in diff_ids_raw or []:
        try:
            diff_ids.append(Digest.parse(item) if isinstance(item, str) else Digest.parse(""))
        except InvalidReference as e:
            raise MalformedContent(f"{what}: bad diff_id: {e.diagnostics()}") from e
    ports = {} if cfg.get("ExposedPorts") is None else cfg["ExposedPorts"]
    if not isinstance(ports, dict):
        raise MalformedContent(f"{what}: ExposedPorts must be an object")
    return ImageConfig(
        raw=raw,
        digest=digest,
        os=_str(obj, "os", what, required=False),
        architecture=_str(obj, "architecture", what, required=False),
        variant=_str(obj, "variant", what, required=False),
        user=_str(cfg, "User", what, required=False) or None,
        env=_str_list(cfg.get("Env"), f"{what} Env") or (),
        entrypoint=_str_list(cfg.get("Entrypoint"), f"{what} Entrypoint"),
        cmd=_str_list(cfg.get("Cmd"), f"{what} Cmd"),
        working_dir=_str(cfg, "WorkingDir", what, required=False) or None,
        exposed_ports=tuple(sorted(ports)),
        labels=_annotations(cfg.get("Labels"), f"{what} Labels"),
        history=tuple(history),
        diff_ids=tuple(diff_ids),
        created=_str(obj, "created", what, required=False),
    )
