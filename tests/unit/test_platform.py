"""Platforms: parsing, the matching rules used to pick an index entry, and the host's platform."""

from __future__ import annotations

import platform as host_platform

import pytest

from imagetrust.errors import UsageError
from imagetrust.oci.platform import Platform


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
        ("linux/arm/v7", Platform("linux", "arm", "v7")),
        (" windows/amd64 ", Platform("windows", "amd64")),
    ],
)
def test_parse(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected
    assert Platform.parse(str(expected)) == expected


@pytest.mark.parametrize(
    "text", ["", "linux", "linux/", "/amd64", "linux//v7", "linux/arm/v7/x", "linux/amd64/"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="invalid platform"):
        Platform.parse(text)


@pytest.mark.parametrize(
    ("wanted", "entry", "matches"),
    [
        ("linux/amd64", "linux/amd64", True),
        ("linux/amd64", "linux/arm64", False),
        ("linux/amd64", "windows/amd64", False),
        ("linux/arm", "linux/arm/v6", True),  # no variant asked: any variant will do
        ("linux/arm/v7", "linux/arm/v7", True),
        ("linux/arm/v7", "linux/arm/v6", False),
        ("linux/arm/v6", "linux/arm/v7", False),
        ("linux/arm/v7", "linux/arm", True),  # an arm entry without a variant is v7 (containerd)
        ("linux/arm/v6", "linux/arm", False),
        ("linux/arm/7", "linux/arm/v7", True),
        ("linux/arm64/v8", "linux/arm64", True),  # arm64 means v8
        ("linux/arm64", "linux/arm64/v8", True),
        ("linux/arm64/v8", "linux/arm64/v8", True),
        ("linux/arm64/v8", "linux/arm64/v9", False),
        ("linux/arm64/v9", "linux/arm64", False),
        ("linux/amd64/v3", "linux/amd64", False),
        ("linux/amd64/v3", "linux/amd64/v3", True),
    ],
)
def test_matches(wanted: str, entry: str, matches: bool) -> None:
    assert Platform.parse(wanted).matches(Platform.parse(entry)) is matches


def test_host_is_linux_and_normalised() -> None:
    here = Platform.host()
    assert here.os == "linux"
    machine = host_platform.machine().lower()
    expected = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if expected is not None:
        assert (here.architecture, here.variant) == (expected, None)
    assert here.matches(here)
    assert Platform.parse(str(here)) == here
