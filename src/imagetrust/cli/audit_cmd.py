"""``imagetrust audit``: inventory and findings for an image, as a report or an SBOM."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from imagetrust.audit.findings import Severity
from imagetrust.cli.console import write_document
from imagetrust.cli.options import build_settings, source_options
from imagetrust.cli.rescan_cmd import store_audit
from imagetrust.errors import CouldNotCheck, UsageError, VerificationFailed
from imagetrust.pipeline.audit import audit_image
from imagetrust.pipeline.rescan import state_if_present
from imagetrust.pipeline.scanners import SCANNER_NAMES, ScannerOptions, build_scanners, default_scanners
from imagetrust.report.audit import audit_document, audit_text, filter_base, worst_severity
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


@click.command("audit")
@click.argument("image")
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
    image: str,
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

    IMAGE is a registry reference or an offline source (oci:, oci-archive:, docker-archive:).
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
    scanners = build_scanners(names, scanner_options)
    state = state_if_present(db_path) if not no_store and "vuln" in names else None
    result = audit_image(image, settings, scanners, base=base)
    if not no_store:
        store_audit(store_location, result, image, state)
    if exclude_base:
        result = replace(result, platforms=tuple(filter_base(p) for p in result.platforms))
    if output_format == "json":
        text = json.dumps(audit_document(result), indent=2) + "\n"
    elif output_format == "cyclonedx":
        text = cyclonedx_json(result)
    elif output_format == "spdx":
        text = spdx_json(result)
    else:
        text = audit_text(result)
    write_document(text, output)
    if fail_on is not None:
        threshold = Severity(fail_on)
        worst = worst_severity(result)
        if worst is not None and not worst < threshold:
            raise VerificationFailed(f"{image}: a {worst.value} finding is at or above --fail-on {fail_on}")
        gaps = [note for p in result.platforms for note in p.not_checked]
        if gaps:
            raise CouldNotCheck(f"{image}: could not check everything: {gaps[0]}")
