"""``imagetrust promote``: copy SRC to DST with its signatures and attestations, only if it passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from imagetrust.cli.console import Console, write_document
from imagetrust.cli.options import build_settings, output_options, source_options
from imagetrust.cli.trust_options import keyless_material, keyless_material_options
from imagetrust.errors import CouldNotCheck, UsageError, VerificationFailed
from imagetrust.pipeline.promote import PromoteOptions, PromoteOutcome, PromoteResult, promote_image
from imagetrust.pipeline.scanners import ScannerOptions
from imagetrust.pipeline.verify import VerifyOptions
from imagetrust.policy.load import load_policy
from imagetrust.policy.model import KeylessAuthority
from imagetrust.report.trust import trust_document
from imagetrust.trust.keys import load_public_key
from imagetrust.verify.statement import resolve_predicate_type

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def promote_document(result: PromoteResult) -> dict[str, Any]:
    plan = result.plan
    doc: dict[str, Any] = {
        "source": result.source,
        "destination": result.destination,
        "digest": str(result.digest),
        "outcome": result.outcome.value,
        "reason": result.reason,
        "decision": result.decided,
        "policy": None if result.check is None else trust_document(result.check),
        "previous": str(result.previous) if result.previous else None,
        "written": str(result.written) if result.written else None,
        "copy": None,
    }
    if plan is not None:
        doc["copy"] = {
            "manifests": [str(m.digest) for m in plan.image],
            "blobs": len(plan.blobs()),
            "bytes": plan.total_bytes,
            "cosignTags": [c.tag for c in plan.cosign_tags],
            "referrers": [
                {
                    "subject": str(r.subject),
                    "digest": str(r.entry.digest),
                    "artifactType": r.entry.artifact_type,
                }
                for r in plan.referrers
            ],
            "skipped": list(plan.skipped),
        }
    return doc


def promote_text(result: PromoteResult) -> str:
    verb = {
        PromoteOutcome.PROMOTED: "PROMOTED",
        PromoteOutcome.WOULD_PROMOTE: "WOULD PROMOTE (dry run: nothing copied)",
        PromoteOutcome.REFUSED: "REFUSED (nothing copied)",
        PromoteOutcome.INDETERMINATE: "INDETERMINATE (nothing copied)",
    }[result.outcome]
    lines = [
        f"source:      {result.source}",
        f"destination: {result.destination}",
        f"outcome:     {verb}",
        f"decision:    {result.decided}: {result.reason}",
    ]
    if result.check is not None:
        policy = result.check.policy
        lines.append(f"policy:      {policy.name} ({policy.source}, mode {policy.mode.value})")
        for rule in result.check.decision.results:
            lines.append(f"  [{rule.outcome.value}] {rule.id}: {'; '.join(rule.reasons)}")
    plan = result.plan
    if plan is not None:
        lines.append(
            f"copy:        {len(plan.image)} manifest(s), {len(plan.blobs())} blob(s),"
            f" {plan.total_bytes} bytes"
        )
        for copy in plan.cosign_tags:
            lines.append(f"  cosign tag  {copy.tag}")
        for referrer in plan.referrers:
            lines.append(f"  referrer    {referrer.entry.digest} ({referrer.entry.artifact_type or '?'})")
        lines += [f"  skipped     {item}" for item in plan.skipped]
    if result.previous is not None:
        lines.append(f"previous:    {result.previous}")
    return "\n".join(lines) + "\n"


@click.command("promote")
@click.argument("src")
@click.argument("dst")
@click.option("--policy", "policy_file", type=_FILE, help="Policy file: SRC must pass it (as `check`).")
@click.option("--key", "keys", multiple=True, type=_FILE, help="PEM public key SRC must be signed by.")
@click.option("--threshold", type=int, default=1, show_default=True, help="Distinct signers required.")
@click.option("--type", "types", multiple=True, help="Require a verified attestation of this type.")
@keyless_material_options
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Advisory database.")
@click.option(
    "--malware-rules", multiple=True, type=click.Path(exists=True, path_type=Path), help="YARA/ClamAV rules."
)
@click.option("--dry-run", is_flag=True, help="Decide and list what would be copied; copy nothing.")
@source_options
@output_options
@click.pass_obj
def promote_command(
    console: Console,
    /,
    src: str,
    dst: str,
    policy_file: Path | None,
    keys: tuple[Path, ...],
    threshold: int,
    types: tuple[str, ...],
    trusted_root: Path | None,
    fulcio_roots: tuple[Path, ...],
    rekor_keys: tuple[Path, ...],
    db_path: Path | None,
    malware_rules: tuple[Path, ...],
    dry_run: bool,
    output_format: str,
    output: Path | None,
    **source: object,
) -> None:
    """Copy SRC to DST (all platforms, signatures, attestations, referrers) only if SRC passes.

    SRC passes --policy FILE (verify + audit + policy, as `check`; `mode: warn` does not let a failing image
    through), or, without a policy, carries signatures by --key (and attestations of each --type).
    Exit 0 promoted (or would be, with --dry-run), 1 SRC failed the checks (nothing copied), 2 usage,
    3 could not decide or could not finish copying (DST's tag is left as it was).
    """
    if source.get("platform_text") or source.get("all_platforms"):
        raise UsageError("promote always copies every platform; drop --platform/--all-platforms")
    settings = build_settings(**source)  # type: ignore[arg-type]
    if policy_file is not None:
        if keys or types or threshold != 1:
            raise UsageError("give --policy, or --key/--threshold/--type, not both")
        policy = load_policy(policy_file, settings.limits)
        keyless = any(isinstance(a, KeylessAuthority) for a in policy.authorities())
        options = PromoteOptions(
            dry_run=dry_run,
            policy=policy,
            scanner_options=ScannerOptions(db_path=db_path, malware_rules=malware_rules),
            keyless=keyless_material(keyless, trusted_root, fulcio_roots, rekor_keys),
        )
    else:
        if not keys:
            raise UsageError("promote needs --policy or --key (the public key SRC must be signed by)")
        if db_path is not None or malware_rules or trusted_root or fulcio_roots or rekor_keys:
            raise UsageError("--db, --malware-rules and keyless trust flags apply with --policy only")
        verify = VerifyOptions(
            keys=tuple(load_public_key(p) for p in keys),
            threshold=threshold,
            predicate_types=tuple(resolve_predicate_type(t) for t in types),
        )
        options = PromoteOptions(verify, dry_run)

    def progress(event: str, detail: str) -> None:
        console.detail(f"promote: {event} {detail}")

    result = promote_image(src, dst, settings, options, progress)
    if output_format == "json":
        text = json.dumps(promote_document(result), indent=2) + "\n"
    else:
        text = promote_text(result)
    write_document(text, output)
    if result.outcome is PromoteOutcome.REFUSED:
        raise VerificationFailed(f"{result.source}: not promoted: {result.reason}")
    if result.outcome is PromoteOutcome.INDETERMINATE:
        raise CouldNotCheck(f"{result.source}: not promoted, could not decide: {result.reason}")
