"""Which file contents are kept in memory, and who sees every file's bytes as they stream past.

A whole image does not fit in memory, so contents are kept only for paths someone asked for (a package
database, os-release); scanners that must read everything (secrets, malware) get a streaming hook instead.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Protocol

from imagetrust.audit.unpack.model import Entry

PathPredicate = Callable[[str], bool]


class ContentPolicy:
    """The set of paths whose bytes the unpacker keeps: exact paths, glob patterns and predicates."""

    def __init__(self) -> None:
        self._exact: set[str] = set()
        self._globs: list[str] = []
        self._glob_re: re.Pattern[str] | None = None
        self._predicates: list[PathPredicate] = []

    def want_paths(self, paths: Iterable[str]) -> ContentPolicy:
        self._exact.update(p.lstrip("/") for p in paths)
        return self

    def want_glob(self, pattern: str) -> ContentPolicy:
        """``fnmatch`` pattern over image-relative paths (``*`` also matches ``/``)."""
        self._globs.append(pattern.lstrip("/"))
        self._glob_re = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in self._globs))
        return self

    def want(self, predicate: PathPredicate) -> ContentPolicy:
        self._predicates.append(predicate)
        return self

    def wants(self, path: str) -> bool:
        if path in self._exact:
            return True
        if self._glob_re is not None and self._glob_re.match(path):
            return True
        return any(p(path) for p in self._predicates)


class ContentSink(Protocol):
    """Receives one file's bytes in order, then ``close()``; it must not keep them all."""

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


class ContentVisitor(Protocol):
    """Offered every regular file as it is read; returns a sink to receive its bytes, or None to skip it."""

    def open(self, entry: Entry) -> ContentSink | None: ...
