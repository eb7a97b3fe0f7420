"""Trusted roots (trusted_root.json) and the trust-roots config that maps images to authorities."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from imagetrust.errors import ConfigError, LocalInputError
from imagetrust.trust.config import Authority, load_trust_config, parse_trust_config
from imagetrust.trust.paths import public_good_trusted_root, trust_roots_dir
from imagetrust.trust.sigstore_root import load_trusted_root, parse_trusted_root
from tests.conftest import REPO
from tests.support.sigstore_instance import SigstoreInstance

PINNED_SHA256 = "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66"
GITHUB = "https://token.actions.githubusercontent.com"


# -- trusted_root.json ----------------------------------------------------------------------------------


def test_pinned_public_good_root_is_the_reviewed_one() -> None:
    path = public_good_trusted_root()
    assert path == REPO / "trust-roots" / "public-good.trusted_root.json"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PINNED_SHA256
    assert PINNED_SHA256 in (REPO / "trust-roots" / "README.md").read_text()
    root = load_trusted_root(path)
    assert {log.base_url for log in root.tlogs} == {
        "https://rekor.sigstore.dev",
        "https://log2025-1.rekor.sigstore.dev",
    }
    assert len(root.certificate_authorities) == 2
    assert all(ca.valid_for.start is not None for ca in root.certificate_authorities)
    assert root.tlog(base64.b64decode("wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=")) is not None


def test_trust_roots_dir_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGETRUST_TRUST_ROOTS", str(tmp_path))
    assert trust_roots_dir() == tmp_path
    with pytest.raises(LocalInputError, match="pinned public-good trusted root not found"):
        public_good_trusted_root()


def _root_doc() -> dict[str, Any]:
    return SigstoreInstance.create().trusted_root()


def _parse(doc: Any) -> None:
    parse_trusted_root(json.dumps(doc).encode(), "root.json")


def test_instance_root_parses_with_windows() -> None:
    root = parse_trusted_root(json.dumps(_root_doc()).encode(), "root.json")
    assert len(root.tlogs) == 1 and len(root.ctlogs) == 1
    assert root.certificate_authorities[0].valid_for.end is None
    assert len(root.certificate_authorities[0].chain) == 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(mediaType="application/vnd.dev.sigstore.trustedroot.v0.9+json"), "mediaType"),
        (lambda d: d.update(tlogs=[]), "names no transparency log"),
        (lambda d: d.update(certificateAuthorities=[]), "names no certificate authority"),
        (lambda d: d["tlogs"][0]["publicKey"].update(rawBytes="%%%"), "not valid base64"),
        (lambda d: d["tlogs"][0]["publicKey"]["validFor"].pop("start"), "validFor has no start"),
        (lambda d: d["tlogs"][0]["publicKey"]["validFor"].update(start="yesterday"), "not an RFC 3339 time"),
        (lambda d: d["certificateAuthorities"][0]["certChain"].update(certificates=[]), "no certChain"),
        (
            lambda d: d["certificateAuthorities"][0]["certChain"]["certificates"][0].update(rawBytes="AAAA"),
            "not DER X.509",
        ),
        (lambda d: d["tlogs"][0].pop("logId"), "no logId"),
    ],
)
def test_bad_trusted_roots_are_usage_errors(mutate: Any, message: str) -> None:
    doc = _root_doc()
    mutate(doc)
    with pytest.raises(LocalInputError, match=message):
        _parse(doc)


@pytest.mark.parametrize("raw", [b"", b"[]", b"{", b"x" * (5 * 1024 * 1024)])
def test_garbage_trusted_roots_are_usage_errors(raw: bytes) -> None:
    with pytest.raises(LocalInputError):
        parse_trusted_root(raw, "root.json")


# -- trust-roots config ---------------------------------------------------------------------------------


@pytest.fixture
def keydir(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "release.pub").write_text("placeholder, read by the verifier not the loader\n")
    (tmp_path / "private.trusted_root.json").write_text(json.dumps(_root_doc()))
    return tmp_path


def _config(images: list[dict[str, Any]], **top: Any) -> bytes:
    return json.dumps({"version": 1, "images": images, **top}).encode()


def _one(authorities: list[dict[str, Any]], **rule: Any) -> bytes:
    return _config([{"glob": "a/*", "authorities": authorities, **rule}])


def _key(name: str = "release") -> dict[str, Any]:
    return {"name": name, "key": {"path": "keys/release.pub"}}


def _keyless(**extra: Any) -> dict[str, Any]:
    body = {"identity": "https://github.com/o/r/.github/workflows/r.yml@refs/heads/main", "issuer": GITHUB}
    return {"name": "ci", "keyless": {**body, **extra}}


def test_config_maps_globs_to_authorities(keydir: Path) -> None:
    raw = _config(
        [
            {"glob": "ghcr.io/org/*", "authorities": [_key()]},
            {"glob": "ghcr.io/org/**", "authorities": [_keyless(trustedRoot="private.trusted_root.json")]},
            {"glob": "docker.io/library/alpine", "authorities": [_key("hub")], "threshold": 1},
        ]
    )
    config = parse_trust_config(raw, "cfg.json", keydir)
    names = [a.name for a in config.matching_authorities("ghcr.io/org/app:1.0")]
    assert names == ["release", "ci"]
    # '*' stays inside one path component; '**' crosses them.
    assert [a.name for a in config.matching_authorities("ghcr.io/org/team/app@sha256:" + "a" * 64)] == ["ci"]
    assert config.matching_authorities("ghcr.io/other/app") == ()
    assert config.matching_authorities("ghcr.io/org") == ()
    # Docker Hub short names are normalised before matching.
    assert [a.name for a in config.matching_authorities("alpine:3.20")] == ["hub"]
    assert config.matching_authorities("alpine-evil") == ()
    keyless = config.matching_authorities("ghcr.io/org/team/app")[0].keyless
    assert keyless is not None and keyless.trusted_root == keydir / "private.trusted_root.json"
    assert len(config.matching_rules("ghcr.io/org/app")) == 2


def test_keyless_defaults_to_the_pinned_public_good_root(keydir: Path) -> None:
    config = parse_trust_config(_config([{"glob": "**", "authorities": [_keyless()]}]), "c", keydir)
    authority = config.matching_authorities("example.test/x")[0]
    assert isinstance(authority, Authority) and authority.keyless is not None
    assert authority.keyless.trusted_root == public_good_trusted_root()


def test_glob_does_not_match_a_longer_host(keydir: Path) -> None:
    config = parse_trust_config(_config([{"glob": "ghcr.io/org/**", "authorities": [_key()]}]), "c", keydir)
    assert config.matching_authorities("ghcr.io.evil.test/org/app") == ()
    assert config.matching_authorities("ghcr.io/organisation/app") == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_config([], extra=1), "unknown key 'extra'"),
        (_one([_key()], treshold=1), "unknown key 'treshold'"),
        (_one([{**_key(), "role": "x"}]), "unknown key 'role'"),
        (
            _config(
                [{"glob": "a/*", "authorities": [{"name": "k", "key": {"path": "keys/release.pub", "x": 1}}]}]
            ),
            "unknown key 'x'",
        ),
        (_one([_keyless(subject="x")]), "unknown key 'subject'"),
        (
            _one([_key()], threshold=0),
            "threshold: must be an integer from 1",
        ),
        (
            _one([_key()], threshold=2),
            "threshold: must be an integer from 1 to 1",
        ),
        (_one([_key()], threshold=True), "threshold"),
        (_one([]), "non-empty list"),
        (_one([_key(), _key()]), "name 'release' is used twice"),
        (_one([{"name": "k"}]), "exactly one of key and keyless"),
        (
            _one([{**_key(), **_keyless()}]),
            "exactly one of key and keyless",
        ),
        (
            _one([{"name": "k", "key": {"path": "keys/absent.pub"}}]),
            "does not exist",
        ),
        (
            _one([_keyless(identityRegexp=".*")]),
            "exactly one of identity",
        ),
        (
            _config(
                [
                    {
                        "glob": "a/*",
                        "authorities": [{"name": "c", "keyless": {"identityRegexp": "(", "issuer": GITHUB}}],
                    }
                ]
            ),
            "invalid regular expression",
        ),
        (
            _one([{"name": "c", "keyless": {"identity": "x"}}]),
            "exactly one of issuer",
        ),
        (_config([{"glob": "a b", "authorities": [_key()]}]), "characters an image name cannot contain"),
        (json.dumps({"version": 2, "images": []}).encode(), "version must be 1"),
        (json.dumps({"version": 1}).encode(), "images must be a list"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_bad_configs_are_refused_with_the_place(keydir: Path, raw: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_trust_config(raw, "cfg.json", keydir)


def test_unparsable_image_name_is_a_config_error(keydir: Path) -> None:
    config = parse_trust_config(_config([{"glob": "**", "authorities": [_key()]}]), "c", keydir)
    with pytest.raises(ConfigError, match="cannot match trust rules"):
        config.matching_authorities("UPPER/Case")


def test_example_config_in_the_repository_loads() -> None:
    config = load_trust_config(REPO / "trust-roots" / "example.trust-roots.json")
    authorities = config.matching_authorities("ghcr.io/sigstore/cosign/cosign:v2")
    assert [a.name for a in authorities] == ["sigstore-release-workflows"]
    payments = config.matching_rules("registry.example.test/payments/api")
    assert len(payments) == 1 and payments[0].threshold == 2


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read trust-roots config"):
        load_trust_config(tmp_path / "absent.json")
