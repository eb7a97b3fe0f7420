"""Which version order each OSV ecosystem uses.

Ecosystem names are OSV's (https://ossf.github.io/osv-schema/#defined-ecosystems).  A release suffix
(``Debian:12``, ``Alpine:v3.20``, ``Red Hat:rhel_aus:8.4::appstream``) does not change the order, so
only the part before the first ``:`` is looked up.  An ecosystem we do not implement raises
:class:`UnsupportedEcosystem` (could-not-check), never a fallback order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imagetrust.audit.vulns.versions import (
    apk,
    composer,
    dpkg,
    golang,
    maven,
    nuget,
    pep440,
    rpm,
    rubygems,
    semver,
)
from imagetrust.errors import UnsupportedEcosystem


@dataclass(frozen=True)
class Comparator:
    """One ecosystem's order: ``compare(a, b)`` is negative, zero or positive; both may raise
    :class:`~imagetrust.errors.InvalidVersion`."""

    scheme: str
    compare: Callable[[str, str], int]

    def validate(self, version: str) -> None:
        """Raise InvalidVersion unless ``version`` parses under this scheme."""
        self.compare(version, version)


DPKG = Comparator("dpkg", dpkg.compare)
APK = Comparator("apk", apk.compare)
RPM = Comparator("rpm", rpm.compare)
PEP440 = Comparator("pep440", pep440.compare)
GO = Comparator("go", golang.compare)
SEMVER = Comparator("semver", semver.compare)
NPM = Comparator("npm", semver.compare_npm)
MAVEN = Comparator("maven", maven.compare)
RUBYGEMS = Comparator("rubygems", rubygems.compare)
NUGET = Comparator("nuget", nuget.compare)
COMPOSER = Comparator("composer", composer.compare)

_BY_ECOSYSTEM: dict[str, Comparator] = {
    "Debian": DPKG,
    "Ubuntu": DPKG,
    "Alpine": APK,
    "Wolfi": APK,
    "Chainguard": APK,
    "Red Hat": RPM,
    "Rocky Linux": RPM,
    "AlmaLinux": RPM,
    "openSUSE": RPM,
    "SUSE": RPM,
    "Mageia": RPM,
    "openEuler": RPM,
    "PyPI": PEP440,
    "Go": GO,
    "crates.io": SEMVER,
    "Hex": SEMVER,
    "npm": NPM,
    "Maven": MAVEN,
    "RubyGems": RUBYGEMS,
    "NuGet": NUGET,
    "Packagist": COMPOSER,
}


def supported_ecosystems() -> frozenset[str]:
    """The OSV ecosystem names (without release suffix) that have a comparator."""
    return frozenset(_BY_ECOSYSTEM)


def comparator_for(ecosystem: str) -> Comparator:
    """The comparator for an OSV ecosystem name such as ``"Debian:12"`` or ``"PyPI"``."""
    base = ecosystem.split(":", 1)[0]
    try:
        return _BY_ECOSYSTEM[base]
    except KeyError:
        shown = ecosystem if len(ecosystem) <= 80 else ecosystem[:80] + "..."
        raise UnsupportedEcosystem(f"no version order is implemented for ecosystem {shown!r}") from None
