"""Go module version order, as ``golang.org/x/mod/semver`` defines it.

A Go version is SemVer 2.0.0 with a ``v`` prefix.  Go also accepts the shorthands ``vMAJOR`` and
``vMAJOR.MINOR`` (meaning ``.0``), but only without pre-release or build.  Pseudo-versions
(``v0.0.0-20191109021931-daa7c04131f5``, ``v1.2.4-0.2019...``) are ordinary pre-releases and need no
special case; ``+incompatible`` is build metadata and is ignored.

OSV's Go ecosystem writes versions without the ``v`` (``1.2.3``), so the prefix is optional here.
Unlike ``semver.Compare``, which silently treats every invalid string as smaller than every valid one,
an invalid string raises :class:`InvalidVersion`.
"""

from __future__ import annotations

import re

from imagetrust.audit.vulns.versions._common import invalid
from imagetrust.audit.vulns.versions.semver import SemVer, parse_strict

SCHEME = "go"
_SHORT = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))?", re.ASCII)


def parse(version: str) -> SemVer:
    """Parse a Go module version (``v`` optional, shorthands expanded)."""
    body = version[1:] if version.startswith("v") else version
    if _SHORT.fullmatch(body):
        body = body + ".0" * (2 - body.count("."))
    try:
        return parse_strict(body, SCHEME)
    except Exception as e:
        raise invalid(
            SCHEME, version, "not a Go semantic version (vMAJOR[.MINOR[.PATCH[-pre][+build]]])"
        ) from e


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Go orders module versions ``a`` and ``b``."""
    pa, pb = parse(a), parse(b)
    return (pa > pb) - (pa < pb)
