"""Seed inputs per target: small valid documents, so a short run starts from the interesting paths."""

from __future__ import annotations

import base64
import json

from imagetrust.verify.statement import STATEMENT_V1
from tests.support.images import LayerSpec, build_image, build_index, layer_tar


def _statement() -> bytes:
    return json.dumps(
        {
            "_type": STATEMENT_V1,
            "subject": [{"name": "img", "digest": {"sha256": "a" * 64}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {}},
        }
    ).encode()


def _envelope() -> bytes:
    return json.dumps(
        {
            "payloadType": "application/vnd.in-toto+json",
            "payload": base64.b64encode(_statement()).decode(),
            "signatures": [
                {"keyid": "", "sig": base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()}
            ],
        }
    ).encode()


def _bundle() -> bytes:
    return json.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": "k"}, "tlogEntries": []},
            "dsseEnvelope": json.loads(_envelope()),
        }
    ).encode()


def seeds(name: str) -> list[bytes]:
    """A few valid or nearly valid inputs for the target ``name`` (prefixed as the target expects)."""
    image = build_image([LayerSpec.from_files({"etc/os-release": "ID=debian\n"})])
    tar = layer_tar(
        LayerSpec.from_files({"a/b": "x", "a/.wh.c": ""}, symlinks={"l": "../a"}, compression="none")
    )
    status = b"Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\n\n"
    table: dict[str, list[bytes]] = {
        "reference": [b"docker.io/library/debian:12", b"ghcr.io/a/b@sha256:" + b"a" * 64, b"oci:/x:y"],
        "manifest": [image.manifest.data, build_index([image]).index.data],
        "config": [image.config.data],
        "dsse": [_envelope()],
        "statement": [_statement()],
        "bundle": [_bundle()],
        "dpkg": [status],
        "apk": [b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nF:lib\nR:libc.so\n\n"],
        "rpm": [b"\x00SQLite format 3\x00", b"\x01\x00\x00\x00\x00\x00\x06\x15\x61", b"\x02RpmP"],
        "tar_layer": [b"\x00" + tar, b"\x01" + image.layers[0].data],
        "version": [b"1:2.3-4\x001:2.3-5", b"1.0.0-rc.1\x001.0.0", b"2.0.0a1\x002.0.0"],
    }
    return table[name]
