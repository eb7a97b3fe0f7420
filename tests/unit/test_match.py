"""The matcher: OSV range semantics, alias merging, skipped/not-checked, and real packages end to end."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from imagetrust.audit.catalog.model import OSRelease, Package
from imagetrust.audit.catalog.npm import NpmCataloger
from imagetrust.audit.catalog.python import PythonCataloger
from imagetrust.audit.findings import FindingKind, Severity
from imagetrust.audit.unpack.index import FileIndex
from imagetrust.audit.vulns.db import AdvisoryDB
from imagetrust.audit.vulns.match import RangeError, affects, match_packages, range_affects
from imagetrust.audit.vulns.model import Advisory, Affected, Event, Range
from imagetrust.audit.vulns.sources import load_advisories
from imagetrust.audit.vulns.versions import comparator_for
from tests.conftest import shared_data
from tests.support.debs import install_npm, install_wheel, npm_tarball, wheel

PYPA = "vulndb/pypa-advisory-database-vulns.tar.gz"
PEP440 = comparator_for("PyPI")
DPKG = comparator_for("Debian")


def _range(*events: tuple[str, str], kind: str = "ECOSYSTEM") -> Range:
    return Range(kind, tuple(Event(k, v) for k, v in events))


@pytest.mark.parametrize(
    ("events", "version", "expected"),
    [
        ((("introduced", "0"), ("fixed", "2.0")), "0.0.1", True),
        ((("introduced", "0"), ("fixed", "2.0")), "2.0", False),  # fixed is exclusive
        ((("introduced", "0"), ("fixed", "2.0")), "2.0rc1", True),  # a pre-release of the fix is before it
        ((("introduced", "1.0"), ("last_affected", "1.5")), "1.5", True),  # last_affected is inclusive
        ((("introduced", "1.0"), ("last_affected", "1.5")), "1.5.post1", False),
        ((("introduced", "1.0"), ("last_affected", "1.5")), "0.9", False),
        ((("introduced", "1.0"),), "99", True),  # no fix: everything from introduced on
        # events out of order are sorted by version first
        ((("fixed", "1.2"), ("introduced", "2.0"), ("introduced", "1.0"), ("fixed", "2.1")), "1.1", True),
        ((("fixed", "1.2"), ("introduced", "2.0"), ("introduced", "1.0"), ("fixed", "2.1")), "1.5", False),
        ((("fixed", "1.2"), ("introduced", "2.0"), ("introduced", "1.0"), ("fixed", "2.1")), "2.0.5", True),
        # equal versions keep the advisory's order: fixed then re-introduced at 3.1.1 (pyspark PYSEC-2022-236)
        (
            (("introduced", "0"), ("fixed", "3.1.1"), ("introduced", "3.1.1"), ("fixed", "3.1.3")),
            "3.1.2",
            True,
        ),
        ((("introduced", "0"), ("limit", "2.0")), "2.5", False),  # limit caps the range
        ((("introduced", "0"), ("limit", "2.0")), "1.5", True),
    ],
)
def test_osv_range_semantics(events: tuple[tuple[str, str], ...], version: str, expected: bool) -> None:
    assert range_affects(_range(*events), version, PEP440) is expected


def test_ranges_or_versions_and_git_ranges() -> None:
    entry = Affected(
        "PyPI",
        "demo",
        ranges=(
            _range(("introduced", "1.0"), ("fixed", "1.1")),
            _range(("introduced", "3.0"), ("fixed", "3.2")),
            _range(("introduced", "0"), ("fixed", "0123abcd"), kind="GIT"),  # commits: not usable
        ),
        versions=("5.0",),
    )
    assert affects(entry, "1.0.5", PEP440) is not None
    assert affects(entry, "3.1", PEP440) == affects(entry, "3.1.0", PEP440)
    assert affects(entry, "2.0", PEP440) is None  # between the ranges, and the GIT range is ignored
    assert affects(entry, "5.0", PEP440) is not None  # listed explicitly
    assert affects(entry, "5.0", PEP440, use_versions=False) is None
    assert affects(entry, "1.0.5", PEP440).fixed == ("1.1",)  # type: ignore[union-attr]


def test_unparseable_event_version_is_an_error_not_a_miss() -> None:
    with pytest.raises(RangeError):
        range_affects(_range(("introduced", "0"), ("fixed", "not a version!")), "1.0", PEP440)


def _db(tmp_path: Path, advisories: list[Advisory]) -> AdvisoryDB:
    db = AdvisoryDB.create(tmp_path / "a.sqlite")
    db.import_advisories(advisories, "test")
    return db


def _pkg(name: str, version: str, type_: str = "pypi", **kw: str) -> Package:
    return Package(name=name, version=version, type=type_, purl=f"pkg:{type_}/{name}@{version}", **kw)  # type: ignore[arg-type]


def _adv(
    id_: str, aliases: tuple[str, ...], eco: str, name: str, fixed: str, sev: Severity, source: str = "osv"
) -> Advisory:
    rng = _range(("introduced", "0"), ("fixed", fixed))
    return Advisory(id_, source, severity=sev, aliases=aliases, summary=f"{id_} summary",
                    affected=(Affected(eco, name, (rng,)),))  # fmt: skip


def test_aliases_are_merged_into_one_finding(tmp_path: Path) -> None:
    db = _db(
        tmp_path,
        [
            _adv("PYSEC-1", ("CVE-1",), "PyPI", "demo", "2.0", Severity.UNKNOWN),
            _adv("GHSA-aaaa", ("CVE-1",), "PyPI", "demo", "2.1", Severity.HIGH, source="ghsa"),
            _adv("PYSEC-2", (), "PyPI", "demo", "3.0", Severity.LOW),
        ],
    )
    findings, skipped = match_packages([_pkg("Demo", "1.0")], db, None)
    assert skipped == []
    assert [(f.id, f.detail("aliases")) for f in findings] == [
        ("GHSA-aaaa", ["CVE-1", "PYSEC-1"]),  # one issue, reported once; primary: smallest (source, id)
        ("PYSEC-2", []),
    ]
    assert findings[0].severity is Severity.HIGH  # the highest of the merged advisories
    assert findings[0].detail("fixed_versions") == ["2.0", "2.1"]
    assert all(
        f.kind is FindingKind.VULNERABILITY and f.package_purl == "pkg:pypi/Demo@1.0" for f in findings
    )


def test_unparseable_versions_are_skipped_and_missing_data_not_checked(tmp_path: Path) -> None:
    db = _db(tmp_path, [_adv("PYSEC-1", (), "PyPI", "demo", "2.0", Severity.LOW)])
    findings, skipped = match_packages(
        [_pkg("demo", "1.0-bulbasaur"), _pkg("lodash", "4.17.20", "npm"), _pkg("zlib", "1.2", "apk")],
        db,
        None,
    )
    assert findings == []
    assert [(s.purl, s.not_checked) for s in skipped] == [
        ("pkg:pypi/demo@1.0-bulbasaur", False),  # could not be ordered: never "not vulnerable"
        ("pkg:npm/lodash@4.17.20", True),
        ("pkg:apk/zlib@1.2", True),
    ]
    assert "no npm advisories are loaded" in skipped[1].reason


def test_deb_matches_source_package_in_its_release(tmp_path: Path) -> None:
    db = _db(tmp_path, [_adv("CVE-2023-1", (), "Debian:12", "openssl", "3.0.11-1~deb12u1", Severity.HIGH,
                             source="debian-tracker")])  # fmt: skip
    bookworm = OSRelease(id="debian", version_id="12", version_codename="bookworm")
    libssl = _pkg("libssl3", "3.0.9-1", "deb", source_name="openssl", source_version="3.0.9-1")
    assert [f.id for f in match_packages([libssl], db, bookworm)[0]] == ["CVE-2023-1"]
    fixed = _pkg("libssl3", "3.0.11-1~deb12u1", "deb", source_name="openssl")
    assert match_packages([fixed], db, bookworm)[0] == []
    # another release has no data loaded: not checked, not clean
    bullseye = OSRelease(id="debian", version_id="11")
    findings, skipped = match_packages([libssl], db, bullseye)
    assert findings == [] and skipped[0].not_checked and skipped[0].ecosystem == "Debian:11"


@pytest.fixture(scope="module")
def pypa_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdvisoryDB]:
    db = AdvisoryDB.create(tmp_path_factory.mktemp("pypa") / "a.sqlite")
    db.import_advisories(load_advisories(Path(shared_data(PYPA))), "pypa")
    yield db
    db.close()


def _expected_from_files(package: str, version: str) -> set[str]:
    """Advisory ids whose own `versions` list names this version: read from the YAML, not via our code."""
    want = re.sub(r"[-_.]+", "-", package).lower()
    ids = set()
    with tarfile.open(shared_data(PYPA)) as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".yaml") and f"/vulns/{want}/" in member.name):
                continue
            doc = yaml.safe_load(tar.extractfile(member))  # type: ignore[arg-type]
            if doc.get("withdrawn"):
                continue
            for aff in doc.get("affected", []):
                if aff["package"]["name"].lower() == want and version in [
                    str(v) for v in aff.get("versions", [])
                ]:
                    ids.add(doc["id"])
    return ids


def _installed(tmp_path: Path) -> FileIndex:
    install_wheel(tmp_path, wheel("Jinja2"))
    install_npm(tmp_path, npm_tarball("lodash"))
    files = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    return FileIndex.from_contents(files)


def test_real_jinja2_and_lodash_end_to_end(tmp_path: Path, pypa_db: AdvisoryDB) -> None:
    files = _installed(tmp_path)
    packages = list(PythonCataloger().catalog(files).packages + NpmCataloger().catalog(files).packages)
    assert sorted(p.purl for p in packages) == ["pkg:npm/lodash@4.17.20", "pkg:pypi/jinja2@2.10"]

    findings, skipped = match_packages(packages, pypa_db, None)

    expected = _expected_from_files("jinja2", "2.10")
    assert expected  # the files themselves list 2.10 as affected by at least one advisory
    assert {f.id for f in findings} == expected
    by_id = {f.id: f for f in findings}
    assert by_id["PYSEC-2019-217"].detail("fixed_versions") == ["2.10.1"]
    assert "CVE-2019-10906" in by_id["PYSEC-2019-217"].detail("aliases")
    # The shared data has no npm advisory source: lodash is reported as not checked, never as clean.
    assert [(s.purl, s.not_checked) for s in skipped] == [("pkg:npm/lodash@4.17.20", True)]
