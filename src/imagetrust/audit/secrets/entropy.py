"""Shannon entropy of a candidate value: random keys score high, words and placeholders low."""

from __future__ import annotations

import math
from collections import Counter

_HEX = frozenset(b"0123456789abcdefABCDEF-")


def shannon(value: bytes) -> float:
    """Bits per symbol; only ever run on candidate values (tens of bytes), never on whole files."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def threshold_for(value: bytes, threshold: float) -> float:
    """Hex strings cannot reach base64 entropy (at most 4 bits): hold them to a proportionally lower bar."""
    if all(b in _HEX for b in value):
        return min(threshold, 3.0)
    return threshold


def is_random_enough(value: bytes, threshold: float | None) -> bool:
    if threshold is None:
        return True
    return shannon(value) >= threshold_for(value, threshold)
