"""npm packages: installed ``node_modules/**/package.json``, and lockfiles at an application root.

A lockfile only adds what is not installed beside it: when ``node_modules`` holds the package, the
installed ``package.json`` is the truth and the lockfile entry would be a second report of it.
"""

from __future__ import annotations

import re
from typing import Any

from imagetrust.audit.catalog._lang import Unreadable, load_json, parent, read, text, unknown
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import FileIndex, Unknown

_NM = "node_modules/"
_LOCKFILES = ("package-lock.json", "yarn.lock")
_YARN_KEY = re.compile(r'^"?((?:@[^@/\s"]+/)?[^@\s",]+)@')
_YARN_VERSION = re.compile(r'^\s+version:?\s+"?([^"\s]+)"?\s*$')


def _installed_manifest(path: str) -> bool:
    """``.../node_modules/<name>/package.json`` or ``.../node_modules/@scope/<name>/package.json``."""
    if not path.endswith("/package.json"):
        return False
    head, sep, rest = path.rpartition(_NM)
    if not sep or (head and not head.endswith("/")):
        return False
    parts = rest.split("/")
    if parts[0].startswith("@"):
        return len(parts) == 3 and not parts[1].startswith(".")
    return len(parts) == 2 and not parts[0].startswith(".")


def _lockfile(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    return base in _LOCKFILES and _NM not in f"{path}" and not path.startswith(_NM[:-1])


def npm_purl(name: str, version: str) -> str:
    scope, _, bare = name.rpartition("/")
    return make_purl("npm", scope or None, bare, version, {})


class NpmCataloger:
    name = "npm"

    def wanted(self, path: str) -> bool:
        return _installed_manifest(path) or _lockfile(path)

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        installed: set[tuple[str, str, str]] = set()  # (node_modules dir, name, version)
        for path in sorted(p for p in files.live if _installed_manifest(p)):
            try:
                pkg = _installed(files, path)
            except Unreadable as e:
                unknowns.append(unknown(path, e))
                continue
            packages.append(pkg)
            installed.add((_app_root(path), pkg.name, pkg.version))
        for path in sorted(p for p in files.live if _lockfile(p)):
            root = parent(path)
            try:
                entries = _lock_entries(read(files, path, "npm lockfile"), path)
            except Unreadable as e:
                unknowns.append(unknown(path, e))
                continue
            for name, version, lic in sorted(set(entries)):
                if (root, name, version) in installed:
                    continue
                installed.add((root, name, version))
                licenses = (lic,) if lic else ()
                packages.append(
                    Package(
                        name, version, "npm", npm_purl(name, version), licenses=licenses, locations=(path,)
                    )
                )
        return CatalogResult(tuple(packages), tuple(unknowns))


def _app_root(manifest: str) -> str:
    """The directory holding the outermost ``node_modules`` of an installed manifest."""
    head = manifest.split(_NM, 1)[0]
    return head.rstrip("/")


def _installed(files: FileIndex, path: str) -> Package:
    meta = load_json(read(files, path, "package.json"), "package.json")
    if not isinstance(meta, dict):
        raise Unreadable("package.json is not a JSON object")
    name, version = text(meta.get("name")), text(meta.get("version"))
    if not name or not version:
        raise Unreadable("package.json under node_modules without name or version")
    return Package(
        name=name,
        version=version,
        type="npm",
        purl=npm_purl(name, version),
        licenses=_licenses(meta),
        locations=(path,),
    )


def _licenses(meta: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for value in [
        meta.get("license"),
        *(meta.get("licenses") or [] if isinstance(meta.get("licenses"), list) else []),
    ]:
        if isinstance(value, dict):
            value = value.get("type")
        if isinstance(value, str) and value.strip():
            found.append(value.strip())
    return tuple(dict.fromkeys(found))


def _lock_entries(data: bytes, path: str) -> list[tuple[str, str, str | None]]:
    if path.endswith("yarn.lock"):
        return _yarn(data)
    lock = load_json(data, "package-lock.json")
    if not isinstance(lock, dict):
        raise Unreadable("package-lock.json is not a JSON object")
    out: list[tuple[str, str, str | None]] = []
    packages = lock.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        for key, value in packages.items():
            if not key or not isinstance(value, dict) or value.get("link"):
                continue
            name = text(value.get("name")) or key.rsplit(_NM, 1)[-1]
            version = text(value.get("version"))
            if _NM.rstrip("/") in key and version:
                out.append((name, version, text(value.get("license"))))
        return out
    dependencies = lock.get("dependencies")  # lockfileVersion 1: nested dependency trees
    stack = [dependencies] if isinstance(dependencies, dict) else []
    seen = 0
    while stack:
        level = stack.pop()
        for name, value in level.items():
            seen += 1
            if seen > 1_000_000:
                raise Unreadable("package-lock.json lists more than a million dependencies")
            if not isinstance(value, dict):
                continue
            version = text(value.get("version"))
            if version and not version.startswith(("file:", "link:")):
                out.append((name, version, None))
            nested = value.get("dependencies")
            if isinstance(nested, dict):
                stack.append(nested)
    return out


def _yarn(data: bytes) -> list[tuple[str, str, str | None]]:
    """yarn v1 and berry lockfiles: a key line naming the package, then an indented ``version``."""
    out: list[tuple[str, str, str | None]] = []
    name: str | None = None
    for line in data.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#"):
            continue
        if not line[0].isspace():
            match = _YARN_KEY.match(line)
            name = match.group(1) if match and not line.startswith("__metadata") else None
            continue
        version = _YARN_VERSION.match(line)
        if name and version:
            out.append((name, version.group(1), None))
            name = None
    return out
