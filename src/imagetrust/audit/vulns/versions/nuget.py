"""NuGet version order, as ``NuGet.Versioning.NuGetVersion``/``VersionComparer.Default`` define it.

Rules follow NuGet.Client ``src/NuGet.Core/NuGet.Versioning``:

- one to four dot-separated numbers (``Major.Minor.Patch.Revision``, missing ones are 0, each a
  non-negative 32-bit integer, leading zeros allowed), an optional ``-`` release label of dot-separated
  ``[0-9A-Za-z-]+`` identifiers, and optional ``+`` metadata which is ignored;
- a release sorts before the same numbers without a label; labels compare identifier by identifier,
  numbers numerically, a number before text, text case-insensitively (ordinal), a shorter label first.

Everything else (``v1.0``, ``1.0.0.0.0``, a component above 2^31-1) raises :class:`InvalidVersion`, as
``NuGetVersion.TryParse`` returns false.
"""

from __future__ import annotations

import re

from imagetrust.audit.vulns.versions._common import invalid, number_key

SCHEME = "nuget"
_PATTERN = re.compile(
    r"([0-9]+(?:\.[0-9]+){0,3})(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)
_INT32_MAX = number_key(str(2**31 - 1))

NuGetKey = tuple[tuple[tuple[int, str], ...], bool, tuple[tuple[int, tuple[int, str] | str], ...]]


def parse(version: str) -> NuGetKey:
    """A sortable key: (four numbers, is-release, label identifiers)."""
    m = _PATTERN.fullmatch(version)
    if m is None:
        raise invalid(SCHEME, version, "not N[.N[.N[.N]]][-label][+metadata]")
    numbers = [number_key(p) for p in m.group(1).split(".")]
    if any(n > _INT32_MAX for n in numbers):
        raise invalid(SCHEME, version, "a version component exceeds 2147483647")
    numbers += [(0, "")] * (4 - len(numbers))
    label = m.group(2)
    idents: list[tuple[int, tuple[int, str] | str]] = []
    if label is not None:
        for ident in label.split("."):
            idents.append((0, number_key(ident)) if ident.isdigit() else (1, ident.lower()))
    return (tuple(numbers), label is None, tuple(idents))


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as NuGet orders ``a`` against ``b``."""
    ka, kb = parse(a), parse(b)
    return (ka > kb) - (ka < kb)
