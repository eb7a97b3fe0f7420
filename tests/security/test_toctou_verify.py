"""Tag/digest TOCTOU against `verify` (SECURITY-CASES A: GHSA-wfqx-gjrf-g28r, CVE-2023-47630,
CVE-2022-47633): a registry that answers the tag with one manifest, then another, must not make verify
vouch for an image it did not check, nor check one image and report another."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from tests.security.conftest import small_image
from tests.security.hostile_registry import HostileRegistry, Reply, Request
from tests.support.images import blob, json_bytes


def _sign(hostile: HostileRegistry, digest: Digest, key: ec.EllipticCurvePrivateKey) -> None:
    """Attach a cosign-format simple-signing signature for ``digest`` under its `.sig` tag."""
    payload = json_bytes(
        {
            "critical": {
                "identity": {"docker-reference": f"{hostile.host}/app"},
                "image": {"docker-manifest-digest": str(digest)},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    layer = blob(payload, "application/vnd.dev.cosign.simplesigning.v1+json")
    config = blob(b"{}", media.OCI_CONFIG)
    layer_json = layer.descriptor.to_json()
    layer_json["annotations"] = {"dev.cosignproject.cosign/signature": signature}
    manifest = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": config.descriptor.to_json(),
            "layers": [layer_json],
        }
    )
    hostile.put_blob(layer)
    hostile.put_blob(config)
    hostile.put_manifest(manifest, media.OCI_MANIFEST, tag=f"{digest.tag_form}.sig")


def _serve_in_turn(hostile: HostileRegistry, answers: list[bytes]) -> None:
    """Each GET of tag v1 gets the next manifest in ``answers`` (the last one repeats)."""
    served = {"count": 0}

    def turn(request: Request) -> Reply | None:
        if request.kind != "manifests" or request.reference != "v1":
            return None
        raw = answers[min(served["count"], len(answers) - 1)]
        served["count"] += 1
        return Reply(
            200, {"Content-Type": media.OCI_MANIFEST, "Docker-Content-Digest": str(Digest.of(raw))}, raw
        )

    hostile.hooks.append(turn)


def _key_file(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "cosign.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


def test_unsigned_image_served_first_is_never_vouched_for_by_a_later_signed_answer(
    cli, hostile: HostileRegistry, tmp_path: Path
) -> None:
    key, pub = _key_file(tmp_path)
    signed, unsigned = small_image(b"signed"), small_image(b"unsigned")
    hostile.put_image(signed, tag=None)
    hostile.put_image(unsigned, tag=None)
    _sign(hostile, signed.digest, key)
    _serve_in_turn(hostile, [unsigned.manifest.data, signed.manifest.data])

    run = cli("verify", "--format", "json", "--no-cache", "--key", str(pub), hostile.ref("v1"))
    assert run.code == 1, run.stderr
    document = json.loads(run.stdout)
    assert str(unsigned.digest) in run.stdout
    assert str(signed.digest) not in json.dumps(document.get("signatures", []))
    assert len([r for r in hostile.requests("manifests") if r.reference == "v1"]) == 1


def test_signed_image_verified_is_the_one_reported(cli, hostile: HostileRegistry, tmp_path: Path) -> None:
    key, pub = _key_file(tmp_path)
    signed, unsigned = small_image(b"signed"), small_image(b"unsigned")
    hostile.put_image(signed, tag=None)
    hostile.put_image(unsigned, tag=None)
    _sign(hostile, signed.digest, key)
    _serve_in_turn(hostile, [signed.manifest.data, unsigned.manifest.data])

    run = cli("verify", "--format", "json", "--no-cache", "--key", str(pub), hostile.ref("v1"))
    assert run.code == 0, run.stderr
    assert str(signed.digest) in run.stdout
    assert str(unsigned.digest) not in run.stdout
    assert len([r for r in hostile.requests("manifests") if r.reference == "v1"]) == 1
