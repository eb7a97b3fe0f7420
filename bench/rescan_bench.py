"""Rescan benchmark: 1,000 stored inventories re-matched after a day's worth of new advisories.
Not part of the test suite.

    .venv/bin/python bench/rescan_bench.py [--images 1000] [--packages 200] [--new 20] [--store URL]

The PyPA advisories in the shared data go into a fresh advisory DB, except the ``--new`` most recently
modified ones, held back as "today's" advisories.  Each stored image gets ``--packages`` PyPI packages: 10%
named by advisories (versions from their own events, so many match) and the rest names no advisory knows,
as in a real image.  Steps timed: recording the inventories; the first rescan (no recorded advisory state,
so every package is matched); importing the new advisories; the delta rescan; a rescan with no change.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from imagetrust.audit.catalog.model import OSRelease, Package
from imagetrust.audit.vulns.db import AdvisoryDB
from imagetrust.audit.vulns.sources import load_advisories
from imagetrust.oci.digest import Digest
from imagetrust.pipeline.rescan import rescan
from imagetrust.store import ImageRecord, StoredPackage, open_inventory


def _packages(db: AdvisoryDB, rng: random.Random, count: int) -> list[list[Package]]:
    named = []
    for name, ranges in db._conn.execute("SELECT name, ranges FROM affected WHERE ecosystem = 'PyPI'"):
        version = "1.0" if '"fixed"' not in ranges else ranges.split('"fixed", "', 1)[1].split('"', 1)[0]
        named.append((name, version))
    images = []
    for i in range(count):
        chosen = rng.sample(named, k=args.packages // 10)
        chosen += [(f"internal-lib-{i % 97}-{j}", "1.0.0") for j in range(args.packages - len(chosen))]
        images.append([Package(n, v, "pypi", f"pkg:pypi/{n.lower()}@{v}") for n, v in chosen])
    return images


def main() -> None:
    data = args.data / "pypa-advisory-database-vulns.tar.gz"
    rows: list[tuple[str, str, float]] = []

    def step(label: str, result: str, started: float) -> None:
        rows.append((label, result, time.perf_counter() - started))
        print(f"{label:<40} {result:<48} {rows[-1][2]:.2f} s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        advisories = sorted(load_advisories(data), key=lambda a: a.modified)
        held, base = advisories[-args.new :], advisories[: -args.new]
        db_path = Path(tmp) / "advisories.sqlite"
        with AdvisoryDB.create(db_path) as db:
            db.import_advisories(base, str(data))
            inventories = _packages(db, random.Random(0), args.images)
        location = args.store or str(Path(tmp) / "inventory.sqlite")
        with open_inventory(location) as store:
            started = time.perf_counter()
            for i, packages in enumerate(inventories):
                store.record(
                    ImageRecord(
                        digest=Digest.of(f"bench image {i}".encode()),
                        references=(f"registry.example/app-{i}:v1",),
                        platform="linux/amd64",
                        distro=OSRelease("debian", "12"),
                        packages=tuple(StoredPackage(p) for p in packages),
                        findings=(),
                        state=None,
                        scanned_at=time.time(),
                    ),
                    None,
                )
            step(f"record {args.images} inventories", f"{args.packages} packages each", started)
            started = time.perf_counter()
            first = rescan(store, db_path)
            found = sum(len(c.new) for c in first.changes)
            result = f"{first.rematched_packages} packages, {found} findings"
            step("first rescan (no state: full match)", result, started)
            started = time.perf_counter()
            with AdvisoryDB.open(db_path) as db:
                db.import_advisories(held, "held back")
            step(f"import {args.new} new advisories", "", started)
            started = time.perf_counter()
            delta = rescan(store, db_path)
            new = sum(len(c.new) for c in delta.changes)
            step("delta rescan", f"{delta.rematched_images} images, {delta.rematched_packages} packages, "
                 f"{new} new in {len(delta.changes)} images", started)  # fmt: skip
            started = time.perf_counter()
            same = rescan(store, db_path)
            step("rescan with no change", f"{same.rematched_images} images re-matched", started)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/vulndb"))
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument("--new", type=int, default=20)
    parser.add_argument("--store", help="inventory store (default: a temporary SQLite file)")
    args = parser.parse_args()
    main()
