"""Recording audits in the inventory store (for ``rescan``), shared by ``audit`` and ``check``.

Kept apart from ``rescan_cmd`` so an audit does not import the rescan command's policy machinery.
"""

from __future__ import annotations

import click

from imagetrust.audit.result import AuditResult
from imagetrust.pipeline.rescan import record_audit
from imagetrust.store import AdvisoryState, InventoryStoreError


def store_audit(
    location: str | None, result: AuditResult, reference: str, state: AdvisoryState | None
) -> None:
    """Record an audit for later rescans; a store that cannot be written is a warning, the audit stands."""
    try:
        record_audit(location, result, reference, state)
    except InventoryStoreError as e:
        click.echo(f"imagetrust: warning: not recorded in the inventory store: {e.diagnostics()}", err=True)
