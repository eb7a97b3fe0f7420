"""What is not a secret: placeholder values, files never worth scanning, and test fixtures.

Three levels: ``skip_paths`` files are not scanned at all (lockfiles hold integrity hashes, not secrets);
``test_paths`` files are scanned but their findings are downgraded to LOW (a fixture key in an installed
package's test suite is rarely a leak, but a deleted or real one still is); value filters drop placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from imagetrust.audit.secrets.entropy import shannon

_SKIP_PATHS = (
    r"(?:^|/)(?:package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|deno\.lock|poetry\.lock"
    r"|Pipfile\.lock|Cargo\.lock|composer\.lock|Gemfile\.lock|go\.sum|gradle\.lockfile|packages\.lock\.json"
    r"|mix\.lock|pubspec\.lock|flake\.lock|uv\.lock)$",
    r"(?:^|/)\.git/(?:objects|index$)",
    r"(?i)\.(?:png|jpe?g|gif|bmp|ico|svgz|webp|tiff?|woff2?|ttf|otf|eot|mo|pyc|class)$",
    r"(?:^|/)usr/share/(?:doc|man|locale|i18n|zoneinfo|mime|icons)/",
    r"(?:^|/)var/lib/(?:dpkg|apt/lists|rpm|apk)/",
    r"(?:^|/)etc/ssl/certs/",
    r"(?:^|/)usr/share/ca-certificates/",
)
_TEST_PATHS = (
    r"(?i)(?:^|/)(?:tests?|testing|testdata|test_data|fixtures?|__tests__|spec|specs|mocks?|examples?|samples?"
    r"|docs?)(?:/|$)",
    r"(?i)(?:^|/)[^/]*(?:_test\.go|_test\.py|\.test\.[jt]sx?|\.spec\.[jt]sx?|test_[^/]*\.py)$",
)
# Values that hold a place rather than a secret, for every rule.
_PLACEHOLDER = re.compile(
    rb"(?i)example|xxxx|\*\*\*|changeme|change_me|change-me|redacted|placeholder|replace[_-]?me|your[_-]"
    rb"|\$\{|\{\{|%\(|<[^>]*>|^\$[A-Za-z_]|^%[A-Za-z_]+%$|\.\.\."
    # digests of empty input (md5, sha1, sha256): what a tool prints before it hashed anything
    rb"|d41d8cd98f00b204e9800998ecf8427e|da39a3ee5e6b4b0d3255bfef95601890afd80709"
    rb"|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)
# Extra words that mark a keyword-heuristic value as made up.
_GENERIC_STOPWORDS = re.compile(
    rb"(?i)dummy|fake|sample|test|mock|foo|bar|secret|password|passwd|token|apikey|api_key|here|insert|todo"
    rb"|lorem|demo|null|none|undefined|string|value"
)
# Keyboard and counting runs: typed by a person filling a slot, never chance even in a long random value.
_GENERIC_FILL = re.compile(rb"(?i)qwerty|0{8}|1234567|abcdef|a{6}|x{6}")
_ONE_CHAR = re.compile(rb"^(.)\1*$", re.DOTALL)
_RANDOM_MIN_LENGTH = 32
_RANDOM_MIN_ENTROPY = 4.8


@dataclass(frozen=True)
class Allowlist:
    skip_paths: tuple[re.Pattern[str], ...] = ()
    test_paths: tuple[re.Pattern[str], ...] = ()
    values: tuple[re.Pattern[bytes], ...] = ()  # user regexes: a matching value is not a secret
    disabled_rules: frozenset[str] = field(default_factory=frozenset)
    # path patterns compiled once for the per-file checks (not part of what the allowlist is)
    _skip: PathPatterns = field(init=False, repr=False, compare=False)
    _test: PathPatterns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_skip", PathPatterns.of(self.skip_paths))
        object.__setattr__(self, "_test", PathPatterns.of(self.test_paths))

    @classmethod
    def default(cls) -> Allowlist:
        return cls(
            skip_paths=tuple(re.compile(p) for p in _SKIP_PATHS),
            test_paths=tuple(re.compile(p) for p in _TEST_PATHS),
        )

    def extended(
        self,
        *,
        skip_paths: Iterable[str] = (),
        test_paths: Iterable[str] = (),
        values: Iterable[str] = (),
        disabled_rules: Iterable[str] = (),
    ) -> Allowlist:
        return Allowlist(
            self.skip_paths + tuple(re.compile(p) for p in skip_paths),
            self.test_paths + tuple(re.compile(p) for p in test_paths),
            self.values + tuple(re.compile(v.encode()) for v in values),
            self.disabled_rules | frozenset(disabled_rules),
        )

    def skips(self, path: str) -> bool:
        return self._skip.search(path)

    def is_test_path(self, path: str) -> bool:
        return self._test.search(path)

    def allows_value(self, value: bytes, *, generic: bool) -> bool:
        """True when ``value`` is a placeholder (or user-allowlisted) and so not a finding."""
        if _ONE_CHAR.match(value) or _PLACEHOLDER.search(value):
            return True
        if generic and (
            _GENERIC_FILL.search(value) or (_GENERIC_STOPWORDS.search(value) and not _plainly_random(value))
        ):
            return True
        return any(v.search(value) for v in self.values)


def _plainly_random(value: bytes) -> bool:
    """Long and near the entropy of random base64: `foo` or `Bar` inside it is chance, not a made-up word.

    Made-up values spell words (`thisIsAFakeTokenForTests123` stays under 4.4 bits per character).
    """
    return len(value) >= _RANDOM_MIN_LENGTH and shannon(value) >= _RANDOM_MIN_ENTROPY


@dataclass(frozen=True)
class PathPatterns:
    """Path regexes as two alternations that answer exactly as ``any(p.search(path) for p in patterns)``.

    Paths are checked for every file of an image.  A pattern ``(?:^|/)REST`` (a path component onwards)
    made ``re`` try the whole alternation at every offset; written ``/REST`` and searched in ``"/" + path``
    it matches at the same places (REST never looks behind its start) and ``re`` jumps between slashes.
    """

    rooted: re.Pattern[str]  # the ``(?:^|/)`` patterns, each as ``/REST``: searched in "/" + path
    plain: re.Pattern[str]  # every other pattern, searched in path

    @classmethod
    def of(cls, patterns: tuple[re.Pattern[str], ...]) -> PathPatterns:
        rooted, plain = [], []
        for p in patterns:
            flags = "i" if p.flags & re.IGNORECASE else ""
            body = p.pattern.removeprefix("(?i)")
            rest = body.removeprefix(_COMPONENT_START)
            if rest != body and _starts_anywhere(rest):
                rooted.append(_group(flags, "/" + rest))
            else:
                plain.append(_group(flags, body))
        return cls(_alternation(rooted), _alternation(plain))

    def search(self, path: str) -> bool:
        return self.rooted.search("/" + path) is not None or self.plain.search(path) is not None


_COMPONENT_START = "(?:^|/)"
# What could make REST depend on what precedes its start (an anchor, a lookbehind, a word boundary); a
# caret only opening a negated class is fine; a comment could hide a parenthesis from _top_level_bar.
# Conservative: anything doubtful stays a plain pattern.
_LOOKS_BEHIND = ("^", "\\A", "\\b", "\\B", "(?<", "\\[", "(?m", "(?s", "(?x", "(?#")


def _starts_anywhere(rest: str) -> bool:
    # A top-level "|" starts a branch that is not behind the component start ("(?:^|/)a|/b" is
    # "((?:^|/)a)|/b", and "/b" would match the prepended slash): such a pattern is kept plain.
    return not _top_level_bar(rest) and not any(token in rest.replace("[^", "[") for token in _LOOKS_BEHIND)


def _top_level_bar(rest: str) -> bool:
    """Whether ``rest`` has a "|" outside every group and character class (or might: an unbalanced ")")."""
    depth, i, in_class = 0, 0, False
    while i < len(rest):
        c = rest[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1
            i += rest.startswith("^", i)
            i += rest.startswith("]", i)  # a "]" first in a class is a literal
            continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return True
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


def _group(flags: str, body: str) -> str:
    return f"(?{flags}:{body})" if flags else f"(?:{body})"


def _alternation(parts: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(parts) if parts else r"(?!)")
