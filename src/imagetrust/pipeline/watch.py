"""``watch``: ``db update`` + ``rescan`` on an interval, with change events delivered to a webhook.

A cycle never stops the loop: a failed update is logged and the rescan runs on the database already there;
a rescan queues its change events in the store in the same transaction that records the new findings, and
delivery only marks an event delivered after the webhook accepted it, so an unreachable webhook delays
events but never loses one (they are resent, in order, on the next cycle).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from imagetrust.errors import ImageTrustError
from imagetrust.pipeline import db as advisory_db
from imagetrust.pipeline.rescan import rescan
from imagetrust.store import Event, InventoryStore, open_inventory

Log = Callable[[Mapping[str, Any]], None]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class WatchSettings:
    db_path: Path
    store_location: str | None = None
    webhook: str | None = None
    update: bool = True
    base_url: str = advisory_db.DEFAULT_BASE_URL
    ecosystems: tuple[str, ...] = advisory_db.DEFAULT_ECOSYSTEMS
    interval_seconds: float = 3600.0
    delivery_attempts: int = 4  # per event per cycle
    backoff_seconds: float = 1.0  # doubles after each failed attempt
    http_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class CycleResult:
    updated: bool
    rescanned: bool
    changes: int
    delivered: int
    pending: int  # events still undelivered after this cycle


def event_text(kind: str, payload: Mapping[str, Any]) -> str:
    """The Slack-compatible one-line summary of an event."""
    if kind != "findings_changed":
        return f"imagetrust: {kind}"
    refs = payload.get("references") or [payload.get("digest", "?")]
    new, resolved = payload.get("new", []), payload.get("resolved", [])
    parts = [
        f"{f.get('id')} ({f.get('severity')}) in {f.get('package')}" for f in new[:5]
    ]  # first few: a chat line, not a report
    text = f"imagetrust: {refs[0]}: {len(new)} new finding(s)"
    if parts:
        text += ": " + ", ".join(parts) + (" ..." if len(new) > 5 else "")
    if resolved:
        text += f"; {len(resolved)} resolved: " + ", ".join(str(f.get("id")) for f in resolved[:5])
    return text


def _post(url: str, event: Event, timeout: float) -> str | None:
    """None when the webhook accepted the event, else why not."""
    body = {
        "text": event_text(event.kind, event.payload),
        "kind": event.kind,
        "id": event.id,
        "created": event.created,
        "event": dict(event.payload),
    }
    try:
        resp = requests.post(url, json=body, timeout=timeout)
    except requests.RequestException as e:
        return f"{type(e).__name__}: {e}"
    if 200 <= resp.status_code < 300:
        return None
    return f"HTTP {resp.status_code}"


def deliver(store: InventoryStore, settings: WatchSettings, log: Log, sleep: Sleep) -> int:
    """Send pending events in order; stop at the first one the webhook will not take (kept for later)."""
    if settings.webhook is None:
        return 0
    delivered = 0
    for event in store.pending_events():
        error: str | None = None
        for attempt in range(settings.delivery_attempts):
            if attempt:
                sleep(settings.backoff_seconds * 2 ** (attempt - 1))
            error = _post(settings.webhook, event, settings.http_timeout_seconds)
            if error is None:
                break
            store.mark_attempt(event.id)
        if error is not None:
            log({"event": "delivery_failed", "id": event.id, "error": error[:300], "kept": True})
            return delivered
        store.mark_delivered(event.id, time.time())
        log({"event": "delivered", "id": event.id})
        delivered += 1
    return delivered


def run_cycle(settings: WatchSettings, log: Log, sleep: Sleep = time.sleep) -> CycleResult:
    updated = False
    if settings.update:
        try:
            count = advisory_db.update(
                settings.db_path, settings.base_url, settings.ecosystems, lambda _m: None
            )
            updated = True
            log({"event": "db_updated", "advisories": count})
        except ImageTrustError as e:
            log({"event": "update_failed", "error": e.diagnostics(), "using": str(settings.db_path)})
    with open_inventory(settings.store_location) as store:
        rescanned, changes = False, 0
        try:
            result = rescan(store, settings.db_path, queue_events=settings.webhook is not None)
            rescanned, changes = True, len(result.changes)
            log(
                {"event": "rescan", "images": result.images, "rematched": result.rematched_images,
                 "changes": changes, "seconds": round(result.seconds, 3)}
            )  # fmt: skip
            for change in result.changes:
                log({"event": "findings_changed", **change.to_json()})
        except ImageTrustError as e:
            log({"event": "rescan_failed", "error": e.diagnostics()})
        delivered = deliver(store, settings, log, sleep)
        pending = len(store.pending_events()) if settings.webhook is not None else 0
    return CycleResult(updated, rescanned, changes, delivered, pending)


def watch(
    settings: WatchSettings, log: Log, *, cycles: int | None = None, sleep: Sleep = time.sleep
) -> Sequence[CycleResult]:
    """Run cycles until ``cycles`` have run (forever when None); nothing but an interrupt stops it."""
    results: list[CycleResult] = []
    n = 0
    while cycles is None or n < cycles:
        if n:
            sleep(settings.interval_seconds)
        n += 1
        try:
            results.append(run_cycle(settings, log, sleep))
        except ImageTrustError as e:  # e.g. the store itself is unreachable: try again next cycle
            log({"event": "cycle_failed", "error": e.diagnostics()})
        if cycles is None:
            results.clear()  # a forever loop keeps no history
    return results
