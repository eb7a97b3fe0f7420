"""Candidate search: every rule pattern in one hyperscan database, compiled once, scanned in C.

Hyperscan reports (pattern, end offset) pairs; Python then re-runs only that pattern's regex on the
bounded window around each candidate to extract the ``secret`` group.  Patterns are compiled in
prefilter mode so lookarounds are allowed (hyperscan over-approximates, Python confirms).  Without
hyperscan a pure ``re`` engine gives the same answers, much more slowly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from imagetrust.audit.secrets.rules import Rule
from imagetrust.errors import ConfigError

_hs: Any
try:  # pragma: no branch
    import hyperscan as _hs
except ImportError:  # pragma: no cover - hyperscan is a declared dependency
    _hs = None


@dataclass(frozen=True)
class CompiledPattern:
    rule: Rule
    regex: re.Pattern[bytes]
    config_only: bool
    anchor: bytes | None  # hyperscan expression; None: the regex itself, in prefilter mode


class CandidateEngine(Protocol):
    def candidates(self, data: bytes, *, binary: bool) -> list[tuple[int, int]]:
        """(pattern index, end offset) for every place some pattern may match."""
        ...


def compile_patterns(rules: Sequence[Rule]) -> list[CompiledPattern]:
    out = []
    for rule in rules:
        for pattern in rule.patterns:
            flags = re.MULTILINE | (re.IGNORECASE if rule.case_insensitive else 0)
            try:
                regex = re.compile(pattern.regex.encode(), flags)
            except re.error as e:
                raise ConfigError(f"secret rule {rule.id!r}: invalid pattern: {e}") from e
            if "secret" not in regex.groupindex:
                raise ConfigError(f"secret rule {rule.id!r}: pattern has no (?P<secret>...) group")
            anchor = pattern.anchor.encode() if pattern.anchor is not None else None
            out.append(CompiledPattern(rule, regex, pattern.config_only, anchor))
    return out


class HyperscanEngine:
    """One block-mode database of every pattern; in binaries only the specific (non-generic) patterns'
    matches are kept.

    Hyperscan reports each pattern's matches independently of the others, so dropping the generic
    patterns' matches gives exactly what a database of the specific patterns alone reports; keyword
    anchors rarely match in binaries, and a second database cost a third more compile time per process.
    One scratch space: a matcher scans on one thread at a time (the unpacker is serial); give each thread
    its own ``Matcher`` otherwise.
    """

    def __init__(self, patterns: Sequence[CompiledPattern], spacing: int) -> None:
        assert _hs is not None
        self._spacing = spacing
        self._db = self._compile(patterns, list(range(len(patterns))))
        self._generic = [p.rule.generic for p in patterns]
        self._any_specific = not all(self._generic)

    @staticmethod
    def _compile(patterns: Sequence[CompiledPattern], ids: list[int]) -> tuple[Any, Any]:
        assert _hs is not None
        db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        flags, expressions = [], []
        for i in ids:
            p = patterns[i]
            flag = _hs.HS_FLAG_MULTILINE | _hs.HS_FLAG_ALLOWEMPTY
            flag |= _hs.HS_FLAG_CASELESS if p.rule.case_insensitive else 0
            flag |= _hs.HS_FLAG_PREFILTER if p.anchor is None else 0
            flags.append(flag)
            expressions.append(p.anchor if p.anchor is not None else p.regex.pattern)
        try:
            db.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
        except _hs.error as e:
            raise ConfigError(f"secret rules: hyperscan cannot compile the rule set: {e}") from e
        return db, _hs.Scratch(db)

    def candidates(self, data: bytes, *, binary: bool) -> list[tuple[int, int]]:
        if not data or (binary and not self._any_specific):
            return []
        db, scratch = self._db
        hits: list[tuple[int, int]] = []
        last: dict[int, tuple[int, int]] = {}  # pattern -> (end, its line's end) of the last kept candidate
        skip = self._generic if binary else None
        spacing = self._spacing

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            if skip is not None and skip[pattern_id]:
                return  # binaries: specific rules only
            # A pattern with an open-ended tail reports every end offset: on one line, one candidate per
            # ``spacing`` bytes is enough (the matcher re-reads a window around each).  One per line was
            # not: a second key further along a long minified line was never confirmed.
            kept = last.get(pattern_id)
            if kept is not None and end <= kept[1]:
                if end - kept[0] < spacing:
                    return
                last[pattern_id] = (end, kept[1])
            else:
                line_end = data.find(b"\n", end)
                last[pattern_id] = (end, len(data) if line_end < 0 else line_end)
            hits.append((pattern_id, end))

        db.scan(data, match_event_handler=on_match, scratch=scratch)
        return hits


class RegexEngine:
    """Pure ``re`` fallback: the same candidates, found by running every pattern over the data."""

    def __init__(self, patterns: Sequence[CompiledPattern]) -> None:
        self._patterns = patterns

    def candidates(self, data: bytes, *, binary: bool) -> list[tuple[int, int]]:
        hits: list[tuple[int, int]] = []
        for i, p in enumerate(self._patterns):
            if binary and p.rule.generic:
                continue
            hits.extend((i, m.end()) for m in p.regex.finditer(data))
        return hits


def make_engine(patterns: Sequence[CompiledPattern], spacing: int) -> CandidateEngine:
    """``spacing``: how far apart two candidates of one pattern on one line must be to both be reported."""
    if _hs is not None:
        return HyperscanEngine(patterns, spacing)
    return RegexEngine(patterns)  # pragma: no cover
