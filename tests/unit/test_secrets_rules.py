"""Every built-in rule proves itself on its own true and false examples, under both engines."""

from __future__ import annotations

import re

import pytest

from imagetrust.audit.findings import Severity
from imagetrust.audit.secrets import BUILTIN_RULES, Matcher, check_rule_examples
from imagetrust.audit.secrets.allowlist import Allowlist
from imagetrust.audit.secrets.engine import RegexEngine, compile_patterns
from imagetrust.audit.secrets.entropy import shannon
from imagetrust.audit.secrets.matcher import is_config_like
from imagetrust.audit.secrets.redact import preview

MATCHER = Matcher()


def _regex_matcher() -> Matcher:
    m = Matcher()
    m.engine = RegexEngine(m.patterns)
    return m


REGEX_MATCHER = _regex_matcher()


@pytest.mark.parametrize("rule", BUILTIN_RULES, ids=lambda r: r.id)
def test_rule_passes_its_examples(rule) -> None:
    assert rule.true_examples and rule.false_examples, "every rule carries true and false examples"
    assert check_rule_examples(MATCHER, rule) == []


@pytest.mark.parametrize("rule", BUILTIN_RULES, ids=lambda r: r.id)
def test_regex_fallback_agrees_with_hyperscan(rule) -> None:
    for example in (*rule.true_examples, *rule.false_examples):
        data = example.encode()
        fast = [(m.rule.id, m.start, m.value) for m in MATCHER.find(data)]
        slow = [(m.rule.id, m.start, m.value) for m in REGEX_MATCHER.find(data)]
        assert fast == slow


def test_anchor_is_necessary_for_each_true_example() -> None:
    """An anchor that missed a true example would silently lose it: hyperscan must propose it."""
    for i, pattern in enumerate(MATCHER.patterns):
        for example in pattern.rule.true_examples:
            data = example.encode()
            if pattern.regex.search(data) is None:
                continue  # the example is for another pattern of the rule
            proposed = {pid for pid, _ in MATCHER.engine.candidates(data, binary=False)}
            assert i in proposed, f"{pattern.rule.id} pattern {i}"


def test_rule_ids_unique_and_severities_set() -> None:
    ids = [r.id for r in BUILTIN_RULES]
    assert len(ids) == len(set(ids))
    assert all(r.severity > Severity.NEGLIGIBLE for r in BUILTIN_RULES)
    assert all(all(re.compile(p.regex).groupindex.get("secret") for p in r.patterns) for r in BUILTIN_RULES)


def test_compiled_once_per_pattern() -> None:
    assert len(compile_patterns(BUILTIN_RULES)) == sum(len(r.patterns) for r in BUILTIN_RULES)


def test_generic_rules_do_not_run_on_binaries() -> None:
    text = b"\0\0password = 'Zx81qLm4abc'\nkey AKIAZ5Q7M3RTW2LXNHB4\n"
    found = {m.rule.id for m in MATCHER.find(text, binary=True)}
    assert found == {"aws-access-key-id"}
    assert {m.rule.id for m in MATCHER.find(text, binary=False)} == {
        "aws-access-key-id",
        "password-assignment",
    }


def test_specific_rule_wins_over_generic_on_same_value() -> None:
    found = MATCHER.find(b"api_token = 'ghp_R8kq2Lx9Vm4Tn7Wp1Zb5Yc3Hf6Gj0Ud8Ae2Ks'")
    assert [m.rule.id for m in found] == ["github-token"]


def test_unquoted_password_only_in_config_like_files() -> None:
    line = b"password = hunter2x9\n"
    assert [m.rule.id for m in MATCHER.find(line, config_like=True)] == ["password-assignment"]
    assert MATCHER.find(line, config_like=False) == []


def test_entropy() -> None:
    assert shannon(b"") == 0.0
    assert shannon(b"aaaa") == 0.0
    assert shannon(b"abcd") == 2.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ghp_R8kq2Lx9Vm4Tn7Wp1Zb5Yc3Hf6Gj0Ud8Ae2Ks", "ghp_…(41 chars)"),
        ("Zx81qLm4ab", "Zx…(10 chars)"),
        ("hunter2", "…(7 chars)"),
    ],
)
def test_preview_shows_little(value: str, expected: str) -> None:
    assert preview(value) == expected
    assert preview(value.encode()) == expected


def test_made_up_words_only_count_outside_plainly_random_values() -> None:
    """`foo` inside 50 random base64 characters is chance; `test` in a short or word-built value is not."""
    allow = Allowlist.default()
    assert allow.allows_value(b"test_api_key_value_1234", generic=True)
    assert allow.allows_value(b"thisIsAFakeTokenForTestingPurposesOnly123", generic=True)
    assert not allow.allows_value(b"Qm9Lx2Vt7Rk4Np8Wz1Cy5Dh3FoOj6Gm0Sb2Ue7KaTq4Yr8Hw3Lz", generic=True)
    # counting and keyboard runs are never chance, however high their entropy
    assert allow.allows_value(b"1234567890abcdefghijklmnopqrstuvwxyz", generic=True)
    # specific rules never consult the made-up-word list
    assert not allow.allows_value(b"test_api_key_value_1234", generic=False)


def test_pascal_sources_are_code() -> None:
    """`pass: UInt32;` declares a variable in Pascal: bare values there are types, not passwords."""
    assert not is_config_like("src/units/ftp.pas")
    assert not is_config_like("examples/test01.pp")
    assert is_config_like("etc/app.conf")
