"""``make demo`` end to end: the Makefile's own demo lines, run offline on the committed signed demo image.

The commands are read from the Makefile's ``demo`` target (not copied here), so the README's promise and
this test cannot drift apart.  The signature and SLSA provenance in the layout were made by real cosign 2
(scripts/sign-demo.sh) with the committed demo key; the report must show them verified with that key and
the policy's checks with the outcomes the demo is built to show.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imagetrust.trust.keys import load_public_key
from tests.integration.test_inspect_cli import run_cli

REPO = Path(__file__).resolve().parents[2]
DEMO_KEY = REPO / "fixtures" / "demo" / "keys" / "cosign.pub"
DEMO_DIGEST = "sha256:ceef1fdc7b64508b8201f5ddbb4fb69540ad7b1dd3627039e7bcaa338cd5d2b0"


def demo_commands(db: Path) -> list[str]:
    """The recipe lines of the Makefile's ``demo`` target, with its variables expanded for this test."""
    text = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+) :?= (.*)$", text, re.MULTILINE))
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert recipe is not None, "Makefile has no demo target"
    variables.update(BIN=str(Path(sys.executable).parent), DEMO_DB=str(db))
    lines = []
    for line in recipe.group(1).splitlines():
        line = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables[m.group(1)], line.strip())
        lines.append(line.replace("$$", "$"))
    return lines


def run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[str], list[subprocess.CompletedProcess[str]]]:
    db = tmp_path_factory.mktemp("demo") / "advisories.sqlite"
    commands = demo_commands(db)
    return commands, [run(command) for command in commands]


def test_every_demo_command_exits_0_and_check_shows_the_whole_report(
    demo: tuple[list[str], list[subprocess.CompletedProcess[str]]],
) -> None:
    commands, results = demo
    assert [c.split()[1] for c in commands] == ["inspect", "db", "check"]
    for command, done in zip(commands, results, strict=True):
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    report = results[-1].stdout
    assert report.startswith("oci:fixtures/demo/layout:demo: FAIL")
    for line in (
        "[PASS] demo/signatures",
        "[PASS] demo/attestation:https://slsa.dev/provenance/v0.2",
        "[PASS] demo/malware",
        "[FAIL] demo/config",
        "CFG-001 (Image runs as root)",
        "by waiver 'CFG-017'",
        "PYSEC-2021-66  pkg:pypi/jinja2@2.10",
    ):
        assert line in report, line
    assert "policy failed" in results[-1].stderr


def test_check_json_verifies_the_committed_demo_key_and_lists_the_expected_outcomes(
    demo: tuple[list[str], list[subprocess.CompletedProcess[str]]],
) -> None:
    check_line = demo[0][-1].split(" || ")[0]
    done = run(check_line + " --format json --no-cache")
    assert done.returncode == 1, done.stderr  # the demo's decision is fail, by design
    document: dict[str, Any] = json.loads(done.stdout)
    assert document["digest"] == DEMO_DIGEST
    key_id = str(load_public_key(DEMO_KEY).key_id)
    assert [s["keyId"] for s in document["verification"]["signers"]] == [key_id]
    assert [a["predicateType"] for a in document["verification"]["attestations"]] == [
        "https://slsa.dev/provenance/v0.2"
    ]
    outcomes = {r["id"]: r["outcome"] for r in document["rules"]}
    assert outcomes.pop("demo/secrets") in {"pass", "indeterminate"}  # secret scanner not wired in yet
    assert outcomes.pop("demo/vulnerabilities") in {"fail", "indeterminate"}  # no Debian/npm data in the demo
    assert outcomes == {
        "demo/signatures": "pass",
        "demo/attestation:https://slsa.dev/provenance/v0.2": "pass",
        "demo/malware": "pass",
        "demo/config": "fail",
        "demo/packages": "pass",
        "demo/licenses": "pass",
    }
    assert document["decision"]["outcome"] == "fail"


def test_the_demo_signature_verifies_offline_with_the_demo_key_and_no_other(tmp_path: Path) -> None:
    image = f"oci:{REPO / 'fixtures' / 'demo' / 'layout'}:demo"
    verified = run_cli("verify", image, "--key", str(DEMO_KEY), "--type", "slsaprovenance", "--no-cache")
    assert verified.returncode == 0, verified.stderr
    other = tmp_path / "other.pub"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    refused = run_cli("verify", image, "--key", str(other), "--no-cache")
    assert refused.returncode == 1, refused.stderr
