"""Small helpers shared by the language-ecosystem catalogers."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from imagetrust.audit.unpack import FileIndex, Unknown


class Unreadable(ValueError):
    """A metadata file that cannot be parsed; becomes an ``Unknown`` with this message."""


def read(files: FileIndex, path: str, what: str) -> bytes:
    """Kept bytes of ``path``; a file present but not kept is an Unreadable, never silence."""
    data = files.content(path)
    if data is None:
        raise Unreadable(f"{what} present but its content was not read")
    return data


def load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise Unreadable(f"{what} is not valid JSON: {str(e)[:120]}") from e


def unknown(path: str, e: Exception) -> Unknown:
    return Unknown(path, str(e))


def parent(path: str) -> str:
    return posixpath.dirname(path)


def join_under(base: str, rel: str) -> str | None:
    """``rel`` (from a RECORD or manifest) under ``base``, normalised; None if it climbs above the root."""
    if rel.startswith("/"):
        joined = posixpath.normpath(rel.lstrip("/"))
    else:
        joined = posixpath.normpath(posixpath.join(base, rel)) if base else posixpath.normpath(rel)
    if joined.startswith("../") or joined == ".." or joined == ".":
        return None
    return joined


def text(value: object) -> str | None:
    """A non-empty string field, stripped; anything else (hostile JSON types) is None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
