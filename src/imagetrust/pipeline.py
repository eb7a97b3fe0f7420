"""The orchestrator: resolve once, then discover (and, later, verify, audit and evaluate).

This is the one place that decides what to fetch and in what order; everything it calls is either a pure
function or an edge that does I/O through the ``ImageStore`` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from imagetrust.discovery.attached import find_attached
from imagetrust.errors import UsageError
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.reference import (
    DirRef,
    DockerArchiveRef,
    OciArchiveRef,
    OciLayoutRef,
    RegistryRef,
    parse_source,
)
from imagetrust.registry.cache import BlobCache, default_cache_dir
from imagetrust.registry.open import open_store
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.resolve import PlatformSelection, resolve_image
from imagetrust.report.inspect import InspectResult


@dataclass(frozen=True)
class SourceSettings:
    """How to reach images: registry options, platform choice, cache and limits."""

    registry: RegistryOptions = field(default_factory=RegistryOptions)
    selection: PlatformSelection = field(default_factory=PlatformSelection)
    cache_dir: Path | None = None
    use_cache: bool = True
    limits: Limits = DEFAULT_LIMITS

    def cache(self) -> BlobCache | None:
        if not self.use_cache:
            return None
        return BlobCache(self.cache_dir or default_cache_dir())


def _parse(reference: str) -> RegistryRef | OciLayoutRef | OciArchiveRef | DockerArchiveRef:
    ref = parse_source(reference)
    if isinstance(ref, DirRef):
        raise UsageError(
            f"{reference}: a root filesystem directory has no manifest to inspect"
            " (dir: sources are for audit)"
        )
    return ref


def inspect_image(reference: str, settings: SourceSettings) -> InspectResult:
    """Resolve ``reference`` to a digest once, load the chosen platforms, and list attached evidence."""
    ref = _parse(reference)
    store = open_store(ref, settings.registry, settings.limits, settings.cache())
    resolved = resolve_image(store, settings.selection, settings.limits)
    subjects = [resolved.digest] + [i.digest for i in resolved.images if i.digest != resolved.digest]
    evidence = tuple(find_attached(store, subject, settings.limits) for subject in subjects)
    source = str(ref.with_digest(resolved.digest)) if isinstance(ref, RegistryRef) else str(ref)
    return InspectResult(source=source, resolved=resolved, evidence=evidence)
