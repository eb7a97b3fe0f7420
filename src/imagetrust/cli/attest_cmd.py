"""``imagetrust attest``: assess IMAGE, sign the result (audit predicate and/or SLSA VSA), attach it."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from imagetrust.attest.sign import load_signing_key
from imagetrust.attest.statement import Result
from imagetrust.audit.findings import Severity
from imagetrust.cli.console import write_document
from imagetrust.cli.options import build_settings, output_options, source_options
from imagetrust.cli.trust_options import keyless_material, keyless_material_options
from imagetrust.errors import CouldNotCheck, UsageError, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.pipeline.attest import TYPE_NAMES, AttestOptions, AttestResult, PolicyFile, attest_image
from imagetrust.pipeline.scanners import SCANNER_NAMES, ScannerOptions, build_scanners, default_scanners
from imagetrust.pipeline.verify import VerifyOptions
from imagetrust.policy.load import read_policy
from imagetrust.policy.model import KeylessAuthority
from imagetrust.trust.keys import load_public_key
from imagetrust.verify.statement import resolve_predicate_type

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_FAIL_LEVELS = [s.value for s in Severity if s is not Severity.UNKNOWN] + ["none"]


def key_password(from_stdin: bool) -> bytes | None:
    """The private key password: standard input if asked, else COSIGN_PASSWORD (may be empty), else none."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UsageError("--key-password-stdin: nothing on standard input")
        return line.rstrip("\r\n").encode("utf-8")
    value = os.environ.get("COSIGN_PASSWORD")
    return value.encode("utf-8") if value is not None else None


def read_policy_file(path: Path, limits: Limits) -> PolicyFile:
    """Load the policy from the very bytes whose digest the VSA records (one read, no second look)."""
    policy, data = read_policy(path, limits)
    return PolicyFile(policy, path.as_posix(), Digest.of(data))


def _scanners(text: str | None) -> tuple[str, ...]:
    if text is None:
        return default_scanners()
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in SCANNER_NAMES]
    if unknown:
        raise UsageError(f"--scanners: unknown scanner {', '.join(unknown)}")
    return names


def attest_document(result: AttestResult) -> dict[str, Any]:
    a = result.assessment
    return {
        "image": result.reference,
        "digest": str(result.digest),
        "result": a.result.value,
        "reasons": list(a.reasons),
        "subjects": [{"digest": str(s.digest), "role": s.role, "platform": s.platform} for s in a.subjects],
        "policy": {"uri": a.policy.uri, "digest": str(a.policy.digest), "source": a.policy.source},
        "statements": [
            {"predicateType": s.predicate_type, "payloadDigest": f"sha256:{_sha(s.payload)}"}
            for s in result.statements
        ],
        "attached": [
            {
                "predicateType": item.predicate_type,
                "envelope": str(item.envelope),
                "referrer": str(item.referrer),
                "fallbackTag": item.fallback_tag,
                "cosignTag": item.cosign_tag,
                "cosignManifest": str(item.cosign_manifest),
            }
            for item in result.attached
        ],
        "notes": list(result.notes),
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def attest_text(result: AttestResult) -> str:
    a = result.assessment
    lines = [f"image:   {result.reference}", f"result:  {a.result.value}"]
    lines += [f"  - {reason}" for reason in a.reasons]
    lines.append(f"policy:  {a.policy.uri} ({a.policy.source}, {a.policy.digest.short})")
    for item in result.attached:
        where = f"referrer {item.referrer.short}"
        if item.fallback_tag:
            where += f" (fallback tag {item.fallback_tag})"
        lines.append(f"attached {item.predicate_type}: {where}; cosign tag {item.cosign_tag}")
    if not result.attached:
        lines.append("attached: nothing (--no-push)")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


@click.command("attest")
@click.argument("image")
@click.option("--key", "key_path", required=True, type=_FILE, help="Private key (cosign or PEM PKCS#8).")
@click.option("--key-password-stdin", is_flag=True, help="Read the key password from standard input.")
@click.option(
    "--type",
    "type_name",
    type=click.Choice(["audit", "vsa", "both"]),
    default="both",
    show_default=True,
    help="Statements to sign: imagetrust audit predicate, SLSA VSA, or both.",
)
@click.option(
    "--policy", "policy_file", type=_FILE, help="Decide with this policy file (as `check`); the VSA names it."
)
@keyless_material_options
@click.option(
    "--malware-rules", multiple=True, type=click.Path(exists=True, path_type=Path), help="YARA/ClamAV rules."
)
@click.option("--verify-key", "verify_keys", multiple=True, type=_FILE, help="Verify signatures first.")
@click.option(
    "--verify-type", "verify_types", multiple=True, help="Attestation type required (with --verify-key)."
)
@click.option("--fail-on", type=click.Choice(_FAIL_LEVELS), default="critical", show_default=True)
@click.option("--scanners", "scanners_text", metavar="LIST", help="Comma-separated scanners to run.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Advisory database.")
@click.option("--no-push", is_flag=True, help="Sign but do not attach (use with -o to keep the document).")
@source_options
@output_options
def attest_command(
    image: str,
    key_path: Path,
    key_password_stdin: bool,
    type_name: str,
    policy_file: Path | None,
    trusted_root: Path | None,
    fulcio_roots: tuple[Path, ...],
    rekor_keys: tuple[Path, ...],
    malware_rules: tuple[Path, ...],
    verify_keys: tuple[Path, ...],
    verify_types: tuple[str, ...],
    fail_on: str,
    scanners_text: str | None,
    db_path: Path | None,
    no_push: bool,
    output_format: str,
    output: Path | None,
    **source: object,
) -> None:
    """Assess IMAGE and attach signed statements about its digest; exit 0 PASSED, 1 FAILED, 3 INCOMPLETE.

    The statements go both to an OCI referrer (with the sha256-<hex> fallback tag) and to cosign's
    sha256-<hex>.att tag, so `cosign verify-attestation --key PUB --insecure-ignore-tlog --type URI` accepts
    them.  Either way the statements are attached before the exit code reports the result.
    """
    if source.get("platform_text") or source.get("all_platforms"):
        raise UsageError("attest always assesses every platform of IMAGE; drop --platform/--all-platforms")
    if verify_types and not verify_keys:
        raise UsageError("--verify-type needs --verify-key")
    fail_on_given = click.get_current_context().get_parameter_source("fail_on") is ParameterSource.COMMANDLINE
    if policy_file is not None and (verify_keys or scanners_text is not None or fail_on_given):
        raise UsageError(
            "with --policy the policy decides: drop --verify-key/--verify-type/--scanners/--fail-on"
        )
    if policy_file is None and (trusted_root or fulcio_roots or rekor_keys):
        raise UsageError("--trusted-root/--fulcio-root/--rekor-key apply to a --policy's keyless signers")
    settings = build_settings(**source)  # type: ignore[arg-type]
    policy = None if policy_file is None else read_policy_file(policy_file, settings.limits)
    key = load_signing_key(key_path, key_password(key_password_stdin))
    types = tuple(TYPE_NAMES.values()) if type_name == "both" else (TYPE_NAMES[type_name],)
    verify = None
    if verify_keys:
        verify = VerifyOptions(
            keys=tuple(load_public_key(p) for p in verify_keys),
            predicate_types=tuple(resolve_predicate_type(t) for t in verify_types),
        )
    options = AttestOptions(
        key=key,
        predicate_types=types,
        fail_on=None if fail_on == "none" else Severity(fail_on),
        verify=verify,
        push=not no_push,
        policy=policy,
        scanner_options=ScannerOptions(db_path=db_path, malware_rules=malware_rules),
        keyless=None
        if policy is None
        else keyless_material(
            any(isinstance(a, KeylessAuthority) for a in policy.policy.authorities()),
            trusted_root,
            fulcio_roots,
            rekor_keys,
        ),
    )
    scanners = None
    if policy is None:
        scanners = build_scanners(
            _scanners(scanners_text), ScannerOptions(db_path=db_path, malware_rules=malware_rules)
        )
    result = attest_image(image, settings, scanners, options)
    if output_format == "json":
        text = json.dumps(attest_document(result), indent=2) + "\n"
    else:
        text = attest_text(result)
    write_document(text, output)
    outcome = result.assessment.result
    if outcome is Result.FAILED:
        raise VerificationFailed(
            f"{result.reference}: assessment FAILED (the FAILED statements are attached)"
        )
    if outcome is Result.INCOMPLETE:
        raise CouldNotCheck(f"{result.reference}: assessment INCOMPLETE: {result.assessment.reasons[0]}")
