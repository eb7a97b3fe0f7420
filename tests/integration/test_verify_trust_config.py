"""`imagetrust verify --trust-config`: image-name rules from a trust-roots config, against images signed by
REAL cosign 2.5 (`.sig` tags) and cosign 3.1 (bundle referrers) in the REAL docker-registry.

Each rule that matches must be met on its own (distinct authorities up to its threshold); an image that
no rule matches is refused; flags given alongside a config add one more required authority set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_verify_cosign import push_image, verify
from tests.support.cosign import Keys, cosign_ok, sign
from tests.support.registry import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.interop]


@dataclass(frozen=True)
class Images:
    host: str
    both: str  # signed by key A (cosign 2 .sig) and key B (cosign 3 bundle)
    only_a: str
    other: str  # in a repository no rule names, signed by A


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys.generate(tmp_path_factory, "tc-key")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, registry_plain: RegistryServer, keys: Keys) -> Images:
    tmp = tmp_path_factory.mktemp("tc-images")
    refs = {}
    for name in ("both", "only-a", "other"):
        repo_path = f"other/{name}:v1" if name == "other" else f"tc/{name}:v1"
        repo, digest = push_image(tmp, registry_plain, repo_path, f"tc-{name}")
        refs[name] = f"{repo}@{digest}"
        sign(keys.a, refs[name])
    common = ("--key", "cosign.key", "--use-signing-config=false", "--tlog-upload=false", "-y")
    cosign_ok("cosign3", "sign", *common, refs["both"], cwd=keys.b)
    return Images(registry_plain.host, refs["both"], refs["only-a"], refs["other"])


def write_config(path: Path, rules: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps({"version": 1, "images": rules}))
    return str(path)


def key_authority(name: str, keydir: Path) -> dict[str, Any]:
    return {"name": name, "key": {"path": str(keydir / "cosign.pub")}}


def test_rule_with_threshold_two_needs_both_distinct_signers(
    images: Images, keys: Keys, tmp_path: Path
) -> None:
    rule = {
        "glob": f"{images.host}/tc/**",
        "threshold": 2,
        "authorities": [key_authority("a", keys.a), key_authority("b", keys.b)],
    }
    config = write_config(tmp_path / "c.json", [rule])
    code, doc, err = verify(images.both, "--trust-config", config)
    assert code == 0, err
    assert doc is not None and doc["outcome"] == "verified"
    assert doc["requirements"]["trustConfig"] == config
    (applied,) = doc["subjects"][0]["rules"]
    assert applied["satisfied"] and sorted(applied["verifiedAuthorities"]) == ["a", "b"]
    formats = {s["format"] for s in doc["signatures"] if s["verified"]}
    assert formats == {"cosign simple-signing", "sigstore bundle v0.3"}

    code, doc, err = verify(images.only_a, "--trust-config", config)
    assert code == 1, err
    assert doc is not None and doc["outcome"] == "failed"
    (applied,) = doc["subjects"][0]["rules"]
    assert not applied["satisfied"] and applied["verifiedAuthorities"] == ["a"]
    assert "1 of 2 required authorities" in doc["subjects"][0]["reason"]


def test_image_no_rule_matches_is_refused(images: Images, keys: Keys, tmp_path: Path) -> None:
    rule = {"glob": f"{images.host}/tc/*", "authorities": [key_authority("a", keys.a)]}
    config = write_config(tmp_path / "c.json", [rule])
    code, doc, err = verify(images.other, "--trust-config", config)
    assert code == 1, err
    assert doc is not None and doc["outcome"] == "failed"
    assert f"no trust rule for {images.host}/other/other" in doc["reason"]
    # The same image under a rule naming its repository verifies: the refusal was the missing rule.
    config = write_config(
        tmp_path / "d.json", [{"glob": f"{images.host}/other/*", "authorities": [key_authority("a", keys.a)]}]
    )
    code, _, err = verify(images.other, "--trust-config", config)
    assert code == 0, err


def test_glob_does_not_match_a_longer_host(images: Images, keys: Keys, tmp_path: Path) -> None:
    host_prefix = images.host.rsplit(":", 1)[0]  # 127.0.0.1 ; the image lives on 127.0.0.1:PORT
    rule = {"glob": f"{host_prefix}/tc/**", "authorities": [key_authority("a", keys.a)]}
    code, doc, _ = verify(images.only_a, "--trust-config", write_config(tmp_path / "c.json", [rule]))
    assert code == 1 and doc is not None and "no trust rule for" in doc["reason"]


def test_every_matching_rule_must_hold(images: Images, keys: Keys, tmp_path: Path) -> None:
    rules = [
        {"glob": f"{images.host}/tc/**", "authorities": [key_authority("a", keys.a)]},
        {"glob": f"{images.host}/tc/only-a", "authorities": [key_authority("b", keys.b)]},
    ]
    code, doc, err = verify(images.only_a, "--trust-config", write_config(tmp_path / "c.json", rules))
    assert code == 1, err
    assert doc is not None
    satisfied = [r["satisfied"] for r in doc["subjects"][0]["rules"]]
    assert satisfied == [True, False]
    # Only the first rule matches the other image, and it is met.
    code, _, err = verify(images.both, "--trust-config", write_config(tmp_path / "c.json", rules))
    assert code == 0, err


def test_same_key_under_two_names_counts_once(images: Images, keys: Keys, tmp_path: Path) -> None:
    rule = {
        "glob": f"{images.host}/tc/**",
        "threshold": 2,
        "authorities": [key_authority("a", keys.a), key_authority("a-again", keys.a)],
    }
    code, doc, err = verify(images.both, "--trust-config", write_config(tmp_path / "c.json", [rule]))
    assert code == 1, err
    assert doc is not None and doc["subjects"][0]["rules"][0]["verifiedAuthorities"] == ["a"]


def test_flags_add_a_required_authority_set(images: Images, keys: Keys, tmp_path: Path) -> None:
    rule = {"glob": f"{images.host}/tc/**", "authorities": [key_authority("a", keys.a)]}
    config = write_config(tmp_path / "c.json", [rule])
    # Config met by A, but the flag asks for B as well: only the image B also signed passes.
    code, doc, err = verify(images.only_a, "--trust-config", config, "--key", keys.pub_b)
    assert code == 1, err
    assert doc is not None and "0 distinct signer(s) verified of 1" in doc["reason"]
    code, _, err = verify(images.both, "--trust-config", config, "--key", keys.pub_b)
    assert code == 0, err
    # And the flag alone never bypasses the config's refusal of an unmatched image.
    code, doc, _ = verify(images.other, "--trust-config", config, "--key", keys.pub_a)
    assert code == 1 and doc is not None and "no trust rule for" in doc["reason"]


def test_wrong_key_in_config_fails_with_the_authority_named(
    images: Images, keys: Keys, tmp_path: Path
) -> None:
    rule = {"glob": f"{images.host}/tc/**", "authorities": [key_authority("b", keys.b)]}
    code, doc, _ = verify(images.only_a, "--trust-config", write_config(tmp_path / "c.json", [rule]))
    assert code == 1
    assert doc is not None
    (sig,) = doc["signatures"]
    assert not sig["verified"] and sig["reason"].startswith("authority b:")


def test_misspelt_config_is_a_usage_error(images: Images, keys: Keys, tmp_path: Path) -> None:
    rule = {"glob": f"{images.host}/tc/**", "treshold": 1, "authorities": [key_authority("a", keys.a)]}
    code, doc, err = verify(images.only_a, "--trust-config", write_config(tmp_path / "c.json", [rule]))
    assert code == 2 and doc is None, (code, doc, err)
    assert "unknown key 'treshold'" in err


def test_offline_source_has_no_name_and_is_refused(tmp_path: Path, keys: Keys) -> None:
    from tests.support.images import LayerSpec, build_image, write_layout

    layout = write_layout(tmp_path / "layout", {"v1": build_image([LayerSpec.from_files({"m": "x"})])})
    rule = {"glob": "**", "authorities": [key_authority("a", keys.a)]}
    code, doc, _ = verify(f"oci:{layout}:v1", "--trust-config", write_config(tmp_path / "c.json", [rule]))
    assert code == 1 and doc is not None and "no trust rule for oci:" in doc["reason"]
