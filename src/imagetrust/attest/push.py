"""Attach signed envelopes to an image, in both places verifiers look.

1. An OCI 1.1 referrer: an artifact manifest (``artifactType: application/vnd.in-toto+json``, empty config,
   one DSSE layer) whose ``subject`` is the image; on registries without the referrers API the
   ``sha256-<hex>`` fallback index is updated by read-modify-write, keeping every entry already there.
2. A cosign attestation tag ``sha256-<hex>.att``: one layer per envelope, ``predicateType`` and an empty
   ``dev.cosignproject.cosign/signature`` annotation, APPENDED to the manifest already under the tag.

Read-modify-write of a tag is racy against a concurrent writer (cosign's own spec says so); the window is
one GET and one PUT.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imagetrust.errors import MalformedContent
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.jsonbytes import load_object
from imagetrust.oci.manifest import Descriptor, Index, Manifest
from imagetrust.registry.repository import RegistryRepository
from imagetrust.verify.dsse import DSSE_MEDIA_TYPE

IN_TOTO_ARTIFACT_TYPE = "application/vnd.in-toto+json"
COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PREDICATE_TYPE_ANNOTATION = "predicateType"
CREATED_ANNOTATION = "org.opencontainers.image.created"
EMPTY_CONFIG = b"{}"
_ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class AttachedAttestation:
    """Where one envelope was attached."""

    predicate_type: str
    envelope: Digest
    referrer: Digest  # the referrer manifest
    fallback_tag: str | None  # None when the registry serves the referrers API itself
    cosign_tag: str
    cosign_manifest: Digest


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _blob(data: bytes, media_type: str, annotations: dict[str, str] | None = None) -> Descriptor:
    return Descriptor(media_type, Digest.of(data), len(data), tuple(sorted((annotations or {}).items())))


def timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------ referrers


def push_referrer(
    repo: RegistryRepository,
    subject: Descriptor,
    envelope: bytes,
    predicate_type: str,
    created: datetime.datetime,
) -> Descriptor:
    """Push the envelope as an in-toto referrer of ``subject``; returns the referrer's index entry."""
    config = _blob(EMPTY_CONFIG, media.OCI_EMPTY)
    layer = _blob(envelope, DSSE_MEDIA_TYPE)
    repo.push_blob(config, EMPTY_CONFIG)
    repo.push_blob(layer, envelope)
    annotations = {CREATED_ANNOTATION: timestamp(created), PREDICATE_TYPE_ANNOTATION: predicate_type}
    manifest = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "artifactType": IN_TOTO_ARTIFACT_TYPE,
        "config": config.to_json(),
        "layers": [layer.to_json()],
        "subject": {"mediaType": subject.media_type, "digest": str(subject.digest), "size": subject.size},
        "annotations": annotations,
    }
    raw = _json(manifest)
    digest = repo.push_manifest(raw, media.OCI_MANIFEST)
    return Descriptor(
        media.OCI_MANIFEST,
        digest,
        len(raw),
        tuple(sorted(annotations.items())),
        artifact_type=IN_TOTO_ARTIFACT_TYPE,
    )


def add_to_fallback_index(repo: RegistryRepository, subject: Digest, entries: Sequence[Descriptor]) -> bool:
    """Add ``entries`` to the ``sha256-<hex>`` referrers index, keeping existing entries byte for byte.

    Entries already listed (same digest) are not repeated; returns True if the tag was written.
    """
    tag = subject.tag_form
    existing: list[Any] = []
    listed: set[Digest] = set()
    fetched = repo.get_tagged(tag)
    if fetched is not None:
        parsed = fetched.parse(repo.limits)
        if not isinstance(parsed, Index):
            raise MalformedContent(f"{repo.location}: referrers fallback tag {tag} is not an index")
        doc = load_object(fetched.raw, f"{repo.location}:{tag}", max_bytes=repo.limits.manifest_bytes)
        existing = list(doc.get("manifests") or [])
        listed = {d.digest for d in parsed.manifests}
    added = [entry for entry in entries if entry.digest not in listed]
    if not added and fetched is not None:
        return False
    index = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": existing + [entry.to_json() for entry in added],
    }
    repo.push_manifest(_json(index), media.OCI_INDEX, tag)
    return True


def referrers_api_available(repo: RegistryRepository, subject: Digest) -> bool:
    """Whether the registry answers the referrers API (then it maintains the listing itself)."""
    return repo.referrers(subject) is not None


# --------------------------------------------------------------------------------------- cosign tags


def cosign_config(layers: Sequence[Descriptor]) -> bytes:
    """The image config cosign writes for signature manifests: one diff_id per (uncompressed) layer."""
    return _json(
        {
            "architecture": "",
            "created": _ZERO_TIME,
            "history": [{"created": _ZERO_TIME}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [str(layer.digest) for layer in layers]},
            "config": {},
        }
    )


def write_cosign_manifest(
    repo: RegistryRepository,
    tag: str,
    layers: Sequence[Descriptor],
    annotations: dict[str, str] | None = None,
) -> Digest:
    """Write a cosign-style manifest of ``layers`` (blobs already in ``repo``) under ``tag``."""
    config_raw = cosign_config(layers)
    config = _blob(config_raw, media.OCI_CONFIG)
    repo.push_blob(config, config_raw)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    if annotations:
        manifest["annotations"] = annotations
    return repo.push_manifest(_json(manifest), media.OCI_MANIFEST, tag)


def existing_cosign_manifest(repo: RegistryRepository, tag: str) -> Manifest | None:
    fetched = repo.get_tagged(tag)
    if fetched is None:
        return None
    parsed = fetched.parse(repo.limits)
    if not isinstance(parsed, Manifest):
        raise MalformedContent(f"{repo.location}: cosign tag {tag} holds an index, not a manifest")
    return parsed


def merged_layers(existing: Manifest | None, new: Sequence[Descriptor]) -> list[Descriptor]:
    """Existing layers first, in order, then the new ones not already present (same digest)."""
    layers = list(existing.layers) if existing is not None else []
    present = {layer.digest for layer in layers}
    for layer in new:
        if layer.digest not in present:
            layers.append(layer)
            present.add(layer.digest)
    return layers


def append_attestation_layer(
    repo: RegistryRepository, subject: Digest, envelope: bytes, predicate_type: str
) -> tuple[str, Digest]:
    """Append the envelope to ``sha256-<hex>.att`` (creating it if absent); returns (tag, manifest digest)."""
    tag = f"{subject.tag_form}.att"
    layer = _blob(
        envelope,
        DSSE_MEDIA_TYPE,
        {COSIGN_SIGNATURE_ANNOTATION: "", PREDICATE_TYPE_ANNOTATION: predicate_type},
    )
    repo.push_blob(layer, envelope)
    existing = existing_cosign_manifest(repo, tag)
    layers = merged_layers(existing, [layer])
    if existing is not None and len(layers) == len(existing.layers):
        return tag, existing.digest  # this very envelope is already attached
    annotations = dict(existing.annotations) if existing is not None else None
    return tag, write_cosign_manifest(repo, tag, layers, annotations)


# ------------------------------------------------------------------------------------------- both


def attach_attestation(
    repo: RegistryRepository,
    subject: Descriptor,
    envelope: bytes,
    predicate_type: str,
    created: datetime.datetime,
) -> AttachedAttestation:
    """Attach one signed envelope as a referrer (plus fallback tag if needed) and as a cosign .att layer."""
    entry = push_referrer(repo, subject, envelope, predicate_type, created)
    fallback: str | None = None
    if not referrers_api_available(repo, subject.digest):
        add_to_fallback_index(repo, subject.digest, [entry])
        fallback = subject.digest.tag_form
    tag, att_digest = append_attestation_layer(repo, subject.digest, envelope, predicate_type)
    return AttachedAttestation(predicate_type, Digest.of(envelope), entry.digest, fallback, tag, att_digest)
