"""Several images in one run: a small thread pool, results in input order, the first error re-raised.

The work is network- and hash-bound (both release the GIL) and the registry client pools connections per
host, so threads overlap round trips without a process per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

MAX_WORKERS = 8
# Audits hold layer state and are CPU-bound between reads: fewer at once bounds memory (one audit peaks
# near 170 MB) while still overlapping one image's downloads with another's parsing.
AUDIT_WORKERS = 3


def run_concurrently(
    items: Sequence[str], work: Callable[[str], T], max_workers: int = MAX_WORKERS
) -> list[T]:
    """``work`` on every item (one at a time when there is one); raises the first item's error, in order."""
    if len(items) == 1:
        return [work(items[0])]
    from concurrent.futures import ThreadPoolExecutor  # not imported for the usual single image

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(items)))) as pool:
        futures = [pool.submit(work, item) for item in items]
        return [f.result() for f in futures]
