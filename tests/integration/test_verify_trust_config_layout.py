"""`imagetrust verify --layout`: the in-toto layout result in the verify document, next to a real cosign
signature in the real registry; a failed layout fails the whole verification, and inspections never run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_verify_cosign import push_image, verify
from tests.support.cosign import generate_key_pair, sign
from tests.support.registry import RegistryServer
from tests.unit.test_verify_layout import (
    demo,
    inspection,
    link_dir,
    private,
    sign_layout,
    template,
    write_pub,
)

pytestmark = [pytest.mark.registry, pytest.mark.interop]


@pytest.fixture(scope="module")
def signed_image(
    tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer
) -> tuple[str, Path]:
    keydir = generate_key_pair(tmp_path_factory.mktemp("layout-key"))
    repo, digest = push_image(tmp_path_factory.mktemp("layout-img"), registry_plain, "layout/app:v1", "lay")
    ref = f"{repo}@{digest}"
    sign(keydir, ref)
    return ref, keydir / "cosign.pub"


def test_layout_section_verified_and_failed(signed_image: tuple[str, Path], tmp_path: Path) -> None:
    ref, key = signed_image
    alice = write_pub(private(demo("demo_files") / "alice"), tmp_path / "alice.pub")
    links = link_dir(tmp_path)
    good = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    args = ("--key", str(key), "--layout", str(good), "--layout-key", str(alice), "--link-dir", str(links))
    code, doc, err = verify(ref, *args)
    assert code == 0, err
    assert doc is not None and doc["layout"]["verified"] is True
    assert doc["layout"]["steps"] == ["write-code", "package"]

    # Same image and signature; a layout whose inspection would write a marker: refused, nothing run.
    marker = tmp_path / "marker"
    signed = template()
    signed["inspect"] = [inspection(marker)]
    bad = sign_layout(signed, demo("demo_files") / "alice", tmp_path / "inspect.layout")
    code, doc, err = verify(ref, "--key", str(key), "--layout", str(bad), "--layout-key", str(alice))
    assert code == 1, err
    assert doc is not None and doc["outcome"] == "failed"
    assert doc["layout"]["verified"] is False and "inspections" in doc["layout"]["reason"]
    assert doc["subjects"][0]["outcome"] == "verified"  # the signature itself was fine
    assert not marker.exists()

    code, doc, err = verify(ref, "--key", str(key), "--layout", str(good))
    assert code == 2 and "--layout needs at least one --layout-key" in err
