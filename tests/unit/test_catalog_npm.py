"""npm: installed manifests vs. lockfiles (v1, v3, yarn), scopes, package.json files that are not packages."""

from __future__ import annotations

import json

from imagetrust.audit.catalog.npm import NpmCataloger
from imagetrust.audit.unpack import FileIndex


def _catalog(files: dict[str, bytes]) -> list[tuple[str, str, str, str]]:
    result = NpmCataloger().catalog(FileIndex.from_contents(files))
    return sorted((p.name, p.version, p.purl, p.locations[0]) for p in result.packages)


def test_scoped_package_purl_and_fixture_manifests() -> None:
    cat = NpmCataloger()
    assert cat.wanted("app/node_modules/@babel/core/package.json")
    assert not cat.wanted("app/node_modules/lodash/test/fixtures/package.json")
    files = {
        "app/node_modules/@babel/core/package.json": json.dumps(
            {"name": "@babel/core", "version": "7.1.0"}
        ).encode(),
        "app/node_modules/broken/package.json": b'{"description": "no name"}',
    }
    result = cat.catalog(FileIndex.from_contents(files))
    assert [p.purl for p in result.packages] == ["pkg:npm/%40babel/core@7.1.0"]
    assert [u.path for u in result.unknowns] == ["app/node_modules/broken/package.json"]


def test_lockfiles_add_only_what_is_not_installed() -> None:
    v3 = {
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "app", "version": "1.0.0"},
            "node_modules/lodash": {"version": "4.17.20"},
            "node_modules/a/node_modules/@s/b": {"version": "2.0.0", "license": "MIT"},
            "node_modules/linked": {"link": True},
        },
    }
    v1 = {
        "lockfileVersion": 1,
        "dependencies": {
            "x": {"version": "1.0.0", "dependencies": {"y": {"version": "2.0.0"}}},
        },
    }
    yarn = (
        b'# yarn lockfile v1\n\n"@s/z@^3.0.0", "@s/z@^3.1.0":\n  version "3.1.4"\n  resolved "x"\n\n'
        b'q@1:\n  version "1.2.0"\n'
    )
    files = {
        "app/package-lock.json": json.dumps(v3).encode(),
        "app/node_modules/lodash/package.json": b'{"name": "lodash", "version": "4.17.20", "license": "MIT"}',
        "old/package-lock.json": json.dumps(v1).encode(),
        "web/yarn.lock": yarn,
    }
    assert _catalog(files) == [
        ("@s/b", "2.0.0", "pkg:npm/%40s/b@2.0.0", "app/package-lock.json"),
        ("@s/z", "3.1.4", "pkg:npm/%40s/z@3.1.4", "web/yarn.lock"),
        ("lodash", "4.17.20", "pkg:npm/lodash@4.17.20", "app/node_modules/lodash/package.json"),
        ("q", "1.2.0", "pkg:npm/q@1.2.0", "web/yarn.lock"),
        ("x", "1.0.0", "pkg:npm/x@1.0.0", "old/package-lock.json"),
        ("y", "2.0.0", "pkg:npm/y@2.0.0", "old/package-lock.json"),
    ]


def test_hostile_lockfile_is_an_unknown() -> None:
    result = NpmCataloger().catalog(FileIndex.from_contents({"package-lock.json": b"[" * 100_000}))
    assert result.packages == () and "not valid JSON" in result.unknowns[0].reason
