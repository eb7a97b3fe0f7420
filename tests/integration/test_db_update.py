"""``imagetrust db``: update from a real HTTP server on loopback serving OSV zips built from the shared
data, interrupted downloads, and the import/status/query commands through the CLI entry point."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from imagetrust.audit.vulns.db import AdvisoryDB
from imagetrust.cli.main import main
from imagetrust.errors import ExitCode
from imagetrust.pipeline.db import AdvisoryDownloadError, update
from tests.conftest import shared_data

FEEDS = {
    "PyPI": "vulndb/pypa-advisory-database-vulns.tar.gz",
    "Go": "vulndb/golang-vulndb-data-osv.tar.gz",
    "crates.io": "vulndb/rustsec-advisory-db-osv-branch.tar.gz",
}


def _osv_zip(tarball: str) -> bytes:
    """The shape osv.dev publishes: one JSON document per advisory in a flat zip."""
    buf = io.BytesIO()
    with tarfile.open(shared_data(tarball)) as tar, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if not member.isfile() or not name.endswith((".json", ".yaml")) or name.startswith("."):
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            doc = yaml.load(data, Loader=yaml.CSafeLoader) if name.endswith(".yaml") else json.loads(data)
            if isinstance(doc, dict) and "id" in doc:
                out.writestr(f"{doc['id']}.json", json.dumps(doc, default=str))
    return buf.getvalue()


class _Server:
    def __init__(self, zips: dict[str, bytes]) -> None:
        self.zips = zips
        self.drop_after: int | None = None  # send this many bytes of a body, then close the connection
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                eco = self.path.strip("/").rsplit("/", 1)[0]
                body = server.zips.get(eco)
                if body is None or not self.path.endswith("/all.zip"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.drop_after is not None:
                    self.wfile.write(body[: server.drop_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def osv_server() -> Iterator[_Server]:
    server = _Server({eco: _osv_zip(tarball) for eco, tarball in FEEDS.items()})
    yield server
    server.close()


def _rows(path: Path) -> list[tuple[object, ...]]:
    with AdvisoryDB.open(path) as db:
        return db.snapshot()


def test_update_builds_then_interrupted_update_keeps_the_old_db(
    tmp_path: Path, osv_server: _Server, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path = tmp_path / "cache" / "advisories.sqlite"
    argv = ["db", "--db", str(db_path)]
    rc = main([*argv, "update", "--base-url", osv_server.url, "--ecosystem", "PyPI", "--ecosystem", "Go"])
    assert rc == 0
    assert "downloading" in capsys.readouterr().err  # progress on stderr

    assert main([*argv, "status", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["ecosystems"]["PyPI"] == 2661 and status["ecosystems"]["Go"] == 4291
    assert status["schema"] == 1 and status["age_seconds"] < 600

    assert main([*argv, "query", "pkg:pypi/jinja2@2.10", "--format", "json"]) == 0
    ids = {f["id"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert {"PYSEC-2019-217", "PYSEC-2021-66"} <= ids

    before = _rows(db_path)
    osv_server.drop_after = 100_000  # the server drops the connection mid-download
    try:
        with pytest.raises(AdvisoryDownloadError, match=r"connection|download failed"):
            update(db_path, osv_server.url, ["crates.io", "PyPI"], lambda _: None)
        rc = main([*argv, "update", "--base-url", osv_server.url, "--ecosystem", "crates.io"])
        assert rc == ExitCode.INDETERMINATE
    finally:
        osv_server.drop_after = None
    assert _rows(db_path) == before  # the old database, untouched and still usable
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["advisories.sqlite"]  # no leftovers


def test_update_of_a_missing_feed_fails_closed(tmp_path: Path, osv_server: _Server) -> None:
    with pytest.raises(AdvisoryDownloadError, match="HTTP 404"):
        update(tmp_path / "a.sqlite", osv_server.url, ["NoSuchEcosystem"], lambda _: None)
    assert not (tmp_path / "a.sqlite").exists()


def test_import_status_and_query_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "a.sqlite"
    argv = ["db", "--db", str(db_path)]
    assert main([*argv, "import", str(shared_data(FEEDS["crates.io"]))]) == 0
    before = _rows(db_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.json").write_text(json.dumps({"id": "RUSTSEC-0000-0000", "modified": "x", "affected": []}))
    (bad / "b.json").write_text("{truncated")
    assert main([*argv, "import", str(bad)]) == ExitCode.INDETERMINATE
    assert "b.json" in capsys.readouterr().err
    assert _rows(db_path) == before

    assert main([*argv, "status"]) == 0
    out = capsys.readouterr().out
    assert "schema: 1" in out and "crates.io: 1206" in out
    # a package in an ecosystem with no data is "not checked" (exit 3), never a clean answer
    assert main([*argv, "query", "pkg:npm/lodash@4.17.20"]) == ExitCode.INDETERMINATE
    assert "not checked" in capsys.readouterr().out
    assert main([*argv, "query", "not-a-purl"]) == ExitCode.USAGE
