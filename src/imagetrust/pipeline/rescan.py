"""``rescan``: re-match stored inventories against the current advisory database, pulling no image.

Each scan records the advisory state it was matched against (advisory ids and modified times).  The delta
to the current state names the advisories added, changed, withdrawn or removed; only packages named by
those advisories (or whose earlier findings cite them) are matched again, so thousands of stored images
take seconds.  Images never matched (no recorded state) are matched in full.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from imagetrust.audit.findings import Finding, FindingKind, Severity
from imagetrust.audit.result import AuditResult
from imagetrust.audit.vulns.db import AdvisoryDB, AdvisoryDBError
from imagetrust.audit.vulns.match import match_packages
from imagetrust.errors import InvalidReference
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import RegistryRef, parse_source
from imagetrust.policy.model import Policy, VulnerabilityRule
from imagetrust.store import AdvisoryState, ImageRecord, InventoryStore, open_inventory
from imagetrust.store.model import advisory_ids, finding_key, finding_to_json, name_keys, normalise_name
from imagetrust.store.record import records_from_audit

_IN_CHUNK = 500


def _connect_ro(db_path: Path) -> sqlite3.Connection:
    AdvisoryDB.open(db_path).close()  # the schema check and its clear errors
    try:
        return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise AdvisoryDBError(f"advisory database {db_path} cannot be read: {e}") from e


def advisory_state(db_path: Path) -> AdvisoryState:
    """The database's advisories as ``source/id`` -> modified (withdrawn ones marked so)."""
    conn = _connect_ro(db_path)
    try:
        rows = conn.execute("SELECT source, id, modified, withdrawn FROM advisories").fetchall()
    except sqlite3.Error as e:
        raise AdvisoryDBError(f"advisory database {db_path} cannot be read: {e}") from e
    finally:
        conn.close()
    return AdvisoryState({f"{s}/{i}": (f"withdrawn {w}" if w else m) for s, i, m, w in rows})


def affected_names(db_path: Path, keys: Iterable[str]) -> set[str]:
    """Normalised package names the given advisories (``source/id``) affect in the current database."""
    wanted = set(keys)
    if not wanted:
        return set()
    conn = _connect_ro(db_path)
    names: set[str] = set()
    try:
        ids = sorted({k.split("/", 1)[1] for k in wanted})
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            join = "FROM affected f JOIN advisories a ON a.pk = f.advisory"
            query = f"SELECT a.source, a.id, f.name {join} WHERE a.id IN ({marks})"
            rows = conn.execute(query, chunk)
            names.update(normalise_name(n) for s, i, n in rows if f"{s}/{i}" in wanted)
    except sqlite3.Error as e:
        raise AdvisoryDBError(f"advisory database {db_path} cannot be read: {e}") from e
    finally:
        conn.close()
    return names


@dataclass(frozen=True)
class ImageChange:
    digest: Digest
    references: tuple[str, ...]
    new: tuple[Finding, ...]
    resolved: tuple[Finding, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": str(self.digest),
            "references": list(self.references),
            "new": [_brief(f) for f in self.new],
            "resolved": [_brief(f) for f in self.resolved],
        }


def _brief(f: Finding) -> dict[str, Any]:
    full = finding_to_json(f)
    details = dict(f.details)
    return {
        "id": full["id"],
        "severity": full["severity"],
        "package": full["package"],
        "title": full["title"],
        "aliases": details.get("aliases", []),
        "fixed_versions": details.get("fixed_versions", []),
    }


@dataclass(frozen=True)
class RescanResult:
    state: str  # fingerprint of the advisory state everything is now matched against
    images: int  # stored images
    rematched_images: int
    rematched_packages: int
    changes: tuple[ImageChange, ...]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "advisoryState": self.state,
            "images": self.images,
            "rematchedImages": self.rematched_images,
            "rematchedPackages": self.rematched_packages,
            "changes": [c.to_json() for c in self.changes],
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class _Work:
    full: bool
    names: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()


def _plan(store: InventoryStore, db_path: Path, current: AdvisoryState) -> dict[str, _Work]:
    """Which images to re-match and, per image, which package names / advisory ids are touched."""
    work: dict[str, _Work] = {}
    for fingerprint in store.states_in_use():
        if fingerprint == current.fingerprint:
            continue
        old = store.state(fingerprint) if fingerprint is not None else None
        if old is None:
            work.update(dict.fromkeys(store.digests_with_state(fingerprint), _Work(True)))
            continue
        changed, gone = current.changed_since(old)
        names = frozenset(affected_names(db_path, changed))
        ids = frozenset(k.split("/", 1)[1] for k in changed | gone)
        hits = store.digests_naming(names, ids).get(fingerprint, set())
        work.update(dict.fromkeys(hits, _Work(False, names, ids)))
    return work


def _rematch(record: ImageRecord, work: _Work, db: AdvisoryDB) -> tuple[ImageRecord, ImageChange | None, int]:
    vulns = [f for f in record.findings if f.kind is FindingKind.VULNERABILITY]
    if work.full:
        chosen = list(record.packages)
    else:
        cited = {f.package_purl for f in vulns if advisory_ids(f) & work.ids}
        chosen = [p for p in record.packages if name_keys(p.package) & work.names or p.package.purl in cited]
    if not chosen:
        return record, None, 0
    purls = {p.package.purl for p in chosen}
    layers = {p.package.purl: p.layer for p in chosen}
    found, _skipped = match_packages([p.package for p in chosen], db, record.distro)
    fresh = [replace(f, layer=layers.get(f.package_purl or "")) if f.layer is None else f for f in found]
    kept = [
        f for f in record.findings if not (f.kind is FindingKind.VULNERABILITY and f.package_purl in purls)
    ]
    before = {finding_key(f): f for f in vulns if f.package_purl in purls}
    after = {finding_key(f): f for f in fresh}
    new = tuple(after[k] for k in sorted(after.keys() - before.keys()))
    resolved = tuple(before[k] for k in sorted(before.keys() - after.keys()))
    updated = replace(record, findings=(*kept, *fresh))
    change = ImageChange(record.digest, record.references, new, resolved) if new or resolved else None
    return updated, change, len(chosen)


def rescan(
    store: InventoryStore, db_path: Path, *, now: float | None = None, queue_events: bool = False
) -> RescanResult:
    """Re-match what changed, record the new findings and state; with ``queue_events`` also queue one
    ``findings_changed`` event per changed image in the same transaction (``watch`` delivers them).
    """
    started = time.monotonic()
    now = time.time() if now is None else now
    current = advisory_state(db_path)
    work = _plan(store, db_path, current)
    updated: list[ImageRecord] = []
    changes: list[ImageChange] = []
    packages = 0
    with AdvisoryDB.open(db_path) as db:
        for record in store.images(sorted(work)):
            new_record, change, n = _rematch(record, work[str(record.digest)], db)
            packages += n
            if change is not None:
                updated.append(new_record)
                changes.append(change)
    events = [("findings_changed", c.to_json()) for c in changes] if queue_events else []
    store.apply_rescan(updated, current, now, events)
    return RescanResult(
        current.fingerprint,
        store.count(),
        len(work),
        packages,
        tuple(changes),
        time.monotonic() - started,
    )


# ---------------------------------------------------------------------------------------- limits


def image_name(references: Sequence[str]) -> str:
    """``registry/repository`` of the first registry reference (policy rules match on it)."""
    for text in references:
        try:
            ref = parse_source(text)
        except InvalidReference:
            continue
        if isinstance(ref, RegistryRef):
            return ref.name
    return references[0] if references else ""


def _violates(finding: Finding, vr: VulnerabilityRule, image: str, digest: str, now: float) -> bool:
    from datetime import UTC, datetime

    ids = advisory_ids(finding)
    for v in vr.vex:
        if v.vulnerability in ids and v.status in ("not_affected", "fixed"):
            purl = finding.package_purl or ""
            if not v.products or any(p in (purl, image, digest) or p.endswith(digest) for p in v.products):
                return False
    today = datetime.fromtimestamp(now, UTC)
    if any(w.id in ids and w.active(today) for w in vr.ignore):
        return False
    if vr.fixable_only and not finding.detail("fixed_versions"):
        return False
    severity = Severity.CRITICAL if finding.severity is Severity.UNKNOWN else finding.severity
    return vr.max_severity is None or vr.max_severity < severity


def new_violations(
    change: ImageChange, *, policy: Policy | None, fail_on: Severity | None, now: float
) -> list[Finding]:
    """New findings over the limits: ``fail_on`` (at or above), or the policy's vulnerability rules for
    this image (its waivers, VEX statements, ``fixableOnly`` and ``maxSeverity``).  An unknown severity
    counts as critical in both: a missing score must not let a new finding through.
    """
    out: list[Finding] = []
    name = image_name(change.references)
    for finding in change.new:
        severity = Severity.CRITICAL if finding.severity is Severity.UNKNOWN else finding.severity
        if fail_on is not None and not severity < fail_on:
            out.append(finding)
            continue
        if policy is not None:
            rules = [r.vulnerabilities for r in policy.rules_for(name) if r.vulnerabilities is not None]
            if any(_violates(finding, vr, name, str(change.digest), now) for vr in rules):
                out.append(finding)
    return out


# ------------------------------------------------------------------------------------- recording


def state_if_present(db_path: Path | None) -> AdvisoryState | None:
    """The advisory state to record with a scan (taken before it runs), or None without a database."""
    from imagetrust.pipeline.db import default_db_path

    path = db_path or default_db_path()
    return advisory_state(path) if path.is_file() else None


def record_audit(
    location: str | Path | None,
    result: AuditResult,
    reference: str,
    state: AdvisoryState | None,
    *,
    now: float | None = None,
) -> int:
    """Store every platform image of ``result``; the state only when the vulnerability scanner ran."""
    recorded_state = state if "vuln" in result.scanners else None
    records = records_from_audit(result, (reference,), time.time() if now is None else now)
    with open_inventory(location) as store:
        for record in records:
            store.record(record, recorded_state)
    return len(records)
