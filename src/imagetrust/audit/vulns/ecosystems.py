"""One spelling per ecosystem, so ``debian:12``, ``Debian:12`` and a codename land on the same rows."""

from __future__ import annotations

_CANONICAL = {
    name.lower(): name
    for name in (
        "Debian", "Ubuntu", "Alpine", "Wolfi", "Chainguard", "Red Hat", "Rocky Linux", "AlmaLinux",
        "openSUSE", "SUSE", "Mageia", "openEuler", "PyPI", "Go", "crates.io", "Hex", "npm", "Maven",
        "RubyGems", "NuGet", "Packagist", "Pub", "Hackage", "CRAN", "GitHub Actions", "Bitnami",
        "SwiftURL", "Linux", "OSS-Fuzz", "GIT",
    )
}  # fmt: skip
DEBIAN_CODENAMES = {
    "buzz": "1.1", "rex": "1.2", "bo": "1.3", "hamm": "2", "slink": "2.1", "potato": "2.2", "woody": "3.0",
    "sarge": "3.1", "etch": "4", "lenny": "5", "squeeze": "6", "wheezy": "7", "jessie": "8",
    "stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14",
}  # fmt: skip


def normalise(ecosystem: str) -> str:
    """``alpine:3.18`` -> ``Alpine:v3.18``; ``Debian:bookworm`` -> ``Debian:12``; ``pypi`` -> ``PyPI``."""
    base, sep, release = ecosystem.strip().partition(":")
    canonical = _CANONICAL.get(base.strip().lower(), base.strip())
    release = release.strip()
    if not sep or not release:
        return canonical
    if canonical == "Alpine":
        parts = release.lstrip("v").split(".")
        release = "v" + ".".join(parts[:2])
    elif canonical == "Debian":
        release = DEBIAN_CODENAMES.get(release.lower(), release.split(".")[0])
    return f"{canonical}:{release}"


def base(ecosystem: str) -> str:
    return ecosystem.split(":", 1)[0]
