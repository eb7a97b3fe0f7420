"""The RFC 822-like stanza format of dpkg's status database (deb822(5))."""

from __future__ import annotations

from collections.abc import Iterator


def parse_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Yield one dict per blank-line-separated stanza; continuation lines are joined with newlines.

    Field names are case-insensitive in deb822, so keys are stored as written but looked up by callers
    through ``field``.
    """
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                yield current
            current, last = {}, None
            continue
        if line[0] in " \t":
            if last is not None:
                current[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip().lower()
        current[last] = value.strip()
    if current:
        yield current
