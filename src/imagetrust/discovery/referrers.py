"""Referrers of one artifact type, loaded as manifests.

Listings do not always carry the manifest's ``artifactType``: cosign 3 writes fallback-index entries whose
``artifactType`` is the empty config type.  So a descriptor without one, or with the empty type, is resolved
to its manifest and judged by the manifest's own ``artifactType`` (or its config media type, the pre-1.1
convention).  Every fetch is by digest and verified by the store.
"""

from __future__ import annotations

from imagetrust.discovery.attached import AttachedEvidence
from imagetrust.errors import MalformedContent
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.manifest import Manifest
from imagetrust.registry.store import ImageStore


def _artifact_type(manifest: Manifest) -> str:
    return manifest.artifact_type or manifest.config.media_type


def referrer_manifests(
    store: ImageStore, evidence: AttachedEvidence, artifact_prefix: str, limits: Limits
) -> tuple[Manifest, ...]:
    """Manifests among ``evidence.referrers`` whose artifact type starts with ``artifact_prefix``."""
    found = []
    for descriptor in evidence.referrers:
        listed = descriptor.artifact_type
        if listed is not None and listed != media.OCI_EMPTY and not listed.startswith(artifact_prefix):
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
    return referrer_manifests(store, evidence, media.SIGSTORE_BUNDLE_PREFIX, limits)
