"""``imagetrust check``: verify + audit + policy on one digest, and the trust report.

Exit 0 pass, 1 fail, 2 usage or policy error, 3 indeterminate.  A policy in ``mode: warn`` reports
failures but exits 0; an indeterminate decision still exits 3 (see docs/policy.md).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import click

from imagetrust.cli.concurrent import AUDIT_WORKERS, run_concurrently
from imagetrust.cli.console import write_document
from imagetrust.cli.inventory import store_audit
from imagetrust.cli.options import build_settings, source_options
from imagetrust.cli.trust_options import (
    identity_options,
    identity_policy,
    keyless_material,
    keyless_material_options,
    policy_from_flags,
)
from imagetrust.errors import CouldNotCheck, UsageError, VerificationFailed
from imagetrust.pipeline.check import CheckResult, check_image
from imagetrust.pipeline.rescan import state_if_present
from imagetrust.pipeline.scanners import ScannerOptions
from imagetrust.policy.evaluate import Outcome
from imagetrust.policy.model import KeylessAuthority, Mode
from imagetrust.report.html import trust_html
from imagetrust.report.markdown import trust_markdown
from imagetrust.report.sarif import trust_sarif
from imagetrust.report.trust import trust_document, trust_text

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
FORMATS = ("text", "json", "sarif", "markdown", "html")


def render(doc: dict[str, object], output_format: str) -> str:
    if output_format == "json":
        return json.dumps(doc, indent=2) + "\n"
    if output_format == "sarif":
        return json.dumps(trust_sarif(doc), indent=2) + "\n"
    if output_format == "markdown":
        return trust_markdown(doc)
    if output_format == "html":
        return trust_html(doc)
    return trust_text(doc)


_STORE_LOCK = threading.Lock()  # one writer to the inventory store at a time


def render_all(docs: list[dict[str, object]], output_format: str) -> str:
    """One image: its report.  Several: JSON is a list, SARIF one log with a run per image, text and
    Markdown concatenated; HTML is one page per image, so it takes one image."""
    if len(docs) == 1:
        return render(docs[0], output_format)
    if output_format == "json":
        return json.dumps(docs, indent=2) + "\n"
    if output_format == "sarif":
        logs = [trust_sarif(doc) for doc in docs]
        merged = {**logs[0], "runs": [run for log in logs for run in log["runs"]]}
        return json.dumps(merged, indent=2) + "\n"
    return "\n".join(render(doc, output_format) for doc in docs)


@click.command("check")
@click.argument("images", metavar="IMAGE...", nargs=-1, required=True)
@click.option("--policy", "policy_path", type=_FILE, help="Policy file (YAML, imagetrust.dev/v1).")
@click.option("--key", "keys", multiple=True, type=_FILE, help="Default policy: PEM public key to trust.")
@identity_options
@keyless_material_options
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Advisory database.")
@click.option(
    "--malware-rules", multiple=True, type=click.Path(exists=True, path_type=Path), help="YARA/ClamAV rules."
)
@click.option("--base", metavar="IMAGE", help="Base image, to tell base layers from application layers.")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option(
    "--store",
    "store_location",
    metavar="PATH|URL",
    help="Inventory store (SQLite file or postgresql:// URL).",
)
@click.option("--no-store", is_flag=True, help="Do not record this image in the inventory store.")
@source_options
def check_command(
    images: tuple[str, ...],
    policy_path: Path | None,
    keys: tuple[Path, ...],
    certificate_identity: str | None,
    certificate_identity_regexp: str | None,
    certificate_oidc_issuer: str | None,
    certificate_oidc_issuer_regexp: str | None,
    trusted_root: Path | None,
    fulcio_roots: tuple[Path, ...],
    rekor_keys: tuple[Path, ...],
    db_path: Path | None,
    malware_rules: tuple[Path, ...],
    base: str | None,
    output_format: str,
    output: Path | None,
    store_location: str | None,
    no_store: bool,
    **source: object,
) -> None:
    """Verify, audit and apply a policy to IMAGE; write the trust report.

    Without --policy, the default policy applies: a valid signature by --key or the identity given, no
    malware, no secrets, no critical vulnerability with a fix available.  Several images are checked
    concurrently; JSON output is then a list and the exit code is the worst outcome.
    """
    if output_format == "html" and len(images) > 1:
        raise UsageError("--format html writes one page per image: give one IMAGE")
    settings = build_settings(**source)  # type: ignore[arg-type]
    identity = identity_policy(
        certificate_identity,
        certificate_identity_regexp,
        certificate_oidc_issuer,
        certificate_oidc_issuer_regexp,
    )
    policy = policy_from_flags(policy_path, keys, identity, settings.limits)
    keyless = any(isinstance(a, KeylessAuthority) for a in policy.authorities())
    state = state_if_present(db_path) if not no_store else None
    material = keyless_material(keyless, trusted_root, fulcio_roots, rekor_keys)

    def one(image: str) -> CheckResult:
        report = check_image(
            image,
            settings,
            policy,
            now=datetime.now(UTC),
            scanner_options=ScannerOptions(db_path=db_path, malware_rules=malware_rules),
            keyless=material,
            base=base,
        )
        if not no_store and report.audit is not None:
            with _STORE_LOCK:
                store_audit(store_location, report.audit, image, state)
        return report

    reports = run_concurrently(images, one, max_workers=AUDIT_WORKERS)
    write_document(render_all([trust_document(r) for r in reports], output_format), output)
    failed = [r for r in reports if r.decision.outcome is Outcome.FAIL]
    if failed and policy.mode is Mode.WARN:
        for report in failed:
            summary = "; ".join(report.decision.reasons[:3])
            click.echo(
                f"imagetrust: warning: {report.source}: policy failed (warn mode, not blocking): {summary}",
                err=True,
            )
    elif failed:
        summary = "; ".join(failed[0].decision.reasons[:3])
        raise VerificationFailed(f"{failed[0].source}: policy failed: {summary}")
    for report in reports:
        if report.decision.outcome is Outcome.INDETERMINATE:
            summary = "; ".join(report.decision.reasons[:3])
            raise CouldNotCheck(f"{report.source}: could not decide: {summary}")
