"""``imagetrust verify``: are IMAGE's signatures and attestations from the signers expected?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from imagetrust.cli.concurrent import run_concurrently
from imagetrust.cli.console import write_document
from imagetrust.cli.options import build_settings, output_options, source_options
from imagetrust.cli.trust_options import (
    identity_options,
    identity_policy,
    keyless_material_options,
    keyless_parts,
)
from imagetrust.errors import CouldNotCheck, UsageError, VerificationFailed
from imagetrust.pipeline.verify import LayoutCheck, VerifyOptions, verify_image
from imagetrust.report.verify import Outcome, verify_document, verify_text
from imagetrust.trust.keys import load_public_key
from imagetrust.verify.slsa import ProvenanceExpectation
from imagetrust.verify.statement import resolve_predicate_type

if TYPE_CHECKING:
    from imagetrust.trust.config import TrustConfig
    from imagetrust.trust.notation_store import NotationTrustStore

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_WORKFLOW_CLAIMS = (
    ("workflow_repository", "github_workflow_repository"),
    ("workflow_ref", "github_workflow_ref"),
    ("workflow_trigger", "github_workflow_trigger"),
    ("workflow_sha", "github_workflow_sha"),
    ("workflow_name", "github_workflow_name"),
)


def _provenance(
    builder_id: str | None,
    source_uri: str | None,
    source_tag: str | None,
    source_branch: str | None,
    build_type: str | None,
) -> ProvenanceExpectation | None:
    if not any((builder_id, source_uri, source_tag, source_branch, build_type)):
        return None
    if not builder_id or not source_uri:
        raise UsageError("SLSA provenance checks need both --slsa-builder-id and --slsa-source-uri")
    return ProvenanceExpectation(builder_id, source_uri, source_tag, source_branch, build_type)


def _layout(path: Path | None, keys: tuple[Path, ...], link_dir: Path | None) -> LayoutCheck | None:
    if path is None:
        if keys or link_dir is not None:
            raise UsageError("--layout-key and --link-dir need --layout")
        return None
    from imagetrust.verify.layout import load_layout_key  # in-toto layouts load only when given

    return LayoutCheck(path, tuple(load_layout_key(k) for k in keys), link_dir or path.parent)


@click.command("verify")
@click.argument("images", metavar="IMAGE...", nargs=-1, required=True)
@click.option("--key", "keys", multiple=True, type=_FILE, help="PEM public key to trust (repeatable).")
@identity_options
@click.option(
    "--certificate-github-workflow-repository", "workflow_repository", help="Expected workflow repo."
)
@click.option("--certificate-github-workflow-ref", "workflow_ref", help="Expected workflow ref claim.")
@click.option("--certificate-github-workflow-trigger", "workflow_trigger", help="Expected workflow trigger.")
@click.option("--certificate-github-workflow-sha", "workflow_sha", help="Expected workflow commit SHA.")
@click.option("--certificate-github-workflow-name", "workflow_name", help="Expected workflow name.")
@keyless_material_options
@click.option("--threshold", type=int, default=1, show_default=True, help="Distinct signers required.")
@click.option(
    "--type", "types", multiple=True, help="Require a verified attestation of this type (URI or name)."
)
@click.option("--slsa-builder-id", help="Expected SLSA builder id (any version unless it has @ref).")
@click.option("--slsa-source-uri", help="Expected source repository, e.g. github.com/org/repo.")
@click.option("--slsa-source-tag", help="Expected source tag (refs/tags/TAG).")
@click.option("--slsa-source-branch", help="Expected source branch (refs/heads/BRANCH).")
@click.option("--slsa-build-type", help="Expected SLSA buildType.")
@click.option("--attestations-only", is_flag=True, help="Do not require signatures, only attestations.")
@click.option(
    "--signature-repository",
    envvar=["IMAGETRUST_SIGNATURE_REPOSITORY", "COSIGN_REPOSITORY"],
    metavar="REGISTRY/REPO",
    help="Look for signatures in this repository instead (env COSIGN_REPOSITORY).",
)
@click.option("--bind-repository", is_flag=True, help="Signed docker-reference must name IMAGE's repository.")
@click.option(
    "--trust-config",
    type=_FILE,
    envvar="IMAGETRUST_TRUST_CONFIG",
    help="Trust-roots config: image-name globs to required authorities (env IMAGETRUST_TRUST_CONFIG).",
)
@click.option(
    "--layout", "layout_path", type=_FILE, help="in-toto layout that must verify (inspections refused)."
)
@click.option(
    "--layout-key", "layout_keys", multiple=True, type=_FILE, help="PEM key that must have signed the layout."
)
@click.option(
    "--link-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of the layout's step links (default: the layout's directory).",
)
@click.option(
    "--notation-trust-store",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Notation x509 trust store (x509/ca/<name>/*.pem, or a directory of PEM CA certs).",
)
@source_options
@output_options
def verify_command(
    images: tuple[str, ...],
    keys: tuple[Path, ...],
    certificate_identity: str | None,
    certificate_identity_regexp: str | None,
    certificate_oidc_issuer: str | None,
    certificate_oidc_issuer_regexp: str | None,
    fulcio_roots: tuple[Path, ...],
    rekor_keys: tuple[Path, ...],
    trusted_root: Path | None,
    threshold: int,
    types: tuple[str, ...],
    slsa_builder_id: str | None,
    slsa_source_uri: str | None,
    slsa_source_tag: str | None,
    slsa_source_branch: str | None,
    slsa_build_type: str | None,
    attestations_only: bool,
    signature_repository: str | None,
    bind_repository: bool,
    trust_config: Path | None,
    layout_path: Path | None,
    layout_keys: tuple[Path, ...],
    link_dir: Path | None,
    notation_trust_store: Path | None,
    output_format: str,
    output: Path | None,
    **rest: object,
) -> None:
    """Verify IMAGE's signatures and attestations; exit 0 verified, 1 failed, 3 could not check.

    Several images are verified concurrently over pooled connections; the exit code is the worst outcome.

    IMAGE is a registry reference or an offline source (oci:PATH[:TAG], oci-archive:..., docker-archive:...).
    Signatures are looked for in cosign tags (sha256-<hex>.sig/.att) and OCI referrers (sigstore bundles).
    """
    claims = tuple(
        (claim, str(rest.pop(name))) for name, claim in _WORKFLOW_CLAIMS if rest.get(name) is not None
    )
    for name, _ in _WORKFLOW_CLAIMS:
        rest.pop(name, None)
    settings = build_settings(**rest)  # type: ignore[arg-type]
    identity = identity_policy(
        certificate_identity,
        certificate_identity_regexp,
        certificate_oidc_issuer,
        certificate_oidc_issuer_regexp,
        claims,
    )
    root, roots, rekor = keyless_parts(identity is not None, trusted_root, fulcio_roots, rekor_keys)
    options = VerifyOptions(
        keys=tuple(load_public_key(p) for p in keys),
        identity=identity,
        fulcio_roots=roots,
        rekor_keys=rekor,
        keyed_tlog=bool(rekor_keys),
        trusted_root=root,
        threshold=threshold,
        predicate_types=tuple(resolve_predicate_type(t) for t in types),
        provenance=_provenance(
            slsa_builder_id, slsa_source_uri, slsa_source_tag, slsa_source_branch, slsa_build_type
        ),
        require_signatures=not attestations_only,
        signature_repository=signature_repository,
        bind_repository=bind_repository,
        trust_config=None if trust_config is None else _trust_config(trust_config),
        layout=_layout(layout_path, layout_keys, link_dir),
        notation_store=(None if notation_trust_store is None else _notation_store(notation_trust_store)),
    )
    results = run_concurrently(images, lambda image: verify_image(image, settings, options))
    if output_format == "json":
        documents = [verify_document(r) for r in results]
        text = json.dumps(documents[0] if len(images) == 1 else documents, indent=2) + "\n"
    else:
        text = "\n".join(verify_text(r) for r in results)
    write_document(text, output)
    named = len(images) > 1
    for image, result in zip(images, results, strict=True):
        if result.outcome is Outcome.FAILED:
            where = f"{image}: " if named else ""
            raise VerificationFailed(f"{where}verification failed: {result.reason}")
    for image, result in zip(images, results, strict=True):
        if result.outcome is Outcome.INDETERMINATE:
            where = f"{image}: " if named else ""
            raise CouldNotCheck(f"{where}could not check: {result.reason}")


def _notation_store(path: Path) -> NotationTrustStore:
    from imagetrust.trust.notation_store import load_notation_trust_store  # only with --notation-trust-store

    return load_notation_trust_store(path)


def _trust_config(path: Path) -> TrustConfig:
    from imagetrust.trust.config import load_trust_config  # only with --trust-config

    return load_trust_config(path)
