"""Strict decoding of the base64 and JSON inside signed objects.

Go's decoders are lenient in ways Python's are not (case-insensitive JSON keys, last duplicate wins, both
base64 alphabets in DSSE).  Wherever two readings of the same bytes could disagree, we refuse rather than
pick one: a signature must mean one thing.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from imagetrust.errors import MalformedContent, VerificationFailed
from imagetrust.oci.jsonbytes import load_object


def b64decode(text: object, what: str, *, urlsafe_ok: bool = False) -> bytes:
    """Standard base64 (line breaks ignored, as Go's decoder does); URL-safe too where DSSE allows it."""
    if not isinstance(text, str):
        raise VerificationFailed(f"{what}: expected a base64 string")
    cleaned = text.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as std_error:
        if urlsafe_ok:
            padded = cleaned + "=" * (-len(cleaned) % 4)
            if all(c.isalnum() or c in "-_=" for c in padded) and padded.isascii():
                try:
                    return base64.urlsafe_b64decode(padded)
                except (binascii.Error, ValueError):
                    pass
        raise VerificationFailed(f"{what}: not valid base64") from std_error


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise VerificationFailed(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def load_strict_object(raw: bytes, what: str, *, max_bytes: int, max_depth: int = 64) -> dict[str, Any]:
    """A bounded JSON object with no duplicate keys at any level; malformed input fails verification."""
    try:
        load_object(raw, what, max_bytes=max_bytes, max_depth=max_depth)  # size and depth bounds first
    except MalformedContent as e:
        # Evidence that does not parse is evidence that does not verify (exit 1), not an outage.
        raise VerificationFailed(str(e)) from e
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates)
    except VerificationFailed as e:
        raise VerificationFailed(f"{what}: {e}") from e
    except (ValueError, RecursionError) as e:  # pragma: no cover - load_object already parsed it
        raise VerificationFailed(f"{what}: not valid JSON") from e
    assert isinstance(value, dict)
    return value


def field_folded(obj: dict[str, Any], name: str, what: str) -> Any:
    """The value of ``name`` matched case-insensitively, as Go's encoding/json matches struct fields.

    Several spellings with different values (``docker-manifest-digest`` vs ``Docker-manifest-digest``)
    are refused: Go keeps the last one, a Python reader might keep another.
    """
    folded = name.casefold()
    values = [value for key, value in obj.items() if key.casefold() == folded]
    if not values:
        return None
    first = values[0]
    if any(value != first for value in values[1:]):
        raise VerificationFailed(f"{what}: conflicting values for {name!r} under different key spellings")
    return first
