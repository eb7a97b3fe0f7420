"""Our secret scanner on labelled CredData lines: precision and recall must not regress.

Floors sit just under what was measured when the rules were written (bench/secrets_bench.py prints the
current figures and gitleaks' on the same files).  No rule is tuned to particular CredData lines.
"""

from __future__ import annotations

from pathlib import Path

from imagetrust.audit.secrets import scan_tree
from tests.accuracy.secrets_creddata import extract, score
from tests.conftest import shared_data

# measured: precision 0.981, recall 0.544, recall without bare-UUID labels 0.891
PRECISION_FLOOR = 0.97
RECALL_FLOOR = 0.52
RECALL_NO_UUID_FLOOR = 0.87


def test_creddata_precision_and_recall(tmp_path: Path) -> None:
    root, labels = extract(shared_data("secrets/creddata-dev.tar.gz"), tmp_path)
    assert sum(1 for lb in labels if lb.truth == "T") > 2000
    hits = scan_tree(root)
    result = score(labels, [(h.path, h.line) for h in hits])
    assert result.precision >= PRECISION_FLOOR, result.as_dict()
    assert result.recall >= RECALL_FLOOR, result.as_dict()
    assert result.recall_no_uuid >= RECALL_NO_UUID_FLOOR, result.as_dict()
