"""`imagetrust verify` against what REAL cosign 2.5 (legacy tags) and 3.1 (bundle referrers) write into the
REAL docker-registry, and against real `cosign verify` on the same images.

Attacks are built from real cosign output: a signature manifest copied to another image, a payload layer
re-pushed with one byte changed, an attestation copied to another digest, an attestation type that was
never signed (CVE-2022-35929).  Registry faults come from a forwarding proxy that is clearly not a registry.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.registry.repository import RegistryRepository, open_repository
from tests.integration.test_inspect_cli import push, run_cli
from tests.integration.test_registry_network import FaultInjector, Reply, Seen
from tests.support.cosign import Keys, attest, cosign, cosign_ok, sign
from tests.support.images import LayerSpec, build_image, build_index, json_bytes, write_layout
from tests.support.registry import RegistryServer, options_for

pytestmark = [pytest.mark.registry, pytest.mark.interop]

SLSA_V02 = "https://slsa.dev/provenance/v0.2"
CUSTOM = "https://example.test/attestation/custom/v1"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys.generate(tmp_path_factory, "key")


def verify(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any] | None, str]:
    done = run_cli("verify", "--no-cache", "--format", "json", *args, env=env)
    document = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, document, done.stderr


def repo_client(server: RegistryServer, repository: str) -> RegistryRepository:
    return open_repository(parse_registry_ref(f"{server.host}/{repository}"), options_for(server))


def push_image(tmp: Path, server: RegistryServer, dest: str, marker: str) -> tuple[str, Digest]:
    image = build_image([LayerSpec.from_files({"marker": marker})])
    layout = write_layout(tmp / marker / "layout", {"v1": image})
    return push(layout, "v1", server, dest).rsplit(":", 1)[0], image.digest


SLSA_PREDICATE = {
    "builder": {"id": "https://example.test/builder@v1"},
    "buildType": "https://example.test/build-type/v1",
    "invocation": {"configSource": {"uri": "git+https://github.com/example/app@refs/heads/main"}},
}


@dataclass(frozen=True)
class Signed:
    repo: str  # HOST/verify/signed
    digest: Digest

    @property
    def ref(self) -> str:
        return f"{self.repo}@{self.digest}"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer, keys: Keys) -> Signed:
    """One image carrying everything real cosign writes with key A: .sig, .att, and two v0.3 bundles."""
    repo, digest = push_image(tmp_path_factory.mktemp("signed"), registry_plain, "verify/signed:v1", "signed")
    ref = f"{repo}@{digest}"
    sign(keys.a, ref)
    attest(keys.a, ref, SLSA_PREDICATE, "slsaprovenance")
    common = ("--key", "cosign.key", "--use-signing-config=false", "--tlog-upload=false", "-y")
    cosign_ok("cosign3", "sign", *common, ref, cwd=keys.a)
    (keys.a / "custom.json").write_text(json.dumps({"note": "custom predicate"}))
    cosign_ok("cosign3", "attest", *common, "--type", CUSTOM, "--predicate", "custom.json", ref, cwd=keys.a)
    return Signed(repo, digest)


# ------------------------------------------------------------------------------------------ accepted


def test_all_real_cosign_outputs_verify_with_the_right_key(signed: Signed, keys: Keys) -> None:
    code, doc, err = verify(signed.ref, "--key", keys.pub_a, "--type", "slsaprovenance", "--type", CUSTOM)
    assert code == 0, err
    assert doc is not None and doc["outcome"] == "verified"
    sigs, atts = doc["signatures"], doc["attestations"]
    assert all(item["verified"] for item in sigs + atts), sigs + atts
    by_format = {item["format"]: item for item in sigs}
    assert set(by_format) == {"cosign simple-signing", "sigstore bundle v0.3"}
    legacy, bundle = by_format["cosign simple-signing"], by_format["sigstore bundle v0.3"]
    assert (
        legacy["foundIn"]["kind"] == "tag" and legacy["foundIn"]["tag"] == f"sha256-{signed.digest.hex}.sig"
    )
    assert bundle["foundIn"]["kind"] == "referrer" and bundle["foundIn"]["tag"] is None
    assert legacy["signer"]["keyId"] == bundle["signer"]["keyId"]
    assert legacy["tlog"].startswith("no tlog verification")
    assert {a["predicateType"] for a in atts} == {SLSA_V02, CUSTOM}
    assert {a["foundIn"]["kind"] for a in atts} == {"tag", "referrer"}
    assert doc["subjects"][0]["signers"] == [f"key {legacy['signer']['keyId']}"]
    # The text form names the signer, where each item came from and the attestation types.
    text = run_cli("verify", "--no-cache", signed.ref, "--key", keys.pub_a, "--type", CUSTOM)
    assert text.returncode == 0, text.stderr
    assert "VERIFIED" in text.stdout and CUSTOM in text.stdout and "sigstore bundle v0.3" in text.stdout
    assert f"tag sha256-{signed.digest.hex}.sig layer 0" in text.stdout


def test_real_cosign_verify_agrees_on_the_accepted_image(signed: Signed, keys: Keys) -> None:
    cosign_ok("cosign2", "verify", "--key", keys.pub_a, "--insecure-ignore-tlog", signed.ref, cwd=keys.a)
    cosign_ok("cosign3", "verify", "--key", keys.pub_a, "--insecure-ignore-tlog", signed.ref, cwd=keys.a)
    cosign_ok(
        "cosign2",
        "verify-attestation",
        "--key",
        keys.pub_a,
        "--insecure-ignore-tlog",
        "--type",
        "slsaprovenance",
        signed.ref,
        cwd=keys.a,
    )
    for binary in ("cosign2", "cosign3"):
        assert (
            cosign(
                binary, "verify", "--key", keys.pub_b, "--insecure-ignore-tlog", signed.ref, cwd=keys.a
            ).returncode
            != 0
        )


def test_slsa_provenance_flags_checked_against_the_signed_predicate(signed: Signed, keys: Keys) -> None:
    good = (
        "--slsa-builder-id",
        "https://example.test/builder",
        "--slsa-source-uri",
        "github.com/example/app",
    )
    code, doc, err = verify(signed.ref, "--key", keys.pub_a, *good, "--slsa-source-branch", "main")
    assert code == 0, err
    code, doc, _ = verify(signed.ref, "--key", keys.pub_a, *good, "--slsa-source-branch", "release")
    assert code == 1 and doc is not None
    slsa = next(a for a in doc["attestations"] if a["foundIn"]["kind"] == "tag")
    assert not slsa["verified"] and "expected branch 'release'" in slsa["reason"]


# ------------------------------------------------------------------------------------------ refused


def test_wrong_key_fails_every_item(signed: Signed, keys: Keys) -> None:
    code, doc, err = verify(signed.ref, "--key", keys.pub_b)
    assert code == 1, err
    assert doc is not None and doc["outcome"] == "failed"
    assert doc["signatures"] and not any(i["verified"] for i in doc["signatures"] + doc["attestations"])
    reasons = {i["format"]: i["reason"] for i in doc["signatures"]}
    assert "does not verify with any of 1 trusted key(s)" in reasons["cosign simple-signing"]
    assert "valid signatures from 0 distinct trusted key(s)" in reasons["sigstore bundle v0.3"]
    assert "verification failed" in err


def test_cve_2022_35929_unsigned_predicate_type_is_refused(signed: Signed, keys: Keys) -> None:
    code, doc, _ = verify(signed.ref, "--key", keys.pub_a, "--type", "spdx")
    assert code == 1 and doc is not None
    assert "no verified attestation of type https://spdx.dev/Document" in doc["reason"]
    done = cosign(
        "cosign2",
        "verify-attestation",
        "--key",
        keys.pub_a,
        "--insecure-ignore-tlog",
        "--type",
        "spdx",
        signed.ref,
        cwd=keys.a,
    )
    assert done.returncode != 0  # real cosign (fixed) agrees


def _copy_tag(server: RegistryServer, repository: str, source: Digest, target: Digest, suffix: str) -> None:
    client = repo_client(server, repository)
    fetched = client.get_tagged(f"{source.tag_form}.{suffix}")
    assert fetched is not None
    client.push_manifest(fetched.raw, fetched.descriptor.media_type, f"{target.tag_form}.{suffix}")


def test_signature_and_attestation_copied_to_another_image_are_refused(
    signed: Signed, keys: Keys, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    repo, other = push_image(tmp_path, registry_plain, "verify/signed:other", "other")
    _copy_tag(registry_plain, "verify/signed", signed.digest, other, "sig")
    _copy_tag(registry_plain, "verify/signed", signed.digest, other, "att")
    code, doc, _ = verify(f"{repo}@{other}", "--key", keys.pub_a, "--type", "slsaprovenance")
    assert code == 1 and doc is not None
    (sig,) = doc["signatures"]
    assert not sig["verified"] and f"signature is for image {signed.digest}, not {other}" in sig["reason"]
    (att,) = doc["attestations"]
    assert not att["verified"] and f"attestation subjects do not include {other}" in att["reason"]
    assert (
        cosign(
            "cosign2", "verify", "--key", keys.pub_a, "--insecure-ignore-tlog", f"{repo}@{other}", cwd=keys.a
        ).returncode
        != 0
    )


def test_tampered_payload_layer_is_refused(
    keys: Keys, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    repo, digest = push_image(tmp_path, registry_plain, "verify/tampered:v1", "tampered")
    sign(keys.a, f"{repo}@{digest}")
    client = repo_client(registry_plain, "verify/tampered")
    fetched = client.get_tagged(f"{digest.tag_form}.sig")
    assert fetched is not None
    manifest = json.loads(fetched.raw)
    layer = manifest["layers"][0]
    payload = client.read_blob(
        Descriptor(layer["mediaType"], Digest.parse(layer["digest"]), layer["size"]), 1 << 20
    )
    tampered = (
        payload.replace(b'"optional":null', b'"optional":{"x":"y"}')
        if b'"optional":null' in payload
        else payload + b" "
    )
    assert tampered != payload
    new = Descriptor(layer["mediaType"], Digest.of(tampered), len(tampered))
    client.push_blob(new, tampered)
    layer.update(digest=str(new.digest), size=new.size)
    client.push_manifest(json_bytes(manifest), fetched.descriptor.media_type, f"{digest.tag_form}.sig")
    code, doc, _ = verify(f"{repo}@{digest}", "--key", keys.pub_a)
    assert code == 1 and doc is not None
    (sig,) = doc["signatures"]
    assert not sig["verified"] and "does not verify" in sig["reason"]


def test_unsigned_image_fails_with_no_signatures_found(
    keys: Keys, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    repo, digest = push_image(tmp_path, registry_plain, "verify/unsigned:v1", "unsigned")
    code, doc, err = verify(f"{repo}:v1", "--key", keys.pub_a)
    assert code == 1, err
    assert doc is not None and doc["subjects"][0]["reason"] == "no signatures found"
    assert doc["digest"] == str(digest)


# ---------------------------------------------------------------------------------------- threshold


def test_threshold_counts_distinct_keys(
    signed: Signed, keys: Keys, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    # ``signed`` carries two signatures (.sig and a v0.3 bundle), both by key A: one signer.
    code, doc, _ = verify(signed.ref, "--key", keys.pub_a, "--key", keys.pub_b, "--threshold", "2")
    assert code == 1 and doc is not None
    assert sum(1 for s in doc["signatures"] if s["verified"]) == 2
    assert "1 distinct signer(s) verified of 2 required" in doc["reason"]
    repo, digest = push_image(tmp_path, registry_plain, "verify/two-keys:v1", "two-keys")
    sign(keys.a, f"{repo}@{digest}")
    sign(keys.b, f"{repo}@{digest}")
    code, doc, err = verify(f"{repo}@{digest}", "--key", keys.pub_a, "--key", keys.pub_b, "--threshold", "2")
    assert code == 0, err
    assert doc is not None and len(doc["subjects"][0]["signers"]) == 2


# ------------------------------------------------------------------------------------------ multi-arch


def test_all_platforms_verifies_index_and_each_platform(
    keys: Keys, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    images = [
        build_image([LayerSpec.from_files({"arch": p})], platform=p)
        for p in ("linux/amd64", "linux/arm64/v8")
    ]
    index = build_index(images)
    layout = write_layout(tmp_path / "multi", {"multi": index})
    repo = push(layout, "multi", registry_plain, "verify/multi:1", all_platforms=True).rsplit(":", 1)[0]
    ref = f"{repo}@{index.digest}"
    sign(keys.a, ref)  # the index only
    code, doc, _ = verify(ref, "--key", keys.pub_a, "--all-platforms")
    assert code == 1 and doc is not None
    outcomes = {(s["role"], s["platform"]): s["outcome"] for s in doc["subjects"]}
    assert outcomes == {
        ("index", None): "verified",
        ("platform", "linux/amd64"): "failed",
        ("platform", "linux/arm64/v8"): "failed",
    }
    code, _, err = verify(ref, "--key", keys.pub_a)  # without --all-platforms only the index is checked
    assert code == 0, err
    sign(keys.a, ref, "--recursive")
    code, doc, err = verify(ref, "--key", keys.pub_a, "--all-platforms")
    assert code == 0, err
    assert doc is not None and [s["outcome"] for s in doc["subjects"]] == ["verified"] * 3
    assert {s["subject"] for s in doc["signatures"]} == {str(index.digest)} | {str(i.digest) for i in images}


# ------------------------------------------------------------------------------------ alternate repository


def test_signatures_in_an_alternate_repository(
    keys: Keys, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    repo, digest = push_image(tmp_path, registry_plain, "verify/alt-image:v1", "alt")
    sigs = f"{registry_plain.host}/verify/alt-signatures"
    sign(keys.a, f"{repo}@{digest}", env={"COSIGN_REPOSITORY": sigs})
    code, doc, _ = verify(f"{repo}@{digest}", "--key", keys.pub_a)
    assert code == 1 and doc is not None and doc["subjects"][0]["reason"] == "no signatures found"
    code, doc, err = verify(f"{repo}@{digest}", "--key", keys.pub_a, "--signature-repository", sigs)
    assert code == 0, err
    assert doc is not None and doc["signatures"][0]["foundIn"]["repository"] == sigs
    code, _, err = verify(f"{repo}@{digest}", "--key", keys.pub_a, env={"COSIGN_REPOSITORY": sigs})
    assert code == 0, err


# ----------------------------------------------------------------------------------- indeterminate (G)


@pytest.fixture
def proxy(registry_plain: RegistryServer) -> Iterator[list[FaultInjector]]:
    started: list[FaultInjector] = []
    yield started
    for injector in started:
        injector.stop()


def _forwarding(registry: RegistryServer, fail: str, status: int) -> Any:
    """Forward to the real registry, except requests whose path contains ``fail``, which get ``status``."""

    def route(seen: Seen) -> Reply:
        if fail in seen.path:
            return Reply(status, {"Retry-After": "0"}, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}')
        connection = http.client.HTTPConnection(registry.host, timeout=10)
        headers = {k: v for k, v in seen.headers.items() if k in ("accept", "authorization")}
        connection.request(seen.method, seen.path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        keep = {
            k: v
            for k, v in response.getheaders()
            if k.lower() in ("content-type", "docker-content-digest", "link")
        }
        connection.close()
        return Reply(response.status, keep, body)

    return route


@pytest.mark.parametrize(("where", "status"), [(".sig", 503), ("/manifests/sha256-", 429)])
def test_registry_errors_during_discovery_are_indeterminate(
    signed: Signed,
    keys: Keys,
    registry_plain: RegistryServer,
    proxy: list[FaultInjector],
    where: str,
    status: int,
) -> None:
    injector = FaultInjector(_forwarding(registry_plain, where, status))
    proxy.append(injector)
    ref = f"{injector.host}/verify/signed@{signed.digest}"
    code, doc, err = verify(ref, "--key", keys.pub_a)
    assert code == 3, err  # never 1 ("unsigned") and never 0
    assert doc is not None and doc["outcome"] == "indeterminate"
    assert doc["subjects"][0]["reason"].startswith("could not check")
    assert "could not check" in err
    assert any(where in s.path for s in injector.api())


def test_referrers_are_read_only_when_the_cosign_tags_do_not_verify(
    signed: Signed, keys: Keys, registry_plain: RegistryServer, proxy: list[FaultInjector]
) -> None:
    injector = FaultInjector(_forwarding(registry_plain, "no-path-has-this", 500))
    proxy.append(injector)
    ref = f"{injector.host}/verify/signed@{signed.digest}"
    code, doc, err = verify(ref, "--key", keys.pub_a, "--type", "slsaprovenance")
    assert code == 0, err
    assert doc is not None
    paths = [s.path for s in injector.api()]
    assert not any("/referrers/" in p or p.endswith(f"sha256-{signed.digest.hex}") for p in paths), paths
    assert any("referrers: not read" in where for where in doc["subjects"][0]["lookedIn"])
    # The custom predicate is only in a referrer bundle: the tags alone fail, so the referrers are read.
    injector.seen.clear()
    code, doc, err = verify(ref, "--key", keys.pub_a, "--type", CUSTOM)
    assert code == 0, err
    assert doc is not None
    paths = [s.path for s in injector.api()]
    assert any(p.endswith(f"sha256-{signed.digest.hex}") for p in paths), paths
    # the tags' payloads are not fetched again for the second look
    blobs = [p for p in paths if "/blobs/" in p]
    assert len(blobs) == len(set(blobs)), blobs
    assert not any("not read" in where for where in doc["subjects"][0]["lookedIn"])


# ----------------------------------------------------------------------------------------- bounds (H)


def _push_sig_manifest(client: RegistryRepository, digest: Digest, layers: list[Descriptor]) -> None:
    config = b"{}"
    config_descriptor = Descriptor(media.OCI_CONFIG, Digest.of(config), len(config))
    client.push_blob(config_descriptor, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": config_descriptor.to_json(),
        "layers": [
            {**layer.to_json(), "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}}
            for layer in layers
        ],
    }
    client.push_manifest(json_bytes(manifest), media.OCI_MANIFEST, f"{digest.tag_form}.sig")


def test_too_many_signature_layers_is_limit_exceeded(
    keys: Keys, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    repo, digest = push_image(tmp_path, registry_plain, "verify/many:v1", "many")
    client = repo_client(registry_plain, "verify/many")
    payload = b'{"critical":{}}'
    layer = Descriptor("application/vnd.dev.cosign.simplesigning.v1+json", Digest.of(payload), len(payload))
    client.push_blob(layer, payload)
    _push_sig_manifest(client, digest, [layer] * 101)  # Limits.attached_items is 100
    code, doc, err = verify(f"{repo}@{digest}", "--key", keys.pub_a)
    assert code == 3, err
    assert doc is not None and "101 items exceeds the limit of 100" in doc["reason"]


def test_huge_signature_blob_is_refused_before_reading(
    keys: Keys, registry_plain: RegistryServer, tmp_path: Path
) -> None:
    repo, digest = push_image(tmp_path, registry_plain, "verify/huge:v1", "huge")
    client = repo_client(registry_plain, "verify/huge")
    payload = b" " * (16 * 1024 * 1024 + 1)  # one byte over Limits.small_blob_bytes
    layer = Descriptor("application/vnd.dev.cosign.simplesigning.v1+json", Digest.of(payload), len(payload))
    client.push_blob(layer, payload)
    _push_sig_manifest(client, digest, [layer])
    code, doc, err = verify(f"{repo}@{digest}", "--key", keys.pub_a)
    assert code == 3, err
    assert doc is not None and "exceeds the limit of 16777216" in doc["reason"]


def test_rekor_key_makes_the_log_entry_required_for_keyed_items(signed: Signed, keys: Keys) -> None:
    # Signed with --tlog-upload=false: nothing was logged, so asking for tlog verification must fail.
    code, doc, _ = verify(signed.ref, "--key", keys.pub_a, "--rekor-key", keys.pub_b)
    assert code == 1 and doc is not None and doc["requirements"]["tlogChecked"] is True
    reasons = {i["format"]: i["reason"] for i in doc["signatures"]}
    assert "carries no Rekor bundle" in reasons["cosign simple-signing"]
    assert "no log entry with a SignedEntryTimestamp" in reasons["sigstore bundle v0.3"]
