"""PHP Composer packages: ``vendor/composer/installed.json`` (Composer 1 list, Composer 2 object) and
``composer.lock``, which adds only what is not installed under the same project's ``vendor``."""

from __future__ import annotations

from typing import Any

from imagetrust.audit.catalog._lang import Unreadable, load_json, parent, read, text, unknown
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import FileIndex, Unknown

INSTALLED = "vendor/composer/installed.json"
LOCK = "composer.lock"


def composer_purl(name: str, version: str) -> str:
    vendor, _, project = name.rpartition("/")
    return make_purl("composer", vendor or None, project, version, {})


class ComposerCataloger:
    name = "php-composer"

    def wanted(self, path: str) -> bool:
        return path in (INSTALLED, LOCK) or path.endswith(("/" + INSTALLED, "/" + LOCK))

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        installed: set[tuple[str, str, str]] = set()
        paths = sorted(p for p in files.live if self.wanted(p))
        for path in sorted(paths, key=lambda p: not p.endswith(INSTALLED)):  # installed.json first
            project = path[: -len(INSTALLED)].rstrip("/") if path.endswith(INSTALLED) else parent(path)
            try:
                doc = load_json(read(files, path, "composer metadata"), path.rsplit("/", 1)[-1])
                entries = _entries(doc, path.endswith(LOCK))
            except Unreadable as e:
                unknowns.append(unknown(path, e))
                continue
            for item in entries:
                name, version = text(item.get("name")), text(item.get("version"))
                if not name or not version:
                    unknowns.append(Unknown(path, "composer package without name or version"))
                    continue
                if (project, name, version) in installed:
                    continue
                installed.add((project, name, version))
                packages.append(
                    Package(
                        name,
                        version,
                        "composer",
                        composer_purl(name, version),
                        licenses=_licenses(item.get("license")),
                        locations=(path,),
                    )
                )
        return CatalogResult(tuple(packages), tuple(unknowns))


def _entries(doc: Any, lock: bool) -> list[dict[str, Any]]:
    if lock:
        if not isinstance(doc, dict):
            raise Unreadable("composer.lock is not a JSON object")
        items = [*(doc.get("packages") or []), *(doc.get("packages-dev") or [])]
    elif isinstance(doc, list):  # Composer 1
        items = doc
    elif isinstance(doc, dict) and isinstance(doc.get("packages"), list):  # Composer 2
        items = doc["packages"]
    else:
        raise Unreadable("installed.json is neither a package list nor an object with packages")
    return [i for i in items if isinstance(i, dict)]


def _licenses(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(v.strip() for v in value if isinstance(v, str) and v.strip())
