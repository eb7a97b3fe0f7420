"""Referrers of one artifact type, loaded as manifests.

Registries and fallback indexes do not always copy ``artifactType`` into the listing's descriptors, so a
descriptor without one is resolved to its manifest and judged by the manifest's own ``artifactType`` (or its
config media type, the pre-1.1 convention).  Every fetch is by digest and verified by the store.
"""

from __future__ import annotations

from imagetrust.discovery.attached import AttachedEvidence
from imagetrust.errors import MalformedContent
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.manifest import Manifest
from imagetrust.registry.store import ImageStore

SIGSTORE_BUNDLE_ARTIFACT_PREFIX = "application/vnd.dev.sigstore.bundle"


def _artifact_type(manifest: Manifest) -> str:
    return manifest.artifact_type or manifest.config.media_type


def referrer_manifests(
    store: ImageStore, evidence: AttachedEvidence, artifact_prefix: str, limits: Limits
) -> tuple[Manifest, ...]:
    """Manifests among ``evidence.referrers`` whose artifact type starts with ``artifact_prefix``."""
    found = []
    for descriptor in evidence.referrers:
        if descriptor.artifact_type is not None and not descriptor.artifact_type.startswith(artifact_prefix):
            continue
        if descriptor.media_type not in media.MANIFEST_TYPES:
            continue
        parsed = store.get_manifest(descriptor.digest).parse(limits)
        if not isinstance(parsed, Manifest):
            raise MalformedContent(f"{store.location}: referrer {descriptor.digest.short} is not a manifest")
        if _artifact_type(parsed).startswith(artifact_prefix):
            found.append(parsed)
    return tuple(found)


def sigstore_bundle_referrers(
    store: ImageStore, evidence: AttachedEvidence, limits: Limits
) -> tuple[Manifest, ...]:
    """Referrers carrying sigstore bundles (cosign v3, GitHub attestations), any bundle version."""
    return referrer_manifests(store, evidence, SIGSTORE_BUNDLE_ARTIFACT_PREFIX, limits)
