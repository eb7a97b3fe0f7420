"""Advisory database benchmark: import time of the three OSV sets in the shared data, and match time
for 10,000 packages.  Not part of the test suite.

    .venv/bin/python bench/db_bench.py [--data /work/shared/data/vulndb]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from imagetrust.audit.catalog.model import Package
from imagetrust.audit.vulns.db import AdvisoryDB
from imagetrust.audit.vulns.match import match_packages
from imagetrust.audit.vulns.sources import load_advisories

SETS = {
    "PyPI (pypa, YAML)": "pypa-advisory-database-vulns.tar.gz",
    "Go (vulndb, JSON)": "golang-vulndb-data-osv.tar.gz",
    "crates.io (RustSec, JSON)": "rustsec-advisory-db-osv-branch.tar.gz",
}
TYPES = {"PyPI": "pypi", "Go": "golang", "crates.io": "cargo"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/vulndb"))
    parser.add_argument("--packages", type=int, default=10_000)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = AdvisoryDB.create(Path(tmp) / "bench.sqlite")
        for label, name in SETS.items():
            start = time.perf_counter()
            count = db.import_advisories(load_advisories(args.data / name), name)
            rows.append((f"import {label}", f"{count} advisories", f"{time.perf_counter() - start:.2f} s"))
        # Packages named in the advisories, with versions taken from their own events, so lookups hit.
        pool: list[Package] = []
        for (eco,) in db._conn.execute("SELECT DISTINCT ecosystem FROM affected"):
            for pkg_name, ranges in db._conn.execute(
                "SELECT name, ranges FROM affected WHERE ecosystem = ? LIMIT 5000", (eco,)
            ):
                version = (
                    "1.0.0" if '"fixed"' not in ranges else ranges.split('"fixed", "', 1)[1].split('"', 1)[0]
                )
                ptype = TYPES[eco]
                pool.append(Package(pkg_name, version, ptype, f"pkg:{ptype}/{pkg_name}@{version}"))  # type: ignore[arg-type]
        random.Random(0).shuffle(pool)
        packages = (pool * (args.packages // max(len(pool), 1) + 1))[: args.packages]
        start = time.perf_counter()
        findings, skipped = match_packages(packages, db, None)
        elapsed = time.perf_counter() - start
        rows.append((f"match {len(packages)} packages", f"{len(findings)} findings, {len(skipped)} skipped",
                     f"{elapsed:.2f} s"))  # fmt: skip
        db.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'result':<32}  time")
    for step, result, took in rows:
        print(f"{step:<{width}}  {result:<32}  {took}")


if __name__ == "__main__":
    main()
