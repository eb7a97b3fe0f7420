"""Shannon entropy of a candidate value: random keys score high, words and placeholders low."""

from __future__ import annotations

import math
from collections import Counter

_HEX = b"0123456789abcdefABCDEF-"
_CLOG = [0.0] + [c * math.log2(c) for c in range(1, 4097)]  # c*log2(c), looked up per symbol count


def shannon(value: bytes) -> float:
    """Bits per symbol; only ever run on candidate values (tens of bytes), never on whole files."""
    n = len(value)
    if n == 0:
        return 0.0
    counts = Counter(value).values()
    if n > 4096:
        return -sum(c / n * math.log2(c / n) for c in counts)
    return math.log2(n) - sum(_CLOG[c] for c in counts) / n


def threshold_for(value: bytes, threshold: float) -> float:
    """Hex strings cannot reach base64 entropy (at most 4 bits): hold them to a proportionally lower bar."""
    if not value.translate(None, _HEX):
        return min(threshold, 3.0)
    return threshold


def is_random_enough(value: bytes, threshold: float | None) -> bool:
    if threshold is None:
        return True
    bar = threshold_for(value, threshold)
    if math.log2(len(set(value)) or 1) < bar:
        return False  # too few distinct symbols to ever reach the bar
    return shannon(value) >= bar
