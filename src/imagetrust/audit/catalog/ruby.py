"""Ruby gems from the ``specifications/*.gemspec`` files RubyGems writes when it installs a gem.

Installed gemspecs are generated Ruby (``s.name = "rack".freeze``); they are read with patterns, never
evaluated.
"""

from __future__ import annotations

import re

from imagetrust.audit.catalog._lang import Unreadable, read, unknown
from imagetrust.audit.catalog.model import CatalogResult, OSRelease, Package
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import EntryType, FileIndex, Unknown

_STR = r"""(?:%q<([^>]*)>|"([^"]*)"|'([^']*)')"""
_FIELD = {
    key: re.compile(rf"^\s*\w+\.{key}\s*=\s*(?:Gem::Version\.new\(\s*)?{_STR}", re.M)
    for key in ("name", "version", "license")
}
_LICENSES = re.compile(r"^\s*\w+\.licenses\s*=\s*\[([^\]]*)\]", re.M)
_ANY_STR = re.compile(_STR)


def _first(match: re.Match[str] | None) -> str | None:
    if match is None:
        return None
    return next((g for g in match.groups() if g is not None), None)


class GemCataloger:
    name = "ruby-gem"

    def wanted(self, path: str) -> bool:
        head, _, base = path.rpartition("/")
        return base.endswith(".gemspec") and (head.endswith("/specifications") or head == "specifications")

    def catalog(self, files: FileIndex, distro: OSRelease | None = None) -> CatalogResult:
        packages: list[Package] = []
        unknowns: list[Unknown] = []
        for path in sorted(files.live):
            if not self.wanted(path) or files.live[path].type is EntryType.DIR:
                continue
            try:
                packages.append(_package(read(files, path, "gemspec"), path))
            except Unreadable as e:
                unknowns.append(unknown(path, e))
        return CatalogResult(tuple(packages), tuple(unknowns))


def _package(data: bytes, path: str) -> Package:
    source = data.decode("utf-8", "replace")
    name, version = _first(_FIELD["name"].search(source)), _first(_FIELD["version"].search(source))
    if not name or not version:
        raise Unreadable("gemspec without a literal name or version")
    licenses: list[str] = []
    listed = _LICENSES.search(source)
    if listed:
        licenses = [_first(m) or "" for m in _ANY_STR.finditer(listed.group(1))]
    single = _first(_FIELD["license"].search(source))
    if single:
        licenses.append(single)
    return Package(
        name=name,
        version=version,
        type="gem",
        purl=make_purl("gem", None, name, version, {}),
        licenses=tuple(dict.fromkeys(x for x in licenses if x)),
        locations=(path,),
    )
