"""``imagetrust verify-blob``: a file or digest against a Sigstore bundle (keyless or keyed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from imagetrust.cli.console import write_document
from imagetrust.cli.options import output_options
from imagetrust.errors import ImageTrustError
from imagetrust.pipeline.verify_blob import VerifyBlobRequest, VerifyBlobResult, verify_blob

_FILE = click.Path(exists=False, dir_okay=False, path_type=Path)


def blob_document(result: VerifyBlobResult) -> dict[str, Any]:
    return {
        "verified": True,
        "blob": result.blob,
        "digest": str(result.digest),
        "bundle": str(result.bundle),
        "mode": result.mode,
        "content": result.content,
        "signer": result.signer,
        "issuer": result.issuer,
        "predicateType": result.predicate_type,
        "transparencyLog": {
            "detail": result.tlog,
            "logIndex": result.log_index,
            "integratedTime": result.integrated_time.isoformat() if result.integrated_time else None,
        },
        "trustedRoot": str(result.trusted_root) if result.trusted_root else None,
    }


def blob_text(result: VerifyBlobResult) -> str:
    lines = [
        f"Verified OK: {result.blob} ({result.digest})",
        f"  bundle:    {result.bundle} ({result.content}, {result.mode})",
        f"  signer:    {result.signer}" + (f" (issuer {result.issuer})" if result.issuer else ""),
    ]
    if result.predicate_type:
        lines.append(f"  predicate: {result.predicate_type}")
    lines.append(f"  tlog:      {result.tlog}")
    if result.integrated_time:
        lines.append(f"  logged at: {result.integrated_time.isoformat()}")
    return "\n".join(lines) + "\n"


@click.command("verify-blob")
@click.argument("blob", metavar="FILE_OR_DIGEST")
@click.option("--bundle", "bundle", type=_FILE, required=True, help="Sigstore bundle (.sigstore.json).")
@click.option("--key", type=_FILE, help="PEM public key, for bundles signed with a key.")
@click.option("--certificate-identity", "identity", help="Exact signer identity (email or URI).")
@click.option(
    "--certificate-identity-regexp",
    "identity_regexp",
    help="Signer identity regular expression, matched against the WHOLE identity.",
)
@click.option("--certificate-oidc-issuer", "issuer", help="Exact OIDC issuer of the signing certificate.")
@click.option(
    "--certificate-oidc-issuer-regexp",
    "issuer_regexp",
    help="OIDC issuer regular expression, matched against the WHOLE issuer.",
)
@click.option(
    "--trusted-root",
    type=_FILE,
    help="Sigstore trusted_root.json (default: the pinned public-good root in trust-roots/).",
)
@click.option(
    "--insecure-ignore-tlog",
    is_flag=True,
    help="With --key: do not require a transparency-log entry (as cosign's flag of the same name).",
)
@output_options
def verify_blob_command(
    blob: str,
    bundle: Path,
    key: Path | None,
    identity: str | None,
    identity_regexp: str | None,
    issuer: str | None,
    issuer_regexp: str | None,
    trusted_root: Path | None,
    insecure_ignore_tlog: bool,
    output_format: str,
    output: Path | None,
) -> None:
    """Verify FILE_OR_DIGEST (a file, or sha256:<hex>) against a Sigstore bundle, offline.

    Keyless bundles need --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp];
    bundles signed with a key need --key.  For attestation (DSSE) bundles the in-toto statement must name
    the blob's digest.  Exit codes: 0 verified, 1 not verified, 2 usage, 3 could not check.
    """
    request = VerifyBlobRequest(
        blob=blob,
        bundle=bundle,
        key=key,
        identity=identity,
        identity_regexp=identity_regexp,
        issuer=issuer,
        issuer_regexp=issuer_regexp,
        trusted_root=trusted_root,
        insecure_ignore_tlog=insecure_ignore_tlog,
    )
    try:
        result = verify_blob(request)
    except ImageTrustError as e:
        if output_format == "json":  # scripts get a document either way; the exit code still says it
            failure = {"verified": False, "blob": blob, "bundle": str(bundle), "error": e.diagnostics()}
            failure["exitCode"] = int(e.exit_code)
            write_document(json.dumps(failure, indent=2) + "\n", output)
        raise
    if output_format == "json":
        write_document(json.dumps(blob_document(result), indent=2) + "\n", output)
    else:
        write_document(blob_text(result), output)
