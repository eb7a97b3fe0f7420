"""Fixtures for the hostile-input suite: a misbehaving registry, small images, the CLI run in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from imagetrust.cli.main import main
from imagetrust.registry.repository import close_clients
from tests.security.hostile_registry import HostileRegistry
from tests.support.images import BuiltImage, LayerSpec, build_image


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., CliRun]]:
    """Run ``imagetrust ARGS`` in this process (much faster than a subprocess) and capture its output."""

    def run(*args: str) -> CliRun:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    yield run
    close_clients()


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    server = HostileRegistry()
    try:
        yield server
    finally:
        server.stop()
        close_clients()


def small_image(text: bytes = b"hello") -> BuiltImage:
    """A one-layer image with an os-release and one file, enough for inspect and audit."""
    files = {"etc/os-release": b'ID=debian\nVERSION_ID="12"\n', "srv/data.txt": text}
    return build_image([LayerSpec.from_files(files)])


def assert_closed_failure(run: CliRun, exit_code: int, *needles: str) -> None:
    """The command failed closed: the expected exit code, one error line, no traceback, no document."""
    assert run.code == exit_code, (run.code, run.stderr)
    assert "Traceback" not in run.stderr
    assert "internal error" not in run.stderr, run.stderr
    assert run.stdout == "", "a document was written although the command failed"
    lowered = run.stderr.lower()
    for needle in needles:
        assert needle.lower() in lowered, run.stderr
