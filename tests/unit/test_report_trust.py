"""Trust report renderers: JSON valid against docs/trust-report.schema.json, SARIF 2.1.0 shape, Markdown
and HTML escaping of hostile content, and the HTML page rendering in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from imagetrust.audit.findings import Finding, FindingKind, Severity
from imagetrust.audit.result import AuditResult, PlatformAudit
from imagetrust.oci.digest import Digest
from imagetrust.policy.default import default_policy
from imagetrust.policy.evaluate import evaluate
from imagetrust.policy.model import Verification, VerifiedSigner
from imagetrust.report.html import trust_html
from imagetrust.report.markdown import trust_markdown
from imagetrust.report.sarif import trust_sarif
from imagetrust.report.trust import TrustReport, trust_document, trust_text
from imagetrust.trust.keys import PublicKey
from tests.unit.test_policy import _key

REPO = Path(__file__).resolve().parents[2]
DIGEST = Digest.parse("sha256:" + "cd" * 32)
HOSTILE = "<script>alert(1)</script> | **x** [a](javascript:1)"


class _Image:
    digest = DIGEST
    platform = None


def _report(tmp_path: Path, signed: bool = True) -> TrustReport:
    key: PublicKey = _key(tmp_path, "k.pub")
    policy = default_policy([(key, "k.pub")], None)
    findings = (
        Finding(
            FindingKind.VULNERABILITY,
            "CVE-2024-9",
            Severity.CRITICAL,
            HOSTILE,
            package_purl="pkg:deb/x@1",
            layer=DIGEST,
            details=(("fixed_versions", ["2"]),),
        ),
        Finding(FindingKind.SECRET, "aws-key", Severity.HIGH, "AWS key", path="/app/<b>.env", layer=DIGEST),
    )
    platform = PlatformAudit(
        _Image(),
        None,
        (),
        findings,
        (),
        ("malware: no rules given",),  # type: ignore[arg-type]
        frozenset({DIGEST}),
        "base@sha256:" + "00" * 32,
    )
    audit = AuditResult("x", None, (platform,), ("vuln", "secret", "malware"))  # type: ignore[arg-type]
    signers = (VerifiedSigner(key.key_id, None, "cosign simple-signing from tag x"),) if signed else ()
    verification = Verification(DIGEST, signers)
    decision = evaluate(policy, "reg.example/app", verification, audit, datetime(2026, 1, 1, tzinfo=UTC))
    return TrustReport(
        f"reg.example/app@{DIGEST}",
        "reg.example/app",
        DIGEST,
        policy,
        (),
        verification,
        audit,
        None,
        decision,
    )


def test_json_matches_the_published_schema_and_says_why(tmp_path: Path) -> None:
    schema = json.loads((REPO / "docs" / "trust-report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = trust_document(_report(tmp_path))
    jsonschema.validate(doc, schema)
    assert doc["decision"]["outcome"] == "fail"
    failed = {r["id"] for r in doc["rules"] if r["outcome"] == "fail"}
    assert failed == {"default/vulnerabilities", "default/secrets"}
    assert any(r["id"] == "default/malware" and r["outcome"] == "indeterminate" for r in doc["rules"])
    assert doc["audit"]["platforms"][0]["findings"][0]["origin"] == "base"
    assert "malware: no rules given" in doc["notChecked"]
    broken = dict(doc, decision=dict(doc["decision"], outcome="maybe"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    assert "FAIL" in trust_text(doc)


def test_sarif_structure(tmp_path: Path) -> None:
    sarif = trust_sarif(trust_document(_report(tmp_path)))
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(ids) == len(set(ids))
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note", "none")
        assert result["message"]["text"]
    assert {"policy/default/vulnerabilities", "secret/aws-key"} <= {r["ruleId"] for r in run["results"]}
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in run["results"]
        for loc in r["locations"]
        if "physicalLocation" in loc
    ]
    assert uris == ["app/%3Cb%3E.env"]  # a URI reference, as SARIF requires


def test_markdown_and_html_escape_image_content(tmp_path: Path) -> None:
    doc = trust_document(_report(tmp_path))
    markdown = trust_markdown(doc)
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    page = trust_html(doc)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;.env" in page
    assert "http://" not in page.replace("http-equiv", "") and "src=" not in page


def _png_info(data: bytes) -> tuple[int, int, set[int]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, offset = b"", 8
    while offset < len(data):
        length = struct.unpack(">I", data[offset : offset + 4])[0]
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(idat)
    return width, height, set(raw)


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        message = (
            "chromium not installed: run `bash scripts/fetch-tools.sh` as root (apt-get install chromium)"
        )
        if os.environ.get("IMAGETRUST_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    page = tmp_path / "report.html"
    page.write_text(trust_html(trust_document(_report(tmp_path))))
    out = tmp_path / "out.png"
    profile = tmp_path / "profile"
    done = subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            "--window-size=1200,900",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert out.exists(), done.stderr[-2000:]
    data = out.read_bytes()
    assert len(data) > 10_000
    width, height, values = _png_info(data)
    assert (width, height) == (1200, 900)
    assert len(values) > 32  # filtered pixel data of a blank single-colour page has almost one value
    shutil.rmtree(profile, ignore_errors=True)


def test_text_escapes_terminal_control_characters(tmp_path: Path) -> None:
    doc = trust_document(_report(tmp_path))
    doc["audit"]["platforms"][0]["findings"][0]["package"] = "pkg:deb/x\x1b[2J\x1b]0;owned\x07@1"
    text = trust_text(doc)
    assert "\x1b" not in text and "\x07" not in text
    assert "pkg:deb/x\\x1b[2J" in text
