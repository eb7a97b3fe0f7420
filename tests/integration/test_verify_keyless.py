"""Keyless paths of `imagetrust verify`, end to end through the CLI.

* Sigstore bundles signed by the offline test instance (tests/support/sigstore_instance.py), pushed to the
  real docker-registry as OCI referrers in the shape cosign 3 writes (manifest with ``subject`` and
  ``artifactType``, listed in the ``sha256-<hex>`` fallback index).
* A legacy keyless cosign signature from the real public-good instance (containers/image test data), served
  from an OCI layout under its ``.sig`` tag, checked against its Fulcio root and Rekor key.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.repository import open_repository
from tests.conftest import shared_data
from tests.integration.test_inspect_cli import push, run_cli
from tests.support.images import LayerSpec, blob, build_image, json_bytes, write_layout
from tests.support.registry import RegistryServer, options_for
from tests.support.sigstore_instance import BUNDLE_V03, SigstoreInstance

SIGN = "https://sigstore.dev/cosign/sign/v1"
CUSTOM = "https://example.test/attestation/custom/v1"
IDENTITY = (
    "--certificate-identity",
    "signer@example.test",
    "--certificate-oidc-issuer",
    "https://issuer.example.test",
)


def verify(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    done = run_cli("verify", "--no-cache", "--format", "json", *args)
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else None), done.stderr


def statement(digest: Digest, predicate_type: str) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "image", "digest": {"sha256": digest.hex}}],
        "predicateType": predicate_type,
        "predicate": {},
    }


def push_referrers(
    server: RegistryServer, repository: str, subject: Descriptor, bundles: list[tuple[bytes, str]]
) -> None:
    """Push bundle referrers of ``subject`` and the fallback index listing them, as cosign 3 does."""
    client = open_repository(parse_registry_ref(f"{server.host}/{repository}"), options_for(server))
    empty = blob(b"{}", media.OCI_EMPTY)
    client.push_blob(empty.descriptor, empty.data)
    entries = []
    for raw, predicate_type in bundles:
        layer = blob(raw, BUNDLE_V03)
        client.push_blob(layer.descriptor, raw)
        manifest = json_bytes(
            {
                "schemaVersion": 2,
                "mediaType": media.OCI_MANIFEST,
                "artifactType": BUNDLE_V03,
                "config": empty.descriptor.to_json(),
                "layers": [layer.descriptor.to_json()],
                "subject": {
                    "mediaType": subject.media_type,
                    "digest": str(subject.digest),
                    "size": subject.size,
                },
                "annotations": {"dev.sigstore.bundle.predicateType": predicate_type},
            }
        )
        digest = client.push_manifest(manifest, media.OCI_MANIFEST, Digest.of(manifest))
        entries.append(
            {
                "mediaType": media.OCI_MANIFEST,
                "digest": str(digest),
                "size": len(manifest),
                "artifactType": media.OCI_EMPTY,
            }
        )
    index = json_bytes({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": entries})
    client.push_manifest(index, media.OCI_INDEX, subject.digest.tag_form)


@pytest.fixture(scope="module")
def instance() -> SigstoreInstance:
    return SigstoreInstance.create("verify")


@pytest.fixture(scope="module")
def trusted_root(instance: SigstoreInstance, tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(instance.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json"))


@pytest.mark.registry
def test_keyless_bundles_as_referrers(
    instance: SigstoreInstance, trusted_root: str, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    image = build_image([LayerSpec.from_files({"keyless": "1"})])
    ref = push(write_layout(tmp_path / "l", {"v1": image}), "v1", registry_plain, "verify/keyless:v1")
    subject = image.manifest.descriptor
    signature = instance.attest(statement(image.digest, SIGN)).raw()
    attestation = instance.attest(statement(image.digest, CUSTOM)).raw()
    push_referrers(registry_plain, "verify/keyless", subject, [(signature, SIGN), (attestation, CUSTOM)])

    code, doc, err = verify(ref, "--trusted-root", trusted_root, *IDENTITY, "--type", CUSTOM)
    assert code == 0, err
    assert doc is not None
    (sig,) = doc["signatures"]
    assert sig["verified"] and sig["format"] == "sigstore bundle v0.3"
    assert sig["signer"] == {
        "keyId": None,
        "identity": "signer@example.test",
        "issuer": "https://issuer.example.test",
    }
    assert isinstance(sig["logIndex"], int)
    (att,) = doc["attestations"]
    assert att["verified"] and att["predicateType"] == CUSTOM

    # Identity regexps are full matches: a prefix of the real identity is not the identity.
    code, doc, _ = verify(
        ref,
        "--trusted-root",
        trusted_root,
        "--certificate-identity-regexp",
        "signer@example",
        "--certificate-oidc-issuer",
        "https://issuer.example.test",
    )
    assert code == 1 and doc is not None
    assert "does not fully match" in doc["signatures"][0]["reason"]
    code, doc, _ = verify(
        ref,
        "--trusted-root",
        trusted_root,
        "--certificate-identity",
        "someone@else.test",
        "--certificate-oidc-issuer",
        "https://issuer.example.test",
    )
    assert code == 1


@pytest.mark.registry
def test_keyless_bundle_for_another_digest_is_refused(
    instance: SigstoreInstance, trusted_root: str, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    image = build_image([LayerSpec.from_files({"keyless": "2"})])
    ref = push(write_layout(tmp_path / "l", {"v1": image}), "v1", registry_plain, "verify/keyless-other:v1")
    elsewhere = Digest.of(b"some other manifest")
    signature = instance.attest(statement(elsewhere, SIGN)).raw()
    attestation = instance.attest(statement(elsewhere, CUSTOM)).raw()
    push_referrers(
        registry_plain,
        "verify/keyless-other",
        image.manifest.descriptor,
        [(signature, SIGN), (attestation, CUSTOM)],
    )
    code, doc, _ = verify(ref, "--trusted-root", trusted_root, *IDENTITY, "--type", CUSTOM)
    assert code == 1 and doc is not None
    assert all(
        not i["verified"] and "do not include" in i["reason"] for i in doc["signatures"] + doc["attestations"]
    )


def test_legacy_keyless_signature_from_an_oci_layout(tmp_path: Path) -> None:
    base = shared_data("sigstore/containers-image")
    manifest_raw = (base / "dir-img-cosign-fulcio-rekor-valid" / "manifest.json").read_bytes()
    stored = json.loads(
        (base / "dir-img-cosign-fulcio-rekor-valid" / "signature-1").read_bytes().split(b"\n", 1)[1]
    )
    image = blob(manifest_raw, media.DOCKER_MANIFEST)
    payload = blob(base64.b64decode(stored["payload"]), "application/vnd.dev.cosign.simplesigning.v1+json")
    config = blob(b"{}", media.OCI_CONFIG)
    sig_manifest = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": config.descriptor.to_json(),
            "layers": [{**payload.descriptor.to_json(), "annotations": stored["annotations"]}],
        }
    )
    sig = blob(sig_manifest, media.OCI_MANIFEST)
    layout = tmp_path / "layout"
    for b in (image, payload, config, sig):
        path = layout / "blobs" / "sha256" / b.descriptor.digest.hex
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b.data)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries = [
        {**image.descriptor.to_json(), "annotations": {"org.opencontainers.image.ref.name": "v1"}},
        {
            **sig.descriptor.to_json(),
            "annotations": {"org.opencontainers.image.ref.name": f"{image.descriptor.digest.tag_form}.sig"},
        },
    ]
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    trust = ("--fulcio-root", str(base / "fulcio_v1.crt.pem"), "--rekor-key", str(base / "rekor.pub"))
    issuer = ("--certificate-oidc-issuer", "https://github.com/login/oauth")
    code, doc, err = verify(f"oci:{layout}:v1", *trust, "--certificate-identity", "mitr@redhat.com", *issuer)
    assert code == 0, err
    assert doc is not None
    (item,) = doc["signatures"]
    assert (
        item["format"] == "cosign simple-signing (keyless)"
        and item["signer"]["identity"] == "mitr@redhat.com"
    )
    code, doc, _ = verify(
        f"oci:{layout}:v1", *trust, "--certificate-identity", "someone@example.test", *issuer
    )
    assert code == 1 and doc is not None and "is not 'someone@example.test'" in doc["signatures"][0]["reason"]
