"""Several images in one ``verify`` run: concurrent, reported in input order, worst outcome decides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_inspect_cli import run_cli
from tests.integration.test_verify_cosign import push_image
from tests.support.cosign import Keys, sign
from tests.support.registry import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.interop]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys.generate(tmp_path_factory, "multi-key")


def test_verify_several_images_in_one_run(tmp_path: Path, registry_plain: RegistryServer, keys: Keys) -> None:
    refs = []
    for n in range(4):
        ref, digest = push_image(tmp_path, registry_plain, f"multi/app{n}:v1", f"multi-{n}")
        refs.append((f"{ref}@{digest}", digest))
    for ref, _ in refs[:3]:
        sign(keys.a, ref)

    signed = [r for r, _ in refs[:3]]
    done = run_cli("verify", "--no-cache", "--format", "json", "--key", keys.pub_a, *signed)
    assert done.returncode == 0, done.stderr
    documents = json.loads(done.stdout)
    assert [d["outcome"] for d in documents] == ["verified"] * 3
    assert [d["digest"] for d in documents] == [str(d) for _, d in refs[:3]]  # input order kept

    everything = [r for r, _ in refs]
    done = run_cli("verify", "--no-cache", "--format", "json", "--key", keys.pub_a, *everything)
    assert done.returncode == 1  # one unsigned image fails the whole run
    assert refs[3][0] in done.stderr
    documents = json.loads(done.stdout)
    assert [d["outcome"] for d in documents] == ["verified", "verified", "verified", "failed"]

    # a key that signed none of them: every image fails, the first one is named
    done = run_cli("verify", "--no-cache", "--key", keys.pub_b, *signed)
    assert done.returncode == 1
    assert signed[0] in done.stderr


def test_one_image_keeps_the_single_document_shape(
    tmp_path: Path, registry_plain: RegistryServer, keys: Keys
) -> None:
    ref, digest = push_image(tmp_path, registry_plain, "multi/single:v1", "multi-single")
    sign(keys.a, f"{ref}@{digest}")
    done = run_cli("verify", "--no-cache", "--format", "json", "--key", keys.pub_a, f"{ref}@{digest}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "verified"
