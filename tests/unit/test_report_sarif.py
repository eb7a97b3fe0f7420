"""SARIF output validated against the official OASIS SARIF 2.1.0 JSON Schema (vendored in tests/data).

The schema is the committee specification's own file, checked with its draft-07 meta-schema and with format
checking on, so a location URI that is not a URI reference (spaces, ``<``, ``#`` from an image path) fails.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest

from imagetrust.audit.findings import Finding, FindingKind
from imagetrust.report.sarif import trust_sarif
from imagetrust.report.trust import TrustReport, trust_document
from tests.unit.test_report_trust import DIGEST, _report

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert "2.1.0" in schema["$id"] and "2.1.0" in schema["title"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def _errors(validator: jsonschema.Draft7Validator, sarif: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(sarif)]


def _with_paths(report: TrustReport, paths: list[str]) -> TrustReport:
    assert report.audit is not None
    platform = report.audit.platforms[0]
    extra = tuple(
        Finding(FindingKind.SECRET, f"rule-{i}", platform.findings[0].severity, "x", path=p, layer=DIGEST)
        for i, p in enumerate(paths)
    )
    platforms = (replace(platform, findings=platform.findings + extra),)
    return replace(report, audit=replace(report.audit, platforms=platforms))


def test_trust_report_sarif_validates_against_the_official_schema(
    validator: jsonschema.Draft7Validator, tmp_path: Path
) -> None:
    for signed in (True, False):
        sarif = trust_sarif(trust_document(_report(tmp_path, signed=signed)))
        assert _errors(validator, sarif) == []
        assert sarif["runs"][0]["results"], "the report has failing checks and findings to show"


def test_hostile_paths_become_valid_uri_references_that_decode_back(
    validator: jsonschema.Draft7Validator, tmp_path: Path
) -> None:
    paths = ["/app/<b> c.env", "/etc/x#y?z", "/srv/naïve/%41", "/", "/a\\b"]
    sarif = trust_sarif(trust_document(_with_paths(_report(tmp_path), paths)))
    assert _errors(validator, sarif) == []
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in sarif["runs"][0]["results"]
        for loc in result["locations"]
        if "physicalLocation" in loc
    }
    assert {unquote(u) for u in uris} >= {p.lstrip("/") for p in paths}


def test_the_validation_is_not_vacuous(validator: jsonschema.Draft7Validator, tmp_path: Path) -> None:
    sarif = trust_sarif(trust_document(_report(tmp_path)))
    result = sarif["runs"][0]["results"][0]
    broken = json.loads(json.dumps(sarif))
    broken["runs"][0]["results"][0] = dict(result, level="fatal")
    assert _errors(validator, broken)
    bad_uri = json.loads(json.dumps(sarif))
    bad_uri["runs"][0]["tool"]["driver"]["informationUri"] = "not a uri"
    assert _errors(validator, bad_uri)
