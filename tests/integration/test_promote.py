"""`imagetrust promote` between two REAL docker-registry processes.

A signed image (real cosign 2.5 .sig, our attest's referrers and .att) is copied with its evidence and the
same digest (skopeo agrees, cosign verifies at the destination); an unsigned image is refused and nothing
is written; --dry-run writes nothing; and a promotion whose destination registry is stopped mid-copy
leaves the destination tag naming what it named before.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagetrust.errors import CouldNotCheck
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.pipeline.promote import PromoteOptions, promote_image
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.pipeline.verify import VerifyOptions
from imagetrust.registry.repository import open_repository
from imagetrust.trust.keys import load_public_key
from tests.conftest import tool_path
from tests.integration.test_inspect_cli import run_cli
from tests.support.cosign import cosign as run_cosign
from tests.support.cosign import generate_key_pair, sign
from tests.support.images import LayerSpec, build_image, write_layout
from tests.support.registry import RegistryServer, options_for, start_registry

pytestmark = [pytest.mark.registry, pytest.mark.interop]
PASSWORD = {"COSIGN_PASSWORD": "promote-test"}


def cosign(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cosign("cosign2", *args, cwd=cwd, password=PASSWORD["COSIGN_PASSWORD"])


def skopeo(*args: str) -> str:
    done = subprocess.run(
        [str(tool_path("skopeo")), "--insecure-policy", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def push(tmp: Path, server: RegistryServer, dest: str, marker: str, size: int = 0) -> str:
    files = {"marker": marker.encode(), "big": os.urandom(size)} if size else {"marker": marker.encode()}
    image = build_image([LayerSpec.from_files(files), LayerSpec.from_files({"two": marker.encode()})])
    layout = write_layout(tmp / marker, {"v1": image})
    skopeo(
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-tls-verify=false",
        f"oci:{layout}:v1",
        f"docker://{server.host}/{dest}",
    )
    return str(image.digest)


def tag_digest(server: RegistryServer, repository: str, tag: str) -> str | None:
    repo = open_repository(parse_registry_ref(f"{server.host}/{repository}"), options_for(server))
    found = repo.get_tagged(tag)
    return str(found.descriptor.digest) if found is not None else None


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_key_pair(tmp_path_factory.mktemp("promote-key"), password=PASSWORD["COSIGN_PASSWORD"])


@pytest.fixture()
def destination(registry_binary: Path, tmp_path: Path) -> Iterator[RegistryServer]:
    server = start_registry(registry_binary, tmp_path / "dst", "plain")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer, key: Path
) -> tuple[str, str]:
    tmp = tmp_path_factory.mktemp("promote-src")
    digest = push(tmp, registry_plain, "promote/app:v1", "signed")
    ref = f"{registry_plain.host}/promote/app:v1"
    sign(key, f"{ref.rsplit(':', 1)[0]}@{digest}", password=PASSWORD["COSIGN_PASSWORD"])
    attest = run_cli(
        "attest", "--no-cache", ref, "--key", str(key / "cosign.key"), "--scanners", "config", env=PASSWORD
    )
    assert attest.returncode == 0, attest.stderr
    return ref, digest


def test_compliant_image_is_copied_with_its_evidence(
    signed: tuple[str, str], key: Path, destination: RegistryServer
) -> None:
    ref, digest = signed
    dst = f"{destination.host}/prod/app:stable"
    done = run_cli("promote", "--no-cache", "--format", "json", ref, dst, "--key", str(key / "cosign.pub"))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["outcome"] == "promoted" and doc["written"] == digest
    hexd = digest.split(":")[1]
    assert set(doc["copy"]["cosignTags"]) == {f"sha256-{hexd}.sig", f"sha256-{hexd}.att"}
    assert len(doc["copy"]["referrers"]) == 2
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{dst}"))
    assert inspected["Digest"] == digest
    for tag in (f"sha256-{hexd}.sig", f"sha256-{hexd}.att", f"sha256-{hexd}"):
        assert tag_digest(destination, "prod/app", tag) is not None, tag
    verified = cosign(
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--allow-insecure-registry",
        f"{destination.host}/prod/app@{digest}",
        cwd=key,
    )
    assert verified.returncode == 0, verified.stderr[-2000:]
    atts = cosign(
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--allow-insecure-registry",
        "--type",
        "https://slsa.dev/verification_summary/v1",
        f"{destination.host}/prod/app@{digest}",
        cwd=key,
    )
    assert atts.returncode == 0, atts.stderr[-2000:]


def test_unsigned_image_is_refused_and_nothing_written(
    tmp_path: Path, registry_plain: RegistryServer, key: Path, destination: RegistryServer
) -> None:
    push(tmp_path, registry_plain, "promote/unsigned:v1", "unsigned")
    done = run_cli(
        "promote",
        "--no-cache",
        f"{registry_plain.host}/promote/unsigned:v1",
        f"{destination.host}/prod/unsigned:stable",
        "--key",
        str(key / "cosign.pub"),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REFUSED" in done.stdout
    assert tag_digest(destination, "prod/unsigned", "stable") is None


def test_dry_run_copies_nothing(signed: tuple[str, str], key: Path, destination: RegistryServer) -> None:
    ref, digest = signed
    done = run_cli(
        "promote",
        "--no-cache",
        "--dry-run",
        ref,
        f"{destination.host}/prod/dry:stable",
        "--key",
        str(key / "cosign.pub"),
    )
    assert done.returncode == 0, done.stderr
    assert "WOULD PROMOTE" in done.stdout and "cosign tag" in done.stdout
    assert tag_digest(destination, "prod/dry", "stable") is None
    assert tag_digest(destination, "prod/dry", f"sha256-{digest.split(':')[1]}.sig") is None
    blobs = destination.root / "docker" / "registry" / "v2" / "blobs"
    assert not blobs.exists() or not any(blobs.rglob("data"))


def test_copy_killed_halfway_leaves_the_destination_tag_alone(
    tmp_path: Path, registry_plain: RegistryServer, registry_binary: Path, key: Path
) -> None:
    workdir = tmp_path / "dst"
    first = start_registry(registry_binary, workdir, "plain")
    old = push(tmp_path, first, "prod/web:stable", "old")
    new = push(tmp_path, registry_plain, "promote/web:v2", "new", size=3 * 1024 * 1024)
    src = f"{registry_plain.host}/promote/web"
    sign(key, f"{src}@{new}", password=PASSWORD["COSIGN_PASSWORD"])
    events: list[str] = []

    def stop_after_first_blob(event: str, detail: str) -> None:
        events.append(event)
        if event == "blob-done":
            first.stop()  # the destination dies after one blob is in

    options = PromoteOptions(VerifyOptions(keys=(load_public_key(key / "cosign.pub"),)))
    settings = SourceSettings(registry=options_for(first), use_cache=False)
    with pytest.raises(CouldNotCheck):
        promote_image(f"{src}:v2", f"{first.host}/prod/web:stable", settings, options, stop_after_first_blob)
    assert events.count("blob-done") == 1 and "manifest" not in events
    second = start_registry(registry_binary, workdir, "plain")  # same storage, new process
    try:
        assert tag_digest(second, "prod/web", "stable") == old
    finally:
        second.stop()
