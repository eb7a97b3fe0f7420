"""The policy example in docs/policy.md is valid for both the published JSON Schema and the loader, and
both refuse the same unknown key."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from imagetrust.policy.load import PolicyError, load_policy
from tests.unit.test_policy import _key

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _example() -> str:
    match = re.search(r"```yaml\n(.*?)```", (DOCS / "policy.md").read_text(), re.S)
    assert match
    return match.group(1)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


def test_documented_example_matches_schema_and_loader(tmp_path: Path) -> None:
    schema = json.loads((DOCS / "policy.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    text = _example()
    jsonschema.validate(_plain(yaml.safe_load(text)), schema)
    (tmp_path / "keys").mkdir()
    _key(tmp_path / "keys", "release.pub")
    (tmp_path / "vex").mkdir()
    (tmp_path / "vex" / "app.openvex.json").write_text(
        json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "statements": []})
    )
    (tmp_path / "policy.yaml").write_text(text)
    policy = load_policy(tmp_path / "policy.yaml")
    assert policy.rules[0].signatures is not None and policy.rules[0].signatures.threshold == 2

    bad = text.replace("    secrets: {forbid: true}", "    secrets: {forbid: true}\n    sbom: {}")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_plain(yaml.safe_load(bad)), schema)
    (tmp_path / "policy.yaml").write_text(bad)
    with pytest.raises(PolicyError, match=r"policy.yaml:\d+: unknown key 'sbom'"):
        load_policy(tmp_path / "policy.yaml")
