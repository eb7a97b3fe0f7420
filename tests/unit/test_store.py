"""The inventory store on SQLite and on a real PostgreSQL server: round trips, indexes, outbox, atomicity."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagetrust.audit.catalog.model import OSRelease, Package
from imagetrust.audit.findings import Finding, FindingKind, Severity
from imagetrust.oci.digest import Digest
from imagetrust.store import (
    AdvisoryState,
    ImageRecord,
    InventoryStore,
    InventoryStoreError,
    StoredPackage,
    default_store_location,
    open_inventory,
)
from tests.support.postgres import PostgresServer, start_postgres

LAYER = Digest.of(b"layer")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InventoryStore]:
    if request.param == "sqlite":
        location = str(tmp_path / "inventory.sqlite")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        location = server.create_database(f"store_{abs(hash(str(tmp_path))) % 10**9}")
    with open_inventory(location) as opened:
        yield opened


def _record(n: int, findings: tuple[Finding, ...] = ()) -> ImageRecord:
    pkg = Package("Jinja2", "2.10", "pypi", "pkg:pypi/jinja2@2.10", locations=("a/METADATA",))
    deb = Package("libssl3", "3.0.11-1", "deb", "pkg:deb/debian/libssl3@3.0.11-1", source_name="openssl")
    return ImageRecord(
        digest=Digest.of(f"image {n}".encode()),
        references=(f"registry.test/app:{n}",),
        platform="linux/amd64",
        distro=OSRelease("debian", "12", "bookworm", id_like=("x",)),
        packages=(StoredPackage(pkg, LAYER), StoredPackage(deb, None)),
        findings=findings,
        state=None,
        scanned_at=1000.0 + n,
    )


VULN = Finding(
    FindingKind.VULNERABILITY,
    "PYSEC-1",
    Severity.HIGH,
    "t",
    layer=LAYER,
    package_purl="pkg:pypi/jinja2@2.10",
    details=(("aliases", ["CVE-1"]), ("fixed_versions", ["2.11"])),
)


def test_round_trip_keeps_every_field(store: InventoryStore) -> None:
    record = _record(1, (VULN,))
    store.record(record, AdvisoryState({"osv/PYSEC-1": "2021"}))
    [back] = store.images()
    assert back.packages == record.packages and back.distro == record.distro
    assert back.findings == record.findings and back.references == record.references
    assert back.state == AdvisoryState({"osv/PYSEC-1": "2021"}).fingerprint
    assert store.state(back.state) == AdvisoryState({"osv/PYSEC-1": "2021"})


def test_indexes_find_packages_by_name_or_source_name_and_by_cited_advisory(store: InventoryStore) -> None:
    store.record(_record(1, (VULN,)), None)
    store.record(_record(2), AdvisoryState({}))
    one, two = str(_record(1).digest), str(_record(2).digest)
    by_source = store.packages_named({"openssl"})
    assert sorted((d, r["name"]) for d, r in by_source) == sorted([(one, "libssl3"), (two, "libssl3")])
    assert sorted(d for d, r in store.packages_named({"jinja2"})) == sorted([one, two])
    assert [(d, r["purl"]) for d, r in store.packages_citing({"CVE-1"})] == [(one, "pkg:pypi/jinja2@2.10")]
    assert store.packages_named({"flask"}) == [] and store.packages_citing({"CVE-2"}) == []
    assert store.states_of([one, two]) == {one: None, two: AdvisoryState({}).fingerprint}
    assert store.vulnerabilities(one, ["pkg:pypi/jinja2@2.10"]) == [VULN]
    assert store.vulnerabilities(one, ["pkg:deb/debian/libssl3@3.0.11-1"]) == []


def test_rescan_update_and_its_events_commit_together(store: InventoryStore) -> None:
    store.record(_record(1), None)
    state = AdvisoryState({"osv/PYSEC-1": "2021"})
    digest, purl = _record(1).digest, "pkg:pypi/jinja2@2.10"
    store.apply_rescan([(digest, [purl], [VULN])], state, 2000.0, [("findings_changed", {"id": "PYSEC-1"})])
    [back] = store.images()
    assert back.findings == (VULN,) and back.state == state.fingerprint
    assert [d for d, _ in store.packages_citing({"CVE-1"})] == [str(digest)]  # ids re-indexed
    store.apply_rescan([(digest, [purl], [])], state, 2001.0)  # resolved: the finding and its index go
    assert store.images()[0].findings == () and store.packages_citing({"CVE-1"}) == []
    [event] = store.pending_events()
    assert event.payload == {"id": "PYSEC-1"} and event.kind == "findings_changed"
    store.mark_attempt(event.id)
    assert store.pending_events()[0].attempts == 1
    store.mark_delivered(event.id, 2001.0)
    assert store.pending_events() == []


def test_a_failing_rescan_write_changes_nothing(store: InventoryStore) -> None:
    store.record(_record(1), None)
    bad = [("findings_changed", {"x": object()})]  # not JSON: fails inside the transaction
    with pytest.raises(TypeError):
        store.apply_rescan([(_record(1).digest, ["x"], [VULN])], AdvisoryState({"a/b": "1"}), 2.0, bad)  # type: ignore[list-item]
    [back] = store.images()
    assert back.findings == () and back.state is None
    assert store.pending_events() == []


def test_state_delta_names_new_changed_withdrawn_and_removed() -> None:
    old = AdvisoryState({"osv/A": "1", "osv/B": "1", "osv/C": "1"})
    new = AdvisoryState({"osv/A": "1", "osv/B": "2", "osv/C": "withdrawn 2024", "osv/D": "1"})
    changed, gone = new.changed_since(old)
    assert changed == {"osv/B", "osv/C", "osv/D"} and gone == set()
    assert AdvisoryState({}).changed_since(old) == (frozenset(), frozenset(old.advisories))
    assert AdvisoryState.decode(new.encode()) == new


def test_other_schema_and_unreadable_files_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    open_inventory(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE it_meta SET value = '99' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with pytest.raises(InventoryStoreError, match="schema 99"):
        open_inventory(path)
    garbage = tmp_path / "g.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(InventoryStoreError, match=r"g\.sqlite"):
        open_inventory(garbage)


def test_unreachable_postgres_is_could_not_check_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(InventoryStoreError) as info:
        open_inventory(f"postgresql://u:s3cret@/db?host={tmp_path}&port=1")
    assert "s3cret" not in info.value.diagnostics() and "u:***@" in info.value.diagnostics()


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_location() == tmp_path / "imagetrust" / "inventory.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_store_location() == tmp_path / ".local" / "share" / "imagetrust" / "inventory.sqlite"
