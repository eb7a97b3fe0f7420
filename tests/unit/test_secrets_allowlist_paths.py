"""The compiled path checks answer exactly as searching each allowlist pattern on its own."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from imagetrust.audit.secrets.allowlist import _SKIP_PATHS, _TEST_PATHS, PathPatterns

# Ours, and user patterns of every shape: anchored, looking behind, word boundaries, escaped brackets.
PATTERNS = (
    *_SKIP_PATHS,
    *_TEST_PATHS,
    r"(?:^|/)^etc/x$",
    r"(?:^|/)(?<!a)b/",
    r"(?:^|/)\bfoo",
    r"(?:^|/)\Bfoo",
    r"(?:^|/)\[^x\]",
    r"(?:^|/)[^/]*\.key$",
    r"(?i)(?:^|/)Secrets?/",
    r"^srv/",
    r"\.pem$",
    r"(?:^|/)",
    r"(?:^|/)foo|/bar",  # a top-level alternation: its second branch is not rooted
    r"(?:^|/)(?:a|b)|/c",
    r"(?:^|/)[)]|/bar",
    r"(?:^|/)a(?#()|/bar",
    r"(?:^|/)[|]x/",
    r"(?:^|/)(?:foo|bar)/(?:a|b)$",
)
COMPONENTS = ["", "a", "b", "tests", "TEST", "doc", "etc", "x", "foo", "afoo", "[^x]", "secret", "id.key"]
COMPONENTS += ["usr", "share", "man", "var", "lib", "dpkg", "go.sum", "a.PNG", "test_x.py", "x_test.go", "\n"]
COMPONENTS += ["bar", "c", "|x", ")", "a)"]


def _reference(patterns: tuple[re.Pattern[str], ...], path: str) -> bool:
    return any(p.search(path) for p in patterns)


@given(st.lists(st.sampled_from(COMPONENTS), max_size=6), st.sampled_from(["", "/", "\n"]))
def test_same_answer_as_each_pattern(parts: list[str], end: str) -> None:
    path = "/".join(parts) + end
    for i in range(len(PATTERNS)):
        chosen = tuple(re.compile(p) for p in PATTERNS[i:] + PATTERNS[:i][:3])
        assert PathPatterns.of(chosen).search(path) == _reference(chosen, path), (path, chosen)


def test_component_patterns_are_rooted_and_doubtful_ones_plain() -> None:
    compiled = PathPatterns.of(tuple(re.compile(p) for p in PATTERNS))
    assert "/usr/share/" in compiled.rooted.pattern
    for doubtful in ("^etc/x$", "(?<!a)b/", r"\bfoo", r"\Bfoo", r"\[^x\]"):
        assert doubtful in compiled.plain.pattern
    assert PathPatterns.of(()).search("anything") is False
    builtin = PathPatterns.of(tuple(re.compile(p) for p in _SKIP_PATHS))
    assert r"/usr/share/(?:doc|man" in builtin.rooted.pattern  # alternations inside groups stay rooted
    for top_level in (r"(?:^|/)foo|/bar", r"(?:^|/)(?:a|b)|/c", r"(?:^|/)[)]|/bar", r"(?:^|/)a(?#()|/bar"):
        assert (
            top_level.removeprefix("(?:^|/)") not in PathPatterns.of((re.compile(top_level),)).rooted.pattern
        )
