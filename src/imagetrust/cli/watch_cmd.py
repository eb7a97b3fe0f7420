"""``imagetrust watch``: keep advisories fresh, report changes for stored images (docs/monitoring.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import click

from imagetrust.cli.rescan_cmd import store_option
from imagetrust.errors import CouldNotCheck, UsageError
from imagetrust.pipeline import db as advisory_db
from imagetrust.pipeline.watch import WatchSettings, watch


def _logger(stream: IO[str] | None) -> Any:
    def log(event: Mapping[str, Any]) -> None:
        line = json.dumps({"time": round(time.time(), 3), **event}, sort_keys=True)
        if stream is None:
            click.echo(line, err=True)
        else:
            stream.write(line + "\n")
            stream.flush()

    return log


@click.command("watch")
@store_option
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Advisory database.")
@click.option("--webhook", metavar="URL", help="POST each change here as JSON (Slack-compatible 'text').")
@click.option("--interval", type=click.FloatRange(0), default=3600.0, show_default=True, help="Seconds.")
@click.option("--once", is_flag=True, help="Run one cycle and exit (exit 3 if the rescan failed).")
@click.option("--cycles", type=click.IntRange(1), help="Stop after this many cycles.")
@click.option("--no-update", is_flag=True, help="Only rescan; do not download advisories.")
@click.option("--base-url", default=advisory_db.DEFAULT_BASE_URL, show_default=True, help="OSV bucket URL.")
@click.option("--ecosystem", "ecosystems", multiple=True, help="OSV ecosystem to fetch (repeatable).")
@click.option("--retry-backoff", type=click.FloatRange(0), default=1.0, show_default=True,
              help="First wait between webhook attempts (doubles each retry).")  # fmt: skip
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Append JSON-lines events here instead of stderr.")  # fmt: skip
def watch_command(
    store_location: str | None,
    db_path: Path | None,
    webhook: str | None,
    interval: float,
    once: bool,
    cycles: int | None,
    no_update: bool,
    base_url: str,
    ecosystems: tuple[str, ...],
    retry_backoff: float,
    log_file: Path | None,
) -> None:
    """Run 'db update' then 'rescan' every --interval seconds, logging events and posting changes.

    Undelivered events are kept in the inventory store and resent on later cycles.
    """
    if once and cycles is not None:
        raise UsageError("give --once or --cycles, not both")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise UsageError(f"--webhook {webhook!r}: not an http(s) URL")
    settings = WatchSettings(
        db_path=db_path or advisory_db.default_db_path(),
        store_location=store_location,
        webhook=webhook,
        update=not no_update,
        base_url=base_url,
        ecosystems=ecosystems or advisory_db.DEFAULT_ECOSYSTEMS,
        interval_seconds=interval,
        backoff_seconds=retry_backoff,
    )
    stream = log_file.open("a", encoding="utf-8") if log_file is not None else None
    try:
        results = watch(settings, _logger(stream), cycles=1 if once else cycles)
    finally:
        if stream is not None:
            stream.close()
    if once and not (results and results[0].rescanned):
        raise CouldNotCheck("watch: the rescan did not complete (see the logged events)")
