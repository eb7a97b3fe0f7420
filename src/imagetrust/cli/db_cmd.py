"""``imagetrust db``: import, update, status and query of the advisory database."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from imagetrust.cli.console import Console, write_document
from imagetrust.errors import CouldNotCheck
from imagetrust.pipeline import db as pipeline


def _console(ctx: click.Context) -> Console:
    obj = ctx.find_object(Console)
    return obj if obj is not None else Console.from_environment(verbose=0, quiet=False)


@click.group("db")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Advisory database file (default $XDG_CACHE_HOME/imagetrust/advisories.sqlite).",
)
@click.pass_context
def db_command(ctx: click.Context, db_path: Path | None) -> None:
    """Manage the vulnerability advisory database."""
    ctx.meta["imagetrust.db"] = db_path or pipeline.default_db_path()


def _db(ctx: click.Context) -> Path:
    path: Path = ctx.meta["imagetrust.db"]
    return path


@db_command.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
def import_command(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Import OSV JSON/YAML, Debian tracker JSON or Alpine secdb files, directories, zips or tarballs."""
    console = _console(ctx)
    count = pipeline.import_paths(_db(ctx), paths, console.info)
    console.info(f"imported {count} advisories into {_db(ctx)}")


@db_command.command("update")
@click.option("--base-url", default=pipeline.DEFAULT_BASE_URL, show_default=True, help="OSV bucket URL.")
@click.option("--ecosystem", "ecosystems", multiple=True, help="OSV ecosystem to fetch (repeatable).")
@click.pass_context
def update_command(ctx: click.Context, base_url: str, ecosystems: tuple[str, ...]) -> None:
    """Download OSV ecosystem zips and replace the database atomically when all imported."""
    console = _console(ctx)
    pipeline.update(_db(ctx), base_url, ecosystems or pipeline.DEFAULT_ECOSYSTEMS, console.info)


@db_command.command("status")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def status_command(ctx: click.Context, output_format: str) -> None:
    """Show the database path, schema, counts per ecosystem and source, and its age."""
    st = pipeline.status(_db(ctx))
    age = time.time() - st.last_update if st.last_update else None
    doc: dict[str, Any] = {
        "path": str(st.path),
        "schema": st.schema,
        "advisories": st.advisories,
        "ecosystems": dict(st.per_ecosystem),
        "sources": dict(st.per_source),
        "last_update": st.last_update,
        "age_seconds": round(age) if age is not None else None,
    }
    if output_format == "json":
        write_document(json.dumps(doc, indent=2) + "\n", None)
        return
    lines = [f"path: {st.path}", f"schema: {st.schema}", f"advisories: {st.advisories}"]
    if st.last_update:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.last_update))
        lines.append(f"last update: {stamp} ({doc['age_seconds'] / 86400:.1f} days ago)")
    lines.append("ecosystems:")
    lines += [f"  {eco}: {n}" for eco, n in st.per_ecosystem]
    lines.append("sources:")
    lines += [f"  {src}: {n}" for src, n in st.per_source]
    write_document("\n".join(lines) + "\n", None)


@db_command.command("query")
@click.argument("purl")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def query_command(ctx: click.Context, purl: str, output_format: str) -> None:
    """Which advisories affect one package version, e.g. pkg:pypi/jinja2@2.10."""
    result = pipeline.query(_db(ctx), purl)
    if output_format == "json":
        doc = {
            "package": result.package.purl,
            "findings": [f.to_json() for f in result.findings],
            "skipped": [{"ecosystem": s.ecosystem, "reason": s.reason, "not_checked": s.not_checked}
                        for s in result.skipped],
        }  # fmt: skip
        write_document(json.dumps(doc, indent=2) + "\n", None)
    else:
        lines = []
        for f in result.findings:
            fixed = ", ".join(f.detail("fixed_versions")) or "no release"
            aliases = f" ({', '.join(f.detail('aliases'))})" if f.detail("aliases") else ""
            lines.append(f"{f.id}{aliases} {f.severity.value}, fixed in {fixed}: {f.title}")
        lines += [f"not checked: {s.reason}" for s in result.skipped]
        write_document("\n".join(lines or [f"no known advisories for {purl}"]) + "\n", None)
    if result.skipped:
        raise CouldNotCheck(f"{purl}: {result.skipped[0].reason}")
