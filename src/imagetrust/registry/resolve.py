"""Pin a reference to a digest once and pick the platform manifest(s) from an index.

Everything after this step works on ``ResolvedImage``, which carries the verified raw bytes of the top-level
manifest and of each selected platform manifest and config.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagetrust.errors import MalformedContent, NotFound, UsageError
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import (
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    parse_config,
)
from imagetrust.oci.platform import Platform
from imagetrust.oci.reference import RegistryRef, SourceRef
from imagetrust.registry.store import ImageStore

# Entries buildx adds to indexes for its attestations; they are not runnable platforms.
_REFERENCE_TYPE = "vnd.docker.reference.type"


class PlatformNotFound(UsageError):
    """The index has no manifest for the platform asked for."""


class ImageNotFound(UsageError):
    """The reference names no image: the user must correct it (exit 2), unlike an outage (exit 3)."""


@dataclass(frozen=True)
class PlatformSelection:
    """Which platform manifests to take from an index: one (``platform``) or all of them."""

    platform: Platform | None = None  # None: the host's platform
    all_platforms: bool = False
    explicit: bool = False  # the user named the platform; a single-platform image must then match

    def wanted(self) -> Platform:
        return self.platform or Platform.host()


@dataclass(frozen=True)
class PlatformImage:
    """One runnable image: its manifest and config, with the digests that name them."""

    platform: Platform | None
    manifest: Manifest
    config: ImageConfig

    @property
    def digest(self) -> Digest:
        return self.manifest.digest


@dataclass(frozen=True)
class ResolvedImage:
    """A reference pinned to a digest, with the platform images chosen from it."""

    location: str
    top: Manifest | Index
    images: tuple[PlatformImage, ...]
    available_platforms: tuple[Platform, ...]

    @property
    def digest(self) -> Digest:
        return self.top.digest

    @property
    def is_index(self) -> bool:
        return isinstance(self.top, Index)


def _platform_entries(index: Index) -> list[Descriptor]:
    return [
        d
        for d in index.manifests
        if d.platform is not None
        and d.annotation(_REFERENCE_TYPE) is None
        and not (d.platform.os == "unknown" and d.platform.architecture == "unknown")
    ]


def _load_platform_image(
    store: ImageStore, manifest: Manifest, platform: Platform | None, limits: Limits
) -> PlatformImage:
    raw = store.read_blob(manifest.config, limits.config_bytes)
    config = parse_config(raw, manifest.config.digest, limits=limits)
    if platform is None and config.os and config.architecture:
        platform = Platform(config.os, config.architecture, config.variant)
    return PlatformImage(platform, manifest, config)


def _expect_manifest(parsed: Manifest | Index, what: str) -> Manifest:
    if not isinstance(parsed, Manifest):
        raise MalformedContent(f"{what}: an index inside an index is not supported")
    return parsed


def resolve_image(store: ImageStore, selection: PlatformSelection, limits: Limits) -> ResolvedImage:
    """Resolve the store's reference once, then load the selected platform manifests by digest."""
    try:
        top_descriptor = store.resolve()
    except NotFound as e:
        raise ImageNotFound(f"image not found: {e.diagnostics()}") from e
    top = store.get_manifest(top_descriptor.digest).parse(limits)
    if isinstance(top, Manifest):
        image = _load_platform_image(store, top, None, limits)
        if selection.explicit and not selection.all_platforms and image.platform is not None:
            wanted = selection.wanted()
            if not wanted.matches(image.platform):
                raise PlatformNotFound(f"{store.location}: image is {image.platform}, not {wanted} as asked")
        single: tuple[Platform, ...] = (image.platform,) if image.platform else ()
        return ResolvedImage(store.location, top, (image,), single)

    entries = _platform_entries(top)
    available = tuple(d.platform for d in entries if d.platform is not None)
    if selection.all_platforms:
        chosen = entries
    else:
        wanted = selection.wanted()
        matching = [d for d in entries if d.platform is not None and wanted.matches(d.platform)]
        if not matching:
            names = ", ".join(str(p) for p in available) or "none"
            raise PlatformNotFound(
                f"{store.location}: no manifest for platform {wanted} in the index (available: {names});"
                " use --platform or --all-platforms"
            )
        chosen = matching[:1]
    images = []
    for descriptor in chosen:
        fetched = store.get_manifest(descriptor.digest)
        manifest = _expect_manifest(fetched.parse(limits), f"manifest {descriptor.digest.short}")
        images.append(_load_platform_image(store, manifest, descriptor.platform, limits))
    return ResolvedImage(store.location, top, tuple(images), available)


def pinned_name(ref: SourceRef, digest: Digest) -> str:
    """How reports name a resolved source: a registry reference gains ``@digest``; files stay as given."""
    return str(ref.with_digest(digest)) if isinstance(ref, RegistryRef) else str(ref)
