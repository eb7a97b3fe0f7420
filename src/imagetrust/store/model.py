"""Stored values and their JSON forms (the store keeps JSON text so SQLite and PostgreSQL read alike)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from imagetrust.audit.catalog.model import OSRelease, Package
from imagetrust.audit.findings import Finding, FindingKind, Severity
from imagetrust.oci.digest import Digest


@dataclass(frozen=True)
class StoredPackage:
    package: Package
    layer: Digest | None = None


@dataclass(frozen=True)
class AdvisoryState:
    """Which advisories a scan was matched against: ``source/id`` -> modified time (``withdrawn`` marked).

    Two states give the delta a rescan needs: advisories added, changed, withdrawn or removed.
    """

    advisories: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        text = json.dumps(sorted(self.advisories.items()), separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def changed_since(self, older: AdvisoryState) -> tuple[frozenset[str], frozenset[str]]:
        """(present now and new or modified, gone or withdrawn now) as ``source/id`` keys."""
        now, before = self.advisories, older.advisories
        changed = frozenset(k for k, v in now.items() if before.get(k) != v)
        gone = frozenset(k for k in before if k not in now)
        return changed, gone

    def encode(self) -> str:
        raw = json.dumps(dict(sorted(self.advisories.items())), separators=(",", ":")).encode()
        return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> AdvisoryState:
        data = json.loads(zlib.decompress(base64.b64decode(text)))
        return cls({str(k): str(v) for k, v in data.items()})


@dataclass(frozen=True)
class ImageRecord:
    """The latest inventory of one platform image and the findings of its latest scan."""

    digest: Digest
    references: tuple[str, ...]
    platform: str
    distro: OSRelease | None
    packages: tuple[StoredPackage, ...]
    findings: tuple[Finding, ...]
    state: str | None  # fingerprint of the AdvisoryState the vulnerability findings were matched against
    scanned_at: float


@dataclass(frozen=True)
class ImageHead:
    """What rescan needs of a stored image besides its packages."""

    digest: Digest
    references: tuple[str, ...]
    distro: OSRelease | None
    state: str | None
    platform: str = ""
    scanned_at: float = 0.0


@dataclass(frozen=True)
class Event:
    """A change to deliver (``watch``); kept until a delivery succeeded."""

    id: int
    created: float
    kind: str
    payload: Mapping[str, Any]
    attempts: int = 0


def finding_key(finding: Finding) -> tuple[str, str, str, str]:
    return (finding.kind.value, finding.id, finding.package_purl or "", finding.path or "")


def distro_json(distro: OSRelease | None) -> str:
    return json.dumps(asdict(distro) if distro is not None else None)


def distro_from(text: str) -> OSRelease | None:
    data = json.loads(text)
    if data is None:
        return None
    data["id_like"] = tuple(data.get("id_like") or ())
    return OSRelease(**data)


def package_json(p: StoredPackage) -> str:
    row = asdict(p.package)
    row["layer"] = str(p.layer) if p.layer is not None else None
    return json.dumps(row, separators=(",", ":"))


def package_from_json(row: Mapping[str, Any]) -> StoredPackage:
    fields = dict(row)
    layer = fields.pop("layer", None)
    for key in ("licenses", "locations", "files"):
        fields[key] = tuple(fields.get(key) or ())
    return StoredPackage(Package(**fields), Digest.parse(layer) if layer else None)


def finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind.value,
        "id": f.id,
        "severity": f.severity.value,
        "title": f.title,
        "path": f.path,
        "layer": str(f.layer) if f.layer is not None else None,
        "package": f.package_purl,
        "details": [[k, v] for k, v in f.details],
    }


def finding_from_json(d: Mapping[str, Any]) -> Finding:
    return Finding(
        kind=FindingKind(d["kind"]),
        id=str(d["id"]),
        severity=Severity(d["severity"]),
        title=str(d["title"]),
        path=d.get("path"),
        layer=Digest.parse(d["layer"]) if d.get("layer") else None,
        package_purl=d.get("package"),
        details=tuple((str(k), v) for k, v in d.get("details", ())),
    )


def name_keys(package: Package) -> set[str]:
    """Normalised names a package may be looked up under (its own and its source package's)."""
    return row_name_keys({"name": package.name, "source_name": package.source_name})


def row_name_keys(row: Mapping[str, Any]) -> set[str]:
    """``name_keys`` of a stored package row, without building the package."""
    keys = {normalise_name(row["name"])}
    if row.get("source_name"):
        keys.add(normalise_name(row["source_name"]))
    return keys


_SEPARATORS = re.compile(r"[-_.]+")


def normalise_name(name: str) -> str:
    """Lower-case, runs of ``-_.`` as one ``-``: a superset match for every ecosystem's lookup key."""
    return _SEPARATORS.sub("-", name.lower())


def advisory_ids(finding: Finding) -> set[str]:
    """The finding's id and aliases: what ties it to advisories that may later change or vanish."""
    ids = {finding.id}
    aliases = finding.detail("aliases")
    if isinstance(aliases, list | tuple):
        ids |= {a for a in aliases if isinstance(a, str)}
    return ids
