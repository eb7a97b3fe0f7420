"""User rule files: format, checks at load time, allowlists, and refusal of broken input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagetrust.audit.secrets import load_user_config, scan_file
from imagetrust.errors import ConfigError

TOML = """
[[rules]]
id = "acme-api-key"
description = "ACME API key"
severity = "critical"
patterns = ['(?P<secret>acme_[a-z0-9]{24})']
entropy = 3.0
true_examples = ["key: acme_9f2k4m7q1x8z3v6b0n5c2l7d"]
false_examples = ["acme_000000000000000000000000"]

[allowlist]
skip_paths = ['^opt/vendor/']
values = ['^ghp_R8kq']
disable_rules = ["jwt"]
"""


def _hits(matcher, path: str, text: str):
    return [(h.rule_id, h.severity.value) for h in scan_file(matcher, path, [text.encode()])]


def test_toml_rule_and_allowlist(tmp_path: Path) -> None:
    f = tmp_path / "secrets.toml"
    f.write_text(TOML)
    m = load_user_config(f)
    assert _hits(m, "etc/acme.conf", "ACME=acme_9f2k4m7q1x8z3v6b0n5c2l7d\n") == [("acme-api-key", "critical")]
    assert _hits(m, "etc/gh", "GITHUB_TOKEN=ghp_R8kq2Lx9Vm4Tn7Wp1Zb5Yc3Hf6Gj0Ud8Ae2Ks\n") == []
    assert m.allowlist.skips("opt/vendor/lib.py")
    assert "jwt" not in {r.id for r in m.rules}
    assert "aws-access-key-id" in {r.id for r in m.rules}


def test_json_format_and_without_builtin_rules(tmp_path: Path) -> None:
    f = tmp_path / "secrets.json"
    rule = {"id": "x-token", "patterns": ["(?P<secret>xt-[0-9]{8})"], "true_examples": ["xt-12345678"]}
    f.write_text(json.dumps({"rules": [rule]}))
    m = load_user_config(f, builtin=False)
    assert [r.id for r in m.rules] == ["x-token"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rules]]\nid = "a"\npatterns = ["(?P<secret>a+"]\n', "invalid pattern"),
        ('[[rules]]\nid = "a"\npatterns = ["abc"]\n', "no (?P<secret>"),
        (
            '[[rules]]\nid = "a"\npatterns = ["(?P<secret>zz[0-9]{4})"]\ntrue_examples = ["zz12"]\n',
            "true example 1",
        ),
        (
            '[[rules]]\nid = "a"\npatterns = ["(?P<secret>zz[0-9]{4})"]\nfalse_examples = ["zz1234"]\n',
            "false example 1",
        ),
        ('[[rules]]\nid = "aws-access-key-id"\npatterns = ["(?P<secret>q)"]\n', "unique"),
        ('[[rules]]\nid = "a"\npatterns = ["(?P<secret>q)"]\ncolour = 1\n', "unknown keys"),
        ("[allowlist]\nvalues = ['(']\n", "not a valid regex"),
        ("rules = 3\n", "must be a list"),
        ("[other]\n", "top level"),
        ("not toml at all = = =\n", "not valid"),
    ],
)
def test_broken_files_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        load_user_config(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_user_config(tmp_path / "absent.toml")
