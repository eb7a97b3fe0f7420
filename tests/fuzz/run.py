"""Run the atheris fuzz targets: ``python -m tests.fuzz.run [--seconds S] [--runs N] [NAME ...]``.

Each target runs in its own process (atheris instruments imagetrust at import), starting from the seeds
in ``seeds.py`` plus whatever a previous run left in the corpus directory.  A crash leaves its input in
the artifacts directory and makes the exit status non-zero.  See docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.seeds import seeds
from tests.fuzz.targets import TARGETS

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Outcome:
    name: str
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_one(name: str, workdir: Path, *, seconds: int, runs: int | None = None, seed: int = 1) -> Outcome:
    corpus = workdir / "corpus" / name
    artifacts = workdir / "artifacts"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    for index, data in enumerate(seeds(name)):
        (corpus / f"seed-{index}").write_bytes(data)
    command = [
        sys.executable, "-m", f"tests.fuzz.fuzz_{name}", str(corpus), f"-seed={seed}",
        f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}/{name}-", "-max_len=8192",
        "-rss_limit_mb=2048",
    ]  # fmt: skip
    if runs is not None:
        command.append(f"-runs={runs}")
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    return Outcome(name, done.returncode, done.stdout + done.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"targets (default: all of {', '.join(TARGETS)})")
    parser.add_argument("--seconds", type=int, default=60, help="time per target (default 60)")
    parser.add_argument("--runs", type=int, default=None, help="stop each target after this many inputs")
    parser.add_argument("--workdir", type=Path, default=REPO / ".fuzz", help="corpus and crash artifacts")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.names or sorted(TARGETS):
        outcome = run_one(name, args.workdir, seconds=args.seconds, runs=args.runs)
        last = [line for line in outcome.output.splitlines() if line.strip()][-1:] or [""]
        print(f"{'ok   ' if outcome.ok else 'CRASH'} {name}: {last[0]}")
        if not outcome.ok:
            failed += 1
            print(outcome.output[-4000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
