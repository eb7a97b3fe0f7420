"""One store over SQLite (a file, the default) or PostgreSQL (a ``postgresql://`` URL).

The SQL is written once with ``?`` placeholders and portable types; the dialect only swaps the placeholder
and the identity column.  Each write is one transaction, so a crash leaves the previous state.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from imagetrust.audit.findings import Finding, FindingKind
from imagetrust.errors import CouldNotCheck, UsageError
from imagetrust.oci.digest import Digest
from imagetrust.store.model import (
    AdvisoryState,
    Event,
    ImageHead,
    ImageRecord,
    StoredPackage,
    advisory_ids,
    distro_from,
    distro_json,
    finding_from_json,
    finding_to_json,
    name_keys,
    package_from_json,
    package_json,
)

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS it_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS it_states (
    fingerprint TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, advisories TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS it_images (
    digest TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    distro TEXT NOT NULL,
    state TEXT,
    first_seen DOUBLE PRECISION NOT NULL,
    scanned_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS it_refs (
    digest TEXT NOT NULL, reference TEXT NOT NULL, last_seen DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (digest, reference)
);
CREATE TABLE IF NOT EXISTS it_packages (
    digest TEXT NOT NULL, seq INTEGER NOT NULL, purl TEXT NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (digest, seq)
);
CREATE INDEX IF NOT EXISTS it_packages_by_purl ON it_packages (digest, purl);
CREATE TABLE IF NOT EXISTS it_names (digest TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS it_names_by_name ON it_names (name);
CREATE INDEX IF NOT EXISTS it_names_by_digest ON it_names (digest);
CREATE TABLE IF NOT EXISTS it_findings (
    digest TEXT NOT NULL, kind TEXT NOT NULL, purl TEXT NOT NULL, row TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS it_findings_by_image ON it_findings (digest, kind, purl);
CREATE TABLE IF NOT EXISTS it_ids (digest TEXT NOT NULL, purl TEXT NOT NULL, advisory TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS it_ids_by_advisory ON it_ids (advisory);
CREATE INDEX IF NOT EXISTS it_ids_by_image ON it_ids (digest, purl);
CREATE TABLE IF NOT EXISTS it_events (
    id {identity},
    created DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered DOUBLE PRECISION
);
"""


class InventoryStoreError(CouldNotCheck):
    """The inventory store cannot be opened, read or written."""


def default_store_location() -> Path:
    """``$XDG_DATA_HOME/imagetrust/inventory.sqlite`` (``~/.local/share`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "imagetrust" / "inventory.sqlite"


class _Cursor(Protocol):
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


@dataclass(frozen=True)
class _Dialect:
    name: str
    placeholder: str
    identity: str
    errors: tuple[type[BaseException], ...]


_SQLITE = _Dialect("sqlite", "?", "INTEGER PRIMARY KEY", (sqlite3.Error,))


class InventoryStore:
    """Open with ``open_inventory``; use as a context manager to close it."""

    def __init__(self, location: str, conn: Any, dialect: _Dialect) -> None:
        self.location = location
        self._conn = conn
        self._dialect = dialect

    # ---------------------------------------------------------------------------------------- plumbing

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> InventoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, text: str) -> str:
        return text if self._dialect.placeholder == "?" else text.replace("?", self._dialect.placeholder)

    def _run(self, text: str, params: Sequence[Any] = ()) -> _Cursor:
        try:
            cur: _Cursor = self._conn.execute(self._sql(text), tuple(params))
        except self._dialect.errors as e:
            raise InventoryStoreError(f"inventory store {self.location}: {e}") from e
        return cur

    def _many(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        try:
            if self._dialect.name == "sqlite":
                self._conn.executemany(self._sql(text), rows)
            else:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(text), rows)
        except self._dialect.errors as e:
            raise InventoryStoreError(f"inventory store {self.location}: {e}") from e

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._run("BEGIN")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._run("COMMIT")

    def _init_schema(self) -> None:
        with self._transaction():
            for statement in _SCHEMA.format(identity=self._dialect.identity).split(";"):
                if statement.strip():
                    self._run(statement)
            row = self._run("SELECT value FROM it_meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._run("INSERT INTO it_meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise InventoryStoreError(
                    f"inventory store {self.location} has schema {row[0]}, expected {SCHEMA_VERSION}"
                )

    # ----------------------------------------------------------------------------------- advisory states

    def _put_state(self, state: AdvisoryState, now: float) -> str:
        fingerprint = state.fingerprint
        if self._run("SELECT 1 FROM it_states WHERE fingerprint = ?", (fingerprint,)).fetchone() is None:
            self._run("INSERT INTO it_states VALUES (?, ?, ?)", (fingerprint, now, state.encode()))
        return fingerprint

    def state(self, fingerprint: str) -> AdvisoryState | None:
        row = self._run("SELECT advisories FROM it_states WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return AdvisoryState.decode(row[0]) if row else None

    def states_in_use(self) -> dict[str | None, int]:
        """Fingerprint (None: never matched) -> number of images last scanned against it."""
        rows = self._run("SELECT state, COUNT(*) FROM it_images GROUP BY state").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # ------------------------------------------------------------------------------------------ images

    def _put_findings(self, digest: str, findings: Iterable[Finding]) -> None:
        rows, ids = [], []
        for f in findings:
            purl = f.package_purl or ""
            rows.append((digest, f.kind.value, purl, json.dumps(finding_to_json(f), separators=(",", ":"))))
            if f.kind is FindingKind.VULNERABILITY:
                ids += [(digest, purl, i) for i in sorted(advisory_ids(f))]
        self._many("INSERT INTO it_findings VALUES (?, ?, ?, ?)", rows)
        self._many("INSERT INTO it_ids VALUES (?, ?, ?)", ids)

    def record(self, record: ImageRecord, state: AdvisoryState | None) -> None:
        """Store (or replace) an image's inventory and findings, with the references it was seen under."""
        digest = str(record.digest)
        now = record.scanned_at
        with self._transaction():
            fingerprint = self._put_state(state, now) if state is not None else None
            first = self._run("SELECT first_seen FROM it_images WHERE digest = ?", (digest,)).fetchone()
            for table in ("it_images", "it_packages", "it_names", "it_findings", "it_ids"):
                self._run(f"DELETE FROM {table} WHERE digest = ?", (digest,))  # noqa: S608
            self._run(
                "INSERT INTO it_images VALUES (?, ?, ?, ?, ?, ?)",
                (
                    digest,
                    record.platform,
                    distro_json(record.distro),
                    fingerprint,
                    first[0] if first else now,
                    now,
                ),
            )
            self._many(
                "INSERT INTO it_packages VALUES (?, ?, ?, ?)",
                [(digest, i, p.package.purl, package_json(p)) for i, p in enumerate(record.packages)],
            )
            self._many(
                "INSERT INTO it_names VALUES (?, ?, ?)",
                [(digest, n, i) for i, p in enumerate(record.packages) for n in sorted(name_keys(p.package))],
            )
            self._put_findings(digest, record.findings)
            for reference in record.references:
                self._run("DELETE FROM it_refs WHERE digest = ? AND reference = ?", (digest, reference))
                self._run("INSERT INTO it_refs VALUES (?, ?, ?)", (digest, reference, now))

    def _select_in(
        self, query: str, values: Iterable[str], extra: Sequence[Any] = (), *, fetch: bool = True
    ) -> list[Any]:
        """``query`` with ``{marks}`` filled for each chunk of ``values`` (bound as parameters)."""
        rows: list[Any] = []
        for chunk in _chunks(sorted(set(values))):
            cur = self._run(query.format(marks=",".join("?" * len(chunk))), [*extra, *chunk])
            if fetch:
                rows += cur.fetchall()
        return rows

    def _references(self, digests: Iterable[str]) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        query = (
            "SELECT digest, reference FROM it_refs WHERE digest IN ({marks})"
            " ORDER BY last_seen DESC, reference"
        )
        for digest, reference in self._select_in(query, digests):
            out.setdefault(digest, []).append(reference)
        return {d: tuple(refs) for d, refs in out.items()}

    def heads(self, digests: Iterable[str]) -> dict[str, ImageHead]:
        """References, distribution and state of the named images."""
        query = "SELECT digest, distro, state, platform, scanned_at FROM it_images WHERE digest IN ({marks})"
        rows = self._select_in(query, digests)
        refs = self._references(r[0] for r in rows)
        return {
            r[0]: ImageHead(
                Digest.parse(r[0]), refs.get(r[0], ()), distro_from(r[1]), r[2], r[3], float(r[4])
            )
            for r in rows
        }

    def images(self, digests: Sequence[str] | None = None) -> list[ImageRecord]:
        """Every stored image, or those named (in digest order), fully read."""
        if digests is None:
            digests = [r[0] for r in self._run("SELECT digest FROM it_images").fetchall()]
        heads = self.heads(digests)
        packages: dict[str, list[tuple[int, StoredPackage]]] = {}
        for digest, seq, row in self._select_in(
            "SELECT digest, seq, row FROM it_packages WHERE digest IN ({marks})", heads
        ):
            packages.setdefault(digest, []).append((int(seq), package_from_json(json.loads(row))))
        findings: dict[str, list[Finding]] = {}
        for digest, row in self._select_in(
            "SELECT digest, row FROM it_findings WHERE digest IN ({marks})", heads
        ):
            findings.setdefault(digest, []).append(finding_from_json(json.loads(row)))
        return [
            ImageRecord(
                digest=h.digest,
                references=h.references,
                platform=h.platform,
                distro=h.distro,
                packages=tuple(p for _, p in sorted(packages.get(d, []), key=lambda t: t[0])),
                findings=tuple(findings.get(d, [])),
                state=h.state,
                scanned_at=h.scanned_at,
            )
            for d, h in sorted(heads.items())
        ]

    def count(self) -> int:
        return int(self._run("SELECT COUNT(*) FROM it_images").fetchone()[0])

    def states_of(self, digests: Iterable[str]) -> dict[str, str | None]:
        query = "SELECT digest, state FROM it_images WHERE digest IN ({marks})"
        return {d: s for d, s in self._select_in(query, digests)}

    def digests_with_state(self, fingerprint: str | None) -> set[str]:
        if fingerprint is None:
            rows = self._run("SELECT digest FROM it_images WHERE state IS NULL").fetchall()
        else:
            rows = self._run("SELECT digest FROM it_images WHERE state = ?", (fingerprint,)).fetchall()
        return {r[0] for r in rows}

    def packages_named(self, names: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
        """(digest, package row) for every stored package with one of these normalised names."""
        query = (
            "SELECT DISTINCT p.digest, p.seq, p.row FROM it_names n"
            " JOIN it_packages p ON p.digest = n.digest AND p.seq = n.seq WHERE n.name IN ({marks})"
        )
        return [(d, json.loads(row)) for d, _seq, row in self._select_in(query, names)]

    def packages_citing(self, advisory: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
        """(digest, package row) for packages with a vulnerability finding citing one of these ids."""
        query = (
            "SELECT DISTINCT p.digest, p.seq, p.row FROM it_ids i"
            " JOIN it_packages p ON p.digest = i.digest AND p.purl = i.purl WHERE i.advisory IN ({marks})"
        )
        return [(d, json.loads(row)) for d, _seq, row in self._select_in(query, advisory)]

    def all_packages(self, digest: str) -> list[dict[str, Any]]:
        rows = self._run("SELECT row FROM it_packages WHERE digest = ? ORDER BY seq", (digest,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def vulnerabilities(self, digest: str, purls: Iterable[str]) -> list[Finding]:
        """The image's stored vulnerability findings for these packages."""
        query = "SELECT row FROM it_findings WHERE digest = ? AND kind = ? AND purl IN ({marks})"
        rows = self._select_in(query, purls, (digest, FindingKind.VULNERABILITY.value))
        return [finding_from_json(json.loads(r[0])) for r in rows]

    def apply_rescan(
        self,
        updated: Sequence[tuple[Digest, Sequence[str], Sequence[Finding]]],
        state: AdvisoryState,
        now: float,
        events: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        """One transaction: for each (image, packages, findings) the packages' vulnerability findings
        replaced, every image marked as matched against ``state``, and the change events queued, so a
        detected change is never recorded without its event.
        """
        vuln = FindingKind.VULNERABILITY.value
        with self._transaction():
            fingerprint = self._put_state(state, now)
            for digest, purls, findings in updated:
                self._select_in(
                    "DELETE FROM it_findings WHERE digest = ? AND kind = ? AND purl IN ({marks})",
                    purls,
                    (str(digest), vuln),
                    fetch=False,
                )
                self._select_in(
                    "DELETE FROM it_ids WHERE digest = ? AND purl IN ({marks})",
                    purls,
                    (str(digest),),
                    fetch=False,
                )
                self._put_findings(str(digest), findings)
            self._run(
                "UPDATE it_images SET state = ?, scanned_at = ? WHERE state IS NULL OR state <> ?",
                (fingerprint, now, fingerprint),
            )
            for kind, payload in events:
                self._run(
                    "INSERT INTO it_events (created, kind, payload, attempts) VALUES (?, ?, ?, 0)",
                    (now, kind, json.dumps(payload, sort_keys=True)),
                )

    # ------------------------------------------------------------------------------------------ events

    def add_event(self, kind: str, payload: Mapping[str, Any], now: float | None = None) -> None:
        with self._transaction():
            self._run(
                "INSERT INTO it_events (created, kind, payload, attempts) VALUES (?, ?, ?, 0)",
                (now if now is not None else time.time(), kind, json.dumps(payload, sort_keys=True)),
            )

    def pending_events(self, limit: int = 1000) -> list[Event]:
        rows = self._run(
            "SELECT id, created, kind, payload, attempts FROM it_events WHERE delivered IS NULL"
            " ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [Event(int(r[0]), float(r[1]), r[2], json.loads(r[3]), int(r[4])) for r in rows]

    def mark_delivered(self, event_id: int, now: float) -> None:
        with self._transaction():
            self._run("UPDATE it_events SET delivered = ? WHERE id = ?", (now, event_id))

    def mark_attempt(self, event_id: int) -> None:
        with self._transaction():
            self._run("UPDATE it_events SET attempts = attempts + 1 WHERE id = ?", (event_id,))


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _open_sqlite(path: Path) -> InventoryStore:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode = WAL")
    except (OSError, sqlite3.Error) as e:
        raise InventoryStoreError(f"cannot open inventory store {path}: {e}") from e
    return InventoryStore(str(path), conn, _SQLITE)


def _open_postgres(url: str) -> InventoryStore:
    try:
        import psycopg
    except ImportError as e:
        raise UsageError(
            f"{_redact(url)}: PostgreSQL stores need psycopg (pip install 'psycopg[binary]')"
        ) from e
    dialect = _Dialect(
        "postgresql", "%s", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", (psycopg.Error,)
    )
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as e:
        raise InventoryStoreError(f"cannot connect to inventory store {_redact(url)}: {e}") from e
    return InventoryStore(_redact(url), conn, dialect)


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return url


def open_inventory(location: str | Path | None = None) -> InventoryStore:
    """The store at ``location``: a ``postgresql://`` URL, a file path, or the default data-dir file."""
    text = str(location) if location is not None else None
    if text is not None and text.startswith(("postgresql://", "postgres://")):
        store = _open_postgres(text)
    else:
        store = _open_sqlite(Path(text) if text is not None else default_store_location())
    store._init_schema()
    return store
