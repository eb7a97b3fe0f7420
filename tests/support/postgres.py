"""A real PostgreSQL server (Debian's postgresql 15) for tests: initdb + pg_ctl on a Unix socket.

PostgreSQL refuses to run as root, so as root the cluster is owned by ``nobody`` and its commands run
through ``runuser``.  Authentication is ``trust`` on the socket only (no TCP listener).
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PORT = 54329


@dataclass
class PostgresServer:
    root: Path
    user: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@/postgres?host={self.root}&port={PORT}"

    def database_url(self, name: str) -> str:
        return f"postgresql://{self.user}@/{name}?host={self.root}&port={PORT}"

    def create_database(self, name: str) -> str:
        _run(self.user, [str(PG_BIN / "createdb"), "-h", str(self.root), "-p", str(PORT), name])
        return self.database_url(name)

    def stop(self) -> None:
        _run(self.user, [str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


def _run(user: str, argv: list[str]) -> None:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", user, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")


def start_postgres() -> PostgresServer:
    """initdb and start a throwaway cluster; fails the test (not skips) when PostgreSQL is missing."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"{PG_BIN}/initdb not found: install Debian's postgresql (scripts/fetch-tools.sh)")
    root = Path(tempfile.mkdtemp(prefix="imagetrust-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        user = "nobody"
        shutil.chown(root, user=user)
        root.chmod(0o755)
    else:
        user = getpass.getuser()
    try:
        return _start(root, user)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _start(root: Path, user: str) -> PostgresServer:
    data = root / "data"
    _run(
        user, [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync", "-E", "UTF8"]
    )
    options = f"-k {root} -c listen_addresses='' -p {PORT} -c fsync=off"
    _run(
        user, [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"]
    )
    return PostgresServer(root, user)
