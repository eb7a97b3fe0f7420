"""Copy an image and everything attached to it from one repository to another, digests unchanged.

Bytes are copied exactly (never re-serialised), so every digest, and so every signature over one, still
holds at the destination.  Order is what makes a failure harmless: blobs first (streamed registry to
registry, or mounted when both repositories are on one registry), then manifests by digest, children before
the index, then referrers and cosign tags, and the destination tag LAST.  A copy that dies at any point
leaves the destination tag as it was; what was uploaded before is unreferenced content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from imagetrust.attest.push import (
    add_to_fallback_index,
    existing_cosign_manifest,
    merged_layers,
    referrers_api_available,
    write_cosign_manifest,
)
from imagetrust.discovery.attached import find_attached
from imagetrust.errors import LimitExceeded, UsageError
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor, Index, Manifest
from imagetrust.registry.repository import RegistryRepository
from imagetrust.registry.store import FetchedManifest

Progress = Callable[[str, str], None]  # (event, detail): "blob", "mount", "skip", "manifest", "tag"


@dataclass(frozen=True)
class CopiedManifest:
    """A manifest to copy, with the blobs it needs; ``raw`` is pushed unchanged."""

    fetched: FetchedManifest
    blobs: tuple[Descriptor, ...]

    @property
    def digest(self) -> Digest:
        return self.fetched.descriptor.digest


@dataclass(frozen=True)
class CosignTagCopy:
    tag: str
    manifest: CopiedManifest


@dataclass(frozen=True)
class ReferrerCopy:
    subject: Digest
    entry: Descriptor  # as listed at the source (artifactType, annotations kept)
    manifests: tuple[CopiedManifest, ...]  # children first


@dataclass(frozen=True)
class CopyPlan:
    """Everything one promotion will write, worked out from the source alone."""

    digest: Digest
    media_type: str
    image: tuple[CopiedManifest, ...]  # children first, the top-level manifest last
    cosign_tags: tuple[CosignTagCopy, ...]
    referrers: tuple[ReferrerCopy, ...]
    skipped: tuple[str, ...] = field(default=())  # what is knowingly not copied, and why

    @property
    def top(self) -> CopiedManifest:
        return self.image[-1]

    def all_manifests(self) -> Iterator[CopiedManifest]:
        yield from self.image
        for referrer in self.referrers:
            yield from referrer.manifests
        for copy in self.cosign_tags:
            yield copy.manifest

    def blobs(self) -> list[Descriptor]:
        seen: dict[Digest, Descriptor] = {}
        for manifest in self.all_manifests():
            for blob in manifest.blobs:
                seen.setdefault(blob.digest, blob)
        return list(seen.values())

    @property
    def total_bytes(self) -> int:
        return sum(blob.size for blob in self.blobs())


def _manifest_tree(
    source: RegistryRepository, fetched: FetchedManifest, limits: Limits, skipped: list[str], depth: int = 0
) -> list[CopiedManifest]:
    """The manifest and, for an index, every child (children first)."""
    if depth > 2:
        raise LimitExceeded(f"{source.location}: indexes nested more than 2 deep")
    parsed = fetched.parse(limits)
    if isinstance(parsed, Index):
        out: list[CopiedManifest] = []
        for child in parsed.manifests:
            if child.media_type not in media.MANIFEST_TYPES | media.INDEX_TYPES:
                skipped.append(f"index entry {child.digest.short}: media type {child.media_type} not copied")
                continue
            out.extend(_manifest_tree(source, source.get_manifest(child.digest), limits, skipped, depth + 1))
        out.append(CopiedManifest(fetched, ()))
        return out
    assert isinstance(parsed, Manifest)
    blobs = [parsed.config]
    for layer in parsed.layers:
        if layer.urls:
            skipped.append(f"layer {layer.digest.short}: foreign layer (served from its urls), not copied")
            continue
        blobs.append(layer)
    return [CopiedManifest(fetched, tuple(blobs))]


def plan_copy(source: RegistryRepository, limits: Limits) -> CopyPlan:
    """Resolve the source once and list the image, its cosign tags and its referrers (by digest)."""
    top = source.get_manifest(source.resolve().digest)
    skipped: list[str] = []
    image = _manifest_tree(source, top, limits, skipped)
    subjects = [m.fetched.descriptor for m in image]  # platform manifests can carry their own evidence
    cosign: list[CosignTagCopy] = []
    referrers: list[ReferrerCopy] = []
    for subject in reversed(subjects):
        attached = find_attached(source, subject.digest, limits)
        for attachment in attached.cosign:
            fetched = source.get_manifest(attachment.manifest.digest)
            tree = _manifest_tree(source, fetched, limits, skipped)
            cosign.append(CosignTagCopy(attachment.tag, tree[-1]))
        for entry in attached.referrers:
            if entry.media_type not in media.MANIFEST_TYPES | media.INDEX_TYPES:
                skipped.append(f"referrer {entry.digest.short}: media type {entry.media_type} not copied")
                continue
            tree = _manifest_tree(source, source.get_manifest(entry.digest), limits, skipped)
            referrers.append(ReferrerCopy(subject.digest, entry, tuple(tree)))
    return CopyPlan(
        top.descriptor.digest,
        top.descriptor.media_type,
        tuple(image),
        tuple(cosign),
        tuple(referrers),
        tuple(skipped),
    )


class ImageCopier:
    """Carries out a ``CopyPlan`` into a destination repository, tag last."""

    def __init__(
        self,
        source: RegistryRepository,
        destination: RegistryRepository,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.destination = destination
        self.progress = progress or (lambda event, detail: None)
        self._same_registry = (
            source.ref.registry == destination.ref.registry and source.client is destination.client
        )
        self._done: set[Digest] = set()

    def copy_blob(self, blob: Descriptor) -> str:
        """``present``, ``mounted`` or ``uploaded``; the blob streams through, never held whole."""
        if blob.digest in self._done:
            return "present"
        dst = self.destination
        how = "present"
        if not dst.has_blob(blob.digest):
            if (
                self._same_registry
                and self.source.ref.repository != dst.ref.repository
                and dst.mount_blob(blob.digest, self.source.ref.repository)
            ):
                how = "mounted"
            else:
                self.progress("blob", f"{blob.digest} ({blob.size} bytes)")
                with self.source.open_blob(blob) as reader:
                    dst.push_blob(blob, reader)
                how = "uploaded"
        self._done.add(blob.digest)
        self.progress("blob-done", f"{blob.digest} {how}")
        return how

    def copy_manifest(self, manifest: CopiedManifest) -> None:
        for blob in manifest.blobs:
            self.copy_blob(blob)
        descriptor = manifest.fetched.descriptor
        self.destination.push_manifest(manifest.fetched.raw, descriptor.media_type, descriptor.digest)
        self.progress("manifest", str(descriptor.digest))

    def copy_cosign_tag(self, copy: CosignTagCopy) -> None:
        """Same tag at the destination; signatures already there are kept (layers merged)."""
        for blob in copy.manifest.blobs:
            self.copy_blob(blob)
        dst = self.destination
        existing = existing_cosign_manifest(dst, copy.tag)
        fetched = copy.manifest.fetched
        if existing is None:
            dst.push_manifest(fetched.raw, fetched.descriptor.media_type, copy.tag)
        elif existing.digest != fetched.descriptor.digest:
            parsed = fetched.parse(dst.limits)
            assert isinstance(parsed, Manifest)
            layers = merged_layers(existing, parsed.layers)
            if len(layers) != len(existing.layers):
                write_cosign_manifest(dst, copy.tag, layers, dict(existing.annotations) or None)
        self.progress("tag", copy.tag)

    def copy_referrers(self, referrers: tuple[ReferrerCopy, ...]) -> None:
        by_subject: dict[Digest, list[Descriptor]] = {}
        for referrer in referrers:
            for manifest in referrer.manifests:
                self.copy_manifest(manifest)
            by_subject.setdefault(referrer.subject, []).append(referrer.entry)
        for subject, entries in by_subject.items():
            api = referrers_api_available(self.destination, subject)
            if not api and add_to_fallback_index(self.destination, subject, entries):
                self.progress("tag", subject.tag_form)

    def run(self, plan: CopyPlan, tag: str) -> Digest:
        """Copy everything in ``plan``; write ``tag`` only after all of it is in place."""
        if not tag:
            raise UsageError("destination tag is empty")
        for manifest in plan.image:
            self.copy_manifest(manifest)
        self.copy_referrers(plan.referrers)
        for copy in plan.cosign_tags:
            self.copy_cosign_tag(copy)
        top = plan.top.fetched
        digest = self.destination.push_manifest(top.raw, top.descriptor.media_type, tag)
        self.progress("tag", tag)
        return digest
