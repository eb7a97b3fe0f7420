"""Packagist (Composer) version order: PHP's ``version_compare`` on the version without its ``v``.

Composer's ``Comparator`` normalises a constraint version and then calls ``version_compare``; the part
of normalisation that changes the order of tagged versions is dropping a leading ``v``/``V``.  The rest
follows php-src ``ext/standard/versioning.c``:

- canonicalise: ``-``, ``_``, ``+`` and any other non-alphanumeric character become ``.`` (never two in a
  row), and a ``.`` is inserted at every digit/non-digit boundary: ``1.0rc1`` is ``1.0.rc.1``;
- compare part by part: numbers numerically; words by their special form, matched by prefix in the
  order ``dev < alpha = a < beta = b < RC = rc < # < pl = p`` (anything else sorts before ``dev``); a
  number counts as ``#``;
- when one side runs out, a remaining number makes that side greater and a remaining word is compared
  against ``#``.

PHP reads numbers with ``strtol``, which saturates at 2^63-1; we compare them exactly.  Only empty
strings that are not shaped like a version are refused (see :func:`validate`).
"""

from __future__ import annotations

from imagetrust.audit.vulns.versions._common import (
    invalid,
    is_ascii_alpha,
    is_ascii_digit,
    number_key,
    reject_blank_or_control,
)

SCHEME = "composer"

_SPECIAL = (("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3), ("#", 4),
            ("pl", 5), ("p", 5))  # fmt: skip


def _canonicalize(version: str) -> str:
    out = [version[0]]
    prev = version[0]
    for ch in version[1:]:
        if ch in "-_+":
            if out[-1] != ".":
                out.append(".")
        elif (prev != "." and not is_ascii_digit(prev) and is_ascii_digit(ch)) or (
            is_ascii_digit(prev) and ch != "." and not is_ascii_digit(ch)
        ):
            if out[-1] != ".":
                out.append(".")
            out.append(ch)
        elif not (is_ascii_digit(ch) or is_ascii_alpha(ch)):
            if out[-1] != ".":
                out.append(".")
        else:
            out.append(ch)
        prev = ch
    return "".join(out)


def _special(form: str) -> int:
    for name, order in _SPECIAL:
        if form.startswith(name):
            return order
    return -1


def _cmp_special(a: str, b: str) -> int:
    fa, fb = _special(a), _special(b)
    return (fa > fb) - (fa < fb)


def _startswith_digit(s: str) -> bool:
    return bool(s) and is_ascii_digit(s[0])


def _part_cmp(p1: str, p2: str) -> int:
    if _startswith_digit(p1) and _startswith_digit(p2):
        k1 = number_key(p1[: len(p1) - len(p1.lstrip("0123456789"))])
        k2 = number_key(p2[: len(p2) - len(p2.lstrip("0123456789"))])
        return (k1 > k2) - (k1 < k2)
    if not _startswith_digit(p1) and not _startswith_digit(p2):
        return _cmp_special(p1, p2)
    if _startswith_digit(p1):
        return _cmp_special("#N#", p2)
    return _cmp_special(p1, "#N#")


def _php_version_compare(v1: str, v2: str) -> int:
    """A transcription of the C control flow, including its end-of-string cases.

    The recursion at the end is bounded: it only recurses past a part that ties with a number, and
    such ``#`` parts only follow a numeric part, which ends the comparison.
    """
    if not v1 or not v2:
        return bool(v1) - bool(v2)
    s1 = v1 if v1[0] == "#" else _canonicalize(v1)
    s2 = v2 if v2[0] == "#" else _canonicalize(v2)
    p1 = p2 = 0
    more1 = more2 = True  # the C code's n1/n2: "a '.' followed the part just compared"
    while p1 < len(s1) and p2 < len(s2) and more1 and more2:
        e1 = s1.find(".", p1)
        e2 = s2.find(".", p2)
        more1, more2 = e1 != -1, e2 != -1
        compare = _part_cmp(s1[p1 : e1 if more1 else len(s1)], s2[p2 : e2 if more2 else len(s2)])
        if compare:
            return compare
        if more1:
            p1 = e1 + 1
        if more2:
            p2 = e2 + 1
    if more1:
        rest = s1[p1:]
        return 1 if _startswith_digit(rest) else _php_version_compare(rest, "#N#")
    if more2:
        rest = s2[p2:]
        return -1 if _startswith_digit(rest) else _php_version_compare("#N#", rest)
    return 0


def _strip_v(version: str) -> str:
    return version[1:] if version[:1] in ("v", "V") else version


_ALLOWED = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_+")


def validate(version: str) -> None:
    """Refuse what ``version_compare`` cannot order consistently.

    On arbitrary strings PHP's function is not an order at all (``"C_"`` is less than itself, ``"#"``
    equals both ``"0"`` and ``"1"``).  Restricted to a digit first, then letters, digits and the
    separators ``. - _ +`` with no empty part, it is a total order; every tagged release and every
    version in the ground truth has that shape.  Branch names (``dev-main``) are refused.
    """
    reject_blank_or_control(SCHEME, version)
    body = _strip_v(version)
    if not body or not is_ascii_digit(body[0]):
        raise invalid(SCHEME, version, "does not start with a number")
    if any(ch not in _ALLOWED for ch in body):
        raise invalid(SCHEME, version, "contains a character other than letters, digits and . - _ +")
    if body[-1] in ".-_+":
        raise invalid(SCHEME, version, "ends with a separator")


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Composer orders ``a`` against ``b``."""
    validate(a)
    validate(b)
    return _php_version_compare(_strip_v(a), _strip_v(b))
