"""RPM version order: ``[epoch:]version[-release]`` compared with ``rpmvercmp``.

Rules follow rpm's ``rpmio/rpmvercmp.c`` and ``parseEVR`` (rpm 4.15+, which added ``^``):

- the epoch is the run of leading digits when it is followed by ``:`` (otherwise the colon is just a
  separator inside the version); a missing epoch is 0;
- the release is whatever follows the last ``-``;
- each part is read as alternating runs of ASCII digits or ASCII letters; any other character (including
  every non-ASCII character) only separates runs; ``~`` sorts before everything, even the end; ``^``
  sorts after the end but before anything else; a number beats letters; numbers compare numerically,
  letters by byte; when all runs agree, the string with something left over wins.

rpm itself skips the release comparison when either side has none (a dependency ``foo >= 1.0`` matches
any release).  For advisory matching we follow osv-scalibr/OSV instead: a missing release sorts before
any present one, even an empty one, so ``1.0 < 1.0-`` and ``1.0 < 1.0-1``.

Only empty strings and strings with whitespace or control characters are refused: rpmvercmp defines an
order for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagetrust.audit.vulns.versions._common import (
    is_ascii_alpha,
    is_ascii_digit,
    number_key,
    reject_blank_or_control,
)

SCHEME = "rpm"


@dataclass(frozen=True)
class RpmVersion:
    """A parsed EVR; ``release`` is None when the string had no ``-``."""

    epoch: str
    version: str
    release: str | None


def parse(evr: str) -> RpmVersion:
    """Split an EVR string the way rpm's ``parseEVR`` does."""
    reject_blank_or_control(SCHEME, evr)
    i = 0
    while i < len(evr) and is_ascii_digit(evr[i]):
        i += 1
    if i < len(evr) and evr[i] == ":":
        epoch = evr[:i] or "0"
        rest = evr[i + 1 :]
    else:
        epoch = "0"
        rest = evr
    # rpm looks for the last '-' from the end of the epoch digits, i.e. in the whole remainder.
    version, hyphen, release = rest.rpartition("-")
    if not hyphen:
        return RpmVersion(epoch, rest, None)
    return RpmVersion(epoch, version, release)


def _is_alnum(ch: str) -> bool:
    return is_ascii_digit(ch) or is_ascii_alpha(ch)


def rpmvercmp(a: str, b: str) -> int:
    """rpm's segment comparison of one part (epoch, version or release)."""
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while i < la and not _is_alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < lb and not _is_alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca = a[i] if i < la else ""
        cb = b[j] if j < lb else ""
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (ca and cb):
            break
        si, sj = i, j
        if is_ascii_digit(ca):
            while i < la and is_ascii_digit(a[i]):
                i += 1
            while j < lb and is_ascii_digit(b[j]):
                j += 1
            if j == sj:
                return 1  # a number beats letters
            ka, kb = number_key(a[si:i]), number_key(b[sj:j])
            if ka != kb:
                return -1 if ka < kb else 1
        else:
            while i < la and is_ascii_alpha(a[i]):
                i += 1
            while j < lb and is_ascii_alpha(b[j]):
                j += 1
            if j == sj:
                return -1
            sa, sb = a[si:i], b[sj:j]
            if sa != sb:
                return -1 if sa < sb else 1
    if i >= la and j >= lb:
        return 0
    return -1 if i >= la else 1


def compare_parsed(a: RpmVersion, b: RpmVersion) -> int:
    r = rpmvercmp(a.epoch, b.epoch) or rpmvercmp(a.version, b.version)
    if r:
        return r
    if a.release is None or b.release is None:
        return (a.release is not None) - (b.release is not None)
    return rpmvercmp(a.release, b.release)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders EVR ``a`` against ``b``."""
    return compare_parsed(parse(a), parse(b))
