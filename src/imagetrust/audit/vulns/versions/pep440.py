"""Python (PyPI) version order: PEP 440, as implemented by ``packaging.version.Version``.

``packaging`` is the PyPA's reference implementation and what pip uses, so we delegate instead of
re-deriving the normalisation rules (``1.0-1`` is ``1.0.post1``, ``1.0RC1`` is ``1.0rc1``, local
versions sort after their public version, ``!`` epochs first).

Pre-PEP 440 "legacy" strings (``0.9-doduo``) raise :class:`InvalidVersion`: ``packaging`` dropped
``LegacyVersion`` in 22.0 and pip no longer installs such releases, so any order we gave them would be
invented.
"""

from __future__ import annotations

from packaging.version import InvalidVersion as _PackagingInvalid
from packaging.version import Version

from imagetrust.audit.vulns.versions._common import invalid, reject_blank_or_control

SCHEME = "pep440"


def parse(version: str) -> Version:
    """Parse a PEP 440 version (leading/trailing whitespace is refused, not stripped)."""
    reject_blank_or_control(SCHEME, version)
    try:
        return Version(version)
    except _PackagingInvalid as e:
        raise invalid(SCHEME, version, "not a PEP 440 version") from e


def compare_parsed(a: Version, b: Version) -> int:
    return (a > b) - (a < b)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as PEP 440 orders ``a`` against ``b``."""
    return compare_parsed(parse(a), parse(b))
