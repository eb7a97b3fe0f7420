"""`imagetrust audit` end to end on images built from real packages: inventory, attribution, SBOMs."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_inspect_cli import run_cli, skopeo
from tests.support.debs import build_deb_rootfs, deb, install_npm, install_wheel, npm_tarball, wheel
from tests.support.images import ConfigSpec, LayerSpec, build_image, write_layout

REPO = Path(__file__).resolve().parents[2]
DEMO = f"oci:{REPO / 'fixtures' / 'demo' / 'layout'}:demo"


def audit_json(*args: str) -> dict[str, Any]:
    done = run_cli("audit", "--format", "json", "--no-cache", "--scanners", "", *args)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _app_layer_dir(base: Path, full: Path, out: Path) -> Path:
    """Files of ``full`` that are new or changed relative to ``base``: what an install step adds."""
    for path in sorted(full.rglob("*")):
        rel = path.relative_to(full)
        before = base / rel
        if path.is_dir() and not path.is_symlink():
            continue
        if before.exists() and not path.is_symlink() and filecmp.cmp(path, before, shallow=False):
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            target.symlink_to(path.readlink())
        else:
            shutil.copy2(path, target)
    return out


@pytest.fixture(scope="module")
def base_and_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A base image of two real .debs, and an app image on top of it adding `hello` and a real wheel."""
    work = tmp_path_factory.mktemp("base-app")
    base_debs = [deb("base-files"), deb("netbase")]
    build_deb_rootfs(work / "base", base_debs)
    build_deb_rootfs(work / "full", [*base_debs, deb("hello")])
    app_dir = _app_layer_dir(work / "base", work / "full", work / "app")
    install_wheel(app_dir, wheel("jinja2"))
    install_npm(app_dir, npm_tarball("lodash"))
    base_layer = LayerSpec.from_dir(work / "base", created_by="ADD debian base")
    base = build_image([base_layer])
    app = build_image(
        [base_layer, LayerSpec.from_dir(app_dir, compression="zstd", created_by="RUN install")],
        ConfigSpec(user="app"),
    )
    base_layout = write_layout(work / "base-layout", {"base": base})
    app_layout = write_layout(work / "app-layout", {"app": app})
    return base_layout, app_layout


def _names(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(p["type"], p["name"]): p["version"] for p in document["packages"]}


def test_demo_inventory_and_layers() -> None:
    document = audit_json(DEMO)
    packages = {(p["type"], p["name"]): p for p in document["packages"]}
    assert set(packages) == {
        ("deb", "base-files"),
        ("deb", "busybox-static"),
        ("deb", "hello"),
        ("pypi", "Jinja2"),
        ("pypi", "MarkupSafe"),
        ("npm", "lodash"),
    }
    assert packages[("pypi", "Jinja2")]["version"] == "2.10"
    assert packages[("npm", "lodash")]["purl"] == "pkg:npm/lodash@4.17.20"
    layers = [layer["digest"] for layer in document["images"][0]["layers"]]
    assert {packages[("deb", n)]["layer"] for n in ("base-files", "busybox-static", "hello")} == {layers[0]}
    assert {packages[k]["layer"] for k in [("pypi", "Jinja2"), ("npm", "lodash")]} == {layers[1]}
    assert document["images"][0]["distro"]["id"] == "debian"
    assert document["scanners"] == []


def test_base_attribution_and_exclude_base(base_and_app: tuple[Path, Path]) -> None:
    base_layout, app_layout = base_and_app
    document = audit_json(f"oci:{app_layout}:app", "--base", f"oci:{base_layout}:base")
    origins = {p["name"]: p["origin"] for p in document["packages"]}
    assert origins == {
        "base-files": "base",
        "netbase": "base",
        "hello": "application",
        "Jinja2": "application",
        "lodash": "application",
    }
    assert document["images"][0]["base"].startswith(f"oci:{base_layout}:base@sha256:")
    assert [layer["origin"] for layer in document["images"][0]["layers"]] == ["base", "application"]

    app_only = audit_json(f"oci:{app_layout}:app", "--base", f"oci:{base_layout}:base", "--exclude-base")
    assert sorted(p["name"] for p in app_only["packages"]) == ["Jinja2", "hello", "lodash"]

    unrelated = audit_json(f"oci:{base_layout}:base", "--base", f"oci:{app_layout}:app")
    assert unrelated["images"][0]["base"] is None
    assert any("is not the base of this image" in n for n in unrelated["images"][0]["notChecked"])


def test_same_inventory_from_every_source(base_and_app: tuple[Path, Path], tmp_path: Path) -> None:
    """docker-archive layers come back uncompressed under a gzip media type; zstd layers stay zstd."""
    _, app_layout = base_and_app
    from_layout = _names(audit_json(f"oci:{app_layout}:app"))
    skopeo("copy", "--quiet", f"oci:{app_layout}:app", f"oci-archive:{tmp_path / 'a.tar'}:app")
    assert _names(audit_json(f"oci-archive:{tmp_path / 'a.tar'}:app")) == from_layout
    assert from_layout[("deb", "hello")].startswith("2.10")


def test_sboms_carry_the_same_packages(tmp_path: Path) -> None:
    inventory = audit_json(DEMO)
    purls = {p["purl"] for p in inventory["packages"]}

    cdx_file = tmp_path / "bom.cdx.json"
    done = run_cli(
        "audit", DEMO, "--no-cache", "--scanners", "", "--format", "cyclonedx", "-o", str(cdx_file)
    )
    assert done.returncode == 0, done.stderr
    bom = json.loads(cdx_file.read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert {c["purl"] for c in bom["components"]} == purls
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx_file.read_text())
    assert errors is None, errors

    done = run_cli("audit", DEMO, "--no-cache", "--scanners", "", "--format", "spdx")
    assert done.returncode == 0, done.stderr
    spdx = json.loads(done.stdout)
    assert spdx["spdxVersion"] == "SPDX-2.3"
    refs = {
        ref["referenceLocator"]
        for package in spdx["packages"]
        for ref in package.get("externalRefs", [])
        if ref["referenceType"] == "purl"
    }
    assert refs == purls
    ids = [p["SPDXID"] for p in spdx["packages"]]
    assert len(ids) == len(set(ids))
    assert all(r["relatedSpdxElement"] in ids for r in spdx["relationships"])


def test_tampered_layer_is_exit_3_and_writes_no_report(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(REPO / "fixtures" / "demo" / "layout", layout)
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_bytes())
    layer = layout / "blobs" / "sha256" / manifest["layers"][1]["digest"].split(":")[1]
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
    report = tmp_path / "report.json"
    report.write_text("previous report\n")
    done = run_cli("audit", f"oci:{layout}:demo", "--no-cache", "--format", "json", "-o", str(report))
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert report.read_text() == "previous report\n"


def test_dir_source_inventories_like_the_image_built_from_it(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    build_deb_rootfs(root, [deb("base-files"), deb("hello")])
    install_wheel(root, wheel("markupsafe"))
    (root / "etc" / "loop").symlink_to("loop")  # a symlink loop must be archived as a link, not followed
    from_dir = audit_json(f"dir:{root}")
    layout = write_layout(tmp_path / "layout", {"v": build_image([LayerSpec.from_dir(root)])})
    assert _names(from_dir) == _names(audit_json(f"oci:{layout}:v"))
    assert ("deb", "hello") in _names(from_dir) and ("pypi", "MarkupSafe") in _names(from_dir)
    assert from_dir["images"][0]["distro"]["id"] == "debian"

    missing = run_cli("audit", f"dir:{tmp_path / 'absent'}", "--no-cache")
    assert missing.returncode == 2 and "not a directory" in missing.stderr


def _eicar() -> bytes:
    # Assembled at run time so no file in the repository is the test signature itself.
    parts = ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"]
    return "".join(parts).encode()


def test_config_malware_and_software_policy_findings(tmp_path: Path) -> None:
    image = build_image(
        [
            LayerSpec.from_files({"etc/os-release": "ID=test\n"}),
            LayerSpec.from_files({"srv/payload.bin": _eicar()}, created_by="COPY payload /srv/"),
        ]
    )
    layout = write_layout(tmp_path / "layout", {"v": image})
    rule = tmp_path / "eicar.yar"
    rule.write_text('rule EICAR_test { strings: $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $a }\n')
    done = run_cli(
        "audit",
        f"oci:{layout}:v",
        "--no-cache",
        "--format",
        "json",
        "--scanners",
        "config,malware",
        "--malware-rules",
        str(rule),
    )
    assert done.returncode == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]
    malware = [f for f in findings if f["kind"] == "malware"]
    assert [(f["path"], f["layer"]) for f in malware] == [
        ("srv/payload.bin", str(image.layers[1].descriptor.digest))
    ]
    assert any(f["kind"] == "misconfiguration" and f["id"] == "CFG-001" for f in findings)

    no_rules = run_cli("audit", f"oci:{layout}:v", "--no-cache", "--scanners", "malware")
    assert no_rules.returncode == 2 and "needs rules" in no_rules.stderr

    policy = tmp_path / "software.toml"
    policy.write_text('[[rule]]\nid = "no-lodash"\naction = "deny"\npurl = "pkg:npm/lodash"\n')
    done = run_cli(
        "audit",
        DEMO,
        "--no-cache",
        "--format",
        "json",
        "--scanners",
        "license",
        "--software-policy",
        str(policy),
    )
    assert done.returncode == 0, done.stderr
    denied = [f for f in json.loads(done.stdout)["findings"] if f["kind"] == "policy"]
    assert [f["package"] for f in denied] == ["pkg:npm/lodash@4.17.20"]

    failing = run_cli("audit", DEMO, "--no-cache", "--scanners", "config", "--fail-on", "high")
    assert failing.returncode == 1 and "at or above --fail-on high" in failing.stderr


def test_vulnerabilities_matched_from_an_imported_database(tmp_path: Path) -> None:
    db = tmp_path / "advisories.sqlite"
    imported = run_cli("db", "--db", str(db), "import", str(REPO / "fixtures" / "demo" / "advisories"))
    assert imported.returncode == 0, imported.stderr
    document = audit_json_with("--scanners", "vuln", "--db", str(db))
    vulns = [f for f in document["findings"] if f["kind"] == "vulnerability"]
    # Independently: the advisory files' own `versions` lists name 2.10 in exactly these two.
    assert sorted(f["id"] for f in vulns) == ["PYSEC-2019-217", "PYSEC-2021-66"]
    jinja_layer = next(p["layer"] for p in document["packages"] if p["name"] == "Jinja2")
    assert {f["layer"] for f in vulns} == {jinja_layer}
    assert {f["package"] for f in vulns} == {"pkg:pypi/jinja2@2.10"}
    assert "CVE-2019-10906" in next(f for f in vulns if f["id"] == "PYSEC-2019-217")["aliases"]
    gaps = document["images"][0]["notChecked"]
    assert "vulnerabilities: no advisory data for npm" in gaps

    unscored = run_cli("audit", DEMO, "--scanners", "vuln", "--db", str(db), "--fail-on", "critical")
    assert unscored.returncode == 1, unscored.stderr  # PyPA gives no severity: unknown gates as critical
    assert "unknown severity counts as critical" in unscored.stderr

    no_db = audit_json_with("--scanners", "vuln", env={"XDG_CACHE_HOME": str(tmp_path / "empty")})
    assert no_db["findings"] == []
    assert any("no advisory database" in n for n in no_db["images"][0]["notChecked"])
    indeterminate = run_cli(
        "audit",
        DEMO,
        "--scanners",
        "vuln",
        "--fail-on",
        "critical",
        env={"XDG_CACHE_HOME": str(tmp_path / "e")},
    )
    assert indeterminate.returncode == 3, indeterminate.stderr


def audit_json_with(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = run_cli("audit", DEMO, "--format", "json", *args, env=env)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_secret_planted_then_deleted_is_reported_with_both_layers_and_never_printed(tmp_path: Path) -> None:
    from tests.support.images import Whiteout

    token = "ghp_" + "Zq8vR2mK5tY7wX1cB4nL9pD3sF6gH0jA2eUo"  # a made-up token in GitHub's format
    image = build_image(
        [
            LayerSpec.from_files(
                {"etc/os-release": "ID=test\n", "root/.git-credentials": f"token={token}\n"}
            ),
            LayerSpec((Whiteout("root/.git-credentials"),), created_by="RUN rm /root/.git-credentials"),
        ],
        ConfigSpec(env=("PATH=/bin", f"GITHUB_TOKEN={token}")),
    )
    layout = write_layout(tmp_path / "layout", {"v": image})
    outputs = {}
    for fmt in ("json", "text", "cyclonedx", "spdx"):
        done = run_cli("audit", f"oci:{layout}:v", "--no-cache", "--scanners", "secret", "--format", fmt)
        assert done.returncode == 0, done.stderr
        outputs[fmt] = done.stdout + done.stderr
        assert token not in outputs[fmt] and token[4:20] not in outputs[fmt]
    secrets = [f for f in json.loads(outputs["json"])["findings"] if f["kind"] == "secret"]
    in_file = [f for f in secrets if f.get("path") == "root/.git-credentials"]
    assert len(in_file) == 1
    first, second = (str(layer.descriptor.digest) for layer in image.layers)
    assert in_file[0]["layer"] == first
    assert in_file[0]["present"] is False and in_file[0]["deleted_by"] == second
    assert in_file[0]["line"] == 1
    assert any(f.get("location", "").startswith("config.Env") for f in secrets)
