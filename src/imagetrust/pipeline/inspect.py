"""``inspect``: resolve once, load the chosen platforms, list attached evidence."""

from __future__ import annotations

from imagetrust.discovery.attached import find_attached
from imagetrust.errors import UsageError
from imagetrust.oci.reference import (
    DirRef,
    DockerArchiveRef,
    OciArchiveRef,
    OciLayoutRef,
    RegistryRef,
    parse_source,
)
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.registry.open import open_store
from imagetrust.registry.resolve import pinned_name, resolve_image
from imagetrust.report.inspect import InspectResult


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
    source = pinned_name(ref, resolved.digest)
    return InspectResult(source=source, resolved=resolved, evidence=evidence)
