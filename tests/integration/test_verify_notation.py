"""`imagetrust verify --notation-trust-store` against signatures written by REAL notation 1.3 (JWS and COSE)
into the REAL docker-registry (no referrers API: notation writes the referrers tag schema), and real
`notation verify` on the same images.

Refused: a trust store that does not hold the signer, a signature re-pointed at another image, an expired
signature (`--expiry 1s`, then waited out).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from imagetrust.oci import media
from imagetrust.oci.digest import Digest
from tests.conftest import tool_path
from tests.integration.test_verify_cosign import push_image, repo_client, verify
from tests.support.images import json_bytes
from tests.support.registry import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.interop]

NOTATION_SIG = "application/vnd.cncf.notary.signature"


def notation(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_path("notation")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "XDG_CONFIG_HOME": str(config)},
    )


def notation_ok(config: Path, *args: str) -> None:
    done = notation(config, *args)
    assert done.returncode == 0, done.stderr[-2000:]


def trust_policy(config: Path, store: str) -> None:
    policy = {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": "all",
                "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"},
                "trustStores": [f"ca:{store}"],
                "trustedIdentities": ["*"],
            }
        ],
    }
    (config / "notation" / "trustpolicy.json").write_text(json.dumps(policy))


@dataclass(frozen=True)
class Signed:
    config: Path
    store: Path  # notation's own trust store layout: x509/ca/<name>/
    other_store: Path  # a trust store with an unrelated test signer
    repo: str
    jws: Digest
    cose: Digest
    expired: Digest
    unsigned: Digest

    def ref(self, digest: Digest) -> str:
        return f"{self.repo}@{digest}"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer) -> Signed:
    config = tmp_path_factory.mktemp("notation-config")
    notation_ok(config, "cert", "generate-test", "--default", "imagetrust-test")
    trust_policy(config, "imagetrust-test")
    other = tmp_path_factory.mktemp("notation-other")
    notation_ok(other, "cert", "generate-test", "other-signer")
    tmp = tmp_path_factory.mktemp("notation-images")
    digests = {}
    for name in ("jws", "cose", "expired", "unsigned"):
        repo, digests[name] = push_image(tmp, registry_plain, f"notation/app:{name}", f"notation-{name}")
    ref = lambda d: f"{repo}@{d}"  # noqa: E731
    notation_ok(config, "sign", "--insecure-registry", ref(digests["jws"]))
    notation_ok(config, "sign", "--insecure-registry", "--signature-format", "cose", ref(digests["cose"]))
    notation_ok(config, "sign", "--insecure-registry", "--expiry", "1s", ref(digests["expired"]))
    return Signed(
        config,
        config / "notation" / "truststore",
        other / "notation" / "truststore",
        repo,
        digests["jws"],
        digests["cose"],
        digests["expired"],
        digests["unsigned"],
    )


@pytest.mark.parametrize(("which", "fmt"), [("jws", "notation JWS"), ("cose", "notation COSE")])
def test_real_notation_signature_verifies(signed: Signed, which: str, fmt: str) -> None:
    digest = getattr(signed, which)
    code, doc, err = verify(signed.ref(digest), "--notation-trust-store", str(signed.store))
    assert code == 0, err
    assert doc is not None and doc["outcome"] == "verified"
    (sig,) = doc["signatures"]
    assert sig["verified"] and sig["format"] == fmt
    assert sig["signer"]["identity"].startswith("CN=imagetrust-test")
    assert sig["signer"]["issuer"] == "notation ca:imagetrust-test"
    assert sig["foundIn"]["kind"] == "referrer"
    # Real notation agrees on the same image with the same trust store (strict policy).
    done = notation(signed.config, "verify", "--insecure-registry", signed.ref(digest))
    assert done.returncode == 0, done.stderr


def test_plain_directory_of_pem_certificates_is_a_trust_store(signed: Signed, tmp_path: Path) -> None:
    store = tmp_path / "certs"
    store.mkdir()
    for cert in (signed.store / "x509" / "ca" / "imagetrust-test").iterdir():
        (store / f"{cert.stem}.pem").write_bytes(cert.read_bytes())
    code, _, err = verify(signed.ref(signed.jws), "--notation-trust-store", str(store))
    assert code == 0, err


def test_wrong_trust_store_is_refused(signed: Signed) -> None:
    code, doc, _ = verify(signed.ref(signed.jws), "--notation-trust-store", str(signed.other_store))
    assert code == 1
    assert doc is not None
    (sig,) = doc["signatures"]
    assert not sig["verified"] and "does not lead to the trust store" in sig["reason"]


def test_unsigned_image_has_no_signatures(signed: Signed) -> None:
    code, doc, _ = verify(signed.ref(signed.unsigned), "--notation-trust-store", str(signed.store))
    assert code == 1 and doc is not None and "no signatures found" in doc["reason"]


def test_signature_copied_to_another_image_is_refused(signed: Signed, registry_plain: RegistryServer) -> None:
    """The JWS image's signature manifest re-pointed at the unsigned image, listed in its fallback index."""
    client = repo_client(registry_plain, "notation/app")
    fetched = client.get_tagged(signed.jws.tag_form)
    assert fetched is not None
    index = json.loads(fetched.raw)
    (entry,) = index["manifests"]
    manifest = json.loads(client.get_manifest(Digest.parse(entry["digest"])).raw)
    target = client.get_manifest(signed.unsigned)
    manifest["subject"] = {
        "mediaType": media.OCI_MANIFEST,
        "digest": str(signed.unsigned),
        "size": len(target.raw),
    }
    raw = json_bytes(manifest)
    moved = client.push_manifest(raw, media.OCI_MANIFEST, None)
    listing = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": [{**entry, "digest": str(moved), "size": len(raw)}],
    }
    client.push_manifest(json_bytes(listing), media.OCI_INDEX, signed.unsigned.tag_form)
    try:
        code, doc, _ = verify(signed.ref(signed.unsigned), "--notation-trust-store", str(signed.store))
        assert code == 1
        assert doc is not None
        (sig,) = doc["signatures"]
        assert not sig["verified"] and f"signature is for {signed.jws}" in sig["reason"]
        done = notation(signed.config, "verify", "--insecure-registry", signed.ref(signed.unsigned))
        assert done.returncode != 0
    finally:
        empty = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": []}
        client.push_manifest(json_bytes(empty), media.OCI_INDEX, signed.unsigned.tag_form)


def test_expired_signature_is_refused(signed: Signed) -> None:
    time.sleep(1.2)
    code, doc, _ = verify(signed.ref(signed.expired), "--notation-trust-store", str(signed.store))
    assert code == 1
    assert doc is not None
    (sig,) = doc["signatures"]
    assert not sig["verified"] and "expired" in sig["reason"]
    done = notation(signed.config, "verify", "--insecure-registry", signed.ref(signed.expired))
    assert done.returncode != 0, done.stdout
