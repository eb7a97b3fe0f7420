"""in-toto layout verification with the REAL in-toto demo material (layout template, classic and DSSE links,
public TEST keys from in-toto's repository), re-signed here where a test needs a changed layout or link.

Inspections are refused and never run: the demo's inspection is replaced by one whose command would create a
marker file, and the marker must not appear (in-toto's own `in_toto_verify` is shown to create it).
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from in_toto.models.layout import Layout
from in_toto.models.link import Link
from in_toto.models.metadata import Envelope, Metablock
from securesystemslib.signer import CryptoSigner, SSlibKey

from imagetrust.errors import LocalInputError, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.verify.layout import load_layout_key, verify_layout
from tests.conftest import shared_data

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOB = "776a00e29f3559e0141b3b096f696abc6cfb0c657ab40f441132b345b08453f5"  # write-code
CARL = "2f89b9272acfc8f4a0a0f094d789fdb0ba798b0fe41f2f5f417c12f0085ff498"  # package


def demo(name: str) -> Path:
    return shared_data(f"sigstore/in-toto/tests/{name}")


def private(path: Path) -> Any:
    return serialization.load_pem_private_key(path.read_bytes(), None)


def write_pub(priv: Any, path: Path) -> Path:
    path.write_bytes(
        priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def template() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((demo("demo_files") / "demo.layout.template").read_text())
    signed: dict[str, Any] = doc["signed"]
    signed["inspect"] = []
    signed["expires"] = "2030-01-01T00:00:00Z"
    return signed


def sign_layout(signed: dict[str, Any], key: Path, out: Path, *, dsse: bool = False) -> Path:
    layout = Layout.read(copy.deepcopy(signed))
    signer = CryptoSigner(private(key))
    if dsse:
        envelope = Envelope.from_signable(layout)
        envelope.create_signature(signer)
        envelope.dump(str(out))
    else:
        block = Metablock(signed=layout)
        block.create_signature(signer)
        block.dump(str(out))
    return out


def functionary_signer(name: str, keyid: str) -> CryptoSigner:
    """A demo functionary's signer carrying the keyid the layout lists for it."""
    key_dict = copy.deepcopy(template()["keys"][keyid])
    return CryptoSigner(private(demo("demo_files") / name), SSlibKey.from_dict(keyid, key_dict))


def link_dir(tmp: Path, source: str = "demo_files") -> Path:
    links = tmp / "links"
    links.mkdir(exist_ok=True)
    for link in demo(source).glob("*.link"):
        shutil.copy(link, links)
    return links


@pytest.fixture
def alice(tmp_path: Path) -> Path:
    return write_pub(private(demo("demo_files") / "alice"), tmp_path / "alice.pub")


def run(layout: Path, keys: list[Path], links: Path, now: datetime = NOW) -> Any:
    return verify_layout(layout, [load_layout_key(k) for k in keys], links, limits=Limits(), now=now)


# ------------------------------------------------------------------------------------------- accepted


def test_demo_layout_with_classic_links_verifies(tmp_path: Path, alice: Path) -> None:
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    verified = run(layout, [alice], link_dir(tmp_path))
    assert verified.steps == ("write-code", "package")
    assert dict(verified.functionaries) == {"write-code": (BOB,), "package": (CARL,)}
    assert verified.expires == datetime(2030, 1, 1, tzinfo=UTC)


def test_dsse_layout_with_dsse_links_verifies(tmp_path: Path, alice: Path) -> None:
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout", dsse=True)
    assert "payloadType" in json.loads(layout.read_text())
    verified = run(layout, [alice], link_dir(tmp_path, "demo_dsse_files"))
    assert verified.steps == ("write-code", "package")


@pytest.mark.parametrize("pem", ["ecdsa_private_unencrypted.pem", "ed25519_private_unencrypted.pem"])
def test_layout_signed_with_ecdsa_or_ed25519_verifies(tmp_path: Path, pem: str) -> None:
    key = demo("pems") / pem
    layout = sign_layout(template(), key, tmp_path / "root.layout")
    verified = run(layout, [write_pub(private(key), tmp_path / "k.pub")], link_dir(tmp_path))
    assert len(verified.layout_keys) == 1


# ------------------------------------------------------------------------------------------- refused


def test_layout_key_that_did_not_sign_is_refused(tmp_path: Path, alice: Path) -> None:
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    danny = write_pub(private(demo("pems") / "rsa_private_unencrypted.pem"), tmp_path / "other.pub")
    with pytest.raises(VerificationFailed, match="SignatureVerificationError"):
        run(layout, [danny], link_dir(tmp_path))
    # Every given layout key must have signed: alice's signature alone does not satisfy alice + danny.
    with pytest.raises(VerificationFailed, match="SignatureVerificationError"):
        run(layout, [alice, danny], link_dir(tmp_path))


def test_layout_changed_after_signing_is_refused(tmp_path: Path, alice: Path) -> None:
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    doc = json.loads(layout.read_text())
    doc["signed"]["steps"][1]["expected_products"].append(["ALLOW", "*"])
    layout.write_text(json.dumps(doc))
    with pytest.raises(VerificationFailed, match="SignatureVerificationError"):
        run(layout, [alice], link_dir(tmp_path))


def test_expired_layout_is_refused(tmp_path: Path, alice: Path) -> None:
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    with pytest.raises(VerificationFailed, match="expired"):
        run(layout, [alice], link_dir(tmp_path), now=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=1))


def test_missing_link_is_refused(tmp_path: Path, alice: Path) -> None:
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    links = link_dir(tmp_path)
    (links / "package.2f89b927.link").unlink()
    with pytest.raises(VerificationFailed, match="step package needs 1 link"):
        run(layout, [alice], links)


def test_tampered_link_is_refused(tmp_path: Path, alice: Path) -> None:
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    links = link_dir(tmp_path)
    path = links / "write-code.776a00e2.link"
    doc = json.loads(path.read_text())
    doc["signed"]["products"]["foo.py"]["sha256"] = "0" * 64
    path.write_text(json.dumps(doc))
    with pytest.raises(VerificationFailed, match="ThresholdVerificationError"):
        run(layout, [alice], links)


def test_link_signed_by_an_unauthorised_key_is_refused(tmp_path: Path, alice: Path) -> None:
    """Another RSA key signs a write-code link under bob's keyid: it does not verify with bob's key."""
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    links = link_dir(tmp_path)
    original = Metablock.load(str(links / "write-code.776a00e2.link"))
    bob_slot = copy.deepcopy(template()["keys"][BOB])
    forged = Metablock(signed=original.signed)
    forged.create_signature(
        CryptoSigner(private(demo("pems") / "rsa_private_unencrypted.pem"), SSlibKey.from_dict(BOB, bob_slot))
    )
    forged.dump(str(links / "write-code.776a00e2.link"))
    with pytest.raises(VerificationFailed, match="ThresholdVerificationError"):
        run(layout, [alice], links)


def inspection(marker: Path) -> dict[str, Any]:
    return {
        "_type": "inspection",
        "name": "untar",
        "expected_materials": [],
        "expected_products": [],
        "run": ["python3", "-c", f"open({str(marker)!r}, 'w').write('ran')"],
    }


def test_inspection_command_is_never_run(
    tmp_path: Path, alice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "inspection-ran"
    signed = template()
    signed["inspect"] = [inspection(marker)]
    layout = sign_layout(signed, demo("demo_files") / "alice", tmp_path / "root.layout")
    links = link_dir(tmp_path)
    with pytest.raises(VerificationFailed, match=r"inspections \(untar\).*refused"):
        run(layout, [alice], links)
    assert not marker.exists()
    # The hazard is real: the library's own verifier runs the layout author's command.
    from in_toto.verifylib import in_toto_verify

    monkeypatch.chdir(tmp_path)
    key = load_layout_key(alice)
    in_toto_verify(Metablock.load(str(layout)), {key.keyid: dict(key.key_dict)}, link_dir_path=str(links))
    assert marker.read_text() == "ran"


def test_sublayout_is_refused_and_its_inspection_not_run(tmp_path: Path, alice: Path) -> None:
    """bob delivers a signed sublayout (with an inspection) instead of his write-code link."""
    marker = tmp_path / "sub-inspection-ran"
    layout = sign_layout(template(), demo("demo_files") / "alice", tmp_path / "root.layout")
    links = link_dir(tmp_path)
    sub = template()
    sub["steps"] = []
    sub["inspect"] = [inspection(marker)]
    block = Metablock(signed=Layout.read(sub))
    block.create_signature(functionary_signer("bob", BOB))
    block.dump(str(links / "write-code.776a00e2.link"))
    sub_links = links / "write-code.776a00e2"
    sub_links.mkdir()
    with pytest.raises(VerificationFailed, match="sublayout"):
        run(layout, [alice], links)
    assert not marker.exists()


# --------------------------------------------------------------------- SECURITY-CASES K: artifact rules


def resign_package_link(links: Path, products: dict[str, Any]) -> None:
    original = Metablock.load(str(links / "package.2f89b927.link"))
    link: Link = original.signed
    link.products = products
    block = Metablock(signed=link)
    block.create_signature(functionary_signer("carl", CARL))
    block.dump(str(links / "package.2f89b927.link"))


def test_disallow_star_catches_a_product_in_a_subdirectory(tmp_path: Path, alice: Path) -> None:
    """``*`` crosses ``/`` in the reference implementation: a nested unexpected product is caught."""
    signed = template()
    signed["steps"][1]["expected_products"].append(["DISALLOW", "*"])
    layout = sign_layout(signed, demo("demo_files") / "alice", tmp_path / "root.layout")
    links = link_dir(tmp_path)
    run(layout, [alice], links)  # the real demo products pass
    original = Metablock.load(str(links / "package.2f89b927.link")).signed.products
    resign_package_link(links, {**original, "sub/dir/evil.sh": {"sha256": "1" * 64}})
    with pytest.raises(VerificationFailed, match="RuleVerificationError"):
        run(layout, [alice], links)


def test_allow_pattern_does_not_admit_a_sibling_name(tmp_path: Path, alice: Path) -> None:
    signed = template()
    signed["steps"][1]["expected_products"] = [
        ["CREATE", "foo.tar.gz"],
        ["ALLOW", "foo.py"],
        ["DISALLOW", "*"],
    ]
    layout = sign_layout(signed, demo("demo_files") / "alice", tmp_path / "root.layout")
    links = link_dir(tmp_path)
    original = Metablock.load(str(links / "package.2f89b927.link")).signed.products
    resign_package_link(links, {**original, "foo.pyc": {"sha256": "2" * 64}})
    with pytest.raises(VerificationFailed, match="RuleVerificationError"):
        run(layout, [alice], links)


@pytest.mark.parametrize("pattern", ["[!f]*", "[^f]*", "dir/[!a-z].py"])
def test_bracket_negation_is_refused_as_ambiguous(tmp_path: Path, alice: Path, pattern: str) -> None:
    """Go and Python in-toto read ``[!x]``/``[^x]`` differently (GHSA-pmwq-pjrm-6p5r): refuse, never guess."""
    signed = template()
    signed["steps"][1]["expected_products"].append(["DISALLOW", pattern])
    layout = sign_layout(signed, demo("demo_files") / "alice", tmp_path / "root.layout")
    with pytest.raises(VerificationFailed, match="bracket negation"):
        run(layout, [alice], link_dir(tmp_path))


def test_step_name_that_would_leave_the_link_dir_is_refused(tmp_path: Path, alice: Path) -> None:
    signed = template()
    signed["steps"][0]["name"] = "../outside"
    layout = sign_layout(signed, demo("demo_files") / "alice", tmp_path / "root.layout")
    with pytest.raises(VerificationFailed, match="cannot name a link file"):
        run(layout, [alice], link_dir(tmp_path))


def test_unreadable_inputs_are_local_errors(tmp_path: Path, alice: Path) -> None:
    with pytest.raises(LocalInputError, match="layout not found"):
        run(tmp_path / "absent.layout", [alice], tmp_path)
    (tmp_path / "bad.pub").write_text("not a key")
    with pytest.raises(LocalInputError, match="not a PEM public key"):
        load_layout_key(tmp_path / "bad.pub")
    big = tmp_path / "big.layout"
    big.write_bytes(b" " * 2048)
    with pytest.raises(LocalInputError, match="larger than"):
        verify_layout(big, [load_layout_key(alice)], tmp_path, limits=Limits(small_blob_bytes=1024), now=NOW)
