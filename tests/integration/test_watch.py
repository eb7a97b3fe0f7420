"""`imagetrust watch`: a real OSV bucket and a real webhook receiver on loopback; a failed update and an
unreachable webhook lose no change, and every change is delivered exactly once."""

from __future__ import annotations

import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_rescan import ADVISORIES, audit, db_import, run_cli
from tests.integration.test_rescan import _capture as _capture  # autouse: run_cli reads capsys


class Loopback:
    """One HTTP server on 127.0.0.1: serves OSV zips on GET, records JSON bodies POSTed to it."""

    def __init__(self, zips: dict[str, bytes]) -> None:
        self.zips = zips
        self.posts: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                body = outer.zips.get(self.path.strip("/").split("/")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def do_POST(self) -> None:
                outer.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _osv_zip(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name in names:
            doc = yaml.safe_load((ADVISORIES / f"{name}.yaml").read_text())
            out.writestr(f"{name}.json", json.dumps(doc, default=str))
    return buf.getvalue()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback({"PyPI": _osv_zip("PYSEC-2019-217", "PYSEC-2021-66")})
    yield server
    server.close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_update_brings_a_new_advisory_and_the_change_is_posted(loopback: Loopback, tmp_path: Path) -> None:
    store, db, log = str(tmp_path / "inv.sqlite"), tmp_path / "adv.sqlite", tmp_path / "watch.log"
    db_import(db, ADVISORIES / "PYSEC-2019-217.yaml")
    digest = audit(store, db)["images"][0]["digest"]
    done = run_cli(
        "watch", "--once", "--store", store, "--db", str(db), "--base-url", loopback.url,
        "--ecosystem", "PyPI", "--webhook", f"{loopback.url}/hook", "--log-file", str(log),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    kinds = [e["event"] for e in events(log)]
    assert kinds == ["db_updated", "rescan", "findings_changed", "delivered"]
    [post] = loopback.posts
    assert post["event"]["digest"] == digest and [f["id"] for f in post["event"]["new"]] == ["PYSEC-2021-66"]
    assert "PYSEC-2021-66" in post["text"] and "1 new finding" in post["text"]


def test_failed_update_and_unreachable_webhook_lose_nothing(loopback: Loopback, tmp_path: Path) -> None:
    store, db, log = str(tmp_path / "inv.sqlite"), tmp_path / "adv.sqlite", tmp_path / "watch.log"
    db_import(db, ADVISORIES / "PYSEC-2019-217.yaml")
    audit(store, db)
    db_import(db, ADVISORIES / "PYSEC-2021-66.yaml")  # arrives by hand; the feed itself is down
    down = _closed_port_url()
    common = ["--store", store, "--db", str(db), "--base-url", down, "--ecosystem", "PyPI"]
    common += ["--log-file", str(log), "--retry-backoff", "0.01"]
    first = run_cli("watch", *common, "--cycles", "2", "--interval", "0.01", "--webhook", f"{down}/hook")
    assert first.returncode == 0, first.stderr
    kinds = [e["event"] for e in events(log)]
    assert kinds.count("update_failed") == 2 and kinds.count("rescan") == 2
    assert kinds.count("findings_changed") == 1 and kinds.count("delivery_failed") == 2  # kept, retried
    assert "delivered" not in kinds
    assert db.is_file()  # the failed update left the database in place

    again = run_cli("watch", "--once", *common, "--webhook", f"{loopback.url}/hook")
    assert again.returncode == 0, again.stderr
    [post] = loopback.posts
    assert [f["id"] for f in post["event"]["new"]] == ["PYSEC-2021-66"]
    third = run_cli("watch", "--once", *common, "--webhook", f"{loopback.url}/hook")
    assert third.returncode == 0 and len(loopback.posts) == 1  # delivered exactly once


def test_once_with_no_advisory_database_is_could_not_check(tmp_path: Path) -> None:
    done = run_cli(
        "watch", "--once", "--no-update", "--store", str(tmp_path / "s.sqlite"), "--db",
        str(tmp_path / "missing.sqlite"), "--log-file", str(tmp_path / "log"),
    )  # fmt: skip
    assert done.returncode == 3
    assert [e["event"] for e in events(tmp_path / "log")] == ["rescan_failed"]
