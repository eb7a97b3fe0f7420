"""The short fuzz run in ``make test``: each atheris target for a bounded number of inputs.

Deterministic (fixed seed, fixed seeds corpus, fixed run count) and a few seconds per target; the long run
is ``make fuzz`` (docs/fuzzing.md).  A non-ImageTrustError escaping a parser fails the test and leaves the
input under the test's temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

RUNS = 2500


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_short_fuzz_run(name: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris is a test dependency: pip install -e '.[test]'")
    from tests.fuzz.run import run_one

    outcome = run_one(name, tmp_path, seconds=20, runs=RUNS)
    crashes = sorted(p.name for p in (tmp_path / "artifacts").iterdir())
    assert outcome.ok and not crashes, f"{name}: {crashes}\n{outcome.output[-3000:]}"
    assert f"Done {RUNS} runs" in outcome.output, outcome.output[-1500:]
