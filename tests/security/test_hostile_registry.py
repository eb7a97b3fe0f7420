"""A registry that lies, stalls, floods and redirects: every case ends closed (exit 3 or a refusal).

Runs ``imagetrust inspect``/``audit`` in-process against ``HostileRegistry`` (loopback), or the registry
library directly where a case needs small ``Limits`` the CLI does not expose.  Cases already covered by
``tests/integration/test_registry_network.py`` at the library level are repeated here only where the
CLI outcome (exit code, no document) is what is being shown.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable

import pytest

from imagetrust.errors import (
    IntegrityError,
    LimitExceeded,
    MalformedContent,
    RegistryUnreachable,
)
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.pipeline.audit import audit_image
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.registry.client import RegistryClient
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.repository import RegistryRepository, open_repository
from imagetrust.registry.resolve import PlatformSelection, resolve_image
from tests.security.conftest import CliRun, assert_closed_failure, small_image
from tests.security.hostile_registry import HostileRegistry, Reply, Request
from tests.support.images import LayerSpec, build_image, build_index, json_bytes

Cli = Callable[..., CliRun]
FAST = Limits(retries=2, backoff_seconds=0.01, connect_timeout_seconds=2, read_timeout_seconds=2)


def _repo(server: HostileRegistry, reference: str = "v1", limits: Limits = FAST) -> RegistryRepository:
    options = RegistryOptions(docker_config=None, limits=limits)
    ref = parse_registry_ref(server.ref(reference))
    return open_repository(ref, options, client=RegistryClient(ref.registry, ref.api_host, options))


def _inspect(cli: Cli, server: HostileRegistry, *extra: str, reference: str = "v1") -> CliRun:
    result: CliRun = cli("inspect", "--format", "json", "--no-cache", *extra, server.ref(reference))
    return result


def _audit(cli: Cli, server: HostileRegistry, reference: str = "v1") -> CliRun:
    result: CliRun = cli("audit", "--format", "json", "--no-cache", "--scanners", "", server.ref(reference))
    return result


def test_honest_server_passes(cli: Cli, hostile: HostileRegistry) -> None:
    """The control: the same server without hooks gives exit 0, so every failure below is the hook's."""
    image = small_image()
    hostile.put_image(image)
    run = _inspect(cli, hostile)
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["digest"] == str(image.digest)
    assert _audit(cli, hostile).code == 0


# -- wrong digests -----------------------------------------------------------------------------------------


def test_manifest_by_digest_with_other_bytes_is_exit_3(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image)
    other = small_image(b"evil")

    def swap(request: Request) -> Reply | None:
        if request.kind == "manifests" and request.reference == str(image.digest):
            return Reply(200, {"Content-Type": media.OCI_MANIFEST}, other.manifest.data)
        return None

    hostile.hooks.append(swap)
    assert_closed_failure(_inspect(cli, hostile, reference=str(image.digest)), 3, "sha256")


def test_tag_with_lying_docker_content_digest_is_exit_3(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image)
    wrong = str(Digest.of(b"not this"))

    def lie(request: Request) -> Reply | None:
        if request.kind == "manifests" and request.reference == "v1":
            return Reply(
                200, {"Content-Type": media.OCI_MANIFEST, "Docker-Content-Digest": wrong}, image.manifest.data
            )
        return None

    hostile.hooks.append(lie)
    assert_closed_failure(_inspect(cli, hostile), 3, "Docker-Content-Digest")


def test_config_blob_with_other_bytes_is_exit_3(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image)
    forged = image.config.data.replace(b"amd64", b"arm64")
    hostile.blobs[str(image.config.descriptor.digest)] = forged
    assert len(forged) == image.config.descriptor.size
    assert_closed_failure(_inspect(cli, hostile), 3, "sha256")


def test_layer_blob_with_other_bytes_is_exit_3_for_audit(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image)
    evil = small_image(b"evil").layers[0].data
    assert len(evil) == image.layers[0].descriptor.size  # same size: only the digest can tell
    hostile.blobs[str(image.layers[0].descriptor.digest)] = evil
    assert_closed_failure(_audit(cli, hostile), 3)


# -- tag / digest TOCTOU -----------------------------------------------------------------------------------


def _flip_after_first(hostile: HostileRegistry, first: bytes, later: bytes) -> None:
    """The tag serves ``first`` once, then ``later`` (GHSA-wfqx-gjrf-g28r, CVE-2023-47630)."""
    served = {"count": 0}

    def flip(request: Request) -> Reply | None:
        if request.kind != "manifests" or request.reference != "v1":
            return None
        served["count"] += 1
        raw = first if served["count"] == 1 else later
        return Reply(
            200, {"Content-Type": media.OCI_MANIFEST, "Docker-Content-Digest": str(Digest.of(raw))}, raw
        )

    hostile.hooks.append(flip)


def test_tag_changing_between_requests_inspect_sees_one_digest(cli: Cli, hostile: HostileRegistry) -> None:
    good, evil = small_image(b"good"), small_image(b"evil")
    hostile.put_image(good)
    hostile.put_image(evil, tag=None)
    _flip_after_first(hostile, good.manifest.data, evil.manifest.data)

    run = _inspect(cli, hostile)
    assert run.code == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["digest"] == str(good.digest)
    assert str(evil.digest) not in run.stdout
    assert len([r for r in hostile.requests("manifests") if r.reference == "v1"]) == 1


def test_tag_changing_between_requests_audit_reads_the_pinned_layers(hostile: HostileRegistry) -> None:
    good, evil = small_image(b"good"), small_image(b"evil")
    hostile.put_image(good)
    hostile.put_image(evil, tag=None)
    _flip_after_first(hostile, good.manifest.data, evil.manifest.data)

    settings = SourceSettings(
        registry=RegistryOptions(docker_config=None, limits=FAST), use_cache=False, limits=FAST
    )
    result = audit_image(hostile.ref("v1"), settings, [])
    assert result.resolved.digest == good.digest
    assert [p.image.digest for p in result.platforms] == [good.digest]
    fetched = {r.reference for r in hostile.requests("blobs")}
    assert str(good.layers[0].descriptor.digest) in fetched
    assert str(evil.layers[0].descriptor.digest) not in fetched
    assert len([r for r in hostile.requests("manifests") if r.reference == "v1"]) == 1


# -- floods: referrers, signatures, indexes ----------------------------------------------------------------


def _referrer(index: int) -> dict[str, object]:
    digest = Digest.of(f"referrer {index}".encode())
    return {"mediaType": media.OCI_MANIFEST, "digest": str(digest), "size": 100, "artifactType": "x/y"}


def test_endless_referrer_pages_are_exit_3(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image)
    page = json_bytes({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [_referrer(0)]})

    def endless(request: Request) -> Reply | None:
        if request.kind != "referrers":
            return None
        n = len(hostile.requests("referrers"))
        link = f'</v2/app/referrers/{image.digest}?page={n}>; rel="next"'
        return Reply(200, {"Content-Type": media.OCI_INDEX, "Link": link}, page)

    hostile.hooks.append(endless)
    assert_closed_failure(_inspect(cli, hostile), 3, "pages of referrers")
    assert len(hostile.requests("referrers")) == Limits().referrer_pages


def test_huge_referrer_list_is_exit_3(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image)
    hostile.referrers[str(image.digest)] = [_referrer(i) for i in range(Limits().referrers + 1)]
    assert_closed_failure(_inspect(cli, hostile), 3, "referrers")


def test_huge_signature_manifest_is_refused_before_it_is_read(cli: Cli, hostile: HostileRegistry) -> None:
    """CVE-2024-29902: a cosign .sig manifest larger than manifest_bytes; its Content-Length says so."""
    image = small_image()
    hostile.put_image(image)
    huge = b" " * (Limits().manifest_bytes + 1)

    def sig(request: Request) -> Reply | None:
        if request.kind == "manifests" and request.reference.endswith(".sig"):
            return Reply(200, {"Content-Type": media.OCI_MANIFEST}, huge)
        return None

    hostile.hooks.append(sig)
    assert_closed_failure(_inspect(cli, hostile), 3, "exceeds the limit")


def test_oversized_manifest_with_a_lying_small_content_length(hostile: HostileRegistry) -> None:
    """Content-Length says 200 bytes; the body is 5 MiB: only 200 bytes are read, and they do not verify."""
    image = small_image()
    hostile.put_image(image)
    body = image.manifest.data + b" " * (5 * 1024 * 1024)
    hostile.hooks.append(
        lambda r: (
            Reply(200, {"Content-Type": media.OCI_MANIFEST}, body, content_length=200)
            if r.kind == "manifests"
            else None
        )
    )
    with pytest.raises((IntegrityError, MalformedContent)):
        _repo(hostile, str(image.digest)).resolve()


def test_deeply_nested_manifest_is_refused_without_recursion_error(
    cli: Cli, hostile: HostileRegistry
) -> None:
    nested = b'{"schemaVersion":2,"annotations":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    hostile.put_manifest(nested, media.OCI_MANIFEST, tag="v1")
    assert_closed_failure(_inspect(cli, hostile), 3, "nest")


def test_index_with_100k_entries_is_refused(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image, tag=None)
    entry = {"mediaType": media.OCI_MANIFEST, "digest": str(image.digest), "size": 1,
             "platform": {"os": "linux", "architecture": "amd64"}}  # fmt: skip
    raw = json_bytes({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [entry] * 100_000})
    digest = hostile.put_manifest(raw, media.OCI_INDEX, tag="v1")
    # At the default limits the document is refused by size before it is parsed ...
    assert_closed_failure(_inspect(cli, hostile), 3, "exceeds the limit")
    # ... and with room for its bytes, by the entry count.
    roomy = Limits(manifest_bytes=64 * 1024 * 1024)
    repo = _repo(hostile, "v1", roomy)
    assert repo.resolve().digest == digest
    with pytest.raises(LimitExceeded, match="entries"):
        resolve_image(repo, PlatformSelection(), roomy)


def test_index_pointing_at_itself_or_at_an_index(cli: Cli, hostile: HostileRegistry) -> None:
    """An index cannot name its own digest, so a registry fakes it: every manifest request gets the index."""
    image = small_image()
    index = build_index([image])
    hostile.put_image(index)
    hostile.hooks.append(
        lambda r: (
            Reply(200, {"Content-Type": media.OCI_INDEX}, index.index.data) if r.kind == "manifests" else None
        )
    )
    assert_closed_failure(_inspect(cli, hostile, "--platform", "linux/amd64"), 3, "sha256")

    # An index whose platform entry is itself an index (here: the real one above) is refused, not
    # followed or misread as a manifest.
    hostile.hooks.clear()
    nested = json.loads(index.index.data)
    nested["manifests"][0].update(
        mediaType=media.OCI_INDEX, digest=str(index.digest), size=len(index.index.data)
    )
    hostile.put_manifest(json_bytes(nested), media.OCI_INDEX, tag="loop")
    run = _inspect(cli, hostile, "--platform", "linux/amd64", reference="loop")
    assert_closed_failure(run, 3, "index inside an index")


# -- storms, truncation, lies about length -----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_error_storm_on_referrers_is_indeterminate_never_unsigned(
    cli: Cli, hostile: HostileRegistry, status: int
) -> None:
    """The manifest is fine; every referrers/tag lookup fails: exit 3, never a pass with no signatures."""
    hostile.put_image(small_image())
    hostile.hooks.append(
        lambda r: Reply(status, {"Retry-After": "0"}, b"busy") if r.kind in ("referrers",) else None
    )
    hostile.hooks.append(
        lambda r: (
            Reply(status, {"Retry-After": "0"}, b"busy")
            if r.kind == "manifests" and r.reference.startswith("sha256-")
            else None
        )
    )
    assert_closed_failure(_inspect(cli, hostile), 3, str(status))


def test_truncated_blob_is_exit_3(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image)
    layer = image.layers[0]
    hostile.hooks.append(
        lambda r: (
            Reply(200, {}, layer.data, truncate=len(layer.data) // 2)
            if r.kind == "blobs" and r.reference == str(layer.descriptor.digest)
            else None
        )
    )
    assert_closed_failure(_audit(cli, hostile), 3)


@pytest.mark.parametrize("declared_delta", [-10, +10])
def test_blob_content_length_lie_is_exit_3(cli: Cli, hostile: HostileRegistry, declared_delta: int) -> None:
    image = small_image()
    hostile.put_image(image)
    layer = image.layers[0]
    hostile.hooks.append(
        lambda r: (
            Reply(200, {}, layer.data, content_length=len(layer.data) + declared_delta)
            if r.kind == "blobs" and r.reference == str(layer.descriptor.digest)
            else None
        )
    )
    assert_closed_failure(_audit(cli, hostile), 3)


# -- redirects ---------------------------------------------------------------------------------------------


def test_redirect_loop_is_exit_3(cli: Cli, hostile: HostileRegistry) -> None:
    image = small_image()
    hostile.put_image(image)
    hostile.hooks.append(lambda r: Reply(307, {"Location": r.path}) if r.kind == "blobs" else None)
    assert_closed_failure(_inspect(cli, hostile), 3, "redirects")
    assert len(hostile.requests("blobs")) == Limits().redirects + 1


def test_cross_host_redirect_drops_credentials_through_the_cli(
    cli: Cli, hostile: HostileRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CVE-2025-27403 class: a blob redirect to another host must not carry the registry password."""
    image = small_image()
    hostile.put_image(image)
    storage = HostileRegistry()
    try:
        storage.put_image(image)
        # 'localhost' is another origin than '127.0.0.1' for the client, though it reaches the same machine.
        storage_host = storage.host.replace("127.0.0.1", "localhost")

        def guarded(request: Request) -> Reply | None:
            if "authorization" not in request.headers:
                return Reply(401, {"WWW-Authenticate": 'Basic realm="hostile"'}, b"")
            if request.kind == "blobs":
                return Reply(307, {"Location": f"http://{storage_host}{request.path}"})
            return None

        hostile.hooks.append(guarded)
        monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
        run = cli(
            "audit", "--format", "json", "--no-cache", "--scanners", "", "--username", "alice",
            "--password-stdin", hostile.ref("v1"),
        )  # fmt: skip
    finally:
        storage.stop()
    assert run.code == 0, run.stderr
    assert any("authorization" in r.headers for r in hostile.requests("manifests"))
    redirected = storage.requests("blobs")
    assert redirected, "the redirect was not followed"
    assert all("authorization" not in r.headers and "cookie" not in r.headers for r in redirected)


# -- slow drip ---------------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_slow_drip_manifest_hits_the_request_deadline(hostile: HostileRegistry) -> None:
    """One byte every 0.2 s never trips a 1 s per-read timeout; the overall request deadline must."""
    image = small_image()
    hostile.put_image(image)
    hostile.hooks.append(
        lambda r: (
            Reply(200, {"Content-Type": media.OCI_MANIFEST}, image.manifest.data, drip=0.2)
            if r.kind == "manifests"
            else None
        )
    )
    limits = Limits(
        retries=0, read_timeout_seconds=1, request_deadline_seconds=2, min_bytes_per_second=1_000_000
    )
    start = time.monotonic()
    with pytest.raises(RegistryUnreachable, match="request deadline"):
        _repo(hostile, "v1", limits).resolve()
    assert time.monotonic() - start < 10


@pytest.mark.timeout(30)
def test_slow_drip_blob_hits_the_request_deadline(hostile: HostileRegistry) -> None:
    image = build_image([LayerSpec.from_files({"big": bytes(range(256)) * 64})], platform="linux/amd64")
    hostile.put_image(image)
    layer = image.layers[0]
    hostile.hooks.append(
        lambda r: (
            Reply(200, {}, layer.data, drip=0.2)
            if r.kind == "blobs" and r.reference == str(layer.descriptor.digest)
            else None
        )
    )
    limits = Limits(
        retries=0, read_timeout_seconds=1, request_deadline_seconds=2, min_bytes_per_second=1_000_000
    )
    repo = _repo(hostile, "v1", limits)
    start = time.monotonic()
    with pytest.raises(RegistryUnreachable, match="request deadline"):
        repo.read_blob(layer.descriptor, 1 << 20)
    assert time.monotonic() - start < 10
