"""``audit``: one streaming pass over each selected platform's layers, then every scanner.

Resolution happens once (``resolve_image``); each layer blob is read once, verified, decompressed once and
shown to every scanner's visitors while the unpacker builds the file index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from imagetrust.audit.attribution import base_layer_count, locate_packages
from imagetrust.audit.catalog import catalog_image, content_policy, content_visitors, default_catalogers
from imagetrust.audit.findings import Finding
from imagetrust.audit.layercache import LayerCache, unpack_cached
from imagetrust.audit.layers import layer_openers
from imagetrust.audit.progress import AuditProgress, with_progress
from imagetrust.audit.result import AuditResult, PlatformAudit
from imagetrust.audit.scanner import ScanContext, Scanner
from imagetrust.audit.unpack import ContentVisitor, Unknown
from imagetrust.oci.digest import Digest
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
from imagetrust.registry.resolve import PlatformImage, pinned_name, resolve_image
from imagetrust.registry.store import ImageStore

BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"


def _parse(reference: str) -> RegistryRef | OciLayoutRef | OciArchiveRef | DockerArchiveRef | DirRef:
    return parse_source(reference)


def _base_diff_ids(
    base: str, image: PlatformImage, settings: SourceSettings
) -> tuple[tuple[Digest, ...], str]:
    """Diff ids of the base image for the same platform as ``image``."""
    ref = _parse(base)
    store = open_store(ref, settings.registry, settings.limits, settings.cache())
    selection = settings.selection
    if image.platform is not None:
        selection = replace(selection, platform=image.platform, all_platforms=False, explicit=False)
    resolved = resolve_image(store, selection, settings.limits)
    return resolved.images[0].config.diff_ids, f"{base}@{resolved.digest}"


def _audit_platform(
    store: ImageStore,
    image: PlatformImage,
    scanners: Sequence[Scanner],
    base: str | None,
    settings: SourceSettings,
    cache: LayerCache | None,
    progress: AuditProgress | None = None,
) -> PlatformAudit:
    catalogers = default_catalogers(settings.limits)
    policy = content_policy(catalogers)
    visitors: list[ContentVisitor] = list(content_visitors(catalogers))
    for scanner in scanners:
        policy.want(scanner.wanted)
        visitors.extend(scanner.visitors())
    layers = layer_openers(store, image.manifest)
    label = str(image.platform) if image.platform else image.digest.short
    if progress is not None:
        progress.start(label, sum(d.size for d in image.manifest.layers))
        layers = with_progress(layers, progress, label)
    names = ",".join(s.name for s in scanners)
    files = unpack_cached(layers, policy, visitors, settings.limits, cache, names)
    if progress is not None:
        progress.step(label, "cataloguing packages")
    distro, catalog = catalog_image(files, catalogers)
    packages = locate_packages(catalog.packages, files)

    base_name = base or image.manifest.annotation(BASE_NAME_ANNOTATION)
    base_layers: frozenset[Digest] = frozenset()
    base_source: str | None = None
    not_checked: list[str] = []
    if base_name:
        base_diff_ids, base_source = _base_diff_ids(base_name, image, settings)
        shared = base_layer_count(image.config.diff_ids, base_diff_ids)
        if shared == 0:
            not_checked.append(f"base attribution: {base_name} is not the base of this image")
            base_source = None
        base_layers = frozenset(layer.digest for layer in image.manifest.layers[:shared])

    context = ScanContext(image.manifest, image.config, files, distro, packages, base_layers)
    findings: list[Finding] = []
    unknowns: list[Unknown] = [*files.unknowns, *catalog.unknowns]
    for scanner in scanners:
        if progress is not None:
            progress.step(label, f"scanning: {scanner.name}")
        result = scanner.scan(context)
        findings.extend(result.findings)
        unknowns.extend(result.unknowns)
        not_checked.extend(result.not_checked)
    if progress is not None:
        progress.finish(label)
    return PlatformAudit(
        image=image,
        distro=distro,
        packages=packages,
        findings=tuple(findings),
        unknowns=tuple(unknowns),
        not_checked=tuple(not_checked),
        base_layers=base_layers,
        base_source=base_source,
    )


def audit_image(
    reference: str,
    settings: SourceSettings,
    scanners: Sequence[Scanner],
    *,
    base: str | None = None,
    layer_cache: bool = True,
    progress: AuditProgress | None = None,
) -> AuditResult:
    """Resolve once, then audit every selected platform image with the given scanners.

    With ``layer_cache`` (and the cache not disabled in ``settings``) layers audited before, over the
    same lower layers, are replayed from the per-layer cache instead of being fetched and read.
    """
    ref = _parse(reference)
    store = open_store(ref, settings.registry, settings.limits, settings.cache())
    resolved = resolve_image(store, settings.selection, settings.limits)
    cache_dir = settings.cache_dir_or_default() if layer_cache else None
    cache = LayerCache(cache_dir / "layers") if cache_dir is not None else None
    platforms = tuple(
        _audit_platform(store, image, scanners, base, settings, cache, progress) for image in resolved.images
    )
    source = pinned_name(ref, resolved.digest)
    return AuditResult(source, resolved, platforms, tuple(s.name for s in scanners))
