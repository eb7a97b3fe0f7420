"""OCI layout and archive stores on hostile and awkward input (no peer tools needed)."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from imagetrust.errors import IntegrityError, LimitExceeded, LocalInputError, NotFound
from imagetrust.limits import Limits
from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.registry.archive import DockerArchiveStore, OciArchiveStore
from imagetrust.registry.layout import OciLayoutStore
from tests.support.images import (
    BuiltImage,
    LayerSpec,
    blob,
    build_image,
    json_bytes,
    member,
    write_docker_archive,
    write_layout,
    write_oci_archive,
    write_tar,
)

LIMITS = Limits()


def _image(text: str = "hello") -> BuiltImage:
    return build_image([LayerSpec.from_files({"etc/greeting": text})])


def _blob_file(layout: Path, digest: Digest) -> Path:
    return layout / "blobs" / digest.algorithm / digest.hex


# -- tags and resolution -----------------------------------------------------------------------------------


def test_single_untagged_entry_resolves_without_a_tag(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path, [(None, image)])
    assert OciLayoutStore(layout, None, LIMITS).resolve().digest == image.digest


def test_several_entries_without_a_tag_is_a_usage_error_listing_them(tmp_path: Path) -> None:
    layout = write_layout(tmp_path, {"one": _image("1"), "two": _image("2")})
    with pytest.raises(LocalInputError, match="one, two"):
        OciLayoutStore(layout, None, LIMITS).resolve()


def test_unknown_tag_is_not_found_listing_the_tags(tmp_path: Path) -> None:
    layout = write_layout(tmp_path, {"one": _image("1"), "two": _image("2")})
    store = OciLayoutStore(layout, "three", LIMITS)
    with pytest.raises(NotFound, match="one, two"):
        store.resolve()
    assert store.get_tagged("three") is None
    fetched = store.get_tagged("two")
    assert fetched is not None and fetched.descriptor.digest == _image("2").digest


def test_full_reference_names_match_by_their_tag(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(
        tmp_path, {"localhost/team/app:1.0": image, "docker.io/library/other:2.0": _image("x")}
    )
    assert OciLayoutStore(layout, "1.0", LIMITS).resolve().digest == image.digest
    assert OciLayoutStore(layout, "localhost/team/app:1.0", LIMITS).resolve().digest == image.digest


def test_a_tag_matching_two_full_references_is_ambiguous(tmp_path: Path) -> None:
    layout = write_layout(tmp_path, {"a/x:1.0": _image("1"), "b/y:1.0": _image("2")})
    with pytest.raises(LocalInputError, match="several"):
        OciLayoutStore(layout, "1.0", LIMITS).resolve()


# -- malformed layouts -------------------------------------------------------------------------------------


def test_missing_oci_layout_file(tmp_path: Path) -> None:
    layout = write_layout(tmp_path, {"v": _image()})
    (layout / "oci-layout").unlink()
    with pytest.raises(LocalInputError, match="oci-layout is missing"):
        OciLayoutStore(layout, "v", LIMITS)


def test_wrong_layout_version(tmp_path: Path) -> None:
    layout = write_layout(tmp_path, {"v": _image()})
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')
    with pytest.raises(LocalInputError, match="imageLayoutVersion"):
        OciLayoutStore(layout, "v", LIMITS)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"schemaVersion": 2}', b'{"schemaVersion": 2, "manifests": [{"digest": "x"}]}'],
)
def test_malformed_index_json_is_a_local_input_error(tmp_path: Path, body: bytes) -> None:
    layout = write_layout(tmp_path, {"v": _image()})
    (layout / "index.json").write_bytes(body)
    with pytest.raises(LocalInputError, match=r"index\.json"):
        OciLayoutStore(layout, "v", LIMITS)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(LocalInputError, match="cannot open"):
        OciLayoutStore(tmp_path / "absent", None, LIMITS)


def test_index_json_over_the_manifest_limit_is_refused(tmp_path: Path) -> None:
    layout = write_layout(tmp_path, {"v": _image()})
    with pytest.raises(LimitExceeded):
        OciLayoutStore(layout, "v", Limits(manifest_bytes=64))


# -- blobs -------------------------------------------------------------------------------------------------


def test_changed_layer_bytes_fail_verification(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path, {"v": image})
    layer = image.layers[0].descriptor
    path = _blob_file(layout, layer.digest)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    store = OciLayoutStore(layout, "v", LIMITS)
    with pytest.raises(IntegrityError, match="content digest"), store.open_blob(layer) as stream:
        stream.read()


def test_changed_manifest_bytes_fail_verification(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path, {"v": image})
    path = _blob_file(layout, image.digest)
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion":2 '))
    store = OciLayoutStore(layout, "v", LIMITS)
    with pytest.raises(IntegrityError):
        store.get_manifest(store.resolve().digest)


def test_index_entry_naming_a_missing_blob(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path, {"v": image})
    _blob_file(layout, image.digest).unlink()
    store = OciLayoutStore(layout, "v", LIMITS)
    with pytest.raises(NotFound, match=f"blobs/sha256/{image.digest.hex} is missing"):
        store.get_manifest(store.resolve().digest)


def test_symlinked_blob_leaving_the_layout_is_refused(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path / "layout", {"v": image})
    outside = tmp_path / "outside"
    config = image.config
    outside.write_bytes(config.data)  # even the right bytes are refused from outside the layout
    path = _blob_file(layout, config.descriptor.digest)
    path.unlink()
    path.symlink_to(outside)
    store = OciLayoutStore(layout, "v", LIMITS)
    with pytest.raises(LocalInputError, match="outside the layout"):
        store.read_blob(config.descriptor, LIMITS.config_bytes)


def test_symlink_inside_the_layout_is_followed(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path, {"v": image})
    path = _blob_file(layout, image.config.descriptor.digest)
    stash = layout / "stash"
    path.rename(stash)
    path.symlink_to(stash)
    store = OciLayoutStore(layout, "v", LIMITS)
    assert store.read_blob(image.config.descriptor, LIMITS.config_bytes) == image.config.data


def test_fifo_planted_as_a_blob_does_not_hang(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path, {"v": image})
    path = _blob_file(layout, image.config.descriptor.digest)
    path.unlink()
    os.mkfifo(path)
    store = OciLayoutStore(layout, "v", LIMITS)
    with pytest.raises(LocalInputError, match="not a regular file"):
        store.read_blob(image.config.descriptor, LIMITS.config_bytes)


def test_read_blob_refuses_more_than_asked_before_reading(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path, {"v": image})
    store = OciLayoutStore(layout, "v", LIMITS)
    with pytest.raises(LimitExceeded):
        store.read_blob(image.config.descriptor, 10)


def test_a_blob_longer_than_its_descriptor_fails(tmp_path: Path) -> None:
    image = _image()
    layout = write_layout(tmp_path, {"v": image})
    path = _blob_file(layout, image.config.descriptor.digest)
    path.write_bytes(image.config.data + b" ")
    store = OciLayoutStore(layout, "v", LIMITS)
    with pytest.raises(IntegrityError, match="more than the declared"):
        store.read_blob(image.config.descriptor, LIMITS.config_bytes)


def test_get_manifest_of_a_child_not_in_index_json(tmp_path: Path) -> None:
    from tests.support.images import build_index

    child = _image()
    index = build_index([child])
    layout = write_layout(tmp_path, {"multi": index})
    store = OciLayoutStore(layout, "multi", LIMITS)
    assert store.resolve().media_type == media.OCI_INDEX
    fetched = store.get_manifest(child.digest)
    assert fetched.raw == child.manifest.data
    assert fetched.descriptor.media_type == media.OCI_MANIFEST


# -- referrers ---------------------------------------------------------------------------------------------


def test_referrers_scan_index_json_for_subjects(tmp_path: Path) -> None:
    image = _image()
    subject = image.manifest.descriptor
    sig = build_image(
        [LayerSpec.from_files({"sig": "x"}, compression="none")],
        subject=subject,
        artifact_type="application/vnd.dev.sigstore.bundle.v0.3+json",
        annotations={"k": "v"},
    )
    unrelated = build_image([LayerSpec.from_files({"y": "y"})], subject=_image("other").manifest.descriptor)
    layout = write_layout(tmp_path, [("v", image), (None, sig), (None, unrelated)])
    store = OciLayoutStore(layout, "v", LIMITS)
    found = store.referrers(image.digest)
    assert found is not None
    assert [d.digest for d in found] == [sig.digest]
    assert found[0].artifact_type == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert found[0].annotation("k") == "v"


def test_referrers_merge_the_fallback_tag_index(tmp_path: Path) -> None:
    image = _image()
    sig = build_image([LayerSpec.from_files({"sig": "x"})], subject=image.manifest.descriptor)
    listing_body = json_bytes(
        {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [sig.manifest.descriptor.to_json()]}
    )
    listing = blob(listing_body, media.OCI_INDEX)
    layout = write_layout(tmp_path, [("v", image)], extra_blobs=[*sig.blobs, listing])
    index = json.loads((layout / "index.json").read_bytes())
    entry = listing.descriptor.to_json()
    entry["annotations"] = {"org.opencontainers.image.ref.name": image.digest.tag_form}
    index["manifests"].append(entry)
    (layout / "index.json").write_text(json.dumps(index))
    found = OciLayoutStore(layout, "v", LIMITS).referrers(image.digest)
    assert found is not None and [d.digest for d in found] == [sig.digest]


def test_referrers_are_bounded(tmp_path: Path) -> None:
    image = _image()
    sigs = [
        build_image([LayerSpec.from_files({"s": str(i)})], subject=image.manifest.descriptor)
        for i in range(3)
    ]
    layout = write_layout(tmp_path, [("v", image), *((None, s) for s in sigs)])
    with pytest.raises(LimitExceeded):
        OciLayoutStore(layout, "v", Limits(referrers=2)).referrers(image.digest)


# -- archives ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gzip_it", [False, True])
def test_oci_archive_plain_and_gzip(tmp_path: Path, gzip_it: bool) -> None:
    image = _image()
    archive = write_oci_archive(tmp_path / "a.tar", {"v": image}, gzip_it=gzip_it)
    store = OciArchiveStore(archive, "v", LIMITS)
    assert store.resolve().digest == image.digest
    with store.open_blob(image.layers[0].descriptor) as stream:
        assert stream.read() == image.layers[0].data


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "blobs/../../x"])
def test_oci_archive_escaping_member_names_are_refused(tmp_path: Path, name: str) -> None:
    archive = write_tar(tmp_path / "a.tar", [member("oci-layout", b"{}"), member(name, b"x")])
    with pytest.raises(LocalInputError, match="refusing tar member"):
        OciArchiveStore(archive, None, LIMITS)


def test_oci_archive_duplicate_members_are_refused(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "a.tar", [member("index.json", b"{}"), member("./index.json", b"[]")])
    with pytest.raises(LocalInputError, match="more than once"):
        OciArchiveStore(archive, None, LIMITS)


def test_oci_archive_symlink_out_of_the_archive_is_refused(tmp_path: Path) -> None:
    image = _image()
    from tests.support.images import layout_files

    files = layout_files({"v": image})
    members = [member(n, d) for n, d in files.items() if n != "oci-layout"]
    members.append(member("oci-layout", kind=tarfile.SYMTYPE, linkname="../../etc/hostname"))
    archive = write_tar(tmp_path / "a.tar", members)
    with pytest.raises(LocalInputError, match="refusing tar member"):
        OciArchiveStore(archive, "v", LIMITS)


def test_oci_archive_member_count_is_bounded(tmp_path: Path) -> None:
    archive = write_oci_archive(tmp_path / "a.tar", {"v": _image()})
    with pytest.raises(LimitExceeded, match="tar members"):
        OciArchiveStore(archive, "v", Limits(archive_members=3))


def test_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    path.write_bytes(b"hello, I am not a tar" * 100)
    with pytest.raises(LocalInputError):
        OciArchiveStore(path, None, LIMITS)


def test_docker_archive_tag_selection(tmp_path: Path) -> None:
    one, two = _image("1"), _image("2")
    a = write_docker_archive(tmp_path / "a.tar", one, ["example.com/app:1"])
    b = write_docker_archive(tmp_path / "b.tar", two, ["example.com/app:2"])
    # Merge the two archives' manifest.json entries into one archive holding both images.
    merged: dict[str, bytes] = {}
    entries = []
    for path in (a, b):
        with tarfile.open(path) as tar:
            for info in tar.getmembers():
                if info.isreg():
                    data = tar.extractfile(info).read()  # type: ignore[union-attr]
                    if info.name == "manifest.json":
                        entries += json.loads(data)
                    else:
                        merged[info.name] = data
    merged["manifest.json"] = json.dumps(entries).encode()
    both = write_tar(tmp_path / "both.tar", [member(n, d) for n, d in merged.items()])
    with pytest.raises(LocalInputError, match=r"example\.com/app:1, example\.com/app:2"):
        DockerArchiveStore(both, None, LIMITS).resolve()
    first = DockerArchiveStore(both, "example.com/app:1", LIMITS).resolve()
    second = DockerArchiveStore(both, "2", LIMITS).resolve()
    assert first.digest != second.digest
    assert first.digest == DockerArchiveStore(a, None, LIMITS).resolve().digest
    with pytest.raises(NotFound):
        DockerArchiveStore(both, "example.com/app:3", LIMITS).resolve()


def test_docker_archive_layer_tampering_is_caught(tmp_path: Path) -> None:
    image = _image()
    archive = write_docker_archive(tmp_path / "a.tar", image, ["app:1"])
    raw = archive.read_bytes()
    marker = b"hello"
    assert raw.count(marker) == 1
    archive.write_bytes(raw.replace(marker, b"HELLO"))
    store = DockerArchiveStore(archive, None, LIMITS)
    top = store.resolve()
    manifest = store.get_manifest(top.digest).parse(LIMITS)
    layer = manifest.layers[0]  # type: ignore[union-attr]
    with pytest.raises(IntegrityError), store.open_blob(layer) as stream:
        stream.read()
    assert store.referrers(top.digest) is None


def test_docker_archive_layer_count_must_match_the_config(tmp_path: Path) -> None:
    image = _image()
    archive = write_docker_archive(tmp_path / "a.tar", image, ["app:1"])
    with tarfile.open(archive) as tar:
        files = {i.name: tar.extractfile(i).read() for i in tar.getmembers() if i.isreg()}  # type: ignore[union-attr]
    entry = json.loads(files["manifest.json"])
    entry[0]["Layers"] = entry[0]["Layers"] * 2
    files["manifest.json"] = json.dumps(entry).encode()
    bad = write_tar(tmp_path / "bad.tar", [member(n, d) for n, d in files.items()])
    with pytest.raises(LocalInputError, match="diff_ids"):
        DockerArchiveStore(bad, None, LIMITS).resolve()
