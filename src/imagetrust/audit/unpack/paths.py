"""Path rules for names read from hostile tar archives: nothing may name a place outside the image root."""

from __future__ import annotations

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class UnsafePath(ValueError):
    """A member name that cannot be placed inside the image root."""


def normalise(name: str, max_length: int) -> str:
    """Image-relative form of a tar member name; raises ``UnsafePath`` for escapes and oversize names.

    Any ``..`` component is refused outright rather than folded: folding ``a/../b`` is only right if ``a``
    is not a symlink, which the unpacker cannot know at this point.
    """
    if len(name) > max_length:
        raise UnsafePath(f"name longer than {max_length} characters")
    if "\x00" in name:
        raise UnsafePath("name contains a NUL byte")
    core = name[:-1] if name.endswith("/") else name  # a directory's trailing slash
    if not (
        core.startswith(("/", "./"))
        or core.endswith(("/", "/."))
        or core == "."
        or "//" in core
        or "/./" in core
        or ".." in core
    ):
        return core  # already normal (most names): no empty, '.' or '..' component to drop or refuse
    return by_components(name)


def by_components(name: str) -> str:
    """``normalise``'s general case: empty and ``.`` components dropped, ``..`` refused."""
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise UnsafePath("name contains a '..' component")
        parts.append(part)
    return "/".join(parts)


def parent_of(path: str) -> str:
    head, _, _ = path.rpartition("/")
    return head


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name
