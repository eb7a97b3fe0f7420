"""Helpers shared by the comparators: sign, big-number comparison, error construction.

Numbers are compared as digit strings (length after stripping zeros, then lexically), never through
``int()``: Python refuses to convert strings over 4300 digits, and a hostile version must not crash us.
"""

from __future__ import annotations

from imagetrust.errors import InvalidVersion

_SHOWN = 80


def sign(value: int) -> int:
    """Collapse any integer to -1, 0 or 1."""
    return (value > 0) - (value < 0)


def number_key(digits: str) -> tuple[int, str]:
    """A key that orders ASCII digit strings by numeric value, whatever their length."""
    stripped = digits.lstrip("0")
    return (len(stripped), stripped)


def cmp_numbers(a: str, b: str) -> int:
    """Compare two ASCII digit strings numerically (empty counts as zero)."""
    ka, kb = number_key(a), number_key(b)
    return (ka > kb) - (ka < kb)


def cmp_str(a: str, b: str) -> int:
    """Three-way ordinal (code point) comparison of two strings."""
    return (a > b) - (a < b)


def is_ascii_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def is_ascii_alpha(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def invalid(scheme: str, version: str, reason: str) -> InvalidVersion:
    """Build the one-line error for a version the scheme cannot parse (long inputs are cut)."""
    shown = version if len(version) <= _SHOWN else version[:_SHOWN] + "..."
    return InvalidVersion(f"{scheme} version {shown!r} cannot be parsed: {reason}")


def reject_blank_or_control(scheme: str, version: str) -> None:
    """Every scheme refuses empty strings and whitespace/control characters inside a version."""
    if not version:
        raise invalid(scheme, version, "empty")
    for ch in version:
        if ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise invalid(scheme, version, "contains whitespace or a control character")
