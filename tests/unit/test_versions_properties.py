"""Every comparator is a total order on the strings it accepts (hypothesis), and dpkg's matches dpkg."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from imagetrust.audit.vulns.versions import registry
from imagetrust.errors import InvalidVersion
from tests.conftest import tool_path

# Alphabets biased towards each scheme's meaningful characters, so most draws parse.
_ALPHABETS = {
    "dpkg": ("0123456789", ".+~-:ab"),
    "apk": ("0123456789", "._-rpabc~f"),
    "rpm": ("0123456789", ".~^-_:ab"),
    "pep440": ("0123456789", ".!+abrcdevpostl"),
    "go": ("0123456789", ".-+vab"),
    "semver": ("0123456789", ".-+ab"),
    "npm": ("0123456789", ".-+vab"),
    "maven": ("0123456789", ".-abmrcspg"),
    "rubygems": ("0123456789", ".-abpre"),
    "nuget": ("0123456789", ".-+aB"),
    "composer": ("0123456789", ".-_vpbladevRC#"),
}
COMPARATORS = [
    registry.DPKG,
    registry.APK,
    registry.RPM,
    registry.PEP440,
    registry.GO,
    registry.SEMVER,
    registry.NPM,
    registry.MAVEN,
    registry.RUBYGEMS,
    registry.NUGET,
    registry.COMPOSER,
]


_NUMBER = st.sampled_from(["0", "1", "2", "10", "01"])
_IDENT = st.sampled_from(["0", "1", "11", "a", "b", "rc", "alpha", "x-y", "A"])


@st.composite
def _semver_like(draw: st.DrawFn, prefix: str) -> str:
    """MAJOR.MINOR.PATCH[-pre][+build], with a little invalid noise (leading zeros)."""
    core = ".".join(draw(st.lists(_NUMBER, min_size=3, max_size=3)))
    pre = draw(st.lists(_IDENT, max_size=3))
    build = draw(st.lists(_IDENT, max_size=2))
    text = draw(st.sampled_from(["", prefix])) + core
    if pre:
        text += "-" + ".".join(pre)
    if build:
        text += "+" + ".".join(build)
    return text


def _versions(scheme: str) -> st.SearchStrategy[str]:
    if scheme in ("semver", "npm", "go", "nuget"):
        return _semver_like("v")
    digits, other = _ALPHABETS[scheme]
    chunk = st.one_of(st.text(digits, min_size=1, max_size=3), st.text(other, min_size=1, max_size=2))
    return st.lists(chunk, min_size=1, max_size=6).map("".join)


def _valid(comparator: registry.Comparator, v: str) -> bool:
    try:
        comparator.validate(v)
    except InvalidVersion:
        return False
    return True


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@pytest.mark.parametrize("comparator", COMPARATORS, ids=[c.scheme for c in COMPARATORS])
def test_total_order(comparator: registry.Comparator) -> None:
    strategy = _versions(comparator.scheme)

    @_SETTINGS
    @given(st.lists(strategy, min_size=3, max_size=3))
    def check(triple: list[str]) -> None:
        valid = [v for v in triple if _valid(comparator, v)]
        assume(valid)
        for a in valid:
            assert comparator.compare(a, a) == 0
            for b in valid:
                assert _sign(comparator.compare(a, b)) == -_sign(comparator.compare(b, a))
                for c in valid:
                    if comparator.compare(a, b) <= 0 and comparator.compare(b, c) <= 0:
                        assert comparator.compare(a, c) <= 0, (a, b, c)

    check()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(_versions("dpkg"), _versions("dpkg"))
def test_dpkg_agrees_with_dpkg_binary(a: str, b: str) -> None:
    assume(_valid(registry.DPKG, a) and _valid(registry.DPKG, b))
    assume(a[0].isdigit() or ":" in a)  # keep to versions dpkg accepts without a warning
    assume(b[0].isdigit() or ":" in b)
    dpkg = tool_path("dpkg")
    ours = _sign(registry.DPKG.compare(a, b))
    for op, expected in (("lt", ours < 0), ("eq", ours == 0), ("gt", ours > 0)):
        proc = subprocess.run([dpkg, "--compare-versions", a, op, b], capture_output=True, check=False)
        if proc.stderr:
            return  # dpkg warned (e.g. upstream not starting with a digit after the epoch): not comparable
        assert (proc.returncode == 0) == expected, (a, op, b)
