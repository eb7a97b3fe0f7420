"""``imagetrust promote``: copy SRC to DST with its signatures and attestations, only if it passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from imagetrust.cli.console import Console, write_document
from imagetrust.cli.options import build_settings, output_options, source_options
from imagetrust.errors import CouldNotCheck, UsageError, VerificationFailed
from imagetrust.pipeline.promote import PromoteOptions, PromoteOutcome, PromoteResult, promote_image
from imagetrust.pipeline.verify import VerifyOptions
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
        "decision": result.decision.outcome.value,
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
        f"decision:    {result.decision.outcome.value}: {result.reason}",
    ]
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
@click.option("--policy", "policy_file", type=_FILE, help="Policy file (evaluated by the check pipeline).")
@click.option("--key", "keys", multiple=True, type=_FILE, help="PEM public key SRC must be signed by.")
@click.option("--threshold", type=int, default=1, show_default=True, help="Distinct signers required.")
@click.option("--type", "types", multiple=True, help="Require a verified attestation of this type.")
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
    dry_run: bool,
    output_format: str,
    output: Path | None,
    **source: object,
) -> None:
    """Copy SRC to DST (all platforms, signatures, attestations, referrers) only if SRC passes.

    Exit 0 promoted (or would be, with --dry-run), 1 SRC failed the checks (nothing copied), 2 usage,
    3 could not decide or could not finish copying (DST's tag is left as it was).
    """
    if source.get("platform_text") or source.get("all_platforms"):
        raise UsageError("promote always copies every platform; drop --platform/--all-platforms")
    if policy_file is not None:
        raise UsageError("--policy: policy evaluation is not wired into promote yet; use --key/--type")
    if not keys:
        raise UsageError("promote needs --key (the public key SRC must be signed by)")
    settings = build_settings(**source)  # type: ignore[arg-type]
    verify = VerifyOptions(
        keys=tuple(load_public_key(p) for p in keys),
        threshold=threshold,
        predicate_types=tuple(resolve_predicate_type(t) for t in types),
    )

    def progress(event: str, detail: str) -> None:
        console.detail(f"promote: {event} {detail}")

    result = promote_image(src, dst, settings, PromoteOptions(verify, dry_run), progress)
    if output_format == "json":
        text = json.dumps(promote_document(result), indent=2) + "\n"
    else:
        text = promote_text(result)
    write_document(text, output)
    if result.outcome is PromoteOutcome.REFUSED:
        raise VerificationFailed(f"{result.source}: not promoted: {result.reason}")
    if result.outcome is PromoteOutcome.INDETERMINATE:
        raise CouldNotCheck(f"{result.source}: not promoted, could not decide: {result.reason}")
