"""Our version comparators against osv-scalibr's ground-truth comparison pairs.

The ``*-generated.txt`` files were produced by each ecosystem's own tool (``dpkg --compare-versions``,
``apk version -t``, ``packaging``, Maven's ComparableVersion, PHP, RubyGems) from versions found in real
OSV feeds; the other files are osv-scalibr's hand-written edge cases.  The tarball is read in place.

Each case states how many pairs it must see, which version strings we refuse (``InvalidVersion``) and
which pairs we answer differently on purpose.  Both lists are short and justified below; nothing else
may be refused or disagree, so a regression in any comparator fails here.
"""

from __future__ import annotations

import functools
import tarfile
from dataclasses import dataclass, field

import packaging.version
import pytest

from imagetrust.audit.vulns.versions import registry
from imagetrust.errors import InvalidVersion
from tests.conftest import shared_data

TARBALL = "vulndb/osv-scalibr-version-compare-fixtures.tar.gz"
_OPS = {" < ": -1, " = ": 0, " > ": 1}


@dataclass(frozen=True)
class Case:
    file: str
    comparator: registry.Comparator
    pairs: int
    refused: frozenset[str] = frozenset()
    disagree: frozenset[str] = frozenset()
    refused_by_packaging: bool = False  # PyPI: the refused set is whatever `packaging` itself rejects
    notes: tuple[str, ...] = field(default=())


# apk: strings apk-tools' own apk_version_validate() rejects (leading '.', '..', '.r1', bad '-r',
# unknown suffixes such as the fixture's own typo '_csv', uppercase letters, letters alone).
_APK_REFUSED = frozenset(
    {".1", ".2", "0...1...0", "0...1...0.r1", "0...1...0.r2", "0...1...0r1", "0...1...0r2", "0...1...1",
     "0...8", "0..1..0", "0..1..1", "0..8", "0.8.21.r1", "0.8.21.r2", "0.r1", "1--ruff1", "1-r", "1-r-0",
     "1-r-1", "1-r-2", "1-r0-1", "1-r0-2", "1-r0-ruff1", "1-r0-ruff2", "1-ruff", "1-ruff1", "1-ruff2",
     "1.0bc", "1.2.0A", "1.2.0D", "1.2_blah", "1.2_csv2", "10.2.22.r0", "10.2.24.r0", "23_foo", "a", "b",
     "c"}
)  # fmt: skip
# NuGet versions are four Int32 components; NuGetVersion.TryParse rejects these.
_HUGE = "999999999999999999999999999991"
_HUGE_NUMBERS = frozenset(
    {
        _HUGE,
        "999999999999999999999999999999",
        f"{_HUGE}.{_HUGE}.{_HUGE}",
        f"999999999999999999999999999999.{_HUGE}.{_HUGE}",
    }
)
# Legacy (pre-PEP 440) strings: `packaging` >= 22 and pip refuse them.
_PYPI_LEGACY = frozenset(
    {"-class.-jw.util.version.version-dev", "-class.-jw.util.version.version-pre",
     "-class.-jw.util.version.version-preview", "0.1-bulbasaur", "0.1-charmander", "0.9-doduo", "0.9-eevee",
     "0.9-fearow", "0.9-gyarados", "0.9-horsea", "0.9-ivysaur"}
)  # fmt: skip

CASES = [
    Case("debian-versions-generated.txt", registry.DPKG, 14442),
    Case("debian-versions.txt", registry.DPKG, 30),
    Case("alpine-versions-generated.txt", registry.APK, 13979),
    Case("alpine-versions.txt", registry.APK, 778, refused=_APK_REFUSED),
    Case("redhat-versions.txt", registry.RPM, 165),
    Case("pypi-versions-generated.txt", registry.PEP440, 12375, refused_by_packaging=True),
    Case("pypi-versions.txt", registry.PEP440, 37, refused=_PYPI_LEGACY),
    # Maven's ComparableVersion is not an order: these same generated pairs also say 2.9.0 < 2.9.0-1 and
    # 2.9.0.RC3 < 2.9.0, so with RC1 < RC3 no transitive comparator can agree with all 14,752 pairs.  Ours
    # is total (see maven._cmp_at) and places a '.qualifier' pre-release below the release, as Maven does
    # elsewhere; these three pairs are where Maven's type-only rule (number > list) contradicts that.
    Case(
        "maven-versions-generated.txt",
        registry.MAVEN,
        14752,
        disagree=frozenset(
            {
                "2.9.0-1 < 2.9.0.RC1",
                "1.1.0-01-glassfish < 1.1.0.Beta1",
                "1.0.0-gradle-rework-beta3 < 1.0.0.RC7-3",
            }
        ),
    ),
    # Maven 3.9+ keeps "ga" as a qualifier; the 3.6 rules that reproduce all 14,752 generated pairs drop
    # it as a trailing null, giving [1, [[1]]] > [1, [1]].
    Case("maven-versions.txt", registry.MAVEN, 102, disagree=frozenset({"1-1 = 1-ga-1"})),
    Case("packagist-versions-generated.txt", registry.COMPOSER, 10630),
    # Branch names and '#' parts: PHP's version_compare is not an order on those ("#" equals both 0 and 1),
    # so the Composer comparator refuses them (see composer.validate).
    Case(
        "packagist-versions.txt",
        registry.COMPOSER,
        95,
        refused=frozenset({"dev-foo", "1.2.3.#", "1.2.3.#.1", "1.2.3.#.p3", "1.2.3.#.beta"}),
    ),
    Case("rubygems-versions-generated.txt", registry.RUBYGEMS, 4098),
    # "1beta" does not match Gem::Version's pattern (a letter needs a '.' before it); RubyGems raises.
    Case("rubygems-versions.txt", registry.RUBYGEMS, 25, refused=frozenset({"1beta", "1gamma"})),
    Case("nuget-versions.txt", registry.NUGET, 35, refused=_HUGE_NUMBERS),
    # Not SemVer: one component, or five.
    Case(
        "semver-versions.txt",
        registry.NPM,
        86,
        refused=frozenset({"1.1.3.4.5", _HUGE, "999999999999999999999999999999"}),
    ),
]


@functools.cache
def _fixture_texts() -> dict[str, str]:
    texts: dict[str, str] = {}
    with tarfile.open(shared_data(TARBALL), "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".txt"):
                handle = tar.extractfile(member)
                assert handle is not None
                texts[member.name.rsplit("/", 1)[-1]] = handle.read().decode("utf-8")
    return texts


def _pairs(text: str) -> list[tuple[str, str, str, int]]:
    pairs = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "//")):
            continue
        for op, expected in _OPS.items():
            if op in line:
                a, b = line.split(op)
                pairs.append((line, a, b, expected))
                break
        else:
            raise AssertionError(f"unreadable fixture line {line!r}")
    return pairs


def _packaging_rejects(version: str) -> bool:
    try:
        packaging.version.Version(version)
    except packaging.version.InvalidVersion:
        return True
    return False


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file.removesuffix('.txt')}-{c.pairs}pairs" for c in CASES])
def test_agrees_with_ground_truth(case: Case, record_property: pytest.RecordProperty) -> None:
    pairs = _pairs(_fixture_texts()[case.file])
    assert len(pairs) == case.pairs

    agreed = 0
    refused: set[str] = set()
    refused_pairs = 0
    disagreements: set[str] = set()
    for line, a, b, expected in pairs:
        try:
            got = case.comparator.compare(a, b)
        except InvalidVersion:
            refused_pairs += 1
            for v in (a, b):
                try:
                    case.comparator.validate(v)
                except InvalidVersion:
                    refused.add(v)
            continue
        if (got > 0) - (got < 0) == expected:
            agreed += 1
        else:
            disagreements.add(line)

    record_property("pairs", len(pairs))
    record_property("agreed", agreed)
    record_property("refused_pairs", refused_pairs)
    record_property("disagreed", len(disagreements))
    print(
        f"\n{case.file}: {agreed}/{len(pairs)} agree, {refused_pairs} refused, {len(disagreements)} disagree"
    )

    assert disagreements == set(case.disagree)
    if case.refused_by_packaging:
        everything = {v for _, a, b, _ in pairs for v in (a, b)}
        assert refused == {v for v in everything if _packaging_rejects(v)}
    else:
        assert refused == set(case.refused)
    assert agreed + refused_pairs + len(disagreements) == len(pairs)
