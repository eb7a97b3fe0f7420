"""Shared pytest configuration: where the real tools and the shared data live."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOLS_BIN = REPO / "tools" / "bin"
SHARED = Path(os.environ.get("IMAGETRUST_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"


def tool_path(name: str) -> Path:
    """Path to a peer tool fetched by scripts/fetch-tools.sh; skips (or fails in CI) when absent.

    With IMAGETRUST_REQUIRE_TOOLS=1 (set by `make test`), a missing tool is a test failure, never a skip,
    so CI cannot go green without running the interop and registry tests.
    """
    candidate = TOOLS_BIN / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    message = f"{name} not found in {TOOLS_BIN}: run `bash scripts/fetch-tools.sh`"
    if os.environ.get("IMAGETRUST_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def shared_data(relative: str) -> Path:
    """A path under ../shared/data; skips where it is absent (a user's clone), fails in CI."""
    path = SHARED_DATA / relative
    if path.exists():
        return path
    message = f"{path} not found: ../shared/data is needed for this test"
    if os.environ.get("IMAGETRUST_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


# ClamAV's 44 test files (each wraps the 544-byte test program clam.exe) and that program's digest.
CLAM_EXE_SHA256 = "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495"


@pytest.fixture(scope="session")
def clamav_testfiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of ClamAV's test files, unpacked once per run from the Debian package in ../shared."""
    root = tmp_path_factory.mktemp("clamav-testfiles")
    package = shared_data("malware/clamav-testfiles_1.4.6+dfsg-0+deb12u1_all.deb")
    subprocess.run(["dpkg", "-x", str(package), str(root)], check=True)
    return root / "usr/share/clamav-testfiles"


@pytest.fixture(scope="session", autouse=True)
def _inventory_store_outside_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``audit`` and ``check`` record into the inventory store by default: keep test runs (and the CLI
    subprocesses they start) out of the user's data directory."""
    before = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data-home"))
    yield
    if before is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = before
