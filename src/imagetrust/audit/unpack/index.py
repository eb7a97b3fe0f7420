"""The merged file system of an image, held as metadata plus the few contents someone asked for."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from imagetrust.audit.unpack.model import Entry, EntryType, Unknown
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest


class ResolveError(ValueError):
    """A path whose symlinks loop or nest deeper than ``max_link_depth``."""


@dataclass
class FileIndex:
    """Every live path with its entry, entries removed by later layers, kept contents and unknowns."""

    limits: Limits = DEFAULT_LIMITS
    live: dict[str, Entry] = field(default_factory=dict)
    removed: list[Entry] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)
    unknowns: list[Unknown] = field(default_factory=list)
    layers: list[Digest] = field(default_factory=list)

    @classmethod
    def from_contents(
        cls, files: Mapping[str, bytes], layer: Digest | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> FileIndex:
        """An index of plain files, for package databases read outside any image."""
        digest = layer or Digest.of(b"")
        index = cls(limits=limits, layers=[digest])
        for raw_path, data in files.items():
            path = raw_path.strip("/")
            index.live[path] = Entry(path, EntryType.FILE, 0o644, len(data), 0, 0, digest)
            index.contents[path] = data
        return index

    # --- queries -------------------------------------------------------------------------------------
    def get(self, path: str) -> Entry | None:
        return self.live.get(path.strip("/"))

    def entries(self) -> Iterator[Entry]:
        """Live entries in path order."""
        for path in sorted(self.live):
            yield self.live[path]

    def all_entries(self, include_deleted: bool = False) -> Iterator[Entry]:
        yield from self.entries()
        if include_deleted:
            yield from self.removed

    def deleted_entries(self) -> list[Entry]:
        return list(self.removed)

    def paths(self) -> Iterator[str]:
        return iter(sorted(self.live))

    def glob(self, pattern: str) -> list[str]:
        """Live paths matching an ``fnmatch`` pattern (``*`` crosses ``/``)."""
        rx = re.compile(fnmatch.translate(pattern.strip("/")))
        return sorted(p for p in self.live if rx.match(p))

    def resolve(self, path: str) -> str:
        """The path reached by following symlinks in every component, confined to the image root.

        Absolute targets start at the image root and ``..`` stops at the root, as in a chroot, so no
        target can name a host path.  Raises ``ResolveError`` on loops or too many links.
        """
        budget = [self.limits.max_link_depth]
        return self._resolve(path.strip("/"), budget)

    def _resolve(self, path: str, budget: list[int]) -> str:
        done: list[str] = []
        pending = [p for p in path.split("/") if p not in ("", ".")]
        pending.reverse()
        while pending:
            part = pending.pop()
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join([*done, part])
            entry = self.live.get(candidate)
            if entry is not None and entry.type is EntryType.SYMLINK and entry.link_target is not None:
                budget[0] -= 1
                if budget[0] < 0:
                    raise ResolveError(f"{path}: too many levels of symbolic links")
                target = entry.link_target
                if target.startswith("/"):
                    done = []
                new_parts = [p for p in target.split("/") if p not in ("", ".")]
                pending.extend(reversed(new_parts))
                continue
            done.append(part)
        return "/".join(done)

    def content(self, path: str) -> bytes | None:
        """Kept bytes of a file (following symlinks and hardlinks), or None if not kept or absent."""
        try:
            real = self.resolve(path)
        except ResolveError:
            return None
        data = self.contents.get(real)
        if data is not None:
            return data
        entry = self.live.get(real)
        if entry is not None and entry.type is EntryType.HARDLINK and entry.link_target is not None:
            return self.contents.get(entry.link_target)
        return None
