"""`imagetrust inspect` end to end: the digests it prints agree with skopeo's, for every kind of source.

The registry here is the real docker-registry (tests/integration/conftest.py); images are written into it
by skopeo, a real peer client, so our reading is checked against another implementation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tool_path
from tests.support.images import (
    ConfigSpec,
    LayerSpec,
    build_image,
    build_index,
    write_layout,
)
from tests.support.registry import RegistryServer

pytestmark = pytest.mark.registry


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagetrust", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        check=False,
    )


def inspect_json(*args: str, stdin: str | None = None) -> dict[str, Any]:
    done = run_cli("inspect", "--format", "json", "--no-cache", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def skopeo(*args: str) -> str:
    done = subprocess.run(
        [str(tool_path("skopeo")), "--insecure-policy", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "REGISTRY_AUTH_FILE": "/tmp/imagetrust-tests-no-auth.json"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def skopeo_digest(transport_ref: str, *extra: str) -> str:
    inspected = json.loads(skopeo("inspect", *extra, transport_ref))
    digest: str = inspected["Digest"]
    return digest


@pytest.fixture(scope="module")
def two_layer_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gzip base layer and a zstd app layer, with a config worth inspecting."""
    image = build_image(
        [
            LayerSpec.from_files({"etc/os-release": "ID=test\n", "bin/tool": b"\x7fELF"}, compression="gzip"),
            LayerSpec.from_files({"app/main.py": "print('hi')\n"}, compression="zstd"),
        ],
        ConfigSpec(
            user="1000",
            env=("PATH=/bin", "API_TOKEN=do-not-print-me"),
            labels={"org.opencontainers.image.source": "https://example.test/app"},
            exposed_ports=("8080/tcp",),
        ),
    )
    return write_layout(tmp_path_factory.mktemp("two-layer") / "layout", {"v1": image})


@pytest.fixture(scope="module")
def gzip_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """skopeo cannot write zstd layers into a docker-archive, so that source gets gzip layers only."""
    image = build_image([LayerSpec.from_files({"a": "1"}), LayerSpec.from_files({"b": "2"})])
    return write_layout(tmp_path_factory.mktemp("gzip") / "layout", {"v1": image})


@pytest.fixture(scope="module")
def multiarch_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    images = [
        build_image([LayerSpec.from_files({"arch": plat})], platform=plat)
        for plat in ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
    ]
    return write_layout(tmp_path_factory.mktemp("multiarch") / "layout", {"multi": build_index(images)})


def push(layout: Path, tag: str, server: RegistryServer, dest: str, *, all_platforms: bool = False) -> str:
    args = ["copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false"]
    if all_platforms:
        args.append("--all")
    skopeo(*args, f"oci:{layout}:{tag}", f"docker://{server.host}/{dest}")
    return f"{server.host}/{dest}"


def test_registry_image_digest_and_layers_match_skopeo(
    two_layer_layout: Path, registry_plain: RegistryServer
) -> None:
    ref = push(two_layer_layout, "v1", registry_plain, "cli/two-layer:v1")
    ours = inspect_json(ref)
    theirs = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}"))
    assert ours["digest"] == theirs["Digest"]
    image = ours["images"][0]
    assert [layer["digest"] for layer in image["layers"]] == theirs["Layers"]
    media_types = [layer["mediaType"] for layer in image["layers"]]
    assert media_types == [
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
    ]
    config = image["config"]
    assert config["user"] == "1000"
    assert config["envNames"] == ["PATH", "API_TOKEN"]
    assert "do-not-print-me" not in json.dumps(ours)
    assert config["labels"] == {"org.opencontainers.image.source": "https://example.test/app"}
    assert config["exposedPorts"] == ["8080/tcp"]
    assert len(config["history"]) == 2
    assert ours["attached"][0]["cosignTags"] == [] and ours["attached"][0]["referrers"] == []


def test_multiarch_index_digest_and_platform_choice(
    multiarch_layout: Path, registry_plain: RegistryServer
) -> None:
    ref = push(multiarch_layout, "multi", registry_plain, "cli/multi:1", all_platforms=True)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").encode()
    index = json.loads(raw)
    expected_top = skopeo_digest(f"docker://{ref}", "--tls-verify=false")

    everything = inspect_json(ref, "--all-platforms")
    assert everything["digest"] == expected_top
    assert everything["isIndex"] is True
    assert everything["platforms"] == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    assert [i["digest"] for i in everything["images"]] == [m["digest"] for m in index["manifests"]]

    arm64 = inspect_json(ref, "--platform", "linux/arm64")
    assert arm64["digest"] == expected_top
    assert [i["platform"] for i in arm64["images"]] == ["linux/arm64/v8"]
    arm_digest = skopeo_digest(f"docker://{ref}", "--tls-verify=false", "--override-arch", "arm64")
    platform_manifest = next(m for m in index["manifests"] if m["platform"]["architecture"] == "arm64")
    assert arm64["images"][0]["digest"] == platform_manifest["digest"]
    assert arm_digest in (expected_top, platform_manifest["digest"])

    missing = run_cli("inspect", "--no-cache", ref, "--platform", "linux/s390x")
    assert missing.returncode == 2
    assert "no manifest for platform linux/s390x" in missing.stderr
    assert "linux/arm64/v8" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("kind", ["oci", "oci-archive", "docker-archive"])
def test_offline_sources_match_skopeo(
    kind: str, two_layer_layout: Path, gzip_layout: Path, tmp_path: Path
) -> None:
    if kind == "oci":
        ref = f"oci:{two_layer_layout}:v1"
    elif kind == "oci-archive":
        skopeo("copy", "--quiet", f"oci:{two_layer_layout}:v1", f"oci-archive:{tmp_path / 'a.tar'}:v1")
        ref = f"oci-archive:{tmp_path / 'a.tar'}:v1"
    else:
        skopeo("copy", "--quiet", f"oci:{gzip_layout}:v1", f"docker-archive:{tmp_path / 'd.tar'}:app:v1")
        ref = f"docker-archive:{tmp_path / 'd.tar'}"
        assert inspect_json(f"{ref}:app:v1")["digest"] == skopeo_digest(ref)
    ours = inspect_json(ref)
    assert ours["digest"] == skopeo_digest(ref)


def test_tls_htpasswd_with_password_stdin(two_layer_layout: Path, registry_tls: RegistryServer) -> None:
    user, password = next(iter(registry_tls.users.items()))
    assert registry_tls.cert_dir is not None and registry_tls.ca_file is not None
    skopeo(
        "copy",
        "--quiet",
        "--dest-cert-dir",
        str(registry_tls.cert_dir),
        "--dest-creds",
        f"{user}:{password}",
        f"oci:{two_layer_layout}:v1",
        f"docker://{registry_tls.host}/cli/tls:v1",
    )
    ref = f"{registry_tls.host}/cli/tls:v1"
    common = ["--registry-ca", str(registry_tls.ca_file), "--username", user, "--password-stdin"]
    ours = inspect_json(ref, *common, stdin=password + "\n")
    assert ours["digest"] == skopeo_digest(
        f"docker://{ref}", "--cert-dir", str(registry_tls.cert_dir), "--creds", f"{user}:{password}"
    )

    wrong = run_cli("inspect", "--no-cache", ref, *common, stdin="not-the-password\n")
    assert wrong.returncode == 2, wrong.stderr
    lines = wrong.stderr.strip().splitlines()
    assert len(lines) == 1 and "authentication failed" in lines[0], wrong.stderr

    no_ca = run_cli("inspect", "--no-cache", ref, "--username", user, "--password-stdin", stdin=password)
    assert no_ca.returncode == 3
    assert "TLS" in no_ca.stderr and "Traceback" not in no_ca.stderr


def test_unreachable_registry_is_exit_3_within_seconds() -> None:
    from tests.support.registry import free_port

    started = time.monotonic()
    done = run_cli("inspect", "--no-cache", f"127.0.0.1:{free_port()}/nothing:here")
    assert done.returncode == 3
    assert time.monotonic() - started < 20
    assert "cannot connect" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_missing_tag_is_a_usage_error_not_an_outage(
    two_layer_layout: Path, registry_plain: RegistryServer
) -> None:
    push(two_layer_layout, "v1", registry_plain, "cli/present:v1")
    done = run_cli("inspect", "--no-cache", f"{registry_plain.host}/cli/present:absent")
    assert done.returncode == 2, done.stderr
    assert "image not found" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Upper/Case"], "invalid repository"),
        (["oci:/definitely/not/here"], "/definitely/not/here"),
        (["alpine", "--platform", "linux"], "invalid platform"),
        (["alpine", "--platform", "linux/amd64", "--all-platforms"], "cannot be used together"),
        (["alpine", "--username", "u"], "--password-stdin"),
        (["dir:/"], "no manifest"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    done = run_cli("inspect", "--no-cache", *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_output_file_written_whole(two_layer_layout: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    done = run_cli("inspect", f"oci:{two_layer_layout}:v1", "--format", "json", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert json.loads(target.read_text())["digest"].startswith("sha256:")
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_output_to_a_device_or_through_a_symlink_keeps_them(two_layer_layout: Path, tmp_path: Path) -> None:
    """`-o /dev/null` once replaced the device with a regular file (atomic rename); never again."""
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    done = run_cli("inspect", f"oci:{two_layer_layout}:v1", "--format", "json", "-o", str(fifo))
    received = reader.communicate(timeout=60)[0]
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(received)["digest"].startswith("sha256:")

    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    done = run_cli("inspect", f"oci:{two_layer_layout}:v1", "--format", "json", "-o", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and json.loads(real.read_text())["digest"].startswith("sha256:")
