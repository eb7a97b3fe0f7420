"""The only way a secret value leaves the scanner: a short prefix and its length, never the value."""

from __future__ import annotations


def preview(value: bytes | str) -> str:
    """``ghp_…(40 chars)``: enough to recognise which credential to rotate, not enough to use it.

    Short values (typical passwords) show fewer characters, or none: four characters of an eight-character
    password is half of it.
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    n = len(text)
    shown = 4 if n >= 16 else 2 if n >= 10 else 0
    return f"{text[:shown]}…({n} chars)"
