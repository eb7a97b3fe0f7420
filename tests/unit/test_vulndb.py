"""Advisory store and importers: CVSS scores, OSV parsing, withdrawn, transactions, distro feeds."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from imagetrust.audit.findings import Severity
from imagetrust.audit.vulns.db import AdvisoryDB, AdvisoryDBError
from imagetrust.audit.vulns.ecosystems import normalise
from imagetrust.audit.vulns.osv import parse_osv
from imagetrust.audit.vulns.severity import cvss3_base_score, severity_of
from imagetrust.audit.vulns.sources import load_advisories
from imagetrust.errors import LocalInputError, MalformedContent
from tests.conftest import shared_data

# Published vectors with the base scores NVD shows for them.
NVD_SCORES = [
    ("CVE-2021-44228", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),  # Log4Shell
    ("CVE-2014-0160", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),  # Heartbleed
    ("CVE-2019-10906", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N", 8.6),  # Jinja2 sandbox escape
    ("CVE-2020-28493", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3),  # Jinja2 ReDoS
    ("CVE-2021-3156", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),  # sudo Baron Samedit
    ("CVE-2014-6271", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),  # Shellshock
    ("CVE-2021-23337", "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),  # lodash template injection
]


@pytest.mark.parametrize(("cve", "vector", "score"), NVD_SCORES, ids=[c for c, _, _ in NVD_SCORES])
def test_cvss3_base_score_matches_nvd(cve: str, vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    [
        "AV:N/AC:L/Au:N/C:P/I:P/A:P",  # v2: not scored
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",  # v4: not scored
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # A missing
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # bad value
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # repeated metric
    ],
)
def test_unscorable_vectors_give_none(vector: str) -> None:
    assert cvss3_base_score(vector) is None


def test_severity_prefers_computed_score_then_rating() -> None:
    assert severity_of(["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"], ["CRITICAL"]) is Severity.MEDIUM
    assert severity_of([], ["MODERATE", "LOW"]) is Severity.MEDIUM
    assert severity_of(["garbage"], []) is Severity.UNKNOWN
    assert severity_of(["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"], []) is Severity.NEGLIGIBLE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Debian:12", "Debian:12"), ("debian:bookworm", "Debian:12"), ("Debian:11.7", "Debian:11"),
     ("Alpine:v3.18", "Alpine:v3.18"), ("alpine:3.18.4", "Alpine:v3.18"), ("pypi", "PyPI"),
     ("crates.io", "crates.io"), ("GO", "Go"), ("npm", "npm")],
)  # fmt: skip
def test_ecosystem_names_are_normalised(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def _osv(id_: str, name: str = "demo", **extra: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": id_,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
            }
        ],
    }
    doc.update(extra)
    return doc


def _write(directory: Path, docs: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        (directory / name).write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return directory


def test_osv_fields_and_severity_sources() -> None:
    adv = parse_osv(
        _osv(
            "GHSA-1",
            aliases=["CVE-1", "GHSA-1"],
            severity=[{"type": "CVSS_V3", "score": NVD_SCORES[0][1]}],
            summary="bad",
            database_specific={"severity": "LOW"},
        ),
        "x.json",
    )
    assert adv.aliases == ("CVE-1",)  # its own id is not an alias
    assert adv.severity is Severity.CRITICAL  # the computed score wins over the rating
    assert adv.affected[0].ecosystem == "PyPI"
    rated = parse_osv(_osv("GHSA-2", database_specific={"severity": "MODERATE"}), "y.json")
    assert rated.severity is Severity.MEDIUM


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"affected": []},
        {"id": "X", "affected": {}},
        {"id": "X", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"}, "ranges": {}}]},
        {"id": "X", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"},
                                    "ranges": [{"type": "ECOSYSTEM", "events": [{"broken": "1"}]}]}]},
    ],
)  # fmt: skip
def test_malformed_osv_is_refused(doc: object) -> None:
    with pytest.raises(MalformedContent):
        parse_osv(doc, "bad.json")


def test_import_is_transactional_and_idempotent(tmp_path: Path) -> None:
    db = AdvisoryDB.create(tmp_path / "a.sqlite")
    good = _write(tmp_path / "good", {"a.json": _osv("PYSEC-A"), "b.json": _osv("PYSEC-B")})
    assert db.import_advisories(load_advisories(good), "good") == 2
    before = db.snapshot()
    # a valid file, then a malformed one: nothing of this import may remain
    bad = _write(tmp_path / "bad", {"1.json": _osv("PYSEC-C"), "2.json": "{not json"})
    with pytest.raises(MalformedContent, match=r"2\.json"):
        db.import_advisories(load_advisories(bad), "bad")
    assert db.snapshot() == before
    # the same data again changes no advisory rows
    db.import_advisories(load_advisories(good), "good")
    after = [r for r in db.snapshot() if r[0] in ("advisories", "affected")]
    assert len(after) == len([r for r in before if r[0] in ("advisories", "affected")])
    assert {r[2:] for r in after if r[0] == "advisories"} == {r[2:] for r in before if r[0] == "advisories"}


def test_withdrawn_advisories_are_not_returned(tmp_path: Path) -> None:
    db = AdvisoryDB.create(tmp_path / "a.sqlite")
    docs = {"a.json": _osv("PYSEC-LIVE"), "b.json": _osv("PYSEC-GONE", withdrawn="2024-02-02T00:00:00Z")}
    db.import_advisories(load_advisories(_write(tmp_path / "d", docs)), "t")
    assert [a.id for a, _ in db.lookup("PyPI", "Demo")] == ["PYSEC-LIVE"]  # PEP 503 name lookup


def test_state_marks_withdrawn_and_affected_names_cover_them(tmp_path: Path) -> None:
    db = AdvisoryDB.create(tmp_path / "a.sqlite")
    docs = {
        "a.json": _osv("PYSEC-LIVE", name="Live_Pkg"),
        "b.json": _osv("PYSEC-GONE", name="gone", withdrawn="2024-02-02T00:00:00Z"),
        "c.json": _osv("PYSEC-OTHER", name="other"),
    }
    db.import_advisories(load_advisories(_write(tmp_path / "d", docs)), "t")
    state = db.state()
    live = next(k for k in state if k.endswith("/PYSEC-LIVE"))
    gone = next(k for k in state if k.endswith("/PYSEC-GONE"))
    assert state[live] == "2024-01-01T00:00:00Z"
    assert state[gone] == "withdrawn 2024-02-02T00:00:00Z"  # a withdrawal is a change a rescan must see
    # names as the advisory spells them; a withdrawn advisory still names what must be matched again
    assert db.affected_names([live, gone]) == {"Live_Pkg", "gone"}
    assert db.affected_names([live.split("/", 1)[0] + "-elsewhere/PYSEC-LIVE"]) == set()  # source counts
    assert db.affected_names([]) == set()


def test_missing_and_foreign_databases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryDBError, match="does not exist"):
        AdvisoryDB.open(tmp_path / "none.sqlite")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).executescript(
        "CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('schema','99');"
    )
    with pytest.raises(AdvisoryDBError, match="schema 99"):
        AdvisoryDB.open(other)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(AdvisoryDBError):
        AdvisoryDB.open(junk)
    with pytest.raises(LocalInputError):
        list(load_advisories(tmp_path / "absent"))


def _member(tarball: str, name: str, dest: Path) -> Path:
    with tarfile.open(shared_data(tarball)) as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        dest.write_bytes(handle.read())
    return dest


def test_debian_tracker_json(tmp_path: Path) -> None:
    path = _member(
        "vulndb/vunnel-provider-test-fixtures.tar.gz",
        "vunnel-provider-fixtures/tests/unit/providers/debian/test-fixtures/input/debian.json",
        tmp_path / "debian.json",
    )
    advisories = {a.id: a for a in load_advisories(path)}
    # fixed_version "0" in every release: never affected, so no entry at all
    assert "CVE-2007-2383" not in advisories
    entries = {(e.ecosystem, e.name): e for e in advisories["CVE-2022-0456"].affected}
    assert entries[("Debian:12", "chromium")].ranges[0].events[-1].version == "98.0.4758.80-1"
    assert entries[("Debian:11", "chromium")].ranges[0].events[-1].version == "98.0.4758.80-1~deb11u1"
    # status open (buster): every version affected, no fixed event
    assert [e.kind for e in entries[("Debian:10", "chromium")].ranges[0].events] == ["introduced"]
    assert ("Debian:10", "chromium-browser") not in entries  # "releases": [] in the real file
    db = AdvisoryDB.create(tmp_path / "a.sqlite")
    db.import_advisories(advisories.values(), "debian")
    assert [a.id for a, _ in db.lookup("Debian:9", "prototypejs")] == ["CVE-2008-7220"]


def test_alpine_secdb_real_tarball(tmp_path: Path) -> None:
    advisories = list(load_advisories(Path(shared_data("vulndb/alpine-secdb-v3.3-v3.11.tar.gz"))))
    db = AdvisoryDB.create(tmp_path / "a.sqlite")
    db.import_advisories(advisories, "alpine")
    assert {"Alpine:v3.3", "Alpine:v3.10", "Alpine:v3.11"} <= db.ecosystems()
    ansible = {a.id: f.ranges[0].events[-1].version for a, f in db.lookup("Alpine:v3.10", "ansible")}
    assert ansible["CVE-2019-10206"] == "2.8.4-r0"
    assert ansible["CVE-2018-10875"] == "2.6.3-r0"
    # one CVE in two branches is two advisories (one per secdb file), not one overwriting the other
    assert len({a.source for a in advisories if a.id == "CVE-2019-10206"}) >= 2
