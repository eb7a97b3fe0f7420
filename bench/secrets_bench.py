"""Secret scanning accuracy and speed on labelled CredData, ours and gitleaks on the same extracted files.

    .venv/bin/python bench/secrets_bench.py [--repeat N]   (default 5)

Prints a table and writes bench/results/secrets.json.  Both scanners read the same directory; each is run
``--repeat`` times, alternating, and the fastest wall time of each is compared (the machine is shared, so
the minimum is the least noisy estimate).  Our time includes walking and reading the files; compiling the
rule set once is reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from imagetrust.audit.secrets import Matcher, scan_tree  # noqa: E402
from tests.accuracy.secrets_creddata import extract, per_rule, score  # noqa: E402

SHARED = Path(os.environ.get("IMAGETRUST_SHARED", REPO.parent / "shared"))
CREDDATA = SHARED / "data/secrets/creddata-dev.tar.gz"
GITLEAKS = REPO / "tools/bin/gitleaks"


def run_ours(root: Path, matcher: Matcher) -> tuple[float, float, list[tuple[str, int, str]]]:
    start, cpu = time.perf_counter(), time.process_time()
    hits = scan_tree(root, matcher)
    return time.perf_counter() - start, time.process_time() - cpu, [(h.path, h.line, h.rule_id) for h in hits]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_gitleaks(root: Path, report: Path) -> tuple[float, float, list[tuple[str, int]], str]:
    help_text = subprocess.run([GITLEAKS, "--help"], capture_output=True, text=True, check=False).stdout
    if "\n  dir " in help_text:
        cmd = [GITLEAKS, "dir", str(root)]
    else:  # older 8.x: `detect --no-git`
        cmd = [GITLEAKS, "detect", "--no-git", "--source", str(root)]
    cmd += ["--report-format", "json", "--report-path", str(report), "--no-banner", "--exit-code", "0"]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(cmd, capture_output=True, check=True)
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu
    lines = []
    for finding in json.loads(report.read_text() or "[]"):
        path = Path(finding["File"])
        rel = path.relative_to(root) if path.is_absolute() else Path(str(path).split("data/", 1)[-1])
        lines.append((rel.as_posix(), int(finding["StartLine"])))
    return elapsed, cpu, lines, " ".join(str(c) for c in cmd[:3]) + " ..."


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, labels = extract(CREDDATA, Path(tmp))
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        files = sum(1 for f in root.rglob("*") if f.is_file())
        t0 = time.perf_counter()
        matcher = Matcher()
        compile_s = time.perf_counter() - t0
        ours_times, gl_times, ours_cpu, gl_cpu = [], [], [], []
        ours_lines: list[tuple[str, int, str]] = []
        gl_lines: list[tuple[str, int]] = []
        gl_cmd = ""
        for _ in range(args.repeat):
            elapsed, cpu, ours_lines = run_ours(root, matcher)
            ours_times.append(elapsed)
            ours_cpu.append(cpu)
            elapsed, cpu, gl_lines, gl_cmd = run_gitleaks(root, Path(tmp) / "gitleaks.json")
            gl_times.append(elapsed)
            gl_cpu.append(cpu)
        ours, gl = score(labels, [(p, n) for p, n, _ in ours_lines]), score(labels, gl_lines)
        rules = per_rule(labels, ours_lines)
    version = subprocess.run(
        [GITLEAKS, "version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    result = {
        "dataset": {"archive": str(CREDDATA), "files": files, "bytes": size, "labels": len(labels)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "imagetrust": {
            **ours.as_dict(),
            "wall_seconds_min": round(min(ours_times), 4),
            "wall_seconds_median": round(statistics.median(ours_times), 4),
            "cpu_seconds_min": round(min(ours_cpu), 4),
            "compile_seconds": round(compile_s, 4),
            "mb_per_second": round(size / min(ours_times) / 1e6, 1),
            "per_rule": rules,
        },
        "gitleaks": {
            **gl.as_dict(),
            "version": version or "unknown",
            "command": gl_cmd,
            "wall_seconds_min": round(min(gl_times), 4),
            "wall_seconds_median": round(statistics.median(gl_times), 4),
            "cpu_seconds_min": round(min(gl_cpu), 4),
        },
        "speedup_min_wall": round(min(gl_times) / min(ours_times), 1),
        "speedup_min_cpu": round(min(gl_cpu) / min(ours_cpu), 1),
    }
    out = REPO / "bench/results/secrets.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    positives = sum(1 for lb in labels if lb.truth == "T")
    print(f"CredData: {files} files, {size / 1e6:.1f} MB, {positives} true labels")
    header = ("scanner", "precision", "recall", "recall*", "wall min", "wall med", "cpu min")
    print("{:12} {:>9} {:>7} {:>7} {:>9} {:>9} {:>8}".format(*header))
    rows = (("imagetrust", ours, ours_times, ours_cpu), ("gitleaks", gl, gl_times, gl_cpu))
    for name, s, times, cpus in rows:
        print(
            f"{name:12} {s.precision:9.3f} {s.recall:7.3f} {s.recall_no_uuid:7.3f}"
            f" {min(times):8.3f}s {statistics.median(times):8.3f}s {min(cpus):7.3f}s"
        )
    print("recall* = without labels whose only category is a bare UUID")
    print("per rule (lines): true / false-labelled / unlabelled / precision")
    for rule, c in rules.items():
        print(f"  {rule:26} {c['true']:5} {c['false_labelled']:5} {c['unlabelled']:5} {c['precision']:6.3f}")
    print(
        f"speed-up: {result['speedup_min_wall']}x wall, {result['speedup_min_cpu']}x CPU;"
        f" rule set compiled once in {compile_s:.3f}s"
    )
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
