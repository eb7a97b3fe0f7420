"""Properties of the dpkg and apk database readers on generated databases, whole and cut short."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagetrust.audit.catalog.apk import ApkCataloger
from imagetrust.audit.catalog.dpkg import DpkgCataloger
from imagetrust.audit.catalog.rpm import catalog_database
from imagetrust.audit.unpack.index import FileIndex

FAST = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

names = st.text("abcdefghijklmnopqrstuvwxyz0123456789+-.", min_size=2, max_size=12).filter(
    lambda n: n[0].isalnum()
)
versions = st.text("0123456789.+~-abc", min_size=1, max_size=10).filter(lambda v: v[0].isdigit())
statuses = st.sampled_from(["install ok installed", "deinstall ok config-files", "install ok half-installed"])
stanzas = st.lists(st.tuples(names, versions, statuses), max_size=8, unique_by=lambda t: t[0])


def _status(entries: list[tuple[str, str, str]]) -> bytes:
    text = "".join(
        f"Package: {n}\nStatus: {s}\nArchitecture: amd64\nVersion: {v}\nDescription: x\n multi\n line\n\n"
        for n, v, s in entries
    )
    return text.encode()


@FAST
@given(stanzas)
def test_dpkg_lists_exactly_the_installed_packages(entries: list[tuple[str, str, str]]) -> None:
    files = FileIndex.from_contents({"var/lib/dpkg/status": _status(entries)})
    found = {(p.name, p.version) for p in DpkgCataloger().catalog(files).packages}
    assert found == {(n, v) for n, v, s in entries if s == "install ok installed"}


@FAST
@given(stanzas, st.integers(min_value=0))
def test_dpkg_cut_short_never_invents_a_package(entries: list[tuple[str, str, str]], cut: int) -> None:
    data = _status(entries)
    files = FileIndex.from_contents({"var/lib/dpkg/status": data[: cut % (len(data) + 1)]})
    found = {p.name for p in DpkgCataloger().catalog(files).packages}
    assert found <= {n for n, _, _ in entries}


def _apk(entries: list[tuple[str, str, str]]) -> bytes:
    return "".join(f"C:Q1x=\nP:{n}\nV:{v}-r0\nA:x86_64\nF:usr/bin\nR:{n}\n\n" for n, v, _ in entries).encode()


@FAST
@given(stanzas, st.integers(min_value=0))
def test_apk_whole_and_cut_short(entries: list[tuple[str, str, str]], cut: int) -> None:
    data = _apk(entries)
    whole = ApkCataloger().catalog(FileIndex.from_contents({"lib/apk/db/installed": data}))
    assert {(p.name, p.version) for p in whole.packages} == {(n, f"{v}-r0") for n, v, _ in entries}
    part = ApkCataloger().catalog(
        FileIndex.from_contents({"lib/apk/db/installed": data[: cut % (len(data) + 1)]})
    )
    assert {p.name for p in part.packages} <= {n for n, _, _ in entries}


@FAST
@given(st.binary(max_size=4096), st.sampled_from(["rpmdb.sqlite", "Packages", "Packages.db"]))
def test_rpm_garbage_is_an_unknown_never_a_package_or_a_crash(data: bytes, name: str) -> None:
    result = catalog_database(data, f"var/lib/rpm/{name}", None)
    assert not result.packages or result.unknowns is not None
