"""CredData (labelled credential lines) extraction and scoring, shared by the accuracy test and the benchmark.

Labels (meta/*.csv): one row per candidate with FilePath, LineStart..LineEnd and GroundTruth T (a real
credential) or F/X (not one).  A label is found when a reported line falls inside its range.  Precision
counts every reported line outside any T range as false, labelled or not (strict); the labelled-only figure
counts only lines inside F/X ranges.
"""

from __future__ import annotations

import csv
import io
import tarfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Label:
    path: str  # relative to the extracted data/ directory
    first: int
    last: int
    truth: str  # T, F or X
    category: str


@dataclass(frozen=True)
class Score:
    reported_lines: int
    true_lines: int
    false_lines: int
    false_labelled_lines: int
    positives: int
    found: int
    positives_no_uuid: int
    found_no_uuid: int

    @property
    def precision(self) -> float:
        return self.true_lines / self.reported_lines if self.reported_lines else 0.0

    @property
    def precision_labelled(self) -> float:
        denom = self.true_lines + self.false_labelled_lines
        return self.true_lines / denom if denom else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.positives if self.positives else 0.0

    @property
    def recall_no_uuid(self) -> float:
        return self.found_no_uuid / self.positives_no_uuid if self.positives_no_uuid else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "precision_labelled_only": round(self.precision_labelled, 4),
            "recall": round(self.recall, 4),
            "recall_without_bare_uuid_labels": round(self.recall_no_uuid, 4),
            "reported_lines": self.reported_lines,
            "true_lines": self.true_lines,
            "false_lines": self.false_lines,
            "positives": self.positives,
            "positives_found": self.found,
        }


def extract(archive: Path, dest: Path) -> tuple[Path, list[Label]]:
    """Unpack data/ and read meta/ (regular files only, no links, no paths outside ``dest``)."""
    labels: list[Label] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if not member.isfile() or ".." in member.name.split("/") or member.name.startswith("/"):
                continue
            f = tar.extractfile(member)
            assert f is not None
            data = f.read()
            if member.name.startswith("meta/") and member.name.endswith(".csv"):
                labels.extend(_labels(data))
            elif member.name.startswith("data/"):
                target = dest / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    return dest / "data", labels


def _labels(data: bytes) -> Iterable[Label]:
    for row in csv.DictReader(io.StringIO(data.decode("utf-8"))):
        path = row["FilePath"].removeprefix("data/")
        yield Label(path, int(row["LineStart"]), int(row["LineEnd"]), row["GroundTruth"], row["Category"])


def score(labels: list[Label], reported: Iterable[tuple[str, int]]) -> Score:
    lines = set(reported)
    by_file: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        by_file[label.path].append(label)

    def inside(path: str, line: int, truths: str) -> bool:
        return any(lb.first <= line <= lb.last and lb.truth in truths for lb in by_file.get(path, ()))

    true_lines = sum(1 for p, n in lines if inside(p, n, "T"))
    false_labelled = sum(1 for p, n in lines if not inside(p, n, "T") and inside(p, n, "FX"))
    per_file: dict[str, set[int]] = defaultdict(set)
    for p, n in lines:
        per_file[p].add(n)
    positives = [lb for lb in labels if lb.truth == "T"]
    found = [lb for lb in positives if any(lb.first <= n <= lb.last for n in per_file.get(lb.path, ()))]
    no_uuid = [lb for lb in positives if lb.category != "UUID"]
    found_no_uuid = [lb for lb in found if lb.category != "UUID"]
    return Score(
        reported_lines=len(lines),
        true_lines=true_lines,
        false_lines=len(lines) - true_lines,
        false_labelled_lines=false_labelled,
        positives=len(positives),
        found=len(found),
        positives_no_uuid=len(no_uuid),
        found_no_uuid=len(found_no_uuid),
    )


def per_rule(
    labels: list[Label], reported: Iterable[tuple[str, int, str]]
) -> dict[str, dict[str, float | int]]:
    """Lines each rule reported inside T ranges, inside F/X ranges only, and outside any label."""
    by_file: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        by_file[label.path].append(label)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"true": 0, "false_labelled": 0, "unlabelled": 0})
    for path, line, rule in set(reported):
        truths = {lb.truth for lb in by_file.get(path, ()) if lb.first <= line <= lb.last}
        key = "true" if "T" in truths else "false_labelled" if truths else "unlabelled"
        counts[rule][key] += 1
    return {
        rule: {**c, "precision": round(c["true"] / sum(c.values()), 3)} for rule, c in sorted(counts.items())
    }
