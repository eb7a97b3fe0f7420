"""Trust-roots configuration: which authorities must have signed which images.

Like policy-controller's ClusterImagePolicy, a rule maps an image-name glob to authorities (a public key,
or a keyless identity + issuer under a Sigstore trusted root) and a threshold of distinct authorities.
Every rule whose glob matches an image applies, and each must be satisfied on its own; an image no rule
matches has no authorities, and callers must treat that as "not trusted", never as "nothing to check".

The file is JSON (no extra dependency); unknown keys anywhere are refused, so a misspelt ``treshold`` can
never silently weaken a policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagetrust.errors import ConfigError, InvalidReference
from imagetrust.localfiles import read_bounded
from imagetrust.oci.reference import parse_registry_ref
from imagetrust.trust.paths import public_good_trusted_root

CONFIG_VERSION = 1
_MAX_CONFIG_BYTES = 1024 * 1024
_GLOB_CHARS = re.compile(r"^[A-Za-z0-9._\-/:*?\[\]@]+$")


@dataclass(frozen=True)
class KeylessIdentity:
    """Expected Fulcio signer; regexps are full-matched by the verifier (SECURITY-CASES E)."""

    trusted_root: Path
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    claims: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Authority:
    """One signer that can count towards a rule's threshold: exactly one of ``key`` and ``keyless``."""

    name: str
    key: Path | None = None
    keyless: KeylessIdentity | None = None


@dataclass(frozen=True)
class ImageRule:
    glob: str
    authorities: tuple[Authority, ...]
    threshold: int

    def matches(self, image_name: str) -> bool:
        return _glob_regex(self.glob).fullmatch(image_name) is not None


@dataclass(frozen=True)
class TrustConfig:
    source: str
    rules: tuple[ImageRule, ...]

    def matching_rules(self, image_name: str) -> tuple[ImageRule, ...]:
        """Every rule that applies to ``image_name``; each must be satisfied independently."""
        name = normalise_image_name(image_name)
        return tuple(rule for rule in self.rules if rule.matches(name))

    def matching_authorities(self, image_name: str) -> tuple[Authority, ...]:
        """The authorities of every matching rule, in file order, each once."""
        seen: dict[Authority, None] = {}
        for rule in self.matching_rules(image_name):
            for authority in rule.authorities:
                seen.setdefault(authority, None)
        return tuple(seen)


def normalise_image_name(image_name: str) -> str:
    """``alpine:3`` -> ``docker.io/library/alpine``: globs are written against registry/repository."""
    try:
        return parse_registry_ref(image_name).name
    except InvalidReference as e:
        raise ConfigError(f"cannot match trust rules against {image_name!r}: {e}") from e


def _glob_regex(glob: str) -> re.Pattern[str]:
    """``**`` crosses ``/``; ``*`` and ``?`` stay inside one path component."""
    out: list[str] = []
    index = 0
    while index < len(glob):
        if glob.startswith("**", index):
            out.append(".*")
            index += 2
        elif glob[index] == "*":
            out.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(glob[index]))
            index += 1
    return re.compile("".join(out))


def _only(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string")
    return value


def _optional_string(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if key not in obj else _string(obj[key], f"{where}.{key}")


def _regexp(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _optional_string(obj, key, where)
    if value is not None:
        try:
            re.compile(value)
        except re.error as e:
            raise ConfigError(f"{where}.{key}: invalid regular expression {value!r}: {e}") from e
    return value


def _file(base: Path, value: Any, where: str) -> Path:
    path = Path(_string(value, where))
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ConfigError(f"{where}: {path} does not exist or is not a file")
    return path


def _keyless(value: Any, base: Path, where: str) -> KeylessIdentity:
    obj = _object(value, where)
    _only(obj, {"identity", "identityRegexp", "issuer", "issuerRegexp", "claims", "trustedRoot"}, where)
    identity = _optional_string(obj, "identity", where)
    identity_regexp = _regexp(obj, "identityRegexp", where)
    issuer = _optional_string(obj, "issuer", where)
    issuer_regexp = _regexp(obj, "issuerRegexp", where)
    if (identity is None) == (identity_regexp is None):
        raise ConfigError(f"{where}: needs exactly one of identity and identityRegexp")
    if (issuer is None) == (issuer_regexp is None):
        raise ConfigError(f"{where}: needs exactly one of issuer and issuerRegexp")
    claims_obj = _object(obj.get("claims", {}), f"{where}.claims")
    claims = tuple(
        (name, _string(claim, f"{where}.claims.{name}")) for name, claim in sorted(claims_obj.items())
    )
    if "trustedRoot" in obj:
        root = _file(base, obj["trustedRoot"], f"{where}.trustedRoot")
    else:
        root = public_good_trusted_root()
    return KeylessIdentity(root, identity, identity_regexp, issuer, issuer_regexp, claims)


def _authority(value: Any, base: Path, where: str) -> Authority:
    obj = _object(value, where)
    _only(obj, {"name", "key", "keyless"}, where)
    name = _string(obj.get("name"), f"{where}.name")
    if ("key" in obj) == ("keyless" in obj):
        raise ConfigError(f"{where}: needs exactly one of key and keyless")
    if "key" in obj:
        key = _object(obj["key"], f"{where}.key")
        _only(key, {"path"}, f"{where}.key")
        return Authority(name, key=_file(base, key.get("path"), f"{where}.key.path"))
    return Authority(name, keyless=_keyless(obj["keyless"], base, f"{where}.keyless"))


def _rule(value: Any, base: Path, where: str) -> ImageRule:
    obj = _object(value, where)
    _only(obj, {"glob", "authorities", "threshold"}, where)
    glob = _string(obj.get("glob"), f"{where}.glob")
    if not _GLOB_CHARS.match(glob):
        raise ConfigError(f"{where}.glob: {glob!r} has characters an image name cannot contain")
    items = obj.get("authorities")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}.authorities: expected a non-empty list")
    authorities = tuple(_authority(item, base, f"{where}.authorities[{i}]") for i, item in enumerate(items))
    names = [a.name for a in authorities]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"{where}.authorities: name {duplicate!r} is used twice")
    threshold = obj.get("threshold", 1)
    # A threshold of 0 would disable verification (go-tuf GHSA-fphv-w9fq-2525); above the count, unmeetable.
    if (
        not isinstance(threshold, int)
        or isinstance(threshold, bool)
        or not 1 <= threshold <= len(authorities)
    ):
        raise ConfigError(f"{where}.threshold: must be an integer from 1 to {len(authorities)}")
    return ImageRule(glob, authorities, threshold)


def parse_trust_config(raw: bytes, source: str, base: Path) -> TrustConfig:
    """Parse config bytes; relative paths are resolved against ``base`` (the file's directory)."""
    if len(raw) > _MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: too large for a trust-roots config")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ConfigError(f"{source}: not valid JSON ({e})") from e
    obj = _object(doc, source)
    _only(obj, {"version", "images"}, source)
    if obj.get("version") != CONFIG_VERSION:
        raise ConfigError(f"{source}: version must be {CONFIG_VERSION}, got {obj.get('version')!r}")
    images = obj.get("images")
    if not isinstance(images, list):
        raise ConfigError(f"{source}: images must be a list")
    rules = tuple(_rule(item, base, f"{source}: images[{i}]") for i, item in enumerate(images))
    return TrustConfig(source, rules)


def load_trust_config(path: Path) -> TrustConfig:
    raw = read_bounded(path, _MAX_CONFIG_BYTES, "trust-roots config", ConfigError)
    return parse_trust_config(raw, str(path), path.parent)
