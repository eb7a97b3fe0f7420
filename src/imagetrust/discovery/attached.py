"""Discovery of signatures, attestations and SBOMs attached to a digest.

Every lookup either answers or raises: a failed lookup must make the outcome indeterminate, never read as
"nothing attached" (cosign v3 once reported images unsigned when its referrers call hit a 429).
"""

from __future__ import annotations

from dataclasses import dataclass

from imagetrust.errors import LimitExceeded, MalformedContent
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor, Index, Manifest
from imagetrust.registry.store import ImageStore

COSIGN_SUFFIXES = ("sig", "att", "sbom")


@dataclass(frozen=True)
class CosignAttachment:
    """A manifest found under a cosign tag such as ``sha256-<hex>.sig``."""

    kind: str  # "sig", "att" or "sbom"
    tag: str
    manifest: Manifest


@dataclass(frozen=True)
class AttachedEvidence:
    """Everything found attached to one subject digest, deduplicated by digest."""

    subject: Digest
    cosign: tuple[CosignAttachment, ...]
    referrers: tuple[Descriptor, ...]
    referrers_sources: tuple[str, ...]  # "referrers API", "fallback tag sha256-<hex>"; empty when none

    @property
    def empty(self) -> bool:
        return not self.cosign and not self.referrers


def _cosign_attachments(store: ImageStore, subject: Digest, limits: Limits) -> list[CosignAttachment]:
    found = []
    for kind in COSIGN_SUFFIXES:
        tag = f"{subject.tag_form}.{kind}"
        fetched = store.get_tagged(tag)
        if fetched is None:
            continue
        parsed = fetched.parse(limits)
        if not isinstance(parsed, Manifest):
            raise MalformedContent(f"{store.location}: cosign tag {tag} holds an index, not a manifest")
        found.append(CosignAttachment(kind, tag, parsed))
    return found


def _fallback_referrers(store: ImageStore, subject: Digest, limits: Limits) -> list[Descriptor] | None:
    fetched = store.get_tagged(subject.tag_form)
    if fetched is None:
        return None
    parsed = fetched.parse(limits)
    if not isinstance(parsed, Index):
        raise MalformedContent(f"{store.location}: referrers fallback tag {subject.tag_form} is not an index")
    return list(parsed.manifests)


def find_attached(store: ImageStore, subject: Digest, limits: Limits) -> AttachedEvidence:
    """Look in every place evidence can be stored for ``subject`` and merge what is found."""
    cosign = _cosign_attachments(store, subject, limits)
    sources: list[str] = []
    merged: dict[Digest, Descriptor] = {}
    api = store.referrers(subject)
    if api is not None:
        sources.append("referrers API")
        for descriptor in api:
            merged.setdefault(descriptor.digest, descriptor)
    fallback = _fallback_referrers(store, subject, limits)
    if fallback is not None:
        sources.append(f"fallback tag {subject.tag_form}")
        for descriptor in fallback:
            merged.setdefault(descriptor.digest, descriptor)
    if len(merged) > limits.referrers:
        raise LimitExceeded(
            f"{store.location}: {len(merged)} referrers of {subject.short} exceeds the limit of"
            f" {limits.referrers}"
        )
    return AttachedEvidence(subject, tuple(cosign), tuple(merged.values()), tuple(sources))
