"""OSV documents (JSON or YAML) from files, directories, zips and tarballs, parsed into ``Advisory``.

A document that is not an OSV advisory raises ``MalformedContent`` naming the member, so an import is
all-or-nothing rather than silently missing entries.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imagetrust.audit.vulns.ecosystems import normalise
from imagetrust.audit.vulns.model import Advisory, Affected, Event, Range
from imagetrust.audit.vulns.severity import severity_of
from imagetrust.errors import LocalInputError, MalformedContent

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_SUFFIXES = (".json", ".yaml", ".yml")


def _strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise MalformedContent(f"{where}: {what} is not a list of strings")
    return tuple(str(v) for v in value)


def _ratings(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        value = obj.get("severity")
        if isinstance(value, str):
            return [value]
    return []


def _vectors(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [s["score"] for s in value if isinstance(s, dict) and isinstance(s.get("score"), str)]


def _ranges(value: Any, where: str) -> tuple[Range, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedContent(f"{where}: ranges is not a list")
    out = []
    for raw in value:
        if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
            raise MalformedContent(f"{where}: a range has no events list")
        events = []
        for ev in raw["events"]:
            if not isinstance(ev, dict) or len(ev) != 1:
                raise MalformedContent(f"{where}: a range event is not a single key")
            ((kind, version),) = ev.items()
            if kind not in _EVENT_KINDS or not isinstance(version, str | int | float):
                raise MalformedContent(f"{where}: unknown range event {kind!r}")
            events.append(Event(kind, str(version)))
        out.append(Range(str(raw.get("type", "")).upper(), tuple(events)))
    return tuple(out)


def parse_osv(doc: Any, where: str, source: str = "osv") -> Advisory:
    """One OSV advisory; ``where`` names the file for error messages."""
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not doc["id"]:
        raise MalformedContent(f"{where}: not an OSV advisory (no id)")
    affected_raw = doc.get("affected")
    affected_raw = [] if affected_raw is None else affected_raw
    if not isinstance(affected_raw, list):
        raise MalformedContent(f"{where}: affected is not a list")
    vectors = _vectors(doc.get("severity"))
    ratings = _ratings(doc.get("database_specific"))
    affected = []
    for item in affected_raw:
        if not isinstance(item, dict):
            raise MalformedContent(f"{where}: an affected entry is not an object")
        pkg = item.get("package") or {}
        if not isinstance(pkg, dict):
            raise MalformedContent(f"{where}: affected package is not an object")
        vectors += _vectors(item.get("severity"))
        ratings += _ratings(item.get("ecosystem_specific")) + _ratings(item.get("database_specific"))
        eco, name = pkg.get("ecosystem"), pkg.get("name")
        if not isinstance(eco, str) or not isinstance(name, str):
            continue  # a GIT-only entry without a package: nothing a package list can match
        affected.append(
            Affected(
                ecosystem=normalise(eco),
                name=name,
                ranges=_ranges(item.get("ranges"), where),
                versions=_strings(item.get("versions"), "versions", where),
            )
        )
    text = {k: str(doc.get(k) or "") for k in ("modified", "published", "withdrawn", "summary")}
    summary = text["summary"] or str(doc.get("details") or "").strip().split("\n", 1)[0][:200]
    return Advisory(
        id=doc["id"],
        source=source,
        modified=text["modified"],
        published=text["published"],
        withdrawn=text["withdrawn"],
        summary=summary,
        severity=severity_of(vectors, ratings),
        aliases=tuple(sorted(set(_strings(doc.get("aliases"), "aliases", where)) - {doc["id"]})),
        affected=tuple(affected),
    )


def _decode(data: bytes, where: str) -> Any:
    # yaml loads only when a YAML advisory is read: an audit imports this module but never parses one
    import yaml  # type: ignore[import-untyped]

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    try:
        if where.endswith(".json"):
            return json.loads(data)
        return yaml.load(data, Loader=loader)  # noqa: S506 (a safe loader)
    except (ValueError, yaml.YAMLError) as e:
        raise MalformedContent(f"{where}: cannot be parsed: {str(e).splitlines()[0]}") from e


def _wanted(name: str) -> bool:
    leaf = name.rsplit("/", 1)[-1]
    return leaf.endswith(_SUFFIXES) and not leaf.startswith(".")


def iter_documents(path: Path) -> Iterator[tuple[str, Any]]:
    """(member name, decoded document) for every JSON/YAML file under ``path``."""
    try:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and _wanted(child.name):
                    yield str(child), _decode(child.read_bytes(), str(child))
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir() and _wanted(info.filename):
                        where = f"{path}!{info.filename}"
                        yield where, _decode(zf.read(info), where)
        elif path.name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(path) as tar:
                for member in tar:
                    if member.isfile() and _wanted(member.name):
                        handle = tar.extractfile(member)
                        if handle is not None:
                            where = f"{path}!{member.name}"
                            yield where, _decode(handle.read(), where)
        elif path.is_file():
            yield str(path), _decode(path.read_bytes(), str(path))
        else:
            raise LocalInputError(f"{path}: no such advisory file or directory")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise LocalInputError(f"{path}: cannot read advisories: {e}") from e


def load_osv(path: Path) -> Iterator[Advisory]:
    for where, doc in iter_documents(path):
        yield parse_osv(doc, where)
