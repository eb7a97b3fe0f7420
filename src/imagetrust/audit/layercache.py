"""Per-layer audit cache: what one layer did to the file index and what the streaming scanners saw in it.

What is cached per layer: the layer's ordered effect on the index (entries placed, contents kept for the
catalogers, whiteout and opaque markers, unknowns), its decompressed size and member count, the secret
hits found in its files and the executables' build notes.  What is never cached: the merge itself
(replaying a record re-applies replacements and whiteouts against the layers below), the package
catalog, OS detection, vulnerability matching, config checks and the presence of each secret hit, which
all run on the final merged index every time.

A record is only valid over the same layers below it (symlinked parents and hardlink targets depend on
them), so the key chains every lower layer digest, like containerd's chain id, plus a fingerprint of the
code, the limits, the scanner set and the secret rules.  An image that shares its base layers with one
already audited replays those records and reads only its own layers.

The cache directory holds pickles, so it must be as private as the advisory database next to it: it is
created 0700 and refused when another user owns it or others may write to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from imagetrust.audit.catalog.binaries import BinaryNote, BinaryScan
from imagetrust.audit.secrets.scanner import SecretHit, SecretScanner
from imagetrust.audit.unpack import (
    ContentPolicy,
    ContentSink,
    ContentVisitor,
    Entry,
    FileIndex,
    LayerInput,
    LayerRecord,
    Unknown,
    Unpacker,
)
from imagetrust.errors import ConfigError
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest

_FORMAT = b"imagetrust-layercache-1"

LayerOpener = Callable[[], AbstractContextManager[LayerInput]]


@dataclass(frozen=True)
class CachedLayer:
    """One layer's record plus one part per streaming visitor, in the visitors' order."""

    record: LayerRecord
    visitor_parts: tuple[object, ...]


# --- visitors the cache knows how to split per layer -----------------------------------------------------
class _Tracked:
    """Wraps a visitor to remember which paths it was offered during the current layer."""

    def __init__(self, inner: ContentVisitor) -> None:
        self.inner = inner
        self.offered: list[str] = []

    def open(self, entry: Entry) -> ContentSink | None:
        self.offered.append(entry.path)
        return self.inner.open(entry)


class _SecretPart:
    def __init__(self, scanner: SecretScanner) -> None:
        self.scanner = scanner
        self._hits = 0
        self._unknowns = 0

    def begin(self) -> None:
        self._hits, self._unknowns = len(self.scanner.hits), len(self.scanner.unknowns)

    def end(self, offered: list[str]) -> object:
        self.scanner.flush()  # a layer's batched files belong to its cached result
        return (tuple(self.scanner.hits[self._hits :]), tuple(self.scanner.unknowns[self._unknowns :]))

    def replay(self, part: object) -> None:
        hits_t, unknowns = cast(tuple[tuple[SecretHit, ...], tuple[Unknown, ...]], part)
        room = self.scanner.limits.secret_findings - len(self.scanner.hits)
        self.scanner.hits.extend(hits_t[: max(0, room)])
        self.scanner.unknowns.extend(unknowns)
        if len(hits_t) > room and hits_t:
            limit = self.scanner.limits.secret_findings
            reason = f"more than {limit} secret findings (secret_findings); scan stopped"
            self.scanner.unknowns.append(Unknown(hits_t[0].path, reason, hits_t[0].layer))


class _BinaryPart:
    def __init__(self, scan: BinaryScan) -> None:
        self.scan = scan

    def begin(self) -> None:
        pass

    def end(self, offered: list[str]) -> object:
        notes = {p: self.scan.notes[p] for p in offered if p in self.scan.notes}
        return (tuple(offered), notes)

    def replay(self, part: object) -> None:
        offered, notes_d = cast(tuple[tuple[str, ...], dict[str, BinaryNote]], part)
        if offered:
            self.scan.attached = True
        for path in offered:
            self.scan.notes.pop(path, None)
        self.scan.notes.update(notes_d)


_Part = _SecretPart | _BinaryPart


def _part_for(visitor: ContentVisitor) -> _Part | None:
    if isinstance(visitor, SecretScanner):
        return _SecretPart(visitor)
    if isinstance(visitor, BinaryScan):
        return _BinaryPart(visitor)
    return None


def cacheable(visitors: Sequence[ContentVisitor]) -> bool:
    """Whether every visitor's per-layer output can be split and replayed (malware scanning cannot yet)."""
    return all(_part_for(v) is not None for v in visitors)


# --- keys ---------------------------------------------------------------------------------------------------
# The code whose behaviour a record captures: unpacking, the catalogers' kept paths and binary notes, the
# secret scanner, this module and the limits.  Hashed by content, so editing anything else keeps the cache.
_RECORDED_CODE = ("audit/unpack", "audit/catalog", "audit/secrets", "audit/layercache.py", "limits.py")


def _code_fingerprint() -> str:
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for name in _RECORDED_CODE:
        target = root / name
        for path in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            h.update(f"{path.relative_to(root)}\n".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def fingerprint(visitors: Sequence[ContentVisitor], limits: Limits, extra: str = "") -> str:
    """What besides the layers decides a record: code, limits, which scanners ran, the secret rules."""
    h = hashlib.sha256(_FORMAT)
    h.update(_code_fingerprint().encode())
    h.update(repr(limits).encode())
    h.update(extra.encode())
    for visitor in visitors:
        h.update(type(visitor).__qualname__.encode())
        if isinstance(visitor, SecretScanner):
            h.update(repr((visitor.matcher.rules, visitor.matcher.allowlist)).encode())
    return h.hexdigest()


def chain_keys(digests: Iterable[Digest], fingerprint_hex: str) -> list[str]:
    """One key per layer, naming the layer and every layer below it."""
    keys: list[str] = []
    previous = fingerprint_hex
    for digest in digests:
        previous = hashlib.sha256(f"{previous}\n{digest}".encode()).hexdigest()
        keys.append(previous)
    return keys


# --- storage -----------------------------------------------------------------------------------------------
class LayerCache:
    """A directory of layer records, one file per chain key, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0

    def _checked_dir(self) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = self.directory.stat()
        if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ConfigError(
                f"layer cache {self.directory}: owned by another user or writable by others; not used"
            )
        return self.directory

    def get(self, key: str) -> CachedLayer | None:
        path = self._checked_dir() / key
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        if not raw.startswith(_FORMAT + b"\n"):
            return None
        try:
            value = pickle.loads(raw[len(_FORMAT) + 1 :])  # noqa: S301  (private 0700 directory, see module doc)
        except Exception:  # a truncated or stale record is a miss, never an error
            return None
        return value if isinstance(value, CachedLayer) else None

    def put(self, key: str, value: CachedLayer) -> None:
        directory = self._checked_dir()
        data = _FORMAT + b"\n" + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            Path(tmp).replace(directory / key)
        except OSError:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()


# --- the cached unpack -------------------------------------------------------------------------------------
def unpack_cached(
    layers: Sequence[tuple[Digest, LayerOpener]],
    policy: ContentPolicy,
    visitors: Sequence[ContentVisitor],
    limits: Limits,
    cache: LayerCache | None,
    extra_fingerprint: str = "",
) -> FileIndex:
    """``unpack_layers`` over openers, replaying layers found in ``cache`` and recording the others.

    Falls back to reading every layer when ``cache`` is None or a visitor cannot be split per layer.
    """
    parts = [_part_for(v) for v in visitors]
    if cache is None or any(p is None for p in parts):
        unpacker = Unpacker(policy, visitors, limits)
        for _, opener in layers:
            with opener() as layer:
                unpacker.apply(layer)
        return unpacker.index
    tracked = [_Tracked(v) for v in visitors]
    unpacker = Unpacker(policy, tracked, limits)
    keys = chain_keys((d for d, _ in layers), fingerprint(visitors, limits, extra_fingerprint))
    known = [p for p in parts if p is not None]
    for key, (_, opener) in zip(keys, layers, strict=True):
        cached = cache.get(key)
        if cached is not None and len(cached.visitor_parts) == len(known):
            cache.hits += 1
            unpacker.replay(cached.record)
            for part, data in zip(known, cached.visitor_parts, strict=True):
                part.replay(data)
            continue
        cache.misses += 1
        for t in tracked:
            t.offered = []
        for part in known:
            part.begin()
        with opener() as layer:
            record = unpacker.apply(layer, record=True)
        assert record is not None
        cache.put(
            key, CachedLayer(record, tuple(p.end(t.offered) for p, t in zip(known, tracked, strict=True)))
        )
    return unpacker.index


__all__ = [
    "CachedLayer",
    "LayerCache",
    "LayerOpener",
    "cacheable",
    "chain_keys",
    "fingerprint",
    "unpack_cached",
]
