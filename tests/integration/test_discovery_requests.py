"""Discovery spends registry requests only where evidence can be, and a failed lookup is never "nothing".

Real docker-registry (it answers 404 to the referrers API) and a fault-injecting server for the 500 case.
"""

from __future__ import annotations

import pytest

from imagetrust.discovery.attached import ReferrersMemo, find_attached
from imagetrust.errors import RegistryProtocolError
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.client import RegistryClient
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.repository import RegistryRepository, open_repository
from tests.integration.test_registry_network import FaultInjector, Reply, Seen
from tests.support.registry import RegistryServer, TinyImage, push_image

pytestmark = [pytest.mark.registry]

OTHER = Digest.parse("sha256:" + "ab" * 32)


def _repo(host: str, name: str) -> RegistryRepository:
    options = RegistryOptions(docker_config=None, limits=Limits())
    ref = parse_registry_ref(f"{host}/{name}")
    return open_repository(ref, options, client=RegistryClient(ref.registry, ref.api_host, options))


def test_kinds_limit_the_cosign_tags_read(registry_plain: RegistryServer, tiny_image: TinyImage) -> None:
    repo = _repo(registry_plain.host, "discovery/kinds:v1")
    digest = push_image(repo, tiny_image)
    before = repo.request_count
    found = find_attached(repo, digest, Limits(), kinds=("sig", "att"), memo=None)
    # .sig, .att, referrers API (404), fallback tag (404): no .sbom lookup
    assert repo.request_count - before == 4
    assert found.cosign_kinds == ("sig", "att") and found.empty
    before = repo.request_count
    find_attached(repo, digest, Limits(), memo=None)
    assert repo.request_count - before == 5
    with pytest.raises(ValueError, match="unknown"):
        find_attached(repo, digest, Limits(), kinds=("sig", "nope"), memo=None)


def test_a_404_referrers_api_is_asked_once_per_repository(
    registry_plain: RegistryServer, tiny_image: TinyImage
) -> None:
    memo = ReferrersMemo()
    repo = _repo(registry_plain.host, "discovery/memo:v1")
    digest = push_image(repo, tiny_image)
    before = repo.request_count
    first = find_attached(repo, digest, Limits(), kinds=(), memo=memo)
    assert repo.request_count - before == 2  # referrers API 404 + fallback tag
    assert first.referrers_sources == ()
    before = repo.request_count
    find_attached(repo, OTHER, Limits(), kinds=(), memo=memo)
    assert repo.request_count - before == 1  # fallback tag only: the API's 404 is remembered
    other_ref = parse_registry_ref(f"{registry_plain.host}/discovery/memo-other:v1")
    other_repo = open_repository(other_ref, repo.client.options, client=repo.client)
    before = other_repo.request_count
    find_attached(other_repo, digest, Limits(), kinds=(), memo=memo)
    assert other_repo.request_count - before == 2  # another repository is asked again
    expired = ReferrersMemo(ttl=0.0)
    expired.remember_absent(repo)
    assert not expired.known_absent(repo)


def test_a_failing_referrers_api_raises_and_is_not_remembered(tiny_image: TinyImage) -> None:
    calls: list[str] = []

    def route(seen: Seen) -> Reply:
        calls.append(seen.path)
        return Reply(500) if "/referrers/" in seen.path else Reply(404)

    injector = FaultInjector(route)
    try:
        memo = ReferrersMemo()
        repo = _repo(injector.host, "discovery/broken:v1")
        for _ in range(2):
            with pytest.raises(RegistryProtocolError):
                find_attached(repo, tiny_image.manifest.digest, Limits(), kinds=(), memo=memo)
        assert not memo.known_absent(repo)
        assert sum("/referrers/" in p for p in calls) >= 2
    finally:
        injector.stop()
