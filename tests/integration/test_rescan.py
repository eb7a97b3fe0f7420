"""`audit` records the inventory; `rescan` re-matches it against a changed advisory database and reports
exactly what changed, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from imagetrust.cli.main import main
from imagetrust.oci.digest import Digest
from imagetrust.store import open_inventory
from tests.support.postgres import PostgresServer, start_postgres

REPO = Path(__file__).resolve().parents[2]
ADVISORIES = REPO / "fixtures" / "demo" / "advisories"
DEMO = f"oci:{REPO / 'fixtures' / 'demo' / 'layout'}:demo"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "inventory.sqlite")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"rescan_{abs(hash(str(tmp_path))) % 10**9}")


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def _capture(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    _CAPTURE.append(capsys)
    yield
    _CAPTURE.pop()


_CAPTURE: list[pytest.CaptureFixture[str]] = []  # the running test's capsys, for run_cli


def run_cli(*args: str) -> Run:
    """The CLI in-process (the same ``main`` the console script runs): no second of start-up per call."""
    capsys = _CAPTURE[-1]
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return Run(code, out, err)


def db_import(db: Path, *paths: Path) -> None:
    done = run_cli("db", "--db", str(db), "import", *map(str, paths))
    assert done.returncode == 0, done.stderr


def rescan(store: str, db: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = run_cli("rescan", "--store", store, "--db", str(db), "--format", "json", *extra)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def audit(store: str, db: Path, *extra: str) -> dict[str, Any]:
    done = run_cli(
        "audit", DEMO, "--no-cache", "--scanners", "vuln", "--db", str(db), "--store", store,
        "--format", "json", *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_new_advisory_is_reported_once_for_the_image_that_has_the_package(store: str, tmp_path: Path) -> None:
    db = tmp_path / "advisories.sqlite"
    db_import(db, ADVISORIES / "PYSEC-2019-217.yaml")
    document = audit(store, db)
    assert [f["id"] for f in document["findings"]] == ["PYSEC-2019-217"]
    digest = document["images"][0]["digest"]

    code, nothing = rescan(store, db)
    assert code == 0 and nothing["changes"] == [] and nothing["images"] == 1

    db_import(db, ADVISORIES / "PYSEC-2021-66.yaml")
    code, report = rescan(store, db)
    assert code == 0
    [change] = report["changes"]
    assert change["digest"] == digest and DEMO in change["references"]
    assert [(f["id"], f["package"]) for f in change["new"]] == [("PYSEC-2021-66", "pkg:pypi/jinja2@2.10")]
    assert "CVE-2020-28493" in change["new"][0]["aliases"] and change["resolved"] == []
    assert report["rematchedPackages"] == 1  # only jinja2 was matched again, not the whole inventory

    code, again = rescan(store, db)
    assert again["changes"] == [] and again["rematchedImages"] == 0
    # What the store now holds is what a fresh audit against today's database finds.
    fresh = audit(store, db, "--no-store")
    with open_inventory(store) as opened:
        [record] = opened.images()
    assert sorted(f.id for f in record.findings) == sorted(f["id"] for f in fresh["findings"])
    assert {f.layer for f in record.findings} == {Digest.parse(f["layer"]) for f in fresh["findings"]}

    # The advisory is withdrawn upstream: the finding is reported resolved.
    withdrawn = yaml.safe_load((ADVISORIES / "PYSEC-2021-66.yaml").read_text())
    withdrawn.update(withdrawn="2024-01-01T00:00:00Z", modified="2024-01-01T00:00:00Z")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "PYSEC-2021-66.yaml").write_text(yaml.safe_dump(withdrawn))
    db_import(db, tmp_path / "w" / "PYSEC-2021-66.yaml")
    code, report = rescan(store, db)
    [change] = report["changes"]
    assert change["new"] == [] and [f["id"] for f in change["resolved"]] == ["PYSEC-2021-66"]


def test_limits_decide_the_exit_code(tmp_path: Path) -> None:
    old, db = tmp_path / "old.sqlite", tmp_path / "advisories.sqlite"
    db_import(old, ADVISORIES / "PYSEC-2019-217.yaml")
    db_import(db, ADVISORIES / "PYSEC-2019-217.yaml", ADVISORIES / "PYSEC-2021-66.yaml")
    stores = {name: str(tmp_path / f"{name}.sqlite") for name in ("waived", "strict", "fail-on")}
    for store in stores.values():
        audit(store, old)  # matched against the old database: PYSEC-2021-66 is new for all three
    policy = (
        "apiVersion: imagetrust.dev/v1\nkind: Policy\nmetadata: {name: t}\nrules:\n"
        "  - name: all\n    images: ['*']\n    vulnerabilities:\n      maxSeverity: low\n"
    )
    waived, strict = tmp_path / "waived.yaml", tmp_path / "strict.yaml"
    strict.write_text(policy)
    # The waiver names the finding by an alias, as users often do.
    waived.write_text(policy + "      ignore: [{id: CVE-2020-28493, reason: test, expires: 2099-01-01}]\n")
    code, report = rescan(stores["waived"], db, "--policy", str(waived))
    assert code == 0 and [f["id"] for f in report["changes"][0]["new"]] == ["PYSEC-2021-66"]
    done = run_cli("rescan", "--store", stores["strict"], "--db", str(db), "--policy", str(strict))
    assert done.returncode == 1 and "PYSEC-2021-66" in done.stderr and "over the limits" in done.stderr
    # Unknown severity counts as critical for --fail-on, so a missing score cannot let it through.
    done = run_cli("rescan", "--store", stores["fail-on"], "--db", str(db), "--fail-on", "critical")
    assert done.returncode == 1, done.stdout


def test_no_store_records_nothing_and_a_missing_database_is_could_not_check(tmp_path: Path) -> None:
    store, db = str(tmp_path / "inv.sqlite"), tmp_path / "advisories.sqlite"
    db_import(db, ADVISORIES / "PYSEC-2019-217.yaml")
    audit(store, db, "--no-store")
    _, report = rescan(store, db)
    assert report["images"] == 0
    done = run_cli("rescan", "--store", store, "--db", str(tmp_path / "none.sqlite"))
    assert done.returncode == 3 and "none.sqlite" in done.stderr


def test_check_records_the_audit_it_ran_and_rescan_follows_it(tmp_path: Path) -> None:
    store, db = str(tmp_path / "inv.sqlite"), tmp_path / "advisories.sqlite"
    db_import(db, ADVISORIES / "PYSEC-2019-217.yaml")
    key = REPO / "fixtures" / "demo" / "keys" / "cosign.pub"
    done = run_cli("check", DEMO, "--key", str(key), "--db", str(db), "--store", store, "--no-cache")
    # The demo's default-policy decision (indeterminate: no Debian data, no malware rules) does not matter
    # here; the audit check ran is what gets recorded.
    assert done.returncode == 3 and "could not decide" in done.stderr, done.stderr
    with open_inventory(store) as opened:
        [record] = opened.images()
    assert [f.id for f in record.findings if f.kind.value == "vulnerability"] == ["PYSEC-2019-217"]
    assert any(p.package.name == "Jinja2" for p in record.packages) and record.state is not None
    db_import(db, ADVISORIES / "PYSEC-2021-66.yaml")
    _, report = rescan(store, db)
    assert [f["id"] for c in report["changes"] for f in c["new"]] == ["PYSEC-2021-66"]
