"""Real cosign (2.x and 3.x binaries from tools/bin) as the integration tests drive it.

Key pairs, signatures and attestations are written by the real tool into the real registry, so the tests
check what cosign produces rather than our idea of it.  Every call runs in the key directory with
``DOCKER_CONFIG`` pointing there, so no user configuration leaks in; the key password is a test value.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tool_path

PASSWORD = "test-only"


def cosign(
    binary: str, *args: str, cwd: Path, password: str = PASSWORD, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``binary`` (``cosign2`` or ``cosign3``) in ``cwd``; the caller judges the outcome."""
    return subprocess.run(
        [str(tool_path(binary)), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
        env={**os.environ, "COSIGN_PASSWORD": password, "DOCKER_CONFIG": str(cwd), **(env or {})},
    )


def cosign_ok(
    binary: str, *args: str, cwd: Path, password: str = PASSWORD, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run cosign and require success (the failure shows cosign's own stderr)."""
    done = cosign(binary, *args, cwd=cwd, password=password, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def generate_key_pair(directory: Path, *, password: str = PASSWORD) -> Path:
    """``cosign.key`` and ``cosign.pub`` in ``directory`` (returned)."""
    cosign_ok("cosign2", "generate-key-pair", cwd=directory, password=password)
    assert (directory / "cosign.key").exists() and (directory / "cosign.pub").exists()
    return directory


def sign(
    keydir: Path,
    ref: str,
    *extra: str,
    binary: str = "cosign2",
    password: str = PASSWORD,
    env: Mapping[str, str] | None = None,
) -> None:
    """Sign ``ref`` with ``keydir/cosign.key``, no transparency log upload."""
    args = ("sign", "--key", "cosign.key", "--tlog-upload=false", "-y", *extra, ref)
    cosign_ok(binary, *args, cwd=keydir, password=password, env=env)


def attest(
    keydir: Path,
    ref: str,
    predicate: Mapping[str, Any] | Path,
    type_: str,
    *extra: str,
    binary: str = "cosign2",
    password: str = PASSWORD,
) -> None:
    """Attest ``ref`` with ``keydir/cosign.key``: a predicate given as data is written to
    ``keydir/predicate.json`` first."""
    if not isinstance(predicate, Path):
        path = keydir / "predicate.json"
        path.write_text(json.dumps(predicate))
        predicate = path
    args = ("attest", "--key", "cosign.key", "--tlog-upload=false", "-y", "--type", type_, *extra)
    cosign_ok(binary, *args, "--predicate", str(predicate), ref, cwd=keydir, password=password)


@dataclass(frozen=True)
class Keys:
    """Two unrelated cosign key pairs: ``a`` signs, ``b`` is the wrong key."""

    a: Path  # directory with cosign.key / cosign.pub
    b: Path

    @property
    def pub_a(self) -> str:
        return str(self.a / "cosign.pub")

    @property
    def pub_b(self) -> str:
        return str(self.b / "cosign.pub")

    @classmethod
    def generate(cls, tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Keys:
        a, b = tmp_path_factory.mktemp(f"{prefix}-a"), tmp_path_factory.mktemp(f"{prefix}-b")
        return cls(generate_key_pair(a), generate_key_pair(b))
