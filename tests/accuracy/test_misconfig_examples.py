"""Agreement with Trivy's labelled Dockerfile examples and Dockle's image-config test data.

Each Trivy DS check we cover maps to one of our rules (and, for CFG-015, to the package manager the DS check
is about); a "bad" example must raise that rule, a "good" one must not.  Agreement must be 100%.
"""

from __future__ import annotations

import json
import tarfile
from collections import defaultdict

import pytest

from imagetrust.audit.config import check_dockerfile, check_image
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import parse_config
from tests.conftest import shared_data

# DS id -> (our rule, substring the finding message must contain, or "")
COVERED = {
    "DS-0001": ("CFG-016", ""), "DS-0002": ("CFG-001", ""), "DS-0004": ("CFG-003", "port 22 "),
    "DS-0005": ("CFG-006", ""), "DS-0006": ("CFG-030", ""), "DS-0007": ("CFG-026", ""),
    "DS-0008": ("CFG-004", ""), "DS-0009": ("CFG-028", ""), "DS-0010": ("CFG-007", ""),
    "DS-0011": ("CFG-031", ""), "DS-0012": ("CFG-032", ""), "DS-0013": ("CFG-029", ""),
    "DS-0014": ("CFG-033", ""), "DS-0015": ("CFG-015", "yum"), "DS-0016": ("CFG-025", ""),
    "DS-0017": ("CFG-021", ""), "DS-0019": ("CFG-015", "dnf"), "DS-0020": ("CFG-015", "zypper"),
    "DS-0021": ("CFG-023", ""), "DS-0022": ("CFG-024", ""), "DS-0023": ("CFG-027", ""),
    "DS-0024": ("CFG-022", ""),
}  # fmt: skip
# Trivy Dockerfile checks without examples in the corpus are covered too (DS-0025 apk --no-cache -> CFG-015,
# DS-0026 -> CFG-017, DS-0027 microdnf -> CFG-015, DS-0029 -> CFG-019, DS-0030 -> CFG-035, DS-0031 ->
# CFG-002) and tested in tests/unit/test_config_checks.py.  Not covered: none of the examples' checks.
NOT_COVERED: dict[str, str] = {}


def _examples() -> list[dict[str, str]]:
    path = shared_data("misconfig/trivy-checks-dockerfile-examples.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_trivy_dockerfile_examples_agree_per_check() -> None:
    agree: dict[str, list[bool]] = defaultdict(list)
    examples = _examples()
    assert len(examples) == 45
    for ex in examples:
        check = ex["check_id"]
        if check in NOT_COVERED:
            continue
        assert check in COVERED, f"{check} is neither covered nor listed as not covered"
        rule_id, needle = COVERED[check]
        findings = check_dockerfile(ex["dockerfile"], "Dockerfile")
        raised = any(f.id == rule_id and needle in str(f.detail("message")) for f in findings)
        agree[check].append(raised == (ex["label"] == "bad"))
    report = {check: f"{sum(v)}/{len(v)}" for check, v in sorted(agree.items())}
    print("agreement per check:", report)
    assert all(all(v) for v in agree.values()), report
    assert set(agree) == set(COVERED)


# Dockle's assessor test configs (real image configs): what Dockle expects and what we must raise from history
DOCKLE = {
    "root_default.json": {"CFG-001"},
    "apt_update_upgrade.json": {"CFG-001"},
    "apk_cache.json": {"CFG-001"},
    "nginx.json": {"CFG-001", "CFG-017"},
    "multi_add.json": {"CFG-001", "CFG-017"},
    "add_with_arg_statement.json": {"CFG-001", "CFG-017"},
}


@pytest.fixture(scope="module")
def dockle_configs() -> dict[str, bytes]:
    out = {}
    with tarfile.open(shared_data("misconfig/dockle-checkpoints-and-testdata.tar.gz")) as tar:
        for member in tar:
            if member.isfile() and "/assessor/manifest/testdata/" in member.name:
                f = tar.extractfile(member)
                assert f is not None
                out[member.name.rsplit("/", 1)[-1]] = f.read()
    return out


@pytest.mark.parametrize("name", sorted(DOCKLE))
def test_dockle_configs(dockle_configs: dict[str, bytes], name: str) -> None:
    raw = dockle_configs[name]
    found = {f.id for f in check_image(parse_config(raw, Digest.of(raw)), None, {})}
    assert DOCKLE[name] <= found
    # none of these configs adds a remote URL, pipes a download into a shell, or stores a secret value
    assert not {"CFG-002", "CFG-005", "CFG-018"} & found


def test_dockle_apt_update_upgrade_is_not_update_alone(dockle_configs: dict[str, bytes]) -> None:
    # `apt-get update -y && apt-get upgrade -y` upgrades in the same RUN: not CIS-DI-0007's "update alone"
    raw = dockle_configs["apt_update_upgrade.json"]
    assert "CFG-021" not in {f.id for f in check_image(parse_config(raw, Digest.of(raw)))}
