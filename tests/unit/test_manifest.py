"""Manifests, indexes, descriptors and image configs parsed from raw bytes."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagetrust.errors import ImageTrustError, LimitExceeded, MalformedContent
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import (
    Descriptor,
    Index,
    Manifest,
    parse_config,
    parse_descriptor,
    parse_manifest_or_index,
)
from imagetrust.oci.platform import Platform
from tests.conftest import shared_data

D1 = Digest.of(b"one")
D2 = Digest.of(b"two")
D3 = Digest.of(b"three")


def desc(media_type: str, digest: Digest, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(digest), "size": size, **extra}


def oci_manifest(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": desc(media.OCI_CONFIG, D1, 1469),
        "layers": [desc(media.OCI_LAYER_GZIP, D2, 3_370_000), desc(media.OCI_LAYER_ZSTD, D3, 12)],
        **extra,
    }


def parse(doc: dict[str, Any] | bytes, **kw: Any) -> Manifest | Index:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_manifest_or_index(raw, Digest.of(raw), **kw)


def test_oci_manifest() -> None:
    raw = json.dumps(oci_manifest(annotations={"org.opencontainers.image.ref.name": "v1"})).encode()
    value = parse_manifest_or_index(raw, Digest.of(raw), declared_media_type=media.OCI_MANIFEST)
    assert isinstance(value, Manifest)
    assert value.raw == raw  # the exact bytes, never a re-serialisation
    assert value.digest == Digest.of(raw)
    assert value.media_type == media.OCI_MANIFEST
    assert value.config == Descriptor(media.OCI_CONFIG, D1, 1469)
    assert [layer.digest for layer in value.layers] == [D2, D3]
    assert value.layers[0].size == 3_370_000
    assert value.subject is None and value.artifact_type is None
    assert value.annotation("org.opencontainers.image.ref.name") == "v1"


def test_oci_index_with_platforms() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": [
            desc(media.OCI_MANIFEST, D1, 10, platform={"os": "linux", "architecture": "amd64"}),
            desc(
                media.OCI_MANIFEST, D2, 11, platform={"os": "linux", "architecture": "arm", "variant": "v7"}
            ),
            desc(
                media.OCI_MANIFEST,
                D3,
                12,
                platform={"os": "unknown", "architecture": "unknown"},
                annotations={"vnd.docker.reference.type": "attestation-manifest"},
            ),
        ],
    }
    value = parse(doc)
    assert isinstance(value, Index)
    assert [m.platform for m in value.manifests] == [
        Platform("linux", "amd64"),
        Platform("linux", "arm", "v7"),
        Platform("unknown", "unknown"),
    ]
    assert value.manifests[2].annotation("vnd.docker.reference.type") == "attestation-manifest"


def test_docker_manifest_list_and_manifest() -> None:
    listing = {
        "schemaVersion": 2,
        "mediaType": media.DOCKER_MANIFEST_LIST,
        "manifests": [
            desc(
                media.DOCKER_MANIFEST,
                D1,
                528,
                platform={"architecture": "arm64", "os": "linux", "variant": "v8"},
            )
        ],
    }
    value = parse(listing, declared_media_type=media.DOCKER_MANIFEST_LIST)
    assert isinstance(value, Index)
    assert value.media_type == media.DOCKER_MANIFEST_LIST
    assert value.manifests[0].platform == Platform("linux", "arm64", "v8")
    manifest = {
        "schemaVersion": 2,
        "mediaType": media.DOCKER_MANIFEST,
        "config": desc(media.DOCKER_CONFIG, D2, 1500),
        "layers": [desc(media.DOCKER_LAYER_GZIP, D3, 2_000_000)],
    }
    assert isinstance(parse(manifest, declared_media_type=media.DOCKER_MANIFEST), Manifest)


def test_artifact_manifest_with_subject_and_artifact_type() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "config": desc(media.OCI_EMPTY, Digest.parse(media.EMPTY_JSON_DIGEST), 2),
        "layers": [desc("application/vnd.dev.sigstore.bundle.v0.3+json", D1, 4000)],
        "subject": desc(media.OCI_MANIFEST, D2, 1234),
        "annotations": {"org.opencontainers.image.created": "2025-01-01T00:00:00Z"},
    }
    value = parse(doc)
    assert isinstance(value, Manifest)
    assert value.artifact_type == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert value.subject == Descriptor(media.OCI_MANIFEST, D2, 1234)
    assert str(value.config.digest) == media.EMPTY_JSON_DIGEST
    index = parse(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_INDEX,
            "artifactType": "application/example",
            "manifests": [],
            "subject": desc(media.OCI_INDEX, D3, 9),
        }
    )
    assert (
        isinstance(index, Index)
        and index.subject is not None
        and index.artifact_type == "application/example"
    )


def test_media_type_guessed_only_when_absent_everywhere() -> None:
    no_type = oci_manifest()
    del no_type["mediaType"]
    assert parse(no_type).media_type == media.OCI_MANIFEST
    assert parse(no_type, declared_media_type="application/json").media_type == media.OCI_MANIFEST
    assert parse({"schemaVersion": 2, "manifests": []}).media_type == media.OCI_INDEX
    # The declared type is used when the body is silent, so an index served as a manifest does not parse.
    with pytest.raises(MalformedContent, match="without a layers list"):
        parse({"schemaVersion": 2, "manifests": []}, declared_media_type=media.OCI_MANIFEST)


@pytest.mark.parametrize(
    ("declared", "body"),
    [
        (media.OCI_INDEX, media.OCI_MANIFEST),
        (media.OCI_MANIFEST, media.DOCKER_MANIFEST),
        (media.DOCKER_MANIFEST_LIST, media.OCI_INDEX),
    ],
)
def test_declared_and_body_media_type_must_agree(declared: str, body: str) -> None:
    with pytest.raises(
        MalformedContent, match=re.escape(f"served as {declared} but the document says {body}")
    ):
        parse(oci_manifest(mediaType=body), declared_media_type=declared)


def test_document_that_is_both_index_and_manifest_is_refused() -> None:
    # CVE-2021-41190: different clients would see different images behind the same digest.
    doc = oci_manifest(manifests=[desc(media.OCI_MANIFEST, D1, 1)])
    for declared in (None, media.OCI_MANIFEST):
        with pytest.raises(MalformedContent, match="ambiguous"):
            parse(doc, declared_media_type=declared)
    index = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": [],
        "config": desc(media.OCI_CONFIG, D1, 1),
    }
    with pytest.raises(MalformedContent, match="ambiguous"):
        parse(index)


@pytest.mark.parametrize("version", [None, 1, 3, "2", 2.0, True, [2]])
def test_schema_version_must_be_integer_two(version: Any) -> None:
    doc = oci_manifest()
    if version is None:
        del doc["schemaVersion"]
    else:
        doc["schemaVersion"] = version
    with pytest.raises(MalformedContent, match="schemaVersion"):
        parse(doc)


def test_unsupported_media_type() -> None:
    with pytest.raises(MalformedContent, match="unsupported media type"):
        parse(oci_manifest(mediaType="application/vnd.docker.distribution.manifest.v1+prettyjws"))


def test_too_many_layers_and_entries() -> None:
    small = Limits(layers=2, index_entries=1)
    doc = oci_manifest()
    assert len(parse(doc, limits=small).layers) == 2  # type: ignore[union-attr]
    doc["layers"] = doc["layers"] * 2
    with pytest.raises(LimitExceeded, match="4 layers exceeds the limit of 2"):
        parse(doc, limits=small)
    index = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": [desc(media.OCI_MANIFEST, D1, 1)] * 2,
    }
    with pytest.raises(LimitExceeded, match="2 entries exceeds the limit of 1"):
        parse(index, limits=small)


def test_byte_and_depth_limits_apply() -> None:
    raw = json.dumps(oci_manifest()).encode()
    with pytest.raises(LimitExceeded):
        parse(raw, limits=Limits(manifest_bytes=len(raw) - 1))
    with pytest.raises(LimitExceeded):
        parse(raw, limits=Limits(json_depth=2))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("size", True, "size"),
        ("size", False, "size"),
        ("size", -1, "size"),
        ("size", 1.0, "size"),
        ("size", "12", "size"),
        ("size", None, "size"),
        ("digest", "sha256:" + "A" * 64, "digest"),
        ("digest", "md5:" + "a" * 32, "unsupported digest algorithm"),
        ("digest", 7, "digest"),
        ("mediaType", "", "mediaType"),
        ("mediaType", 1, "mediaType"),
        ("annotations", {"k": 1}, "annotations"),
        ("annotations", ["k"], "annotations"),
        ("platform", "linux/amd64", "platform"),
        ("platform", {"os": "linux"}, "architecture"),
        ("urls", "http://x", "urls"),
        ("urls", [1], "urls"),
        ("artifactType", 5, "artifactType"),
    ],
)
def test_bad_descriptor_fields(field: str, value: Any, message: str) -> None:
    layer = desc(media.OCI_LAYER_GZIP, D2, 10)
    layer[field] = value
    with pytest.raises(MalformedContent, match=message) as info:
        parse(oci_manifest(layers=[layer]))
    assert "layer 0" in str(info.value)


def test_descriptor_round_trips_through_to_json() -> None:
    obj = desc(
        media.OCI_MANIFEST,
        D1,
        42,
        annotations={"b": "2", "a": "1"},
        platform={"os": "linux", "architecture": "arm64", "variant": "v8"},
        artifactType="application/x",
    )
    parsed = parse_descriptor(obj, "entry")
    assert parsed.to_json() == obj
    assert parse_descriptor(parsed.to_json(), "entry") == parsed
    assert parsed.annotations == (("a", "1"), ("b", "2"))


def test_missing_parts() -> None:
    for key in ("config", "layers"):
        doc = oci_manifest()
        del doc[key]
        with pytest.raises(MalformedContent):
            parse(doc)
    with pytest.raises(MalformedContent, match="manifests list"):
        parse({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": {}})
    with pytest.raises(MalformedContent, match="subject"):
        parse(oci_manifest(subject={"mediaType": media.OCI_MANIFEST}))
    with pytest.raises(MalformedContent, match="expected a JSON object"):
        parse(b"[]")


# --- image config -----------------------------------------------------------------------------------------

REALISTIC_CONFIG = {
    "architecture": "arm",
    "variant": "v7",
    "os": "linux",
    "created": "2024-05-01T10:00:00.123456789Z",
    "config": {
        "User": "app:app",
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "API_TOKEN=s3cr3t=with=equals", "EMPTY=", "NOVALUE"],
        "Entrypoint": ["/usr/bin/tini", "--"],
        "Cmd": "python -m app",
        "WorkingDir": "/srv",
        "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
        "Labels": {"org.opencontainers.image.source": "https://example.test/app", "maintainer": "ops"},
    },
    "history": [
        {"created": "2024-04-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
        {
            "created": "2024-04-01T00:00:01Z",
            "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
            "empty_layer": True,
        },
        {"created_by": "RUN pip install app # buildkit", "comment": "buildkit.dockerfile.v0"},
    ],
    "rootfs": {"type": "layers", "diff_ids": [str(D1), str(D2)]},
}


def test_parse_realistic_config() -> None:
    raw = json.dumps(REALISTIC_CONFIG).encode()
    config = parse_config(raw, Digest.of(raw))
    assert config.raw == raw
    assert (config.os, config.architecture, config.variant) == ("linux", "arm", "v7")
    assert config.user == "app:app"
    assert config.env_names == ("PATH", "API_TOKEN", "EMPTY", "NOVALUE")  # names only, never values
    assert config.entrypoint == ("/usr/bin/tini", "--")
    assert config.cmd == ("python -m app",)
    assert config.working_dir == "/srv"
    assert config.exposed_ports == ("53/udp", "8080/tcp")
    assert dict(config.labels)["maintainer"] == "ops"
    assert [h.empty_layer for h in config.history] == [False, True, False]
    assert config.history[2].comment == "buildkit.dockerfile.v0"
    assert config.history[2].created is None
    assert config.diff_ids == (D1, D2)
    assert config.created == "2024-05-01T10:00:00.123456789Z"


def test_minimal_config() -> None:
    raw = b"{}"
    config = parse_config(raw, Digest.of(raw))
    assert config.env == () and config.entrypoint is None and config.cmd is None and config.user is None
    assert config.diff_ids == () and config.history == () and config.labels == ()


@pytest.mark.parametrize(
    "patch",
    [
        {"config": []},
        {"config": {"Env": [1]}},
        {"config": {"Env": {"A": "b"}}},
        {"config": {"Labels": {"a": 1}}},
        {"config": {"ExposedPorts": ["80/tcp"]}},
        {"config": {"User": 0}},
        {"history": {}},
        {"history": ["x"]},
        {"history": [{"created_by": 1}]},
        {"rootfs": {"diff_ids": ["sha256:short"]}},
        {"rootfs": {"diff_ids": [1]}},
        {"rootfs": {"diff_ids": {str(D1): 1}}},  # a map is not a list, even if its keys look right
        {"rootfs": {"diff_ids": str(D1)}},
        {"rootfs": []},
        {"os": 1},
    ],
)
def test_bad_config_refused(patch: dict[str, Any]) -> None:
    raw = json.dumps({**REALISTIC_CONFIG, **patch}).encode()
    with pytest.raises(MalformedContent, match="image config sha256:"):
        parse_config(raw, Digest.of(raw))


def test_config_limits() -> None:
    raw = json.dumps(REALISTIC_CONFIG).encode()
    with pytest.raises(LimitExceeded):
        parse_config(raw, Digest.of(raw), limits=Limits(config_bytes=100))


def test_real_buildkit_layout_parses() -> None:
    """Every manifest, index and config in a real buildkit/cosign OCI layout (slsa-verifier test data)."""
    layout = shared_data("sigstore/slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch")
    seen: dict[str, int] = {}

    def blob(descriptor: Descriptor) -> bytes | None:
        path = layout / "blobs" / descriptor.digest.algorithm / descriptor.digest.hex
        if not path.exists():
            return None
        raw = path.read_bytes()
        descriptor.digest.check(raw, str(path))
        assert len(raw) == descriptor.size
        return raw

    def walk(descriptor: Descriptor) -> None:
        raw = blob(descriptor)
        if raw is None:
            return
        value = parse_manifest_or_index(raw, descriptor.digest, declared_media_type=descriptor.media_type)
        seen[type(value).__name__] = seen.get(type(value).__name__, 0) + 1
        if isinstance(value, Index):
            for entry in value.manifests:
                walk(entry)
        else:
            config_raw = blob(value.config)
            if config_raw is not None:
                config = parse_config(config_raw, value.config.digest)
                assert len(config.diff_ids) == len(value.layers)
                seen["config"] = seen.get("config", 0) + 1

    top = Path(layout / "index.json").read_bytes()
    root = parse_manifest_or_index(top, Digest.of(top))
    assert isinstance(root, Index)
    for entry in root.manifests:
        walk(entry)
    assert seen["Index"] >= 1 and seen["Manifest"] >= 2 and seen["config"] >= 2


# --- hostile input ----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
keys = st.sampled_from(
    ["schemaVersion", "mediaType", "config", "layers", "manifests", "subject", "artifactType", "annotations"]
)
descriptor_like = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": st.sampled_from([media.OCI_MANIFEST, media.OCI_LAYER_GZIP, ""]) | json_values,
        "digest": st.sampled_from([str(D1), "sha256:x"]) | json_values,
        "size": st.integers(-2, 10) | json_values,
        "platform": st.fixed_dictionaries({}, optional={"os": json_values, "architecture": json_values}),
        "annotations": json_values,
        "urls": json_values,
    },
)
manifest_like = st.dictionaries(
    keys,
    st.sampled_from([2, media.OCI_MANIFEST, media.OCI_INDEX, media.DOCKER_MANIFEST_LIST])
    | json_values
    | descriptor_like
    | st.lists(descriptor_like, max_size=3),
    max_size=8,
)
limits = Limits(layers=2, index_entries=2, manifest_bytes=4096, json_depth=6)


def _only_our_errors(raw: bytes, declared: str | None) -> None:
    with contextlib.suppress(ImageTrustError):
        parse_manifest_or_index(raw, Digest.of(raw), declared_media_type=declared, limits=limits)
    with contextlib.suppress(ImageTrustError):
        parse_config(raw, Digest.of(raw), limits=Limits(config_bytes=4096, json_depth=6))


@settings(max_examples=200)
@given(manifest_like, st.sampled_from([None, media.OCI_MANIFEST, media.OCI_INDEX, "application/json"]))
def test_structured_garbage_raises_only_our_errors(doc: dict[str, Any], declared: str | None) -> None:
    _only_our_errors(json.dumps(doc).encode(), declared)


@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_our_errors(raw: bytes) -> None:
    _only_our_errors(raw, None)


@given(json_values)
def test_arbitrary_json_raises_only_our_errors(value: Any) -> None:
    _only_our_errors(json.dumps(value).encode(), media.OCI_MANIFEST)
    _only_our_errors(json.dumps({"config": value, "history": value, "rootfs": value}).encode(), None)
