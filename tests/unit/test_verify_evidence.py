"""Attachments to verifiable items, read through a real OCI layout store; bounds checked before any read.

Blobs that the bounds must stop are left OUT of the layout: if the code read them before refusing, the store
would raise NotFound instead of LimitExceeded, so each test shows the refusal happened first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imagetrust.errors import IntegrityError, LimitExceeded
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor, Manifest, parse_manifest_or_index
from imagetrust.oci.reference import OciLayoutRef
from imagetrust.registry.archive import open_offline_store
from imagetrust.registry.store import ImageStore
from imagetrust.verify.evidence import attestation_items, bundle_items, signature_items
from tests.support.images import LayerSpec, blob, build_image, json_bytes, write_layout

SIMPLE = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
LIMITS = Limits()


def manifest(layers: list[dict[str, object]], **extra: object) -> Manifest:
    config = blob(b"{}", media.OCI_CONFIG)
    raw = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": config.descriptor.to_json(),
            "layers": layers,
            **extra,
        }
    )
    parsed = parse_manifest_or_index(raw, Digest.of(raw), declared_media_type=media.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    return parsed


def layer(descriptor: Descriptor, **annotations: str) -> dict[str, object]:
    return {**descriptor.to_json(), "annotations": annotations} if annotations else descriptor.to_json()


def store_with(tmp_path: Path, *blobs: tuple[bytes, str]) -> tuple[ImageStore, list[Descriptor]]:
    image = build_image([LayerSpec.from_files({"a": "b"})])
    extra = [blob(data, media_type) for data, media_type in blobs]
    write_layout(tmp_path / "layout", {"v1": image}, extra_blobs=extra)
    return open_offline_store(OciLayoutRef(tmp_path / "layout", "v1"), LIMITS), [b.descriptor for b in extra]


def test_signature_layers_carry_payload_and_annotations(tmp_path: Path) -> None:
    store, (d0, d1) = store_with(tmp_path, (b'{"payload":0}', SIMPLE), (b'{"payload":1}', SIMPLE))
    sig = manifest(
        [
            layer(d0, **{"dev.cosignproject.cosign/signature": "c2ln"}),
            layer(
                d1,
                **{
                    "dev.cosignproject.cosign/signature": "c2ln",
                    "dev.sigstore.cosign/certificate": "CERT",
                    "dev.sigstore.cosign/chain": "CHAIN",
                    "dev.sigstore.cosign/bundle": "{}",
                },
            ),
        ]
    )
    items = signature_items(sig, "sha256-x.sig", store.location, store.read_blob, LIMITS)
    assert [i.payload for i in items] == [b'{"payload":0}', b'{"payload":1}']
    assert items[0].certificate is None and items[0].rekor_bundle is None
    assert (items[1].certificate, items[1].chain, items[1].rekor_bundle) == ("CERT", "CHAIN", "{}")
    assert (
        items[1].origin.tag == "sha256-x.sig" and items[1].origin.layer == 1 and items[1].origin.kind == "tag"
    )
    assert items[1].origin.manifest == sig.digest


def test_attestation_layers_keep_the_unsigned_type_only_as_a_hint(tmp_path: Path) -> None:
    store, (d0,) = store_with(tmp_path, (b'{"payloadType":"x"}', "application/vnd.dsse.envelope.v1+json"))
    att = manifest(
        [
            layer(
                d0,
                predicateType="https://slsa.dev/provenance/v0.2",
                **{"dev.cosignproject.cosign/signature": ""},
            )
        ]
    )
    (item,) = attestation_items(att, "sha256-x.att", store.location, store.read_blob, LIMITS)
    assert (
        item.envelope == b'{"payloadType":"x"}' and item.predicate_hint == "https://slsa.dev/provenance/v0.2"
    )


def test_bundle_referrers_only_bundle_layers(tmp_path: Path) -> None:
    store, (bundle, other) = store_with(
        tmp_path, (b'{"mediaType":"b"}', BUNDLE), (b"other", "application/octet-stream")
    )
    referrer = manifest(
        [layer(other), layer(bundle)],
        artifactType=BUNDLE,
        annotations={"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
    )
    (item,) = bundle_items((referrer,), store.location, store.read_blob, LIMITS)
    assert item.raw == b'{"mediaType":"b"}' and item.origin.kind == "referrer" and item.origin.layer == 1
    assert item.predicate_hint == "https://sigstore.dev/cosign/sign/v1"


def test_too_many_layers_refused_before_reading(tmp_path: Path) -> None:
    store, _ = store_with(tmp_path)
    absent = Descriptor(SIMPLE, Digest.of(b"never stored"), 12)
    sig = manifest([layer(absent)] * 4)
    limits = Limits(attached_items=3)
    with pytest.raises(LimitExceeded, match="4 items exceeds the limit of 3"):
        signature_items(sig, "t.sig", store.location, store.read_blob, limits)
    with pytest.raises(LimitExceeded, match="4 items exceeds the limit of 3"):
        attestation_items(sig, "t.att", store.location, store.read_blob, limits)
    bundles = manifest([layer(Descriptor(BUNDLE, absent.digest, 12))] * 4)
    with pytest.raises(LimitExceeded, match="4 items exceeds the limit of 3"):
        bundle_items((bundles,), store.location, store.read_blob, limits)


def test_huge_declared_size_refused_before_reading(tmp_path: Path) -> None:
    store, _ = store_with(tmp_path)
    huge = Descriptor(SIMPLE, Digest.of(b"never stored"), 2**40)
    with pytest.raises(LimitExceeded, match="declared size 1099511627776 bytes exceeds"):
        signature_items(manifest([layer(huge)]), "t.sig", store.location, store.read_blob, LIMITS)


def test_blob_that_lies_about_its_digest_is_an_integrity_error(tmp_path: Path) -> None:
    store, (d0,) = store_with(tmp_path, (b'{"payload":"original"}', SIMPLE))
    path = tmp_path / "layout" / "blobs" / "sha256" / d0.digest.hex
    path.write_bytes(b'{"payload":"tampered"}')
    with pytest.raises(IntegrityError):
        signature_items(manifest([layer(d0)]), "t.sig", store.location, store.read_blob, LIMITS)
