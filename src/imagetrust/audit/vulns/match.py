"""Which advisories affect which installed packages.

Ranges follow OSV's evaluation: events sorted by version ("0" first), ``introduced`` opens, ``fixed``
closes (exclusive), ``last_affected`` closes after its version (inclusive), ``limit`` caps; ranges of an
entry are OR'd, and the explicit ``versions`` list counts too.  GIT ranges name commits, which a package
version cannot be placed against, so they are left out.  A version we cannot parse is reported as
skipped, and an ecosystem with no data loaded as not checked: neither is ever read as "not vulnerable".
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from imagetrust.audit.catalog.model import OSRelease, Package
from imagetrust.audit.findings import Finding, FindingKind, Severity
from imagetrust.audit.vulns.db import AdvisoryDB
from imagetrust.audit.vulns.ecosystems import DEBIAN_CODENAMES, normalise
from imagetrust.audit.vulns.model import Advisory, Affected, Event, Range
from imagetrust.audit.vulns.versions import Comparator, comparator_for
from imagetrust.errors import InvalidVersion, UnsupportedEcosystem

_LANGUAGE_ECOSYSTEMS = {
    "pypi": "PyPI", "npm": "npm", "golang": "Go", "cargo": "crates.io", "maven": "Maven",
    "gem": "RubyGems", "composer": "Packagist", "nuget": "NuGet",
}  # fmt: skip


@dataclass(frozen=True)
class Skipped:
    """A package not matched, and why (``reason`` is one line; ``not_checked`` marks missing data)."""

    purl: str
    ecosystem: str
    reason: str
    not_checked: bool = False


@dataclass(frozen=True)
class RangeHit:
    fixed: tuple[str, ...]  # fixed versions named by the ranges that matched


class RangeError(Exception):
    """An advisory range whose versions do not parse under the ecosystem's order."""


def _cmp(comparator: Comparator, a: str, b: str) -> int:
    if a == "0":
        return 0 if b == "0" else -1
    if b == "0":
        return 1
    return comparator.compare(a, b)


def _closes(kind: str, order: int) -> bool:
    """``fixed`` closes at its version, ``last_affected`` just after it."""
    return (kind == "fixed" and order >= 0) or (kind == "last_affected" and order > 0)


@functools.lru_cache(maxsize=8192)
def _sorted_events(rng: Range, comparator: Comparator) -> tuple[Event, ...]:
    # A stable sort: events at the same version keep the advisory's order, as OSV's reference
    # evaluation does (pyspark's "fixed 3.1.1" then "introduced 3.1.1" re-opens the range).
    def event_order(x: Event, y: Event) -> int:
        return _cmp(comparator, x.version, y.version)

    return tuple(sorted(rng.events, key=functools.cmp_to_key(event_order)))


def range_affects(rng: Range, version: str, comparator: Comparator) -> bool:
    """OSV's algorithm for one ECOSYSTEM/SEMVER range; raises RangeError on unparseable event versions."""
    try:
        events = _sorted_events(rng, comparator)
        limits = [e.version for e in events if e.kind == "limit"]
        if limits and all(_cmp(comparator, version, lim) >= 0 for lim in limits):
            return False
        affected = False
        for event in events:
            order = _cmp(comparator, version, event.version)
            if event.kind == "introduced" and order >= 0:
                affected = True
            elif _closes(event.kind, order):
                affected = False
        return affected
    except InvalidVersion as e:
        raise RangeError(str(e)) from e


def affects(
    entry: Affected, version: str, comparator: Comparator, use_versions: bool = True
) -> RangeHit | None:
    """Whether ``version`` is affected by this entry (ranges OR'd, plus the explicit versions list)."""
    hit = False
    fixed: list[str] = []
    for rng in entry.ranges:
        if rng.type not in ("ECOSYSTEM", "SEMVER"):
            continue
        if range_affects(rng, version, comparator):
            hit = True
            fixed += [e.version for e in rng.events if e.kind == "fixed"]
    if not hit and use_versions:
        for listed in entry.versions:
            try:
                same = listed == version or comparator.compare(listed, version) == 0
            except InvalidVersion:
                same = False
            if same:
                hit = True
                break
    return RangeHit(tuple(fixed)) if hit else None


def package_ecosystem(pkg: Package, distro: OSRelease | None) -> str | None:
    """The advisory ecosystem to look a package up in, or None when we know of none."""
    if pkg.type in _LANGUAGE_ECOSYSTEMS:
        return _LANGUAGE_ECOSYSTEMS[pkg.type]
    if distro is None:
        return None
    if pkg.type == "deb" and distro.id == "debian":
        release = distro.version_id or DEBIAN_CODENAMES.get(distro.version_codename or "", "")
        return normalise(f"Debian:{release}") if release else None
    if pkg.type == "deb" and distro.id == "ubuntu" and distro.version_id:
        return f"Ubuntu:{distro.version_id}"
    if pkg.type == "apk" and distro.id == "alpine" and distro.version_id:
        return normalise(f"Alpine:{distro.version_id}")
    if pkg.type == "rpm":
        return f"{distro.id}:{distro.version_id}" if distro.version_id else distro.id
    return None


def _lookup_name(pkg: Package) -> tuple[str, str]:
    """Distro feeds key on the source package; its version is the source version when recorded."""
    if pkg.type == "deb" and pkg.source_name:
        return pkg.source_name, pkg.source_version or pkg.version
    return pkg.name, pkg.version


def _finding(
    pkg: Package, version: str, ecosystem: str, group: list[tuple[Advisory, Affected, RangeHit]]
) -> Finding:
    # Primary id: the matched feed's own advisory, deterministically the smallest (source, id).
    group.sort(key=lambda t: (t[0].source, t[0].id))
    primary = group[0][0]
    ids = {a.id for a, _, _ in group} | {alias for a, _, _ in group for alias in a.aliases}
    ids.discard(primary.id)
    severities = [a.severity for a, _, _ in group] + [f.severity for _, f, _ in group if f.severity]
    known = [s for s in severities if s is not Severity.UNKNOWN]
    fixed = sorted({v for _, _, hit in group for v in hit.fixed})
    return Finding(
        kind=FindingKind.VULNERABILITY,
        id=primary.id,
        severity=max(known) if known else Severity.UNKNOWN,
        title=next((a.summary for a, _, _ in group if a.summary), primary.id),
        package_purl=pkg.purl,
        details=(
            ("aliases", sorted(ids)),
            ("installed_version", version),
            ("fixed_versions", fixed),
            ("ecosystem", ecosystem),
            ("package_name", pkg.name),
            ("sources", sorted({a.source for a, _, _ in group})),
        ),
    )


def _merge_aliases(
    matches: list[tuple[Advisory, Affected, RangeHit]],
) -> list[list[tuple[Advisory, Affected, RangeHit]]]:
    """Group matches that name the same issue (shared id or alias) so it is reported once."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for adv, _, _ in matches:
        for alias in adv.aliases:
            parent[find(alias)] = find(adv.id)
    groups: dict[str, list[tuple[Advisory, Affected, RangeHit]]] = {}
    for m in matches:
        groups.setdefault(find(m[0].id), []).append(m)
    return list(groups.values())


def match_package(pkg: Package, db: AdvisoryDB, ecosystem: str) -> tuple[list[Finding], list[Skipped]]:
    name, version = _lookup_name(pkg)
    try:
        comparator = comparator_for(ecosystem)
        comparator.validate(version)
    except (InvalidVersion, UnsupportedEcosystem) as e:
        return [], [Skipped(pkg.purl, ecosystem, f"version {version!r} cannot be ordered: {e}")]
    matches: list[tuple[Advisory, Affected, RangeHit]] = []
    skipped: list[Skipped] = []
    for adv, entry in db.lookup(ecosystem, name):
        try:
            hit = affects(entry, version, comparator)
        except RangeError as e:
            skipped.append(
                Skipped(pkg.purl, ecosystem, f"advisory {adv.id} has a range we cannot order: {e}")
            )
            continue
        if hit is not None:
            matches.append((adv, entry, hit))
    findings = [_finding(pkg, version, ecosystem, g) for g in _merge_aliases(matches)]
    return sorted(findings, key=lambda f: f.id), skipped


def match_packages(
    packages: Sequence[Package], db: AdvisoryDB, distro: OSRelease | None
) -> tuple[list[Finding], list[Skipped]]:
    """Findings for every package, and what was skipped or not checked (and why)."""
    loaded = db.ecosystems()
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for pkg in packages:
        ecosystem = package_ecosystem(pkg, distro)
        if ecosystem is None:
            what = distro.distro_qualifier if distro else "an unknown distribution"
            skipped.append(Skipped(pkg.purl, pkg.type, f"no advisory source for {pkg.type} on {what}", True))
            continue
        if ecosystem not in loaded:
            skipped.append(Skipped(pkg.purl, ecosystem, f"no {ecosystem} advisories are loaded", True))
            continue
        found, missed = match_package(pkg, db, ecosystem)
        findings += found
        skipped += missed
    return findings, skipped
