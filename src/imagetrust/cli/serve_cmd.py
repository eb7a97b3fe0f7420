"""``imagetrust serve``: the Kubernetes validating admission webhook (see docs/admission.md)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from imagetrust.cli.options import build_settings, source_options
from imagetrust.cli.trust_options import (
    identity_options,
    identity_policy,
    keyless_material,
    keyless_material_options,
    policy_from_flags,
)
from imagetrust.errors import UsageError
from imagetrust.pipeline.serve import Admission, AdmissionSettings, make_server
from imagetrust.policy.model import KeylessAuthority

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def log_event(event: Mapping[str, Any]) -> None:
    """One JSON line per event on stderr (collected by the cluster's log pipeline)."""
    line = json.dumps({"time": round(time.time(), 3), **event}, sort_keys=True)
    click.echo(line, err=True)
    sys.stderr.flush()


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True)
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
@click.option("--tls-cert", type=_FILE, required=True, help="PEM certificate chain the API server trusts.")
@click.option("--tls-key", type=_FILE, required=True, help="PEM private key of --tls-cert.")
@click.option(
    "--policy", "policy_path", type=_FILE, help="Policy file: its signature/attestation rules apply."
)
@click.option("--key", "keys", multiple=True, type=_FILE, help="Without --policy: PEM public key to trust.")
@identity_options
@keyless_material_options
@click.option(
    "--cache-ttl", type=click.FloatRange(0), default=300.0, show_default=True,
    help="Seconds a verified (or failed) digest is remembered; 0 disables the cache.",
)  # fmt: skip
@click.option(
    "--deadline", type=click.FloatRange(1, 29), default=25.0, show_default=True,
    help="Seconds to answer one request; images not verified by then are denied (or allowed with"
    " --fail-open).",
)  # fmt: skip
@click.option(
    "--fail-open", is_flag=True,
    help="Admit images that could not be checked (registry down, deadline) with a warning; images that"
    " failed verification are still denied.",
)  # fmt: skip
@source_options
def serve_command(
    port: int,
    host: str,
    tls_cert: Path,
    tls_key: Path,
    policy_path: Path | None,
    keys: tuple[Path, ...],
    certificate_identity: str | None,
    certificate_identity_regexp: str | None,
    certificate_oidc_issuer: str | None,
    certificate_oidc_issuer_regexp: str | None,
    trusted_root: Path | None,
    fulcio_roots: tuple[Path, ...],
    rekor_keys: tuple[Path, ...],
    cache_ttl: float,
    deadline: float,
    fail_open: bool,
    **source: object,
) -> None:
    """Serve AdmissionReview v1 on POST /validate over HTTPS; GET /healthz for probes.

    Every container, init container and ephemeral container image of a Pod or workload is resolved to a
    digest and its signatures/attestations verified against the policy.  Fails closed by default.
    """
    settings = build_settings(**source)  # type: ignore[arg-type]
    identity = identity_policy(
        certificate_identity,
        certificate_identity_regexp,
        certificate_oidc_issuer,
        certificate_oidc_issuer_regexp,
    )
    if policy_path is None and not keys and identity is None:
        raise UsageError("serve needs --policy, or --key / --certificate-identity to trust")
    policy = policy_from_flags(policy_path, keys, identity, settings.limits)
    if not policy.authorities():
        raise UsageError(f"{policy.source}: no signature authorities, so admission would verify nothing")
    keyless = any(isinstance(a, KeylessAuthority) for a in policy.authorities())
    admission = Admission(
        AdmissionSettings(
            policy=policy,
            source=settings,
            keyless=keyless_material(keyless, trusted_root, fulcio_roots, rekor_keys),
            cache_ttl_seconds=cache_ttl,
            deadline_seconds=deadline,
            fail_open=fail_open,
        ),
        log=log_event,
    )
    server = make_server(admission, host, port, tls_cert, tls_key, log_event)
    bound_host, bound_port = server.server_address[:2]
    log_event(
        {"event": "listening", "url": f"https://{bound_host!s}:{bound_port}", "failOpen": fail_open,
         "policy": policy.source, "deadline": deadline, "cacheTtl": cache_ttl}
    )  # fmt: skip
    try:
        server.serve_forever()
    finally:
        server.server_close()
        admission.close()
