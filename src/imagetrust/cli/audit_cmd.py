"""``imagetrust audit``: inventory and findings for an image, as a report or an SBOM."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import click

from imagetrust.audit.findings import Severity
from imagetrust.audit.result import AuditResult
from imagetrust.cli.concurrent import AUDIT_WORKERS, run_concurrently
from imagetrust.cli.console import Console, write_document
from imagetrust.cli.inventory import store_audit
from imagetrust.cli.options import build_settings, source_options
from imagetrust.cli.progress import AuditProgressBar
from imagetrust.errors import CouldNotCheck, UsageError, VerificationFailed
from imagetrust.pipeline.audit import audit_image
from imagetrust.pipeline.rescan import state_if_present
from imagetrust.pipeline.scanners import SCANNER_NAMES, ScannerOptions, build_scanners, default_scanners
from imagetrust.report.audit import audit_document, audit_text, filter_base
from imagetrust.report.sbom import cyclonedx_json, spdx_json

_FAIL_LEVELS = [s.value for s in Severity if s is not Severity.UNKNOWN]


def _scanner_names(text: str | None, options: ScannerOptions) -> tuple[str, ...]:
    if text is None:
        return default_scanners(options)
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in SCANNER_NAMES]
    if unknown:
        raise UsageError(
            f"--scanners: unknown scanner {', '.join(unknown)} (choose from {', '.join(SCANNER_NAMES)})"
        )
    return names


_STORE_LOCK = threading.Lock()  # one writer to the inventory store at a time


def _render(result: AuditResult, output_format: str) -> str:
    if output_format == "json":
        return json.dumps(audit_document(result), indent=2) + "\n"
    if output_format == "cyclonedx":
        return cyclonedx_json(result)
    if output_format == "spdx":
        return spdx_json(result)
    return audit_text(result)


def _render_all(results: list[AuditResult], output_format: str) -> str:
    """One image: its document.  Several: JSON formats become a list of documents, text is concatenated."""
    if len(results) == 1:
        return _render(results[0], output_format)
    if output_format == "text":
        return "\n".join(_render(r, output_format) for r in results)
    return json.dumps([json.loads(_render(r, output_format)) for r in results], indent=2) + "\n"


def _exit_for(images: tuple[str, ...], results: list[AuditResult], fail_on: str | None) -> None:
    """The worst outcome over all images: a finding at --fail-on (1) before a gap in checking (3)."""
    if fail_on is None:
        return
    threshold = Severity(fail_on)
    for image, result in zip(images, results, strict=True):
        # An unknown severity gates as critical: a missing score must not let a finding through.
        blocking = [f for p in result.platforms for f in p.findings if not f.severity.gating < threshold]
        if blocking:
            worst = max(blocking, key=lambda f: f.severity.gating)
            shown = "an unscored" if worst.severity is Severity.UNKNOWN else f"a {worst.severity.value}"
            raise VerificationFailed(
                f"{image}: {shown} finding ({worst.id}) is at or above --fail-on {fail_on}"
                + (" (unknown severity counts as critical)" if worst.severity is Severity.UNKNOWN else "")
            )
    for image, result in zip(images, results, strict=True):
        gaps = [note for p in result.platforms for note in p.not_checked]
        if gaps:
            raise CouldNotCheck(f"{image}: could not check everything: {gaps[0]}")


@click.command("audit")
@click.argument("images", metavar="IMAGE...", nargs=-1, required=True)
@source_options
@click.option(
    "--scanners",
    "scanners_text",
    metavar="LIST",
    help=f"Comma-separated scanners to run ({', '.join(SCANNER_NAMES)}); default: all that need no"
    " extra rules.",
)
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Advisory database.")
@click.option("--base", metavar="IMAGE", help="Base image, to tell base layers from application layers.")
@click.option("--exclude-base", is_flag=True, help="Leave out packages and findings from base layers.")
@click.option(
    "--malware-rules",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="YARA rules or ClamAV .hdb/.hsb hash lists (files or directories; repeatable).",
)
@click.option(
    "--clamd", metavar="SOCKET", help="Also scan with a running clamd (unix:/path or tcp:host:port)."
)
@click.option(
    "--secret-rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra secret rules and allowlists (TOML or JSON), added to the built-in ones.",
)
@click.option(
    "--software-policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Allow/deny rules for packages and licenses (TOML or JSON); enables the license scanner.",
)
@click.option(
    "--fail-on",
    type=click.Choice(_FAIL_LEVELS),
    help="Exit 1 when a finding of this severity or higher is found (exit 3 if something could not be"
    " checked).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "cyclonedx", "spdx"]),
    default="text",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option(
    "--store",
    "store_location",
    metavar="PATH|URL",
    help="Inventory store (SQLite file or postgresql:// URL).",
)
@click.option("--no-store", is_flag=True, help="Do not record this image in the inventory store.")
def audit_command(
    images: tuple[str, ...],
    scanners_text: str | None,
    db_path: Path | None,
    base: str | None,
    exclude_base: bool,
    malware_rules: tuple[Path, ...],
    clamd: str | None,
    software_policy: Path | None,
    secret_rules: Path | None,
    fail_on: str | None,
    output_format: str,
    output: Path | None,
    store_location: str | None,
    no_store: bool,
    **source: object,
) -> None:
    """Inventory IMAGE's packages and report vulnerabilities and other findings.

    IMAGE is a registry reference or an offline source (oci:, oci-archive:, docker-archive:).  Several
    images are audited concurrently; JSON output is then a list and the exit code is the worst outcome.
    """
    if exclude_base and not base:
        click.echo("imagetrust: note: --exclude-base uses the image's base annotation", err=True)
    settings = build_settings(**source)  # type: ignore[arg-type]
    scanner_options = ScannerOptions(
        db_path=db_path,
        malware_rules=malware_rules,
        clamd=clamd,
        software_policy=software_policy,
        secret_rules=secret_rules,
        cache_dir=settings.cache_dir_or_default(),
        limits=settings.limits,
    )
    names = _scanner_names(scanners_text, scanner_options)
    state = state_if_present(db_path) if not no_store and "vuln" in names else None

    def one(image: str) -> AuditResult:
        # Scanners per image: they hold database connections and matcher state that stay in one thread.
        scanners = build_scanners(names, scanner_options)
        result = audit_image(image, settings, scanners, base=base, progress=bar.active)
        if not no_store:
            with _STORE_LOCK:
                store_audit(store_location, result, image, state)
        if exclude_base:
            result = replace(result, platforms=tuple(filter_base(p) for p in result.platforms))
        return result

    with AuditProgressBar(click.get_current_context().find_object(Console)) as bar:
        results = run_concurrently(images, one, max_workers=AUDIT_WORKERS)
    write_document(_render_all(results, output_format), output)
    _exit_for(images, results, fail_on)
