"""Dependency lists that cargo-auditable embeds in Rust binaries: zlib-compressed JSON in ``.dep-v0``."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

SECTION = ".dep-v0"


class MalformedDepInfo(ValueError):
    """A ``.dep-v0`` section that is not bounded, valid zlib-compressed JSON of the expected shape."""


@dataclass(frozen=True)
class CargoDep:
    name: str
    version: str
    source: str  # "crates.io", "git", "local", "registry"
    build_only: bool = False


def parse_dep_v0(compressed: bytes, max_bytes: int) -> tuple[CargoDep, ...]:
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, max_bytes)
    except zlib.error as e:
        raise MalformedDepInfo(f"{SECTION} is not zlib data: {e}") from e
    if inflater.unconsumed_tail:
        raise MalformedDepInfo(f"{SECTION} inflates past {max_bytes} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise MalformedDepInfo(f"{SECTION} is not JSON: {str(e)[:120]}") from e
    packages = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(packages, list):
        raise MalformedDepInfo(f"{SECTION} has no packages list")
    out: list[CargoDep] = []
    for item in packages:
        if not isinstance(item, dict):
            continue
        name, version = item.get("name"), item.get("version")
        if isinstance(name, str) and isinstance(version, str) and name and version:
            source = item.get("source")
            out.append(
                CargoDep(
                    name,
                    version,
                    source if isinstance(source, str) else "crates.io",
                    item.get("kind") == "build",
                )
            )
    return tuple(out)
