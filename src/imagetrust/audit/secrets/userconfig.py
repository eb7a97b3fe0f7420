"""User rules and allowlists from a TOML or JSON file (format in docs/secrets.md).

A user rule is held to the same bar as ours: it must find each of its true examples and none of its
false ones, checked when the file is loaded, so a broken pattern fails loudly instead of finding nothing.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from imagetrust.audit.findings import Severity
from imagetrust.audit.secrets.allowlist import Allowlist
from imagetrust.audit.secrets.matcher import Matcher, check_rule_examples
from imagetrust.audit.secrets.rules import BUILTIN_RULES, Pattern, Rule
from imagetrust.errors import ConfigError

_RULE_KEYS = {
    "id", "description", "severity", "patterns", "keywords", "entropy", "min_length", "case_insensitive",
    "generic", "true_examples", "false_examples",
}  # fmt: skip
_ALLOW_KEYS = {"skip_paths", "test_paths", "values", "disable_rules"}
_MAX_BYTES = 1 << 20


def load_user_config(path: Path, *, builtin: bool = True) -> Matcher:
    """A matcher with our rules (unless ``builtin`` is false) plus the file's rules and allowlist."""
    try:
        raw = path.read_bytes()[: _MAX_BYTES + 1]
    except OSError as e:
        raise ConfigError(f"secret rules file {path}: cannot be read ({e.strerror})") from e
    if len(raw) > _MAX_BYTES:
        raise ConfigError(f"secret rules file {path}: larger than {_MAX_BYTES} bytes")
    try:
        doc = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"secret rules file {path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {e}"
        ) from e
    if not isinstance(doc, dict) or set(doc) - {"rules", "allowlist"}:
        raise ConfigError(f"secret rules file {path}: top level may only hold 'rules' and 'allowlist'")
    rules = [_rule(path, i, item) for i, item in enumerate(_list(path, doc.get("rules", []), "rules"))]
    allowlist = _allowlist(path, doc.get("allowlist", {}))
    matcher = Matcher((*BUILTIN_RULES, *rules) if builtin else rules, allowlist)
    for rule in rules:
        wrong = check_rule_examples(matcher, rule)
        if wrong:
            raise ConfigError(f"secret rules file {path}: rule {rule.id!r} {wrong[0]}")
    return matcher


def _list(path: Path, value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"secret rules file {path}: {what} must be a list")
    return value


def _strings(path: Path, value: Any, what: str) -> tuple[str, ...]:
    items = _list(path, value, what)
    if not all(isinstance(v, str) for v in items):
        raise ConfigError(f"secret rules file {path}: {what} must be a list of strings")
    return tuple(items)


def _rule(path: Path, index: int, item: Any) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"secret rules file {path}: {where} must be a table")
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"secret rules file {path}: {where} has unknown keys {sorted(unknown)}")
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise ConfigError(f"secret rules file {path}: {where} needs a string id")
    patterns = _strings(path, item.get("patterns", []), f"{where}.patterns")
    if not patterns:
        raise ConfigError(f"secret rules file {path}: {where} needs at least one pattern")
    severity = Severity.parse(str(item.get("severity", "high")))
    entropy = item.get("entropy")
    if entropy is not None and not isinstance(entropy, int | float):
        raise ConfigError(f"secret rules file {path}: {where}.entropy must be a number")
    return Rule(
        id=item["id"],
        description=str(item.get("description", item["id"])),
        severity=severity,
        patterns=tuple(Pattern(p) for p in patterns),
        keywords=_strings(path, item.get("keywords", []), f"{where}.keywords"),
        entropy=float(entropy) if entropy is not None else None,
        min_length=int(item.get("min_length", 0)),
        case_insensitive=bool(item.get("case_insensitive", False)),
        generic=bool(item.get("generic", False)),
        true_examples=_strings(path, item.get("true_examples", []), f"{where}.true_examples"),
        false_examples=_strings(path, item.get("false_examples", []), f"{where}.false_examples"),
    )


def _allowlist(path: Path, value: Any) -> Allowlist:
    if not isinstance(value, dict) or set(value) - _ALLOW_KEYS:
        raise ConfigError(f"secret rules file {path}: allowlist may only hold {sorted(_ALLOW_KEYS)}")
    try:
        return Allowlist.default().extended(
            skip_paths=_strings(path, value.get("skip_paths", []), "allowlist.skip_paths"),
            test_paths=_strings(path, value.get("test_paths", []), "allowlist.test_paths"),
            values=_strings(path, value.get("values", []), "allowlist.values"),
            disabled_rules=_strings(path, value.get("disable_rules", []), "allowlist.disable_rules"),
        )
    except Exception as e:  # re.error from a user pattern
        raise ConfigError(f"secret rules file {path}: allowlist pattern is not a valid regex: {e}") from e
