"""Where recursion into a file reaches ClamAV's test program, for tests of the container readers."""

from __future__ import annotations

import hashlib

from imagetrust.audit.malware.archives import kind_of, members
from imagetrust.audit.malware.bounds import Budget, Member
from imagetrust.limits import DEFAULT_LIMITS, Limits
from tests.conftest import CLAM_EXE_SHA256


def clam_paths(data: bytes, name: str = "", limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Every member path (``name!member!...``) whose bytes are clam.exe, recursing depth-first with one
    byte budget and the same depth bound as ``MalwareScanner._recurse``."""
    found: list[str] = []
    budget = Budget(limits.nested_archive_bytes)

    def walk(blob: bytes, path: str, depth: int) -> None:
        if hashlib.sha256(blob).hexdigest() == CLAM_EXE_SHA256:
            found.append(path)
        kind = kind_of(blob)
        if kind is None or depth >= limits.nested_archive_depth:
            return
        for item in members(blob, kind, limits, budget):
            if isinstance(item, Member):
                walk(item.data, f"{path}!{item.name}", depth + 1)

    walk(data, name, 0)
    return found
