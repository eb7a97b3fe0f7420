"""Tricky cases per ecosystem, each one a rule a naive comparator gets wrong."""

from __future__ import annotations

import pytest

from imagetrust.audit.vulns.versions import comparator_for, registry
from imagetrust.errors import CouldNotCheck, InvalidVersion, UnsupportedEcosystem

LESS = [
    # dpkg: '~' before everything, even the end; epoch dominates; revision compared last
    ("Debian", "1.0~rc1", "1.0"),
    ("Debian", "1.0~~", "1.0~"),
    ("Debian", "9:1.0", "10:0.1"),
    ("Debian", "2.0", "1:0.1"),
    ("Ubuntu:22.04:LTS", "1.2.3-1~deb7u1", "1.2.3-1"),
    ("Debian", "1.0", "1.0a"),
    ("Debian", "1.0a", "1.0+"),
    # apk
    ("Alpine:v3.20", "1.2_rc1", "1.2"),
    ("Alpine", "1.2", "1.2_p1"),
    ("Alpine", "1.2_svn1", "1.2_git1"),
    ("Alpine", "1.2", "1.2-r1"),
    ("Alpine", "1.2a", "1.2.1"),
    ("Alpine", "0.1.0_alpha_pre2", "0.1.0_alpha"),
    ("Alpine", "1.0~abc", "1.0~abd"),
    ("Alpine", "6.6.2_p1", "6.6.2p1"),
    # rpm
    ("Red Hat:enterprise_linux:9", "1.0~rc1", "1.0"),
    ("Rocky Linux", "1.0", "1.0^git1"),
    ("AlmaLinux", "1.0^git1", "1.01"),
    ("SUSE", "1.0a", "1.0.1"),
    ("openSUSE", "1-1", "1-1.1"),
    ("Red Hat", "1.0", "1.0-1"),
    ("Red Hat", "3:1.0", "4:0.1"),
    # PEP 440
    ("PyPI", "1.0.dev0", "1.0a0"),
    ("PyPI", "1.0", "1.0.post1"),
    ("PyPI", "1.0", "1.0+local"),
    ("PyPI", "2.0", "1!1.0"),
    # SemVer
    ("crates.io", "1.0.0-alpha.1", "1.0.0-alpha.beta"),
    ("npm", "1.0.0-beta.2", "1.0.0-beta.11"),
    ("npm", "v1.0.0-rc.1", "1.0.0"),
    ("Hex", "1.9.0", "1.10.0"),
    # Go
    ("Go", "v0.0.0-20191109021931-daa7c04131f5", "v0.0.1"),
    ("Go", "1.2.3", "v1.2.4-0.20200101000000-abcdefabcdef"),
    ("Go", "v1", "v1.0.1"),
    # Maven
    ("Maven", "1.0-alpha-1", "1.0-beta-1"),
    ("Maven", "1.0-SNAPSHOT", "1.0"),
    ("Maven", "1.0", "1.0-sp"),
    ("Maven", "1.0-sp", "1.0-1"),
    ("Maven", "1.0-rc1", "1.0-snapshot"),
    ("Maven", "1.0.0", "1.0-xyz"),
    # RubyGems
    ("RubyGems", "1.2.4.beta", "1.2.4"),
    ("RubyGems", "1.0.a9", "1.0.a10"),
    ("RubyGems", "3.2", "3.10"),
    # NuGet
    ("NuGet", "1.0.0-BETA", "1.0.0-beta2"),
    ("NuGet", "1.0.0", "1.0.0.1-alpha"),
    ("NuGet", "1.0.0-beta.9", "1.0.0-beta.a"),
    # Composer
    ("Packagist", "1.0-dev", "1.0a1"),
    ("Packagist", "1.0RC1", "1.0"),
    ("Packagist", "1.0", "1.0pl1"),
    ("Packagist", "v4.1.0-BETA2", "v4.1.0-BETA3"),
]

EQUAL = [
    ("Debian", "0:1.0", "1.0"),
    ("Debian", "1.0-0", "1.0"),
    ("Alpine", "1-r1", "1-r01"),
    ("Red Hat", "1.0", "1_0"),
    ("Red Hat", "01:2", "1:2"),
    ("PyPI", "1.0RC1", "1.0rc1"),
    ("PyPI", "1.0-1", "1.0.post1"),
    ("crates.io", "1.2.3+a", "1.2.3+b"),
    ("Go", "v1.2.3+incompatible", "v1.2.3"),
    ("Maven", "1", "1.0.0"),
    ("Maven", "1ga", "1-final"),
    ("Maven", "1cr", "1rc"),
    ("Maven", "1a1", "1-alpha-1"),
    ("RubyGems", "1.0.a2", "1.0.a.2"),
    ("RubyGems", "1.0.0", "1"),
    ("NuGet", "1.0", "1.0.0.0"),
    ("NuGet", "1.0.0-BETA+AA", "1.0.0-beta"),
    ("Packagist", "1.0.0rc2", "1.0.0.rc2"),
    ("Packagist", "v1.0.0", "V1.0.0"),
]

INVALID = [
    ("Debian", ""),
    ("Debian", "a:1.0"),
    ("Debian", "1:"),
    ("Debian", "1.0-"),
    ("Debian", "1.0 beta"),
    ("Debian", "1.0_1"),
    ("Debian", "99999999999:1.0"),
    ("Alpine", "1.2_blah"),
    ("Alpine", "1.0-1"),
    ("Alpine", "1.2A"),
    ("Alpine", ".1"),
    ("Red Hat", ""),
    ("Red Hat", "1.0\n"),
    ("PyPI", "0.9-doduo"),
    ("PyPI", " 1.0"),
    ("crates.io", "v1.0.0"),
    ("crates.io", "1.0"),
    ("crates.io", "01.0.0"),
    ("npm", "1.0.0-01"),
    ("Go", "v1.2-pre"),
    ("Go", "v1.02.3"),
    ("RubyGems", "1beta"),
    ("NuGet", "v1.0"),
    ("NuGet", "1.0.0.0.0"),
    ("NuGet", "99999999999.0"),
    ("Packagist", "dev-main"),
    ("Packagist", "1.2.3.#"),
    ("Maven", ""),
]


@pytest.mark.parametrize(("ecosystem", "a", "b"), LESS)
def test_less(ecosystem: str, a: str, b: str) -> None:
    cmp = comparator_for(ecosystem)
    assert cmp.compare(a, b) < 0
    assert cmp.compare(b, a) > 0


@pytest.mark.parametrize(("ecosystem", "a", "b"), EQUAL)
def test_equal(ecosystem: str, a: str, b: str) -> None:
    cmp = comparator_for(ecosystem)
    assert cmp.compare(a, b) == 0
    assert cmp.compare(b, a) == 0


@pytest.mark.parametrize(("ecosystem", "version"), INVALID)
def test_invalid_is_refused_not_guessed(ecosystem: str, version: str) -> None:
    cmp = comparator_for(ecosystem)
    with pytest.raises(InvalidVersion) as info:
        cmp.compare(version, version)
    assert isinstance(info.value, CouldNotCheck)
    assert "\n" not in info.value.diagnostics()


def test_huge_numbers_compare_exactly_without_int_conversion() -> None:
    big, bigger = "9" * 5000, "1" + "0" * 5000
    assert comparator_for("Debian").compare(f"1.{big}", f"1.{bigger}") < 0
    assert comparator_for("Red Hat").compare(big, bigger) < 0
    assert comparator_for("Maven").compare(big, bigger) < 0
    assert comparator_for("crates.io").compare(f"1.0.{big}", f"1.0.{bigger}") < 0


def test_long_version_is_cut_in_the_message() -> None:
    with pytest.raises(InvalidVersion) as info:
        comparator_for("NuGet").validate("x" * 10_000)
    assert len(info.value.diagnostics()) < 200


def test_registry_names_and_unknown_ecosystem() -> None:
    assert comparator_for("Debian:12") is registry.DPKG
    assert comparator_for("Alpine:v3.19") is registry.APK
    assert comparator_for("Red Hat:rhel_aus:8.4::appstream") is registry.RPM
    assert "PyPI" in registry.supported_ecosystems()
    with pytest.raises(UnsupportedEcosystem):
        comparator_for("Pub")
