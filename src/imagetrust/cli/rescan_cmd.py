"""``imagetrust rescan``: what changed for stored images since their last scan, against today's advisories."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from imagetrust.audit.findings import Severity
from imagetrust.cli.console import write_document
from imagetrust.errors import UsageError, VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS
from imagetrust.pipeline.db import default_db_path
from imagetrust.pipeline.rescan import RescanResult, new_violations, rescan
from imagetrust.policy.load import load_policy
from imagetrust.policy.model import Policy
from imagetrust.store import open_inventory

_FAIL_LEVELS = [s.value for s in Severity if s is not Severity.UNKNOWN]

store_option = click.option(
    "--store",
    "store_location",
    metavar="PATH|URL",
    help="Inventory store: a SQLite file or a postgresql:// URL (default"
    " $XDG_DATA_HOME/imagetrust/inventory.sqlite).",
)


def rescan_text(result: RescanResult) -> str:
    lines = [
        f"{result.images} stored image(s); {result.rematched_images} re-matched"
        f" ({result.rematched_packages} package(s)) in {result.seconds:.2f}s",
    ]
    if not result.changes:
        lines.append("no changes since the last scan")
    for change in result.changes:
        name = change.references[0] if change.references else str(change.digest)
        lines.append(f"{name} ({change.digest})")
        lines += [f"  new: {f.id} {f.severity.value} {f.package_purl or ''}" for f in change.new]
        lines += [f"  resolved: {f.id} {f.package_purl or ''}" for f in change.resolved]
    return "\n".join(lines) + "\n"


def limits_from(policy_path: Path | None, fail_on: str | None) -> tuple[Policy | None, Severity | None]:
    if policy_path is not None and fail_on is not None:
        raise UsageError("give --policy or --fail-on, not both")
    policy = load_policy(policy_path, DEFAULT_LIMITS) if policy_path is not None else None
    return policy, Severity(fail_on) if fail_on is not None else None


@click.command("rescan")
@store_option
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Advisory database.")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Exit 1 when a new finding breaks this policy's vulnerability rules.",
)
@click.option("--fail-on", type=click.Choice(_FAIL_LEVELS), help="Exit 1 on a new finding at or above this.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def rescan_command(
    store_location: str | None,
    db_path: Path | None,
    policy_path: Path | None,
    fail_on: str | None,
    output_format: str,
) -> None:
    """Re-match every stored inventory against the current advisory database (no image is pulled).

    Reports, per image, the findings that are new and the ones resolved since its last scan.
    """
    policy, threshold = limits_from(policy_path, fail_on)
    with open_inventory(store_location) as store:
        result = rescan(store, db_path or default_db_path())
    if output_format == "json":
        write_document(json.dumps(result.to_json(), indent=2) + "\n", None)
    else:
        write_document(rescan_text(result), None)
    now = time.time()
    broken = [
        (change, f)
        for change in result.changes
        for f in new_violations(change, policy=policy, fail_on=threshold, now=now)
    ]
    if broken:
        change, finding = broken[0]
        name = change.references[0] if change.references else str(change.digest)
        raise VerificationFailed(
            f"{name}: new {finding.severity.value} finding {finding.id} in {finding.package_purl}"
            f" is over the limits ({len(broken)} in all)"
        )
