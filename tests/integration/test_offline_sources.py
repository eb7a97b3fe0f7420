"""Offline sources agree with the real peers: skopeo (containers/image) and umoci read/write the same bytes.

For each image our builder writes, the digest and manifest bytes we resolve from ``oci:``, ``oci-archive:``
and ``docker-archive:`` equal what ``skopeo inspect`` reports, and every blob reads back verified.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from imagetrust.errors import LocalInputError, NotFound
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Index, Manifest
from imagetrust.oci.reference import DockerArchiveRef, OciArchiveRef, OciLayoutRef, parse_source
from imagetrust.registry.archive import DockerArchiveStore, OciArchiveStore, open_offline_store
from imagetrust.registry.layout import OciLayoutStore
from imagetrust.registry.store import ImageStore
from tests.conftest import tool_path
from tests.support.images import (
    BuiltImage,
    BuiltIndex,
    ConfigSpec,
    File,
    LayerSpec,
    OpaqueDir,
    Symlink,
    Whiteout,
    build_image,
    build_index,
    write_docker_archive,
    write_layout,
)

pytestmark = pytest.mark.interop
LIMITS = Limits()


class Skopeo:
    def __init__(self, tmp: Path) -> None:
        self.binary = str(tool_path("skopeo"))
        self.policy = tmp / "policy.json"
        self.policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))

    def run(self, *args: str) -> bytes:
        done = subprocess.run(
            [self.binary, "--policy", str(self.policy), *args], capture_output=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def raw(self, ref: str) -> bytes:
        return self.run("inspect", "--raw", ref)

    def digest(self, ref: str) -> str:
        return str(json.loads(self.run("inspect", ref))["Digest"])


@pytest.fixture
def skopeo(tmp_path: Path) -> Skopeo:
    return Skopeo(tmp_path)


def _layers(compression: str) -> list[LayerSpec]:
    base = LayerSpec(
        (
            File("etc/os-release", b"ID=test\n"),
            File("bin/tool", b"\x7fELF" + bytes(range(256)) * 40, 0o755),
            File("etc/old.conf", b"old"),
            File("opt/app/cache/x", b"x"),
            Symlink("usr/bin/tool", "../../bin/tool"),
        ),
        compression=compression,
        created_by="/bin/sh -c #(nop) ADD base",
    )
    app = LayerSpec(
        (Whiteout("etc/old.conf"), OpaqueDir("opt/app/cache"), File("opt/app/run.sh", b"#!/bin/sh\n", 0o755)),
        compression=compression,
        created_by="/bin/sh -c #(nop) COPY app /opt/app",
    )
    return [base, app]


def _config() -> ConfigSpec:
    return ConfigSpec(
        user="1000", entrypoint=("/opt/app/run.sh",), labels={"a": "b"}, exposed_ports=("80/tcp",)
    )


def _gzip_image() -> BuiltImage:
    return build_image(_layers("gzip"), _config())


def _zstd_image() -> BuiltImage:
    return build_image(_layers("zstd"), _config())


def _multi_arch() -> BuiltIndex:
    return build_index(
        [
            build_image(_layers("gzip"), _config(), platform="linux/amd64"),
            build_image(_layers("gzip")[:1], _config(), platform="linux/arm64/v8"),
        ]
    )


def _read_all(store: ImageStore, item: BuiltImage | BuiltIndex) -> None:
    """Every blob of the resolved image reads back through the verifying stream, byte for byte."""
    expected = {b.descriptor.digest: b.data for b in item.blobs}
    top = store.resolve()
    parsed = store.get_manifest(top.digest).parse(LIMITS)
    manifests = [parsed]
    if isinstance(parsed, Index):
        manifests = [store.get_manifest(d.digest).parse(LIMITS) for d in parsed.manifests]
    for manifest in manifests:
        assert isinstance(manifest, Manifest)
        for descriptor in (manifest.config, *manifest.layers):
            with store.open_blob(descriptor) as stream:
                data = stream.read()
            assert hashlib.sha256(data).hexdigest() == descriptor.digest.hex
            if descriptor.digest in expected:
                assert data == expected[descriptor.digest]


@pytest.mark.parametrize("kind", ["gzip", "zstd", "index"])
def test_layout_and_oci_archive_agree_with_skopeo(tmp_path: Path, skopeo: Skopeo, kind: str) -> None:
    item = {"gzip": _gzip_image, "zstd": _zstd_image, "index": _multi_arch}[kind]()
    layout = write_layout(tmp_path / "layout", {"v1": item})
    raw = skopeo.raw(f"oci:{layout}:v1")

    store = OciLayoutStore(layout, "v1", LIMITS)
    top = store.resolve()
    assert top.digest == item.digest == Digest.of(raw)
    assert store.get_manifest(top.digest).raw == raw
    _read_all(store, item)

    archive = tmp_path / "image.tar"
    copy_all = ["--all"] if kind == "index" else []
    skopeo.run("copy", "-q", *copy_all, f"oci:{layout}:v1", f"oci-archive:{archive}:v1")
    from_tar = OciArchiveStore(archive, "v1", LIMITS)
    assert from_tar.resolve().digest == item.digest
    assert from_tar.get_manifest(item.digest).raw == skopeo.raw(f"oci-archive:{archive}:v1") == raw
    _read_all(from_tar, item)


def test_docker_archive_manifest_equals_skopeos(tmp_path: Path, skopeo: Skopeo) -> None:
    """skopeo writes this archive itself (it refuses zstd for docker-archive; see the hand-built test)."""
    item = _gzip_image()
    layout = write_layout(tmp_path / "layout", {"v1": item})
    archive = tmp_path / "docker.tar"
    skopeo.run("copy", "-q", f"oci:{layout}:v1", f"docker-archive:{archive}:example/app:v1")

    store = open_offline_store(parse_source(f"docker-archive:{archive}:example/app:v1"), LIMITS)
    top = store.resolve()
    assert str(top.digest) == skopeo.digest(f"docker-archive:{archive}")
    assert store.get_manifest(top.digest).raw == skopeo.raw(f"docker-archive:{archive}")
    manifest = store.get_manifest(top.digest).parse(LIMITS)
    assert isinstance(manifest, Manifest)
    # Layers are named by diff_id: the stream served is the uncompressed tar, verified against it.
    assert tuple(d.digest for d in manifest.layers) == item.diff_ids
    _read_all(store, item)


@pytest.mark.parametrize("form", ["legacy-gzip", "legacy-zstd", "docker25-oci"])
def test_hand_built_docker_archives_agree_with_skopeo(tmp_path: Path, skopeo: Skopeo, form: str) -> None:
    """Archives skopeo did not write: compressed layers (sizes are uncompressed) and docker 25+'s layout."""
    item = _gzip_image()
    archive = write_docker_archive(
        tmp_path / "save.tar",
        item,
        ["example.com/team/app:1.0"],
        oci_layout=form == "docker25-oci",
        layer_compression={"legacy-gzip": "gzip", "legacy-zstd": "zstd"}.get(form, "none"),
    )
    store = DockerArchiveStore(archive, None, LIMITS)
    top = store.resolve()
    assert str(top.digest) == skopeo.digest(f"docker-archive:{archive}")
    assert store.get_manifest(top.digest).raw == skopeo.raw(f"docker-archive:{archive}")
    _read_all(store, item)
    if form == "docker25-oci":
        # The same tar is also an OCI layout, readable as oci-archive with the OCI manifest's own digest.
        assert OciArchiveStore(archive, None, LIMITS).resolve().digest == item.digest


def test_layout_written_by_umoci(tmp_path: Path, skopeo: Skopeo) -> None:
    umoci = str(tool_path("umoci"))
    layout = tmp_path / "umoci-layout"
    source = tmp_path / "hello.txt"
    source.write_text("hello from umoci\n")
    for args in (
        ["init", "--layout", str(layout)],
        ["new", "--image", f"{layout}:edge"],
        ["insert", "--rootless", "--image", f"{layout}:edge", str(source), "/etc/hello.txt"],
    ):
        subprocess.run([umoci, *args], check=True, capture_output=True, timeout=60)
    store = OciLayoutStore(layout, "edge", LIMITS)
    top = store.resolve()
    assert top.digest == Digest.of(skopeo.raw(f"oci:{layout}:edge"))
    manifest = store.get_manifest(top.digest).parse(LIMITS)
    assert isinstance(manifest, Manifest) and len(manifest.layers) == 1
    with store.open_blob(manifest.layers[0]) as stream:
        assert b"hello from umoci" in gzip.decompress(stream.read())


def test_oci_archive_member_escaping_the_archive_is_refused(tmp_path: Path, skopeo: Skopeo) -> None:
    """A skopeo-written archive, with one extra member named ``../x``: the whole archive is refused."""

    layout = write_layout(tmp_path / "layout", {"v1": _gzip_image()})
    archive = tmp_path / "image.tar"
    skopeo.run("copy", "-q", f"oci:{layout}:v1", f"oci-archive:{archive}:v1")
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo("../x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(LocalInputError, match=r"\.\./x"):
        OciArchiveStore(archive, "v1", LIMITS)


def test_factory_dispatches_on_reference_type(tmp_path: Path) -> None:
    item = _gzip_image()
    layout = write_layout(tmp_path / "layout", {"v1": item})
    assert isinstance(open_offline_store(OciLayoutRef(layout, "v1"), LIMITS), OciLayoutStore)
    archive = write_docker_archive(tmp_path / "d.tar", item, ["app:v1"])
    assert isinstance(open_offline_store(DockerArchiveRef(archive, "app:v1"), LIMITS), DockerArchiveStore)
    with pytest.raises(NotFound):
        open_offline_store(DockerArchiveRef(archive, "other:v2"), LIMITS).resolve()
    with pytest.raises(LocalInputError):
        open_offline_store(OciArchiveRef(tmp_path / "absent.tar", None), LIMITS)


def test_committed_demo_image_reads_the_same_in_skopeo(skopeo: Skopeo) -> None:
    demo = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "layout"
    store = OciLayoutStore(demo, "demo", LIMITS)
    top = store.resolve()
    assert store.get_manifest(top.digest).raw == skopeo.raw(f"oci:{demo}:demo")
