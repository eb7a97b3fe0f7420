"""From candidate offsets to confirmed secrets in one buffer: regex, entropy, validators, allowlist."""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imagetrust.audit.secrets.allowlist import Allowlist
from imagetrust.audit.secrets.engine import CandidateEngine, CompiledPattern, compile_patterns, make_engine
from imagetrust.audit.secrets.entropy import is_random_enough
from imagetrust.audit.secrets.rules import BUILTIN_RULES, Rule
from imagetrust.audit.secrets.validate import VALIDATORS
from imagetrust.errors import ConfigError

# The regex re-reads this much of the candidate's line: anchors end within a name-and-assignment's length of
# the match start, and values are at most a few hundred bytes.
BEFORE = 256
AFTER = 1024
# A later candidate of the same pattern on the same line within this distance is inside the first one's
# window, with AFTER - SPACING bytes left for its value; the engine reports only candidates this far apart.
SPACING = AFTER // 2

_CODE_EXTENSIONS = frozenset(
    [
        ".py",
        ".pyi",
        ".js",
        ".mjs",
        ".cjs",
        ".jsx",
        ".ts",
        ".tsx",
        ".go",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".groovy",
        ".cs",
        ".vb",
        ".fs",
        ".rb",
        ".php",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".m",
        ".mm",
        ".swift",
        ".rs",
        ".dart",
        ".lua",
        ".pl",
        ".pm",
        ".r",
        ".ex",
        ".exs",
        ".erl",
        ".clj",
        ".vue",
        ".svelte",
        ".html",
        ".htm",
        ".xml",
        ".sql",
        ".pas",
        ".pp",
        ".dpr",
        ".lpr",
    ]
)


@dataclass(frozen=True)
class RawMatch:
    rule: Rule
    start: int  # offset of the whole match in the buffer
    value_start: int
    value: bytes  # the secret itself: only ever passed to ``redact.preview``


def is_config_like(path: str) -> bool:
    """Where a bare ``password: value`` is the value itself, not a reference to a variable."""
    ext = posixpath.splitext(path)[1].lower()
    return ext not in _CODE_EXTENSIONS


class Matcher:
    """A rule set compiled once: hyperscan database, confirming regexes and allowlist."""

    def __init__(self, rules: Sequence[Rule] = BUILTIN_RULES, allowlist: Allowlist | None = None) -> None:
        self.allowlist = allowlist if allowlist is not None else Allowlist.default()
        active = [r for r in rules if r.id not in self.allowlist.disabled_rules]
        ids = [r.id for r in active]
        if len(set(ids)) != len(ids):
            raise ConfigError("secret rules: rule ids must be unique")
        self.rules = tuple(active)
        # specific rules (ours or a user's) before keyword heuristics, then in declaration order
        self._priority = {r.id: (r.generic, i) for i, r in enumerate(self.rules)}
        self.patterns: list[CompiledPattern] = compile_patterns(self.rules)
        self.engine: CandidateEngine = make_engine(self.patterns, SPACING)

    def find(self, data: bytes, *, binary: bool = False, config_like: bool = True) -> list[RawMatch]:
        """Every confirmed secret in ``data``, at most one per (rule, start), specific rules first."""
        return self._confirm(data, self.engine.candidates(data, binary=binary), config_like)

    def find_many(self, items: Sequence[tuple[bytes, bool]], *, binary: bool = False) -> list[list[RawMatch]]:
        """``find`` for many small files (bytes, config_like) with one candidate search over all of them.

        The files are joined with newlines; each candidate is given to the file its last byte falls in and
        confirmed on that file's bytes alone, so no match can span two files.
        """
        starts: list[int] = []
        position = 0
        for data, _ in items:
            starts.append(position)
            position += len(data) + 1
        joined = b"\n".join(data for data, _ in items)
        per_file: list[list[tuple[int, int]]] = [[] for _ in items]
        for pattern_id, end in self.engine.candidates(joined, binary=binary):
            index = bisect.bisect_right(starts, max(end - 1, 0)) - 1
            local = min(end - starts[index], len(items[index][0]))
            if local > 0:
                per_file[index].append((pattern_id, local))
        return [
            self._confirm(data, candidates, config_like) if candidates else []
            for (data, config_like), candidates in zip(items, per_file, strict=True)
        ]

    def _confirm(
        self, data: bytes, candidates: Iterable[tuple[int, int]], config_like: bool
    ) -> list[RawMatch]:
        found: dict[tuple[str, int], RawMatch] = {}
        for pattern_id, end in candidates:
            pattern = self.patterns[pattern_id]
            if pattern.config_only and not config_like:
                continue
            rule = pattern.rule
            if rule.window_after:  # spans lines (PEM): the anchor ends on the first line of the match
                lo, hi = max(0, end - BEFORE), min(len(data), end + rule.window_after)
            else:  # the candidate's line, at most BEFORE/AFTER around it (searched no further)
                lo = max(0, end - BEFORE)
                lo = max(data.rfind(b"\n", lo, end) + 1, lo)
                line_end = data.find(b"\n", end, end + AFTER)
                hi = min(len(data), end + AFTER) if line_end < 0 else line_end
            for m in pattern.regex.finditer(data, lo, hi):
                value = m.group("secret")
                if value is None or (rule.id, m.start()) in found or not self._accept(rule, m, value):
                    continue
                found[(rule.id, m.start())] = RawMatch(rule, m.start(), m.start("secret"), value)
        return self._drop_overlaps(found.values())

    def _accept(self, rule: Rule, m: re.Match[bytes], value: bytes) -> bool:
        """All four checks must pass; the rule's validator goes before the placeholder filters because
        it rejects most of the keyword rules' candidates (names like ``license_key``) at a third the cost."""
        if len(value) < rule.min_length or not is_random_enough(value, rule.entropy):
            return False
        check = VALIDATORS.get(rule.validator) if rule.validator else None
        if check is not None and not check(m, value):
            return False
        return not self.allowlist.allows_value(value, generic=rule.generic)

    def _drop_overlaps(self, matches: Iterable[RawMatch]) -> list[RawMatch]:
        """When rules agree on one value (a GitHub token assigned to ``api_key``), keep the most specific."""
        ordered = sorted(matches, key=lambda m: (self._priority[m.rule.id], m.start))
        kept: list[RawMatch] = []
        seen: set[int] = set()
        for m in ordered:
            if m.value_start in seen:
                continue
            seen.add(m.value_start)
            kept.append(m)
        kept.sort(key=lambda m: m.start)
        return kept


def check_rule_examples(matcher: Matcher, rule: Rule) -> list[str]:
    """The examples of ``rule`` it gets wrong (empty when it passes its own examples)."""
    wrong = []
    for i, example in enumerate(rule.true_examples, 1):
        if not any(m.rule.id == rule.id for m in matcher.find(example.encode(), config_like=True)):
            wrong.append(f"misses its true example {i}")
    for i, example in enumerate(rule.false_examples, 1):
        if any(m.rule.id == rule.id for m in matcher.find(example.encode(), config_like=True)):
            wrong.append(f"matches its false example {i}")
    return wrong
