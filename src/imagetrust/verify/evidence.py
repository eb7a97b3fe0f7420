"""Discovered attachments turned into verifiable items, with every count and size bounded first.

A ``.sig`` manifest holds one signature per layer (payload blob + annotations); an ``.att`` manifest one DSSE
envelope per layer; a sigstore-bundle referrer one bundle blob.  Counts and declared sizes are checked
against ``Limits`` before any blob is read (cosign CVE-2023-46737, CVE-2024-29902), and blobs are read
through the store, which verifies them against their digests.  Nothing here decides trust.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from imagetrust.errors import LimitExceeded
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor, Manifest
from imagetrust.oci.media import SIGSTORE_BUNDLE_PREFIX

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
REKOR_BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
PREDICATE_TYPE_ANNOTATION = "predicateType"
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"

BlobReader = Callable[[Descriptor, int], bytes]


@dataclass(frozen=True)
class Origin:
    """Where an item was found: repository, the tag or referrer manifest, and the layer in it."""

    repository: str
    manifest: Digest
    layer: int
    tag: str | None = None  # cosign tag ("sha256-<hex>.sig"); None for referrers

    @property
    def kind(self) -> str:
        return "tag" if self.tag is not None else "referrer"

    def describe(self) -> str:
        where = f"tag {self.tag}" if self.tag is not None else f"referrer {self.manifest.short}"
        return f"{self.repository} {where} layer {self.layer}"


@dataclass(frozen=True)
class SignatureItem:
    """One ``.sig`` layer: the simple-signing payload and the annotations that verify it."""

    origin: Origin
    media_type: str
    payload: bytes = field(repr=False)
    signature: str | None
    certificate: str | None
    chain: str | None
    rekor_bundle: str | None


@dataclass(frozen=True)
class AttestationItem:
    """One ``.att`` layer: a DSSE envelope; ``predicate_hint`` is an unsigned annotation, for display only."""

    origin: Origin
    media_type: str
    envelope: bytes = field(repr=False)
    certificate: str | None
    chain: str | None
    rekor_bundle: str | None
    predicate_hint: str | None


@dataclass(frozen=True)
class BundleItem:
    """One sigstore bundle blob from a referrer; ``predicate_hint`` is unsigned, for display only."""

    origin: Origin
    media_type: str
    raw: bytes = field(repr=False)
    predicate_hint: str | None


def _check_count(count: int, what: str, limits: Limits) -> None:
    if count > limits.attached_items:
        raise LimitExceeded(f"{what}: {count} items exceeds the limit of {limits.attached_items}")


def _read(read_blob: BlobReader, layer: Descriptor, what: str, limits: Limits) -> bytes:
    if layer.size > limits.small_blob_bytes:
        raise LimitExceeded(
            f"{what}: declared size {layer.size} bytes exceeds the limit of {limits.small_blob_bytes}"
        )
    return read_blob(layer, limits.small_blob_bytes)


def signature_items(
    manifest: Manifest, tag: str, repository: str, read_blob: BlobReader, limits: Limits
) -> tuple[SignatureItem, ...]:
    """Every layer of a cosign ``.sig`` manifest, payload read and bounded."""
    what = f"{repository} signature tag {tag}"
    _check_count(len(manifest.layers), what, limits)
    items = []
    for index, layer in enumerate(manifest.layers):
        payload = _read(read_blob, layer, f"{what} layer {index}", limits)
        items.append(
            SignatureItem(
                origin=Origin(repository, manifest.digest, index, tag),
                media_type=layer.media_type,
                payload=payload,
                signature=layer.annotation(SIGNATURE_ANNOTATION),
                certificate=layer.annotation(CERTIFICATE_ANNOTATION) or None,
                chain=layer.annotation(CHAIN_ANNOTATION) or None,
                rekor_bundle=layer.annotation(REKOR_BUNDLE_ANNOTATION) or None,
            )
        )
    return tuple(items)


def attestation_items(
    manifest: Manifest, tag: str, repository: str, read_blob: BlobReader, limits: Limits
) -> tuple[AttestationItem, ...]:
    """Every layer of a cosign ``.att`` manifest: the DSSE envelope, read and bounded."""
    what = f"{repository} attestation tag {tag}"
    _check_count(len(manifest.layers), what, limits)
    items = []
    for index, layer in enumerate(manifest.layers):
        envelope = _read(read_blob, layer, f"{what} layer {index}", limits)
        items.append(
            AttestationItem(
                origin=Origin(repository, manifest.digest, index, tag),
                media_type=layer.media_type,
                envelope=envelope,
                certificate=layer.annotation(CERTIFICATE_ANNOTATION) or None,
                chain=layer.annotation(CHAIN_ANNOTATION) or None,
                rekor_bundle=layer.annotation(REKOR_BUNDLE_ANNOTATION) or None,
                predicate_hint=layer.annotation(PREDICATE_TYPE_ANNOTATION),
            )
        )
    return tuple(items)


def bundle_items(
    referrers: tuple[Manifest, ...], repository: str, read_blob: BlobReader, limits: Limits
) -> tuple[BundleItem, ...]:
    """The sigstore-bundle layers of bundle referrers (normally one per referrer), read and bounded."""
    layers = [
        (manifest, index, layer)
        for manifest in referrers
        for index, layer in enumerate(manifest.layers)
        if layer.media_type.startswith(SIGSTORE_BUNDLE_PREFIX)
    ]
    _check_count(len(layers), f"{repository} sigstore bundle referrers", limits)
    items = []
    for manifest, index, layer in layers:
        raw = _read(read_blob, layer, f"{repository} referrer {manifest.digest.short} layer {index}", limits)
        items.append(
            BundleItem(
                origin=Origin(repository, manifest.digest, index),
                media_type=layer.media_type,
                raw=raw,
                predicate_hint=manifest.annotation(BUNDLE_PREDICATE_ANNOTATION),
            )
        )
    return tuple(items)
