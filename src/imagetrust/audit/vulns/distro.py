"""Distribution feeds: the Debian security tracker JSON and Alpine secdb, turned into ``Advisory``.

Both key on the SOURCE package (Debian) or the aport name (Alpine) and give a fixed version per release;
"0" as a fixed version means the release was never affected, and an open issue affects every version.
"""

from __future__ import annotations

import re
from typing import Any

from imagetrust.audit.findings import Severity
from imagetrust.audit.vulns.ecosystems import normalise
from imagetrust.audit.vulns.model import Advisory, Affected, Event, Range
from imagetrust.errors import MalformedContent

DEBIAN_SOURCE = "debian-tracker"
ALPINE_SOURCE = "alpine-secdb"
_AFFECTED_STATUSES = frozenset({"open", "undetermined", "resolved"})
_URGENCY = {"unimportant": Severity.NEGLIGIBLE, "end-of-life": Severity.UNKNOWN}


def is_debian_tracker(doc: Any) -> bool:
    if not isinstance(doc, dict) or not doc or "id" in doc:
        return False
    first = next(iter(doc.values()))
    return isinstance(first, dict) and all(isinstance(v, dict) and "releases" in v for v in first.values())


def is_alpine_secdb(doc: Any) -> bool:
    return isinstance(doc, dict) and "distroversion" in doc and "packages" in doc


def _urgency(text: str) -> Severity:
    key = text.strip().rstrip("*").strip().lower()
    return _URGENCY.get(key) or Severity.parse(key)


def _fixed_range(fixed: str | None) -> tuple[Range, ...]:
    events = [Event("introduced", "0")]
    if fixed:
        events.append(Event("fixed", fixed))
    return (Range("ECOSYSTEM", tuple(events)),)


def parse_debian_tracker(doc: Any, where: str) -> list[Advisory]:
    """One advisory per CVE (or TEMP id), with one affected entry per (source package, release)."""
    if not isinstance(doc, dict):
        raise MalformedContent(f"{where}: not a Debian security tracker document")
    by_id: dict[str, list[Affected]] = {}
    summaries: dict[str, str] = {}
    for package, issues in doc.items():
        if not isinstance(issues, dict):
            raise MalformedContent(f"{where}: package {package!r} is not an object")
        for issue, info in issues.items():
            releases = info.get("releases") if isinstance(info, dict) else None
            if releases == []:
                releases = {}  # the tracker writes an empty object as [] (chromium-browser in real data)
            if not isinstance(releases, dict):
                raise MalformedContent(f"{where}: {package}/{issue} has no releases object")
            summaries.setdefault(issue, str(info.get("description") or "")[:200])
            for codename, rel in releases.items():
                if not isinstance(rel, dict) or rel.get("status") not in _AFFECTED_STATUSES:
                    continue
                fixed = rel.get("fixed_version")
                if rel["status"] == "resolved" and (not isinstance(fixed, str) or fixed == "0"):
                    continue  # never affected in this release (or no version to compare against)
                affected = Affected(
                    ecosystem=normalise(f"Debian:{codename}"),
                    name=str(package),
                    ranges=_fixed_range(fixed if rel["status"] == "resolved" else None),
                    severity=_urgency(str(rel.get("urgency") or "")),
                )
                by_id.setdefault(str(issue), []).append(affected)
    return [
        Advisory(
            id=issue,
            source=DEBIAN_SOURCE,
            summary=summaries.get(issue, ""),
            severity=max((a.severity or Severity.UNKNOWN for a in affected), default=Severity.UNKNOWN),
            affected=tuple(affected),
        )
        for issue, affected in sorted(by_id.items())
    ]


def parse_alpine_secdb(doc: Any, where: str) -> list[Advisory]:
    """One advisory per CVE per secdb file: ``secfixes: {fixed-version: [CVE...]}`` per aport."""
    branch = doc.get("distroversion") if isinstance(doc, dict) else None
    packages = (doc.get("packages") or []) if isinstance(doc, dict) else None
    if not isinstance(branch, str) or not isinstance(packages, list):
        raise MalformedContent(f"{where}: not an Alpine secdb document")
    ecosystem = normalise(f"Alpine:{branch}")
    by_id: dict[str, list[Affected]] = {}
    for entry in packages:
        pkg = entry.get("pkg") if isinstance(entry, dict) else None
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            raise MalformedContent(f"{where}: a package entry has no pkg.name")
        secfixes = pkg.get("secfixes") or {}
        if not isinstance(secfixes, dict):
            raise MalformedContent(f"{where}: {pkg['name']}: secfixes is not a mapping")
        for fixed, ids in secfixes.items():
            if ids is None:
                continue  # a release listed with no ids (real data: heimdal 7.4.0-r0 in v3.6)
            if not isinstance(ids, list):
                raise MalformedContent(f"{where}: {pkg['name']} {fixed}: not a list of ids")
            fixed_text = str(fixed)
            for raw in ids:
                words = re.split(r"\s+", str(raw).strip())
                if not words or not words[0]:
                    continue
                affected = Affected(
                    ecosystem,
                    pkg["name"],
                    _fixed_range(None if fixed_text == "0" else fixed_text),
                )
                if fixed_text == "0":
                    continue  # "0": this aport was never affected
                by_id.setdefault(words[0], []).append(affected)
    return [
        Advisory(
            id=issue, source=f"{ALPINE_SOURCE}:{branch}/{doc.get('reponame', '')}", affected=tuple(affected)
        )
        for issue, affected in sorted(by_id.items())
    ]
