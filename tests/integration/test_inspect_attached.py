"""`inspect` lists what real cosign 2.x (legacy tags) and 3.x (referrers, fallback tag) attach to an image."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_inspect_cli import inspect_json, push
from tests.support.cosign import attest, generate_key_pair, sign
from tests.support.images import LayerSpec, build_image, write_layout
from tests.support.registry import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.interop]


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_key_pair(tmp_path_factory.mktemp("cosign-keys"))


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer) -> tuple[str, str]:
    image = build_image([LayerSpec.from_files({"signed": "yes"})])
    layout = write_layout(tmp_path_factory.mktemp("signed") / "layout", {"v1": image})
    ref = push(layout, "v1", registry_plain, "cli/signed:v1")
    return ref, str(image.digest)


def test_cosign2_signature_and_attestation_tags_are_listed(pushed: tuple[str, str], keypair: Path) -> None:
    ref, digest = pushed
    repo = ref.rsplit(":", 1)[0]
    sign(keypair, f"{repo}@{digest}")
    predicate = {"builder": {"id": "https://example.test/builder"}, "buildType": "x"}
    attest(keypair, f"{repo}@{digest}", predicate, "slsaprovenance")
    document = inspect_json(ref)
    attached = document["attached"][0]
    assert attached["subject"] == digest
    kinds = {entry["kind"]: entry for entry in attached["cosignTags"]}
    assert set(kinds) == {"sig", "att"}
    hex_digest = digest.split(":", 1)[1]
    assert kinds["sig"]["tag"] == f"sha256-{hex_digest}.sig"
    sig_layer = kinds["sig"]["layers"][0]
    assert sig_layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert sig_layer["annotations"]["dev.cosignproject.cosign/signature"]
    assert kinds["att"]["layers"][0]["mediaType"] == "application/vnd.dsse.envelope.v1+json"


def test_cosign3_bundle_referrer_found_through_fallback_tag(pushed: tuple[str, str], keypair: Path) -> None:
    ref, digest = pushed
    repo = ref.rsplit(":", 1)[0]
    sign(keypair, f"{repo}@{digest}", "--use-signing-config=false", binary="cosign3")
    attached = inspect_json(ref)["attached"][0]
    hex_digest = digest.split(":", 1)[1]
    # docker-registry 2.8 has no referrers API: only the fallback tag can have carried this.
    assert attached["referrersFrom"] == [f"fallback tag sha256-{hex_digest}"]
    assert len(attached["referrers"]) == 1
    assert attached["referrers"][0]["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
