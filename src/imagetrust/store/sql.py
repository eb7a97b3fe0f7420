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

from imagetrust.errors import CouldNotCheck, UsageError
from imagetrust.oci.digest import Digest
from imagetrust.store.model import (
    AdvisoryState,
    Event,
    ImageRecord,
    advisory_ids,
    distro_from,
    distro_json,
    findings_from,
    findings_json,
    name_keys,
    packages_from,
    packages_json,
)

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS it_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS it_states (
    fingerprint TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, advisories TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS it_images (
    digest TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    distro TEXT NOT NULL,
    packages TEXT NOT NULL,
    findings TEXT NOT NULL,
    state TEXT,
    first_seen DOUBLE PRECISION NOT NULL,
    scanned_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS it_refs (
    digest TEXT NOT NULL, reference TEXT NOT NULL, last_seen DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (digest, reference)
);
CREATE TABLE IF NOT EXISTS it_names (digest TEXT NOT NULL, name TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS it_names_by_name ON it_names (name);
CREATE INDEX IF NOT EXISTS it_names_by_digest ON it_names (digest);
CREATE TABLE IF NOT EXISTS it_ids (digest TEXT NOT NULL, advisory TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS it_ids_by_advisory ON it_ids (advisory);
CREATE INDEX IF NOT EXISTS it_ids_by_digest ON it_ids (digest);
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

    def _index(self, record: ImageRecord, replace_names: bool) -> None:
        digest = str(record.digest)
        if replace_names:
            self._run("DELETE FROM it_names WHERE digest = ?", (digest,))
            names = sorted({n for p in record.packages for n in name_keys(p.package)})
            self._many("INSERT INTO it_names VALUES (?, ?)", [(digest, n) for n in names])
        self._run("DELETE FROM it_ids WHERE digest = ?", (digest,))
        ids = sorted({i for f in record.findings for i in advisory_ids(f)})
        self._many("INSERT INTO it_ids VALUES (?, ?)", [(digest, i) for i in ids])

    def record(self, record: ImageRecord, state: AdvisoryState | None) -> None:
        """Store (or replace) an image's inventory and findings, with the references it was seen under."""
        digest = str(record.digest)
        now = record.scanned_at
        with self._transaction():
            fingerprint = self._put_state(state, now) if state is not None else None
            first = self._run("SELECT first_seen FROM it_images WHERE digest = ?", (digest,)).fetchone()
            self._run("DELETE FROM it_images WHERE digest = ?", (digest,))
            self._run(
                "INSERT INTO it_images VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    digest,
                    record.platform,
                    distro_json(record.distro),
                    packages_json(record.packages),
                    findings_json(record.findings),
                    fingerprint,
                    first[0] if first else now,
                    now,
                ),
            )
            for reference in record.references:
                self._run("DELETE FROM it_refs WHERE digest = ? AND reference = ?", (digest, reference))
                self._run("INSERT INTO it_refs VALUES (?, ?, ?)", (digest, reference, now))
            self._index(record, replace_names=True)

    def _references(self, digests: Sequence[str]) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for chunk in _chunks(digests):
            marks = ",".join("?" * len(chunk))
            rows = self._run(
                f"SELECT digest, reference FROM it_refs WHERE digest IN ({marks})"  # noqa: S608
                " ORDER BY last_seen DESC, reference",
                chunk,
            ).fetchall()
            for digest, reference in rows:
                out.setdefault(digest, []).append(reference)
        return {d: tuple(refs) for d, refs in out.items()}

    def images(self, digests: Sequence[str] | None = None) -> list[ImageRecord]:
        """Every stored image, or those named (in digest order)."""
        columns = "digest, platform, distro, packages, findings, state, scanned_at"
        if digests is None:
            rows = self._run(f"SELECT {columns} FROM it_images ORDER BY digest").fetchall()  # noqa: S608
        else:
            rows = []
            for chunk in _chunks(sorted(digests)):
                marks = ",".join("?" * len(chunk))
                rows += self._run(
                    f"SELECT {columns} FROM it_images WHERE digest IN ({marks})",  # noqa: S608
                    chunk,
                ).fetchall()
            rows.sort(key=lambda r: r[0])
        refs = self._references([r[0] for r in rows])
        return [
            ImageRecord(
                digest=Digest.parse(r[0]),
                references=refs.get(r[0], ()),
                platform=r[1],
                distro=distro_from(r[2]),
                packages=packages_from(r[3]),
                findings=findings_from(r[4]),
                state=r[5],
                scanned_at=float(r[6]),
            )
            for r in rows
        ]

    def count(self) -> int:
        return int(self._run("SELECT COUNT(*) FROM it_images").fetchone()[0])

    def digests_naming(self, names: Iterable[str], advisory: Iterable[str]) -> dict[str | None, set[str]]:
        """Images (grouped by their state) holding any package name, or a finding citing any advisory id."""
        found: set[str] = set()
        for table, column, values in (("it_names", "name", names), ("it_ids", "advisory", advisory)):
            for chunk in _chunks(sorted(set(values))):
                marks = ",".join("?" * len(chunk))
                rows = self._run(
                    f"SELECT DISTINCT digest FROM {table} WHERE {column} IN ({marks})",  # noqa: S608
                    chunk,
                ).fetchall()
                found.update(r[0] for r in rows)
        return self._by_state(found)

    def _by_state(self, digests: set[str]) -> dict[str | None, set[str]]:
        out: dict[str | None, set[str]] = {}
        for chunk in _chunks(sorted(digests)):
            marks = ",".join("?" * len(chunk))
            rows = self._run(
                f"SELECT digest, state FROM it_images WHERE digest IN ({marks})",  # noqa: S608
                chunk,
            ).fetchall()
            for digest, state in rows:
                out.setdefault(state, set()).add(digest)
        return out

    def digests_with_state(self, fingerprint: str | None) -> set[str]:
        if fingerprint is None:
            rows = self._run("SELECT digest FROM it_images WHERE state IS NULL").fetchall()
        else:
            rows = self._run("SELECT digest FROM it_images WHERE state = ?", (fingerprint,)).fetchall()
        return {r[0] for r in rows}

    def apply_rescan(
        self,
        updated: Sequence[ImageRecord],
        state: AdvisoryState,
        now: float,
        events: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        """One transaction: new findings for changed images, every image marked as matched against
        ``state``, and the change events queued, so a detected change is never recorded without its event.
        """
        with self._transaction():
            fingerprint = self._put_state(state, now)
            for record in updated:
                self._run(
                    "UPDATE it_images SET findings = ?, scanned_at = ? WHERE digest = ?",
                    (findings_json(record.findings), now, str(record.digest)),
                )
                self._index(record, replace_names=False)
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
