"""Class G (fail-open) and D (pinned RFC 3161 library): outcomes that must never read as a pass."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version

import pytest
from packaging.version import Version

from tests.security.conftest import CliRun, small_image
from tests.security.hostile_registry import HostileRegistry

Cli = Callable[..., CliRun]


def test_a_crash_is_exit_3_never_exit_0(
    cli: Cli, hostile: HostileRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gitsign CVE-2026-44310 / GHSA-7c37-gx6w-8vc5: a panic exited 0.  Any unexpected exception here is
    'could not check' (exit 3) with one line on stderr, and no document."""
    hostile.put_image(small_image())

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr("imagetrust.cli.inspect_cmd.inspect_image", explode)
    run = cli("inspect", "--format", "json", "--no-cache", hostile.ref("v1"))
    assert run.code == 3
    assert run.stdout == ""
    assert "internal error" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_rfc3161_client_has_the_timestamp_fixes() -> None:
    """rfc3161-client (sigstore-python's TSA dependency) before 1.0.3 skipped signature checks on the
    timestamp response and before 1.0.6 picked the wrong leaf certificate (GHSA-3xxc-pwj6-jgrj)."""
    assert Version(version("rfc3161-client")) >= Version("1.0.6")
