"""RubyGems version order, as ``Gem::Version#<=>`` defines it.

Rules follow rubygems ``lib/rubygems/version.rb``:

- a version must match ``[0-9]+(\\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?`` (surrounding
  whitespace allowed, the empty string means ``0``); ``-`` is read as ``.pre.``;
- segments are the runs ``[0-9]+`` and ``[a-zA-Z]+``; any letter makes it a pre-release;
- canonical segments drop trailing zeros from the leading numeric part and from the rest separately, so
  ``1.0.a2 = 1.0.a.2`` and ``1.0.0 = 1``;
- segment by segment (missing counts as 0): letters before numbers, numbers numerically, letters by
  byte (case-sensitive).

Strings outside that grammar (``1beta``, ``1.2..3``) raise :class:`InvalidVersion`, as
``Gem::Version.new`` raises ``ArgumentError``.
"""

from __future__ import annotations

import re

from imagetrust.audit.vulns.versions._common import invalid, number_key

SCHEME = "rubygems"

_VALID = re.compile(r"\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*", re.ASCII)
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+", re.ASCII)
_ZERO = (0, "")

Segment = tuple[int, str] | str


def parse(version: str) -> tuple[Segment, ...]:
    """Canonical segments of a gem version (numbers as digit-string keys)."""
    if len(version) > 0 and version.strip() == "":
        raise invalid(SCHEME, version, "blank")
    if _VALID.fullmatch(version) is None:
        raise invalid(SCHEME, version, "malformed gem version")
    text = version.strip().replace("-", ".pre.") or "0"
    segments: list[Segment] = [s if s[0].isalpha() else number_key(s) for s in _SEGMENT.findall(text)]
    first_str = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    numeric, rest = segments[:first_str], segments[first_str:]
    while numeric and numeric[-1] == _ZERO:
        numeric.pop()
    while rest and rest[-1] == _ZERO:
        rest.pop()
    return tuple(numeric + rest)


def compare_parsed(a: tuple[Segment, ...], b: tuple[Segment, ...]) -> int:
    if a == b:
        return 0
    for i in range(max(len(a), len(b))):
        left: Segment = a[i] if i < len(a) else _ZERO
        right: Segment = b[i] if i < len(b) else _ZERO
        if left == right:
            continue
        if isinstance(left, str) and not isinstance(right, str):
            return -1
        if not isinstance(left, str) and isinstance(right, str):
            return 1
        if isinstance(left, str) and isinstance(right, str):
            return -1 if left < right else 1
        assert not isinstance(left, str) and not isinstance(right, str)
        return -1 if left < right else 1
    return 0


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as RubyGems orders ``a`` against ``b``."""
    return compare_parsed(parse(a), parse(b))
