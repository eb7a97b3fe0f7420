"""``rescan``: re-match stored inventories against the current advisory database, pulling no image.

Each scan records the advisory state it was matched against (advisory ids and modified times).  The delta
to the current state names the advisories added, changed, withdrawn or removed; only packages named by
those advisories (or whose earlier findings cite them) are matched again, so thousands of stored images
take seconds.  Images never matched (no recorded state) are matched in full.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagetrust.audit.catalog.model import OSRelease, Package
from imagetrust.audit.findings import Finding, Severity
from imagetrust.audit.result import AuditResult
from imagetrust.audit.vulns.db import AdvisoryDB
from imagetrust.audit.vulns.match import match_packages
from imagetrust.audit.vulns.model import Advisory, Affected
from imagetrust.errors import InvalidReference
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import RegistryRef, parse_source
from imagetrust.store import AdvisoryState, ImageHead, InventoryStore, open_inventory
from imagetrust.store.model import (
    advisory_ids,
    finding_key,
    finding_to_json,
    normalise_name,
    package_from_json,
)
from imagetrust.store.record import records_from_audit

if TYPE_CHECKING:
    from imagetrust.policy.model import Policy


def advisory_state(db_path: Path) -> AdvisoryState:
    """The database's advisories as ``source/id`` -> modified (withdrawn ones marked so)."""
    with AdvisoryDB.open(db_path) as db:
        return AdvisoryState(db.state())


def affected_names(db_path: Path, keys: Iterable[str]) -> set[str]:
    """Normalised package names the given advisories (``source/id``) affect in the current database."""
    wanted = set(keys)
    if not wanted:
        return set()
    with AdvisoryDB.open(db_path) as db:
        return {normalise_name(n) for n in db.affected_names(wanted)}


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
    since: str = ""  # fingerprint of the state the image was last matched against
    changed: frozenset[str] = frozenset()  # advisories (``source/id``) new or modified since then
    names: frozenset[str] = frozenset()  # package names those advisories affect now
    ids: frozenset[str] = frozenset()  # ids of advisories changed or gone: findings citing them are redone


def _plan(store: InventoryStore, db_path: Path, current: AdvisoryState) -> dict[str, _Plan]:
    """Per image to re-match: the work and the package rows to match (all of them for a full match)."""
    plans: dict[str, _Plan] = {}
    for fingerprint in store.states_in_use():
        if fingerprint == current.fingerprint:
            continue
        old = store.state(fingerprint) if fingerprint is not None else None
        if fingerprint is None or old is None:
            for digest in store.digests_with_state(fingerprint):
                plans[digest] = _Plan(_Work(True), store.all_packages(digest), set())
            continue
        changed, gone = current.changed_since(old)
        names = frozenset(affected_names(db_path, changed))
        ids = frozenset(k.split("/", 1)[1] for k in changed | gone)
        work = _Work(False, fingerprint, changed, names, ids)
        named, citing = store.packages_named(names), store.packages_citing(ids)
        states = store.states_of({d for d, _ in named} | {d for d, _ in citing})
        for cites, rows in ((False, named), (True, citing)):
            for digest, row in rows:
                if states.get(digest) != fingerprint:
                    continue
                plan = plans.setdefault(digest, _Plan(work, [], set()))
                if row["purl"] not in {r["purl"] for r in plan.rows}:
                    plan.rows.append(row)
                if cites:
                    plan.cited.add(row["purl"])
    return plans


@dataclass
class _Plan:
    work: _Work
    rows: list[dict[str, Any]]  # stored package rows to match again
    cited: set[str]  # purls whose findings cite a changed or gone advisory: matched in full


class _ChangedOnly(AdvisoryDB):
    """The advisory database seen through the advisories changed since a state: a package that only a
    new advisory names needs only that advisory evaluated, not the hundreds it already had."""

    changed: frozenset[str] = frozenset()

    def lookup(self, ecosystem: str, name: str) -> Iterator[tuple[Advisory, Affected]]:
        for advisory, affected in super().lookup(ecosystem, name):
            if f"{advisory.source}/{advisory.id}" in self.changed:
                yield advisory, affected


class _MatchCache:
    """Findings per (package, distribution) within one rescan: a fleet shares most packages, so each
    distinct package version is matched once however many images hold it."""

    def __init__(self, db: AdvisoryDB) -> None:
        self.db = db
        self._known: dict[tuple[Package, OSRelease | None], tuple[Finding, ...]] = {}

    def match(self, packages: Sequence[Package], distro: OSRelease | None) -> dict[str, list[Finding]]:
        """Findings by package purl."""
        unique = list(dict.fromkeys(packages))
        missing = [p for p in unique if (p, distro) not in self._known]
        if missing:
            found, _skipped = match_packages(missing, self.db, distro)
            by_purl = _by_purl(found)
            for p in missing:
                self._known[(p, distro)] = tuple(by_purl.get(p.purl, ()))
        out: dict[str, list[Finding]] = {}
        for p in unique:
            out.setdefault(p.purl, []).extend(self._known[(p, distro)])
        return out


def _by_purl(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.package_purl or "", []).append(f)
    return out


@dataclass
class _Matchers:
    full: _MatchCache
    db_path: Path
    deltas: dict[str, _MatchCache] = field(default_factory=dict)

    def delta(self, work: _Work) -> _MatchCache:
        if work.since not in self.deltas:
            db = _ChangedOnly.open(self.db_path)
            assert isinstance(db, _ChangedOnly)  # ``open`` builds ``cls``
            db.changed = work.changed
            self.deltas[work.since] = _MatchCache(db)
        return self.deltas[work.since]

    def close(self) -> None:
        for cache in self.deltas.values():
            cache.db.close()


def _rematch(
    head: ImageHead, plan: _Plan, old: list[Finding], matchers: _Matchers
) -> tuple[list[Finding], ImageChange | None]:
    """The touched packages' new vulnerability findings, and the change against ``old`` (theirs)."""
    work = plan.work
    touched = [package_from_json(r) for r in plan.rows]
    by_old = _by_purl(old)
    full = [p for p in touched if work.full or p.package.purl in plan.cited]
    fresh: dict[str, list[Finding]] = {}
    delta_only = [p for p in touched if p not in full]
    if delta_only:
        added = matchers.delta(work).match([p.package for p in delta_only], head.distro)
        for p in delta_only:
            extra, had = added.get(p.package.purl, []), by_old.get(p.package.purl, [])
            if not extra:
                fresh[p.package.purl] = had
            elif {i for f in extra for i in advisory_ids(f)} & {i for f in had for i in advisory_ids(f)}:
                full.append(p)  # shares an id or alias with a finding it has: merging needs the full view
            else:
                fresh[p.package.purl] = [*had, *extra]
    if full:
        matched = matchers.full.match([p.package for p in full], head.distro)
        for p in full:
            fresh[p.package.purl] = matched.get(p.package.purl, [])
    layers = {p.package.purl: p.layer for p in touched}
    after_all = [
        replace(f, layer=layers.get(purl)) if f.layer is None else f for purl, fs in fresh.items() for f in fs
    ]
    before = {finding_key(f): f for f in old}
    after = {finding_key(f): f for f in after_all}
    new = tuple(after[k] for k in sorted(after.keys() - before.keys()))
    resolved = tuple(before[k] for k in sorted(before.keys() - after.keys()))
    if not new and not resolved:
        return after_all, None
    return after_all, ImageChange(head.digest, head.references, new, resolved)


def rescan(
    store: InventoryStore, db_path: Path, *, now: float | None = None, queue_events: bool = False
) -> RescanResult:
    """Re-match what changed, record the new findings and state; with ``queue_events`` also queue one
    ``findings_changed`` event per changed image in the same transaction (``watch`` delivers them).
    """
    started = time.monotonic()
    now = time.time() if now is None else now
    current = advisory_state(db_path)
    plans = _plan(store, db_path, current)
    updated: list[tuple[Digest, Sequence[str], Sequence[Finding]]] = []
    changes: list[ImageChange] = []
    packages = 0
    heads = store.heads(plans)
    with AdvisoryDB.open(db_path) as db:
        matchers = _Matchers(_MatchCache(db), db_path)
        try:
            for digest in sorted(plans):
                plan = plans[digest]
                purls = [r["purl"] for r in plan.rows]
                old = store.vulnerabilities(digest, purls)
                findings, change = _rematch(heads[digest], plan, old, matchers)
                packages += len(plan.rows)
                if change is not None:
                    updated.append((change.digest, purls, findings))
                    changes.append(change)
        finally:
            matchers.close()
    events = [("findings_changed", c.to_json()) for c in changes] if queue_events else []
    store.apply_rescan(updated, current, now, events)
    return RescanResult(
        current.fingerprint,
        store.count(),
        len(plans),
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


def new_violations(
    change: ImageChange, *, policy: Policy | None, fail_on: Severity | None, now: float
) -> list[Finding]:
    """New findings over the limits: ``fail_on`` (at or above), or the policy's vulnerability rules for
    this image (its waivers, VEX statements, ``fixableOnly`` and ``maxSeverity``).  An unknown severity
    counts as critical in both: a missing score must not let a new finding through.
    """
    from imagetrust.policy.evaluate import check_vulnerabilities  # the policy engine: only with a policy

    name, digest = image_name(change.references), str(change.digest)
    rules = [r for r in policy.rules_for(name) if r.vulnerabilities is not None] if policy is not None else []
    today = datetime.fromtimestamp(now, UTC)
    over_policy = {
        id(f)
        for rule in rules
        for f in check_vulnerabilities(rule, change.new, today, image=name, digest=digest).violations
    }
    return [
        f
        for f in change.new
        if (fail_on is not None and not f.severity.gating < fail_on) or id(f) in over_policy
    ]


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
