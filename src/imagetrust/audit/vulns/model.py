"""Advisory values shared by the importers, the store and the matcher (OSV's shape, normalised)."""

from __future__ import annotations

from dataclasses import dataclass

from imagetrust.audit.findings import Severity

RANGE_TYPES = frozenset({"ECOSYSTEM", "SEMVER", "GIT"})


@dataclass(frozen=True)
class Event:
    """One OSV range event: ``kind`` is introduced, fixed, last_affected or limit."""

    kind: str
    version: str


@dataclass(frozen=True)
class Range:
    type: str  # ECOSYSTEM, SEMVER or GIT
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Affected:
    """One package an advisory affects, in one (normalised) ecosystem such as ``Debian:12``."""

    ecosystem: str
    name: str
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    severity: Severity | None = None  # a per-package rating (distro urgency), when the source has one


@dataclass(frozen=True)
class Advisory:
    id: str
    source: str  # which feed it came from: osv, debian-tracker, alpine-secdb
    modified: str = ""
    published: str = ""
    withdrawn: str = ""
    summary: str = ""
    severity: Severity = Severity.UNKNOWN
    aliases: tuple[str, ...] = ()
    affected: tuple[Affected, ...] = ()
