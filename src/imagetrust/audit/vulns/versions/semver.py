"""SemVer 2.0.0 precedence, for crates.io (Cargo), npm and Hex.

Rules follow semver.org section 11: ``MAJOR.MINOR.PATCH`` compare numerically; a version with a
pre-release sorts before the same version without; pre-release identifiers compare left to right,
numeric ones numerically, alphanumeric ones by ASCII, numeric before alphanumeric, and a shorter list
first when it is a prefix; build metadata (``+...``) is ignored.

Grammar is the strict one of the spec (no leading zeros in numeric parts, no empty identifiers, exactly
three components).  ``npm`` additionally accepts one leading ``v`` as node-semver does; Cargo and Hex do
not.  The Rust ``semver`` crate uses build metadata as a final tie-break for sorting; advisories never
depend on it, so we follow the spec and ignore it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagetrust.audit.vulns.versions._common import invalid, number_key

SCHEME = "semver"

_NUM = r"(?:0|[1-9][0-9]*)"
_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_IDENT = r"[0-9A-Za-z-]+"
_PATTERN = re.compile(
    rf"({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-({_IDENT}(?:\.{_IDENT})*))?"
    rf"(?:\+({_BUILD_IDENT}(?:\.{_BUILD_IDENT})*))?",
    re.ASCII,
)

PrereleaseKey = tuple[tuple[int, tuple[int, str] | str], ...]


@dataclass(frozen=True, order=True)
class SemVer:
    """Precedence key: release numbers, then (has no pre-release, pre-release identifiers)."""

    major: tuple[int, str]
    minor: tuple[int, str]
    patch: tuple[int, str]
    is_release: bool
    prerelease: PrereleaseKey


def _prerelease_key(text: str) -> PrereleaseKey:
    parts: list[tuple[int, tuple[int, str] | str]] = []
    for ident in text.split("."):
        if ident.isdigit():
            parts.append((0, number_key(ident)))
        else:
            parts.append((1, ident))
    return tuple(parts)


def parse_strict(version: str, scheme: str = SCHEME) -> SemVer:
    """Parse a strict SemVer 2.0.0 string."""
    m = _PATTERN.fullmatch(version)
    if m is None:
        raise invalid(scheme, version, "not MAJOR.MINOR.PATCH[-pre][+build] (SemVer 2.0.0)")
    pre = m.group(4)
    return SemVer(
        number_key(m.group(1)),
        number_key(m.group(2)),
        number_key(m.group(3)),
        pre is None,
        _prerelease_key(pre) if pre is not None else (),
    )


def parse_npm(version: str) -> SemVer:
    """node-semver's strict parse: SemVer 2.0.0 with an optional leading ``v``."""
    return parse_strict(version[1:] if version.startswith("v") else version, "npm semver")


def _cmp(a: SemVer, b: SemVer) -> int:
    return (a > b) - (a < b)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 by SemVer 2.0.0 precedence (Cargo/Hex grammar)."""
    return _cmp(parse_strict(a), parse_strict(b))


def compare_npm(a: str, b: str) -> int:
    """-1, 0 or 1 by SemVer 2.0.0 precedence, accepting npm's leading ``v``."""
    return _cmp(parse_npm(a), parse_npm(b))
