"""The real registry serving bytes that do not match their digest (its storage tampered on disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagetrust.errors import IntegrityError
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.cache import BlobCache
from imagetrust.registry.client import RegistryClient
from imagetrust.registry.repository import RegistryRepository, open_repository
from tests.support.registry import (
    RegistryServer,
    TinyImage,
    build_tiny_image,
    options_for,
    push_image,
    tamper,
)

pytestmark = pytest.mark.registry


def _repo(server: RegistryServer, reference: str, cache: BlobCache | None = None) -> RegistryRepository:
    ref = parse_registry_ref(f"{server.host}/{reference}")
    options = options_for(server, None if server.mode == "plain" else "alice")
    return open_repository(ref, options, cache, client=RegistryClient(ref.registry, ref.api_host, options))


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def unique_image(tmp_path: Path, request: pytest.FixtureRequest) -> TinyImage:
    """An image no other test shares blobs with: tampering the registry's storage affects only it."""
    return build_tiny_image(tmp_path / "layout", note=f"unique to {request.node.nodeid}")


@pytest.mark.parametrize("mode", ["plain", "token"])
def test_tampered_layer_is_refused(
    request: pytest.FixtureRequest, mode: str, unique_image: TinyImage
) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{mode}")
    push_image(_repo(server, "integrity/layer:v1"), unique_image)
    _flip_middle_byte(server.blob_data_path(unique_image.layer.digest))
    repo = _repo(server, "integrity/layer:v1")
    assert repo.resolve().digest == unique_image.manifest.digest  # the manifest is intact
    with pytest.raises(IntegrityError, match="content digest"):
        repo.read_blob(unique_image.layer, 1 << 20)
    with pytest.raises(IntegrityError), repo.open_blob(unique_image.layer) as stream:
        while stream.read(7):
            pass


def test_tampered_manifest_by_tag_and_by_digest(registry_plain: RegistryServer, tmp_path: Path) -> None:
    image = build_tiny_image(tmp_path / "layout", note="manifest tamper", annotation="a" * 16)
    push_image(_repo(registry_plain, "integrity/manifest:v1"), image)
    tamper(registry_plain.blob_data_path(image.manifest.digest), b"a" * 16, b"b" * 16)
    with pytest.raises(IntegrityError, match="Docker-Content-Digest"):
        _repo(registry_plain, "integrity/manifest:v1").resolve()
    with pytest.raises(IntegrityError, match="content digest"):
        _repo(registry_plain, f"integrity/manifest@{image.manifest.digest}").resolve()


def test_cache_hit_makes_no_request_and_lies_are_never_cached(
    registry_plain: RegistryServer, tmp_path: Path
) -> None:
    cache = BlobCache(tmp_path / "cache")
    good = build_tiny_image(tmp_path / "good", note="cached good")
    push_image(_repo(registry_plain, "integrity/cache:good"), good, "good")
    repo = _repo(registry_plain, "integrity/cache:good", cache)
    assert repo.read_blob(good.layer, 1 << 20) == good.layer_raw
    before = repo.request_count
    assert repo.read_blob(good.layer, 1 << 20) == good.layer_raw
    assert repo.request_count == before

    bad = build_tiny_image(tmp_path / "bad", note="cached bad")
    push_image(_repo(registry_plain, "integrity/cache:bad"), bad, "bad")
    _flip_middle_byte(registry_plain.blob_data_path(bad.layer.digest))
    repo = _repo(registry_plain, "integrity/cache:bad", cache)
    with pytest.raises(IntegrityError):
        repo.read_blob(bad.layer, 1 << 20)
    assert not cache.contains(bad.layer.digest)
