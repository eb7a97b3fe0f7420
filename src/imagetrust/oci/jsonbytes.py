"""Bounded JSON decoding for bytes that came from outside."""

from __future__ import annotations

import json
import re
from typing import Any

from imagetrust.errors import LimitExceeded, MalformedContent

# A whole JSON string (escapes included), or one bracket.  An unterminated string fails to match and its
# quote is skipped, so its contents are counted as brackets: that can only over-count, never hide nesting.
_DEPTH_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _depth_exceeds(raw: bytes, max_depth: int) -> bool:
    """Bracket scan (strings skipped) so hostile nesting never reaches the recursive decoder.

    ``raw`` must be valid UTF-8, where no byte of a multi-byte character is an ASCII quote or bracket.
    """
    depth = 0
    for match in _DEPTH_TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def load_json(raw: bytes, what: str, *, max_bytes: int, max_depth: int = 64) -> Any:
    """Decode ``raw`` as JSON, refusing oversized or deeply nested input with a clear error."""
    if len(raw) > max_bytes:
        raise LimitExceeded(f"{what}: {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        # JSON exchanged between systems is UTF-8 (RFC 8259); json.loads would also guess UTF-16/32, whose
        # bytes the depth scan cannot read.
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedContent(f"{what}: not UTF-8 ({e.reason} at byte {e.start})") from e
    if _depth_exceeds(raw, max_depth):
        raise LimitExceeded(f"{what}: JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise MalformedContent(f"{what}: not valid JSON ({e})") from e


def load_object(raw: bytes, what: str, *, max_bytes: int, max_depth: int = 64) -> dict[str, Any]:
    value = load_json(raw, what, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(value, dict):
        raise MalformedContent(f"{what}: expected a JSON object")
    return value
