"""Bounded JSON decoding for bytes that came from outside."""

from __future__ import annotations

import json
from typing import Any

from imagetrust.errors import LimitExceeded, MalformedContent


def _depth_exceeds(raw: bytes, max_depth: int) -> bool:
    """Cheap bracket scan (strings skipped) so hostile nesting never reaches the recursive decoder."""
    depth = 0
    in_string = False
    escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def load_json(raw: bytes, what: str, *, max_bytes: int, max_depth: int = 64) -> Any:
    """Decode ``raw`` as JSON, refusing oversized or deeply nested input with a clear error."""
    if len(raw) > max_bytes:
        raise LimitExceeded(f"{what}: {len(raw)} bytes exceeds the limit of {max_bytes}")
    if _depth_exceeds(raw, max_depth):
        raise LimitExceeded(f"{what}: JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise MalformedContent(f"{what}: not valid JSON ({e})") from e


def load_object(raw: bytes, what: str, *, max_bytes: int, max_depth: int = 64) -> dict[str, Any]:
    value = load_json(raw, what, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(value, dict):
        raise MalformedContent(f"{what}: expected a JSON object")
    return value
