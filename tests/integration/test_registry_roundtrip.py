"""Resolve, manifest and blob round trips against the real docker-registry in all three auth modes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from imagetrust.errors import IntegrityError, NotFound
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Manifest
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.client import RegistryClient
from imagetrust.registry.repository import RegistryRepository, open_repository
from tests.support.registry import (
    RegistryServer,
    TinyImage,
    build_tiny_image,
    options_for,
    push_image,
    skopeo_push,
)

pytestmark = pytest.mark.registry


def _user(server: RegistryServer) -> str | None:
    return None if server.mode == "plain" else "alice"


def _fresh(server: RegistryServer, reference: str, user: str | None = None) -> RegistryRepository:
    """A repository with its own client, so request counts start at zero."""
    ref = parse_registry_ref(f"{server.host}/{reference}")
    options = options_for(server, user if user is not None else _user(server))
    return open_repository(ref, options, client=RegistryClient(ref.registry, ref.api_host, options))


def test_push_then_pull_round_trip(any_registry: RegistryServer, tiny_image: TinyImage) -> None:
    pusher = _fresh(any_registry, "roundtrip/ours:v1")
    assert push_image(pusher, tiny_image) == tiny_image.manifest.digest

    repo = _fresh(any_registry, "roundtrip/ours:v1")
    descriptor = repo.resolve()
    assert descriptor.digest == tiny_image.manifest.digest
    assert descriptor.size == len(tiny_image.manifest_raw)
    assert descriptor.media_type == tiny_image.manifest.media_type
    fetched = repo.get_manifest(descriptor.digest)
    assert fetched.raw == tiny_image.manifest_raw
    parsed = fetched.parse(repo.limits)
    assert isinstance(parsed, Manifest)
    assert repo.read_blob(parsed.config, 1 << 20) == tiny_image.config_raw
    with repo.open_blob(parsed.layers[0]) as stream:
        data = stream.read()
    assert hashlib.sha256(data).hexdigest() == tiny_image.layer.digest.hex


def test_push_blob_streams_and_skips_existing(registry_token: RegistryServer, tmp_path: Path) -> None:
    image = build_tiny_image(tmp_path / "layout", note="streamed upload")
    repo = _fresh(registry_token, "roundtrip/stream:v1")
    assert repo.push_blob(image.layer, io.BytesIO(image.layer_raw)) is True
    before = repo.request_count
    assert repo.push_blob(image.layer, image.layer_raw) is False  # HEAD says it is there
    assert repo.request_count == before + 1
    assert repo.read_blob(image.layer, 1 << 20) == image.layer_raw
    lie = type(image.layer)(image.layer.media_type, image.config.digest, image.layer.size)
    with pytest.raises(IntegrityError):
        repo.push_blob(lie, image.layer_raw)


def test_resolve_fetches_the_manifest_once(any_registry: RegistryServer, tiny_image: TinyImage) -> None:
    push_image(_fresh(any_registry, "roundtrip/once:v1"), tiny_image)
    repo = _fresh(any_registry, "roundtrip/once:v1")
    descriptor = repo.resolve()
    after_resolve = repo.request_count
    assert repo.get_manifest(descriptor.digest).raw == tiny_image.manifest_raw
    assert repo.resolve() == descriptor
    assert repo.request_count == after_resolve  # no second fetch: the bytes resolved are the bytes used


def test_by_digest_reference(any_registry: RegistryServer, tiny_image: TinyImage) -> None:
    push_image(_fresh(any_registry, "roundtrip/digest:v1"), tiny_image)
    repo = _fresh(any_registry, f"roundtrip/digest@{tiny_image.manifest.digest}")
    assert repo.resolve().digest == tiny_image.manifest.digest


def test_absent_things(any_registry: RegistryServer, tiny_image: TinyImage) -> None:
    push_image(_fresh(any_registry, "roundtrip/absent:v1"), tiny_image)
    repo = _fresh(any_registry, "roundtrip/absent:v1")
    assert repo.get_tagged("no-such-tag") is None
    missing = Digest.of(b"not stored anywhere")
    with pytest.raises(NotFound):
        repo.get_manifest(missing)
    with pytest.raises(NotFound):
        repo.read_blob(type(tiny_image.layer)(tiny_image.layer.media_type, missing, 19), 1024)
    with pytest.raises(NotFound):
        _fresh(any_registry, "roundtrip/absent:nope").resolve()
    # distribution 2.8 has no referrers API: None (use the fallback tag), never an empty "no referrers".
    assert repo.referrers(tiny_image.manifest.digest) is None
    assert repo.list_tags() == ["v1"]


def test_tag_list(registry_plain: RegistryServer, tiny_image: TinyImage) -> None:
    repo = _fresh(registry_plain, "roundtrip/many:v1")
    push_image(repo, tiny_image)
    tags = [f"t{i:04d}" for i in range(30)]
    for tag in tags:
        repo.push_manifest(tiny_image.manifest_raw, tiny_image.manifest.media_type, tag)
    # distribution 2.8 ignores ?n= and returns one page; Link pagination is tested with a fault injector.
    assert sorted(repo.list_tags(page_size=7)) == sorted([*tags, "v1"])


def test_skopeo_pushed_image_agrees(
    any_registry: RegistryServer, tiny_image: TinyImage, skopeo: Path
) -> None:
    """A real peer client writes; we read back the same digests and bytes."""
    creds = None if any_registry.mode == "plain" else f"alice:{any_registry.users['alice']}"
    skopeo_push(skopeo, tiny_image, any_registry, "peer/skopeo:copied", creds=creds)
    repo = _fresh(any_registry, "peer/skopeo:copied")
    descriptor = repo.resolve()
    assert descriptor.digest == tiny_image.manifest.digest
    parsed = repo.get_manifest(descriptor.digest).parse(repo.limits)
    assert isinstance(parsed, Manifest)
    assert repo.read_blob(parsed.layers[0], 1 << 20) == tiny_image.layer_raw
