# ruff: noqa: E501  (package tables read best one per line)
"""Software and license policy: purl globs with version ranges, SPDX expressions, app-layer scope, loaders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagetrust.audit.catalog.model import Package
from imagetrust.audit.findings import FindingKind
from imagetrust.audit.licenses import SoftwareRule, evaluate_software_policy, load_software_rules, parse
from imagetrust.audit.licenses.spdx import And, License, Or, normalise
from imagetrust.errors import ConfigError


def pkg(name: str, version: str, licenses: tuple[str, ...] = (), *, ptype: str = "deb") -> Package:
    purl = f"pkg:{ptype}/debian/{name}@{version}?arch=amd64&distro=debian-12"
    return Package(name, version, "deb", purl, licenses=licenses, locations=("var/lib/dpkg/status",))


APT = pkg("apt", "2.6.1", ("GPL-2+",))
BASH = pkg("bash", "5.2.15-2+b2", ("GPL-3+",))
ZLIB = pkg("zlib1g", "1:1.2.13.dfsg-1", ("Zlib",))
DUAL = pkg("dual", "1.0", ("GPL-3.0-only OR MIT",))
BOTH = pkg("both", "1.0", ("GPL-3.0-only AND MIT",))
EXC = pkg("gcc-lib", "12", ("GPL-3.0-or-later WITH GCC-exception-3.1",))


def ids(packages: list[Package], rules: list[SoftwareRule], app: set[str] | None = None) -> set[str]:
    layer = (lambda p: p.name in app) if app is not None else None
    return {
        f"{f.id}:{f.package_purl.split('/')[2].split('@')[0]}"
        for f in evaluate_software_policy(packages, rules, layer)
    }  # type: ignore[union-attr]


def test_spdx_parse_and_normalise() -> None:
    assert parse("MIT OR (Apache-2.0 AND BSD-3-Clause)") == Or(
        (License("MIT"), And((License("Apache-2.0"), License("BSD-3-Clause"))))
    )
    assert parse("GPL-2.0-or-later WITH Classpath-exception-2.0") == License(
        "GPL-2.0-or-later", "Classpath-exception-2.0"
    )
    assert parse("Apache 2.0") == License("Apache-2.0")
    assert (
        normalise("GPL-2+") == "GPL-2.0-or-later"
        and normalise("Expat") == "MIT"
        and normalise("LGPL-2.1+") == "LGPL-2.1-or-later"
    )
    assert parse("GNU General Public License") == License("GNU General Public License")


def test_deny_package_manager_by_purl_glob() -> None:
    rule = SoftwareRule("no-package-managers", "deny", purl="pkg:deb/*/apt")
    assert ids([APT, BASH], [rule]) == {"no-package-managers:apt"}
    (f,) = evaluate_software_policy([APT], [rule])
    assert (
        f.kind is FindingKind.POLICY and f.package_purl == APT.purl and f.detail("pattern") == "pkg:deb/*/apt"
    )


def test_version_range_uses_the_ecosystem_order() -> None:
    old = SoftwareRule("old-bash", "deny", purl="pkg:deb/debian/bash", versions="<5.2.15-3")
    new = SoftwareRule("new-bash", "deny", purl="pkg:deb/debian/bash", versions=">=5.2.15-3")
    assert ids([BASH], [old, new]) == {"old-bash:bash"}
    # dpkg order, not string order: epoch 1 beats a bare 9
    assert ids([ZLIB], [SoftwareRule("z", "deny", purl="pkg:deb/*/zlib1g", versions=">9")]) == {"z:zlib1g"}


def test_allow_list_flags_everything_else() -> None:
    rules = [
        SoftwareRule("allowed", "allow", purl="pkg:deb/debian/zlib*"),
        SoftwareRule("allowed2", "allow", purl="pkg:deb/debian/bash"),
    ]
    assert ids([APT, BASH, ZLIB], rules) == {"allowed:apt"}


def test_license_semantics_or_and_with() -> None:
    no_gpl3 = SoftwareRule("no-gpl3", "deny", licenses=("GPL-3.0*",))
    assert ids([DUAL], [no_gpl3]) == set()  # MIT branch satisfies the OR
    assert ids([BOTH], [no_gpl3]) == {"no-gpl3:both"}  # AND needs both
    assert ids([BASH], [no_gpl3]) == {"no-gpl3:bash"}  # GPL-3+ normalised to GPL-3.0-or-later
    assert ids([EXC], [no_gpl3]) == {"no-gpl3:gcc-lib"}  # an exception does not change the license
    only_exc = SoftwareRule("no-gcc-exc", "deny", licenses=("GPL-3.0-or-later WITH GCC-exception-3.1",))
    assert ids([EXC, BASH], [only_exc]) == {"no-gcc-exc:gcc-lib"}


def test_license_allow_list_fails_closed_on_missing_license() -> None:
    permissive = SoftwareRule("permissive", "allow", licenses=("MIT", "Zlib", "Apache-2.0"))
    assert ids([ZLIB, DUAL, pkg("nolicense", "1")], [permissive]) == {"permissive:nolicense"}


def test_app_layer_scope() -> None:
    rule = SoftwareRule("no-gpl3-in-app", "deny", licenses=("GPL-3.0*",), scope="app")
    assert ids([BASH, BOTH], [rule], app={"both"}) == {"no-gpl3-in-app:both"}
    assert ids([BASH, BOTH], [rule], app=set()) == set()
    assert ids([BASH], [rule]) == {"no-gpl3-in-app:bash"}  # no predicate: every layer counts


def test_toml_and_json_loaders(tmp_path: Path) -> None:
    toml = tmp_path / "policy.toml"
    toml.write_text(
        '[[rule]]\nid = "no-package-managers"\naction = "deny"\npurl = "pkg:deb/*/apt"\nreason = "distroless"\n'
        '[[rule]]\nid = "no-gpl3-app"\naction = "deny"\nlicenses = ["GPL-3.0-only", "GPL-3.0-or-later"]\nscope = "app"\nseverity = "medium"\n'
    )
    rules = load_software_rules(toml)
    assert [r.id for r in rules] == ["no-package-managers", "no-gpl3-app"] and rules[1].scope == "app"
    js = tmp_path / "policy.json"
    js.write_text(
        json.dumps(
            {"rules": [{"id": "x", "action": "deny", "purl": "pkg:npm/lodash", "versions": "<4.17.21"}]}
        )
    )
    (rule,) = load_software_rules(js)
    lodash = Package("lodash", "4.17.20", "deb", "pkg:npm/lodash@4.17.20")
    assert [f.id for f in evaluate_software_policy([lodash], [rule])] == ["x"]


@pytest.mark.parametrize(
    "body",
    [
        '[[rule]]\naction = "block"\npurl = "x"\n',
        '[[rule]]\naction = "deny"\n',
        "not toml [",
        '[[rule]]\naction="deny"\npurl="a"\nlicenses=["MIT"]\n',
    ],
)
def test_bad_rule_files_are_config_errors(tmp_path: Path, body: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match="software policy"):
        load_software_rules(path)
