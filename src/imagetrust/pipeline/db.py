"""``imagetrust db``: build, refresh, describe and query the advisory database.

``update`` downloads every ecosystem's OSV zip into a new file beside the current database and swaps it
in with one rename only when all of it imported, so an interrupted update leaves the old one usable.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args
from urllib.parse import quote, unquote

from imagetrust.audit.catalog.model import OSRelease, Package, PackageType
from imagetrust.audit.findings import Finding
from imagetrust.audit.vulns.db import AdvisoryDB, Status
from imagetrust.audit.vulns.match import Skipped, match_packages
from imagetrust.audit.vulns.model import Advisory
from imagetrust.audit.vulns.sources import load_advisories
from imagetrust.errors import CouldNotCheck, UsageError
from imagetrust.registry.cache import default_cache_dir

DEFAULT_BASE_URL = "https://osv-vulnerabilities.storage.googleapis.com"
DEFAULT_ECOSYSTEMS = (
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
    "Debian",
    "Alpine",
)
_CHUNK = 1 << 16

Progress = Callable[[str], None]


class AdvisoryDownloadError(CouldNotCheck):
    """An advisory feed could not be downloaded completely."""


def default_db_path() -> Path:
    return default_cache_dir() / "advisories.sqlite"


def import_paths(db_path: Path, paths: Sequence[Path], progress: Progress) -> int:
    """Import every file into the database (created if missing); all of it or none of it."""
    with AdvisoryDB.open_or_create(db_path) as db:

        def everything() -> Iterator[Advisory]:
            for path in paths:
                progress(f"importing {path}")
                yield from load_advisories(path)

        return db.import_advisories(everything(), ",".join(str(p) for p in paths))


def _download(url: str, dest: Path, progress: Progress, timeout: float) -> None:
    import requests  # only `db update` downloads; importing it costs every audit about 0.1 s

    try:
        with requests.get(url, stream=True, timeout=timeout) as resp:
            if resp.status_code != 200:
                raise AdvisoryDownloadError(f"{url}: HTTP {resp.status_code}")
            expected = int(resp.headers.get("Content-Length") or 0)
            done = 0
            last = 0.0
            with dest.open("wb") as out:
                for chunk in resp.iter_content(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if time.monotonic() - last > 0.5:
                        last = time.monotonic()
                        progress(
                            f"{url}: {done >> 10} KiB" + (f" of {expected >> 10} KiB" if expected else "")
                        )
            if expected and done != expected:
                raise AdvisoryDownloadError(f"{url}: connection ended after {done} of {expected} bytes")
    except requests.RequestException as e:
        raise AdvisoryDownloadError(f"{url}: download failed: {e}") from e


def update(
    db_path: Path, base_url: str, ecosystems: Sequence[str], progress: Progress, timeout: float = 60.0
) -> int:
    """Download ``<base>/<Ecosystem>/all.zip`` for each ecosystem into a new database, then swap it in."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".advisories-update-", dir=db_path.parent))
    new_db = workdir / "advisories.sqlite"
    try:
        zips: list[Path] = []
        for eco in ecosystems:
            url = f"{base_url.rstrip('/')}/{quote(eco)}/all.zip"
            dest = workdir / f"{len(zips)}.zip"
            progress(f"downloading {url}")
            _download(url, dest, progress, timeout)
            zips.append(dest)
        with AdvisoryDB.create(new_db) as db:
            count = 0
            for eco, zip_path in zip(ecosystems, zips, strict=True):
                progress(f"importing {eco}")
                count += db.import_advisories(load_advisories(zip_path), f"{base_url}/{eco}/all.zip")
        new_db.replace(db_path)
        progress(f"{db_path}: {count} advisories")
        return count
    finally:
        for leftover in workdir.iterdir():
            leftover.unlink()
        workdir.rmdir()


def status(db_path: Path) -> Status:
    with AdvisoryDB.open(db_path) as db:
        return db.status()


_ECOSYSTEM_TYPES = frozenset(get_args(PackageType))


def package_from_purl(purl: str) -> tuple[Package, OSRelease | None]:
    """A ``Package`` (and its distro, from the ``distro`` qualifier) from ``pkg:TYPE/NAME@VERSION``."""
    text = purl.strip()
    if not text.startswith("pkg:") or "@" not in text:
        raise UsageError(f"{purl!r} is not a package URL with a version (pkg:TYPE/NAME@VERSION)")
    body, _, qualifiers = text[4:].partition("?")
    body = body.split("#", 1)[0]
    path, _, version = body.rpartition("@")
    ptype, _, name_path = path.partition("/")
    if ptype not in _ECOSYSTEM_TYPES or not name_path or not version:
        raise UsageError(f"{purl!r}: unsupported package type {ptype!r} or missing name/version")
    parts = [unquote(p) for p in name_path.split("/")]
    name = ":".join(parts) if ptype == "maven" else "/".join(parts)
    quals = dict(q.partition("=")[::2] for q in qualifiers.split("&") if q)
    distro = None
    if "distro" in quals:
        dist_id, _, dist_version = unquote(quals["distro"]).partition("-")
        distro = OSRelease(id=dist_id, version_id=dist_version or None)
    source_name = unquote(quals["upstream"]).split("@", 1)[0] if "upstream" in quals else None
    pkg = Package(
        name=parts[-1] if ptype in ("deb", "apk", "rpm") else name,
        version=unquote(version),
        type=ptype,  # type: ignore[arg-type]
        purl=text,
        source_name=source_name,
    )
    return pkg, distro


@dataclass(frozen=True)
class QueryResult:
    package: Package
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]


def query(db_path: Path, purl: str) -> QueryResult:
    pkg, distro = package_from_purl(purl)
    with AdvisoryDB.open(db_path) as db:
        findings, skipped = match_packages([pkg], db, distro)
    return QueryResult(pkg, tuple(findings), tuple(skipped))
