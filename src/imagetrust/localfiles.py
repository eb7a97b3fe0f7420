"""Reading a small file the user named (a key, a certificate, a policy, a config) with a size bound.

The bound is enforced while reading (one byte past it is read, never the whole file), so a huge or endless
file (``/dev/zero``) is refused without being loaded.  Every OS error and an over-size file become one
usage error naming the file and what it was meant to be: ``LocalInputError`` unless the caller's family
is another (``PolicyError``, ``ConfigError``).
"""

from __future__ import annotations

from pathlib import Path

from imagetrust.errors import ImageTrustError, LocalInputError


def read_bounded(
    path: Path, max_bytes: int, what: str, error: type[ImageTrustError] = LocalInputError
) -> bytes:
    """The bytes of ``path``; a missing file is an error like any other unreadable one."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as e:
        raise error(f"{path}: cannot read {what} ({e.strerror or e})") from e
    if len(data) > max_bytes:
        raise error(f"{path}: {what} larger than {max_bytes} bytes")
    return data


def read_if_present(
    path: Path, max_bytes: int, what: str, error: type[ImageTrustError] = LocalInputError
) -> bytes | None:
    """The bytes of ``path``, or None when it does not exist (for files whose absence means something)."""
    try:
        return read_bounded(path, max_bytes, what, error)
    except error as e:
        if isinstance(e.__cause__, FileNotFoundError):
            return None
        raise
