"""Debian/Ubuntu version order: ``[epoch:]upstream_version[-debian_revision]``.

Rules follow Debian Policy 5.6.12 and dpkg's own ``parseversion``/``verrevcmp`` (lib/dpkg/parsehelp.c,
lib/dpkg/version.c):

- the epoch is the decimal number before the first ``:`` (absent means 0, must fit a C int);
- the revision is everything after the last ``-`` (absent compares as ``""``, which equals ``"0"``);
- upstream and revision compare in alternating runs: a non-digit run character by character, where ``~``
  sorts before everything (even the end of the string), then the end, then ASCII letters, then every
  other character; then a digit run numerically.

What dpkg calls an *error* we refuse (empty, empty/non-numeric/huge epoch, nothing after the colon, empty
revision, embedded spaces).  Of dpkg's *warnings* we refuse characters outside policy's set
(``A-Za-z0-9.+~-:`` upstream, ``A-Za-z0-9.+~`` revision) because no archive can ship them, but accept an
upstream that does not start with a digit: ``dpkg --compare-versions`` orders those, and real feeds
contain a few.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagetrust.audit.vulns.versions._common import (
    invalid,
    is_ascii_alpha,
    is_ascii_digit,
    number_key,
    reject_blank_or_control,
)

SCHEME = "dpkg"
_INT_MAX = 2**31 - 1
_UPSTREAM_EXTRA = frozenset(".+~-:")
_REVISION_EXTRA = frozenset(".+~")


@dataclass(frozen=True)
class DebianVersion:
    """A parsed dpkg version; compare with :func:`compare_parsed`."""

    epoch: int
    upstream: str
    revision: str


def parse(version: str) -> DebianVersion:
    """Split and validate a dpkg version string."""
    reject_blank_or_control(SCHEME, version)
    epoch = 0
    rest = version
    if ":" in version:
        epoch_text, rest = version.split(":", 1)
        if not epoch_text:
            raise invalid(SCHEME, version, "epoch is empty")
        if not all(is_ascii_digit(c) for c in epoch_text):
            raise invalid(SCHEME, version, "epoch is not a number")
        if number_key(epoch_text) > number_key(str(_INT_MAX)):
            raise invalid(SCHEME, version, "epoch is too big")
        epoch = int(epoch_text)
        if not rest:
            raise invalid(SCHEME, version, "nothing after the epoch colon")
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise invalid(SCHEME, version, "revision is empty")
    if not upstream:
        raise invalid(SCHEME, version, "upstream version is empty")
    for ch in upstream:
        if not (is_ascii_digit(ch) or is_ascii_alpha(ch) or ch in _UPSTREAM_EXTRA):
            raise invalid(SCHEME, version, f"invalid character {ch!r} in upstream version")
    for ch in revision:
        if not (is_ascii_digit(ch) or is_ascii_alpha(ch) or ch in _REVISION_EXTRA):
            raise invalid(SCHEME, version, f"invalid character {ch!r} in revision")
    return DebianVersion(epoch, upstream, revision)


def _order(ch: str) -> int:
    if ch == "":
        return 0
    if is_ascii_digit(ch):
        return 0
    if is_ascii_alpha(ch):
        return ord(ch)
    if ch == "~":
        return -1
    return ord(ch) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while (i < la and not is_ascii_digit(a[i])) or (j < lb and not is_ascii_digit(b[j])):
            ac = _order(a[i] if i < la else "")
            bc = _order(b[j] if j < lb else "")
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        si = i
        while i < la and is_ascii_digit(a[i]):
            i += 1
        sj = j
        while j < lb and is_ascii_digit(b[j]):
            j += 1
        ka, kb = number_key(a[si:i]), number_key(b[sj:j])
        if ka != kb:
            return -1 if ka < kb else 1
    return 0


def compare_parsed(a: DebianVersion, b: DebianVersion) -> int:
    if a.epoch != b.epoch:
        return -1 if a.epoch < b.epoch else 1
    return _verrevcmp(a.upstream, b.upstream) or _verrevcmp(a.revision, b.revision)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as dpkg orders ``a`` against ``b``."""
    return compare_parsed(parse(a), parse(b))
