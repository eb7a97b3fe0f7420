"""The advisory store: one SQLite file, affected rows indexed by (ecosystem, package key).

Imports run in one transaction (a failure rolls everything back) and replace an advisory by
(source, id), so importing the same data twice changes nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagetrust.audit.findings import Severity
from imagetrust.audit.vulns.ecosystems import base
from imagetrust.audit.vulns.model import Advisory, Affected, Event, Range
from imagetrust.errors import CouldNotCheck, LocalInputError

SCHEMA_VERSION = 1

_IN_CHUNK = 500  # ids per ``IN (...)`` query: well under SQLite's bound-parameter limit

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisories (
    pk INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    modified TEXT NOT NULL,
    published TEXT NOT NULL,
    withdrawn TEXT NOT NULL,
    summary TEXT NOT NULL,
    severity TEXT NOT NULL,
    aliases TEXT NOT NULL,
    UNIQUE (source, id)
);
CREATE TABLE affected (
    advisory INTEGER NOT NULL REFERENCES advisories(pk) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    ranges TEXT NOT NULL,
    versions TEXT NOT NULL,
    severity TEXT
);
CREATE INDEX affected_by_package ON affected (ecosystem, key);
CREATE INDEX affected_by_advisory ON affected (advisory);
CREATE TABLE imports (
    source TEXT NOT NULL, origin TEXT NOT NULL, at REAL NOT NULL, advisories INTEGER NOT NULL
);
"""


class AdvisoryDBError(CouldNotCheck):
    """The advisory database is missing, of another schema, or unreadable: matching cannot be trusted."""


def package_key(ecosystem: str, name: str) -> str:
    """The lookup key: PyPI names per PEP 503; everything else exactly (npm and Go are case-sensitive)."""
    if base(ecosystem) == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


@dataclass(frozen=True)
class Status:
    path: Path
    schema: int
    advisories: int
    per_ecosystem: tuple[tuple[str, int], ...]
    per_source: tuple[tuple[str, int], ...]
    last_update: float | None


def _ranges_json(ranges: tuple[Range, ...]) -> str:
    return json.dumps([[r.type, [[e.kind, e.version] for e in r.events]] for r in ranges])


def _ranges_from(text: str) -> tuple[Range, ...]:
    return tuple(Range(t, tuple(Event(k, v) for k, v in evs)) for t, evs in json.loads(text))


class AdvisoryDB:
    """An open advisory database.  Use ``AdvisoryDB.create`` for a new file, ``open`` for an existing one."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    @classmethod
    def open(cls, path: Path) -> AdvisoryDB:
        if not path.is_file():
            raise AdvisoryDBError(
                f"advisory database {path} does not exist (run 'imagetrust db update' or 'db import')"
            )
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as e:
            raise AdvisoryDBError(f"advisory database {path} cannot be read: {e}") from e
        if row is None or row[0] != str(SCHEMA_VERSION):
            conn.close()
            raise AdvisoryDBError(
                f"advisory database {path} has schema {row[0] if row else 'none'}, expected {SCHEMA_VERSION}"
                " (rebuild it with 'imagetrust db update')"
            )
        conn.execute("PRAGMA foreign_keys = ON")
        return cls(path, conn)

    @classmethod
    def create(cls, path: Path) -> AdvisoryDB:
        """A new empty database at ``path`` (which must not exist)."""
        if path.exists():
            raise LocalInputError(f"{path} already exists")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None)
            conn.executescript(_SCHEMA)
            conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            conn.commit()
        except (OSError, sqlite3.Error) as e:
            raise LocalInputError(f"cannot create advisory database {path}: {e}") from e
        conn.execute("PRAGMA foreign_keys = ON")
        return cls(path, conn)

    @classmethod
    def open_or_create(cls, path: Path) -> AdvisoryDB:
        return cls.open(path) if path.exists() else cls.create(path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> AdvisoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def import_advisories(self, advisories: Iterable[Advisory], origin: str) -> int:
        """Store every advisory in one transaction; any exception leaves the database as it was."""
        count = 0
        sources: dict[str, int] = {}
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for adv in advisories:
                conn.execute("DELETE FROM advisories WHERE source = ? AND id = ?", (adv.source, adv.id))
                cur = conn.execute(
                    "INSERT INTO advisories (source, id, modified, published, withdrawn, summary, severity,"
                    " aliases) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (adv.source, adv.id, adv.modified, adv.published, adv.withdrawn, adv.summary,
                     adv.severity.value, json.dumps(list(adv.aliases))),
                )  # fmt: skip
                conn.executemany(
                    "INSERT INTO affected VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (cur.lastrowid, a.ecosystem, a.name, package_key(a.ecosystem, a.name),
                         _ranges_json(a.ranges), json.dumps(list(a.versions)),
                         a.severity.value if a.severity else None)
                        for a in adv.affected
                    ],
                )  # fmt: skip
                count += 1
                sources[adv.source] = sources.get(adv.source, 0) + 1
            now = time.time()
            for source, n in sources.items():
                conn.execute("INSERT INTO imports VALUES (?, ?, ?, ?)", (source, origin, now, n))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_update', ?)", (str(now),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return count

    def ecosystems(self) -> frozenset[str]:
        """Every ecosystem with data loaded (``Debian:12``, ``PyPI``...)."""
        return frozenset(r[0] for r in self._conn.execute("SELECT DISTINCT ecosystem FROM affected"))

    def lookup(self, ecosystem: str, name: str) -> Iterator[tuple[Advisory, Affected]]:
        """Every non-withdrawn advisory entry naming this package in this ecosystem."""
        rows = self._conn.execute(
            "SELECT a.source, a.id, a.modified, a.published, a.summary, a.severity, a.aliases,"
            " f.ecosystem, f.name, f.ranges, f.versions, f.severity"
            " FROM affected f JOIN advisories a ON a.pk = f.advisory"
            " WHERE f.ecosystem = ? AND f.key = ? AND a.withdrawn = '' ORDER BY a.source, a.id",
            (ecosystem, package_key(ecosystem, name)),
        )
        for src, aid, modified, published, summary, sev, aliases, eco, pname, ranges, versions, fsev in rows:
            adv = Advisory(
                id=aid, source=src, modified=modified, published=published, summary=summary,
                severity=Severity(sev), aliases=tuple(json.loads(aliases)),
            )  # fmt: skip
            aff = Affected(
                eco,
                pname,
                _ranges_from(ranges),
                tuple(json.loads(versions)),
                Severity(fsev) if fsev else None,
            )
            yield adv, aff

    def state(self) -> dict[str, str]:
        """Every advisory as ``source/id`` -> modified time (``withdrawn <time>`` for a withdrawn one): what
        a scan was matched against, so a later rescan can tell what was added, changed or withdrawn."""
        try:
            rows = self._conn.execute("SELECT source, id, modified, withdrawn FROM advisories").fetchall()
        except sqlite3.Error as e:
            raise AdvisoryDBError(f"advisory database {self.path} cannot be read: {e}") from e
        return {f"{s}/{i}": (f"withdrawn {w}" if w else m) for s, i, m, w in rows}

    def affected_names(self, keys: Iterable[str]) -> set[str]:
        """Package names (as the advisories spell them) that the advisories ``source/id`` affect, withdrawn
        ones included: a rescan re-matches exactly the packages a changed advisory names."""
        wanted = set(keys)
        names: set[str] = set()
        ids = sorted({k.split("/", 1)[1] for k in wanted})
        join = "FROM affected f JOIN advisories a ON a.pk = f.advisory"
        try:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT a.source, a.id, f.name {join} WHERE a.id IN ({marks})"
                names.update(n for s, i, n in self._conn.execute(query, chunk) if f"{s}/{i}" in wanted)
        except sqlite3.Error as e:
            raise AdvisoryDBError(f"advisory database {self.path} cannot be read: {e}") from e
        return names

    def status(self) -> Status:
        q = self._conn.execute
        per_eco = q("SELECT ecosystem, COUNT(DISTINCT advisory) FROM affected GROUP BY ecosystem ORDER BY 1")
        per_source = q("SELECT source, COUNT(*) FROM advisories GROUP BY source ORDER BY 1")
        last = q("SELECT value FROM meta WHERE key = 'last_update'").fetchone()
        return Status(
            path=self.path,
            schema=SCHEMA_VERSION,
            advisories=q("SELECT COUNT(*) FROM advisories").fetchone()[0],
            per_ecosystem=tuple((str(e), int(n)) for e, n in per_eco),
            per_source=tuple((str(s), int(n)) for s, n in per_source),
            last_update=float(last[0]) if last else None,
        )

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every row, in order: lets tests compare the whole database before and after."""
        rows: list[tuple[Any, ...]] = []
        for table in ("advisories", "affected", "imports", "meta"):
            rows += [(table, *r) for r in self._conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]  # noqa: S608
        return rows
