"""Labelled examples from gitleaks' and detect-secrets' own test data, read from the shared corpora."""

from __future__ import annotations

import tarfile
from pathlib import Path

from imagetrust.audit.secrets import scan_tree
from tests.conftest import shared_data


def _extract(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def test_gitleaks_testdata_aws_keys(tmp_path: Path) -> None:
    root = _extract(shared_data("secrets/gitleaks-rules-and-testdata.tar.gz"), tmp_path)
    hits = {(h.path, h.line, h.rule_id) for h in scan_tree(root / "gitleaks/testdata/repos")}
    # gitleaks' expected reports name these lines (testdata/expected/report)
    assert ("nogit/api.go", 20, "aws-access-key-id") in hits
    assert ("nogit/main.go", 20, "aws-access-key-id") in hits
    assert ("small/api/ignoreCommit.go", 20, "aws-access-key-id") in hits


def test_detect_secrets_test_data(tmp_path: Path) -> None:
    root = (
        _extract(shared_data("secrets/detect-secrets-test_data.tar.gz"), tmp_path)
        / "detect-secrets/test_data"
    )
    hits = scan_tree(root)
    by_file: dict[str, set[int]] = {}
    for h in hits:
        by_file.setdefault(h.path, set()).add(h.line)
    # each_secret.py: the base64 and hex secrets are found, AWS's documented EXAMPLE key and the
    # example.com URL are not, nor is the red herring
    assert {4, 5} <= by_file["each_secret.py"]
    assert not {1, 6, 8, 9} & by_file["each_secret.py"]
    assert "files/file_with_no_secrets.py" not in by_file
    assert 1 in by_file["files/private_key"]
    # config.yaml: a low-entropy AKIA string, an id and a UUID under a plain name are not secrets
    yaml_lines = (root / "config.yaml").read_text().splitlines()
    for n in by_file.get("config.yaml", set()):
        assert "uuid_should_be_ignored" not in yaml_lines[n - 1]
        assert "AKIATESTTESTTESTTEST" not in yaml_lines[n - 1]
