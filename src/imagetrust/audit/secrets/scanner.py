"""Secret scanning of layer contents as they stream from the unpacker, and of the image config.

Files are scanned in blocks with an overlap so a secret split across two chunks is still seen whole;
only candidate hits reach Python.  A file deleted by a later layer still ships in the image, so its
secrets are reported with ``present=false`` and the layer that deleted it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from imagetrust.audit.findings import Finding, FindingKind, Severity
from imagetrust.audit.secrets.matcher import Matcher, RawMatch, is_config_like
from imagetrust.audit.secrets.redact import preview
from imagetrust.audit.unpack import ContentSink, Entry, FileIndex, Unknown
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import ImageConfig

BLOCK = 1 << 20  # bytes handed to hyperscan at once
OVERLAP = 16 * 1024  # carried into the next block: longer than any match plus its confirmation window
SNIFF = 8000  # a NUL byte in the first bytes marks a binary (as git and grep decide)
# Files up to BATCH_FILE bytes are scanned together, up to BATCH bytes at a time: one hyperscan call per
# file cost more than the scan itself for the thousands of small files of an image.
BATCH_FILE = 64 * 1024
BATCH = 1 << 20
# Newlines in blocks already searched are counted only when a later hit needs its line number (most files
# have none); up to this many bytes of such blocks wait uncounted, so memory stays bounded.
UNCOUNTED = 16 << 20
T = TypeVar("T")  # what a caller tags a batched file with (an image entry, a path)


@dataclass(frozen=True)
class SecretHit:
    """One confirmed secret in one file; holds no secret, only its redacted preview."""

    rule_id: str
    description: str
    severity: Severity
    path: str
    line: int  # 1-based
    preview: str
    length: int
    layer: Digest | None = None
    test_path: bool = False


class _Scan:
    """Block-with-overlap scanning of one file's bytes; reports hits through ``emit``."""

    def __init__(self, matcher: Matcher, path: str, limit: int) -> None:
        self.matcher = matcher
        self.path = path
        self.config_like = is_config_like(path)
        self.binary: bool | None = None
        self.limit = limit
        self.hits: list[tuple[RawMatch, int]] = []  # (match, line)
        self.truncated = False
        self._carry = b""
        self._lines_before = 0  # newlines in bytes already dropped from the carry, once counted
        self._uncounted: list[tuple[bytes, int]] = []  # dropped blocks not counted yet: (block, cut)
        self._uncounted_bytes = 0

    def write(self, chunk: bytes) -> None:
        if self.binary is None:
            self.binary = chunk.find(b"\0", 0, SNIFF) >= 0
        data = self._carry + chunk if self._carry else chunk
        if len(data) < BLOCK:
            self._carry = data
            return
        self._scan(data, final=False)

    def close(self) -> None:
        if self._carry:
            self._scan(self._carry, final=True)
            self._carry = b""
        self._uncounted.clear()
        self._uncounted_bytes = 0

    @property
    def batchable(self) -> bool:
        """Whole in memory and small: it can wait to be scanned with other files."""
        return 0 < len(self._carry) <= BATCH_FILE and self._lines_dropped() == 0

    def close_with(self, matches: Sequence[RawMatch]) -> None:
        """``close`` for a batched file, with the matches found for its bytes."""
        self._record(self._carry, matches, len(self._carry), final=True)
        self._carry = b""

    def _scan(self, data: bytes, *, final: bool) -> None:
        cut = len(data) if final else len(data) - OVERLAP
        matches = self.matcher.find(data, binary=bool(self.binary), config_like=self.config_like)
        self._record(data, matches, cut, final=final)

    def _record(self, data: bytes, matches: Sequence[RawMatch], cut: int, *, final: bool) -> None:
        position, line = 0, -1
        for m in matches:
            if m.start >= cut:
                break  # seen again, with full context, in the next block
            if line < 0:
                line = self._lines_dropped() + 1
            line += data.count(b"\n", position, m.start)
            position = m.start
            if len(self.hits) >= self.limit:
                self.truncated = True
                break
            self.hits.append((m, line))
        if not final:
            self._uncounted.append((data, cut))
            self._uncounted_bytes += cut
            while self._uncounted_bytes > UNCOUNTED:
                block, end = self._uncounted.pop(0)
                self._uncounted_bytes -= end
                self._lines_before += block.count(b"\n", 0, end)
            self._carry = data[cut:]

    def _lines_dropped(self) -> int:
        """Newlines in every block before the carry (counting the ones still waiting)."""
        for block, end in self._uncounted:
            self._lines_before += block.count(b"\n", 0, end)
        self._uncounted.clear()
        self._uncounted_bytes = 0
        return self._lines_before


class _Batches(Generic[T]):
    """Small files, each tagged by its caller, waiting to be searched together; text and binaries apart."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._waiting: dict[bool, list[tuple[T, _Scan]]] = {False: [], True: []}
        self._bytes = {False: 0, True: 0}

    def add(self, tag: T, scan: _Scan) -> list[tuple[T, _Scan]]:
        """Queue a ``batchable`` file; when its batch fills up, the batch's files come back closed."""
        binary = bool(scan.binary)
        self._waiting[binary].append((tag, scan))
        self._bytes[binary] += len(scan._carry)
        return self._search(binary) if self._bytes[binary] >= BATCH else []

    def drain(self) -> list[tuple[T, _Scan]]:
        """Every file still waiting, searched and closed."""
        return self._search(False) + self._search(True)

    def _search(self, binary: bool) -> list[tuple[T, _Scan]]:
        batch, self._waiting[binary], self._bytes[binary] = self._waiting[binary], [], 0
        if batch:
            items = [(scan._carry, scan.config_like) for _, scan in batch]
            for (_, scan), matches in zip(batch, self._matcher.find_many(items, binary=binary), strict=True):
                scan.close_with(matches)
        return batch


class _Sink:
    def __init__(self, scanner: SecretScanner, entry: Entry, scan: _Scan) -> None:
        self._scanner = scanner
        self._entry = entry
        self._scan = scan

    def write(self, chunk: bytes) -> None:
        self._scan.write(chunk)

    def close(self) -> None:
        if self._scan.batchable:
            self._scanner._defer(self._entry, self._scan)
            return
        self._scan.close()
        self._scanner._collect(self._entry, self._scan)


class SecretScanner:
    """A ``ContentVisitor``: give it to ``unpack_layers``, then ask ``findings(index)``."""

    def __init__(self, matcher: Matcher | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
        self.matcher = matcher if matcher is not None else default_matcher()
        self.limits = limits
        self.hits: list[SecretHit] = []
        self.unknowns: list[Unknown] = []
        self._full = False
        self._batches: _Batches[Entry] = _Batches(self.matcher)

    def open(self, entry: Entry) -> ContentSink | None:
        if self._full or self.matcher.allowlist.skips(entry.path):
            return None
        return _Sink(self, entry, _Scan(self.matcher, entry.path, self.limits.secret_findings_per_file))

    def _defer(self, entry: Entry, scan: _Scan) -> None:
        for done, closed in self._batches.add(entry, scan):
            self._collect(done, closed)

    def flush(self) -> None:
        """Scan the files still waiting in a batch (at the end, and wherever results are taken per layer)."""
        for entry, scan in self._batches.drain():
            self._collect(entry, scan)

    def _collect(self, entry: Entry, scan: _Scan) -> None:
        if scan.truncated:
            limit = self.limits.secret_findings_per_file
            reason = (
                f"more than {limit} secret findings in this file (secret_findings_per_file); rest not listed"
            )
            self.unknowns.append(Unknown(entry.path, reason, entry.layer))
        if not scan.hits:
            return  # most files: no path pattern to evaluate
        test_path = self.matcher.allowlist.is_test_path(entry.path)
        for match, line in scan.hits:
            if len(self.hits) >= self.limits.secret_findings:
                self._full = True
                reason = (
                    f"more than {self.limits.secret_findings} secret findings (secret_findings); scan stopped"
                )
                self.unknowns.append(Unknown(entry.path, reason, entry.layer))
                return
            self.hits.append(_hit(match, entry.path, line, entry.layer, test_path))

    def findings(self, index: FileIndex) -> list[Finding]:
        """Findings with presence resolved against the final file system of ``index``."""
        self.flush()
        removed: dict[tuple[str, Digest | None], Digest | None] = {
            (e.path, e.layer): e.deleted_by for e in index.removed
        }
        out = []
        for hit in self.hits:
            live = index.live.get(hit.path)
            present = live is not None and live.layer == hit.layer
            deleted_by = None if present else removed.get((hit.path, hit.layer))
            out.append(hit_finding(hit, present=present, deleted_by=deleted_by))
        return out


def _hit(match: RawMatch, path: str, line: int, layer: Digest | None, test_path: bool) -> SecretHit:
    rule = match.rule
    severity = Severity.LOW if test_path and rule.severity > Severity.LOW else rule.severity
    return SecretHit(
        rule.id,
        rule.description,
        severity,
        path,
        line,
        preview(match.value),
        len(match.value),
        layer,
        test_path,
    )


def hit_finding(hit: SecretHit, *, present: bool = True, deleted_by: Digest | None = None) -> Finding:
    details: list[tuple[str, object]] = [
        ("line", hit.line),
        ("preview", hit.preview),
        ("length", hit.length),
        ("present", present),
    ]
    if deleted_by is not None:
        details.append(("deleted_by", str(deleted_by)))
    if hit.test_path:
        details.append(("test_path", True))
    in_file = not _is_config_location(hit.path)
    return Finding(
        kind=FindingKind.SECRET,
        id=hit.rule_id,
        severity=hit.severity,
        title=f"{hit.description} in {'/' if in_file else ''}{hit.path}",
        path=hit.path if in_file else None,
        layer=hit.layer,
        details=tuple(details) if in_file else (("location", hit.path), *details),
    )


def _is_config_location(path: str) -> bool:
    return path.startswith(("config.", "history["))


# --- image config ------------------------------------------------------------------------------------------


def config_texts(
    config: ImageConfig, layers: Sequence[Digest] | None = None
) -> Iterator[tuple[str, str, Digest | None]]:
    """(location, text, layer) for every config string a build can leak a secret into.

    ``layers`` names the layers as the unpacker did (manifest blob digests, in order) so a history line
    and a file finding agree on which layer they mean; without it the config's diff_ids are used.
    """
    named = list(layers) if layers is not None else list(config.diff_ids)
    for i, item in enumerate(config.env):
        yield f"config.Env[{i}]", item, None
    for key, value in config.labels:
        yield f"config.Labels[{key}]", f"{key}={value}", None
    if config.entrypoint:
        yield "config.Entrypoint", " ".join(config.entrypoint), None
    if config.cmd:
        yield "config.Cmd", " ".join(config.cmd), None
    layer_index = 0
    for i, entry in enumerate(config.history):
        layer = None
        if not entry.empty_layer:
            layer = named[layer_index] if layer_index < len(named) else None
            layer_index += 1
        if entry.created_by:
            yield f"history[{i}].created_by", entry.created_by, layer


def scan_config(
    config: ImageConfig, matcher: Matcher | None = None, layers: Sequence[Digest] | None = None
) -> list[Finding]:
    """Secrets in ENV, labels, entrypoint/cmd and build history (where ``ARG`` values land)."""
    matcher = matcher if matcher is not None else default_matcher()
    out = []
    for location, text, layer in config_texts(config, layers):
        for match in matcher.find(text.encode("utf-8", "surrogateescape"), config_like=True):
            hit = _hit(match, location, 1, layer, False)
            out.append(hit_finding(hit))
    return out


# --- plain directories (benchmarks, local checks) ----------------------------------------------------------


def scan_file(
    matcher: Matcher, path: str, chunks: Iterable[bytes], limits: Limits = DEFAULT_LIMITS
) -> list[SecretHit]:
    scan = _Scan(matcher, path, limits.secret_findings_per_file)
    for chunk in chunks:
        scan.write(chunk)
    scan.close()
    return _file_hits(matcher, path, scan)


def _file_hits(matcher: Matcher, path: str, scan: _Scan) -> list[SecretHit]:
    if not scan.hits:
        return []
    test_path = matcher.allowlist.is_test_path(path)
    return [_hit(m, path, line, None, test_path) for m, line in scan.hits]


def scan_tree(root: Path, matcher: Matcher | None = None, limits: Limits = DEFAULT_LIMITS) -> list[SecretHit]:
    """Every regular file under ``root`` (symlinks not followed), paths relative to ``root``; small files
    are searched in batches, as in an image."""
    matcher = matcher if matcher is not None else default_matcher()
    hits: list[SecretHit] = []
    batches: _Batches[str] = _Batches(matcher)
    pending = [(str(root), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for item in entries:
            rel = prefix + item.name
            if item.is_dir(follow_symlinks=False):
                pending.append((item.path, rel + "/"))
            elif item.is_file(follow_symlinks=False) and not matcher.allowlist.skips(rel):
                scan = _Scan(matcher, rel, limits.secret_findings_per_file)
                with open(item.path, "rb") as f:
                    while chunk := f.read(BLOCK):
                        scan.write(chunk)
                if scan.batchable:
                    for path, closed in batches.add(rel, scan):
                        hits.extend(_file_hits(matcher, path, closed))
                else:
                    scan.close()
                    hits.extend(_file_hits(matcher, rel, scan))
    for path, closed in batches.drain():
        hits.extend(_file_hits(matcher, path, closed))
    return hits


_DEFAULT: Matcher | None = None


def default_matcher() -> Matcher:
    """The built-in rules and allowlist, compiled once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Matcher()
    return _DEFAULT
