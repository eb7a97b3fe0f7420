"""The committed demo image (fixtures/demo/layout) is a valid layout holding what fixtures/README.md says."""

from __future__ import annotations

import gzip
import importlib.util
import io
import tarfile
from pathlib import Path

from imagetrust.limits import Limits
from imagetrust.oci.manifest import Manifest, parse_config
from imagetrust.oci.reference import parse_source
from imagetrust.registry.archive import open_offline_store
from imagetrust.registry.layout import OciLayoutStore
from tests.conftest import REPO

DEMO = REPO / "fixtures" / "demo" / "layout"
LIMITS = Limits()


def _layers() -> tuple[OciLayoutStore, Manifest, list[dict[str, bytes]]]:
    store = OciLayoutStore(DEMO, "demo", LIMITS)
    manifest = store.get_manifest(store.resolve().digest).parse(LIMITS)
    assert isinstance(manifest, Manifest)
    contents = []
    for descriptor in manifest.layers:
        with store.open_blob(descriptor) as stream:
            data = gzip.decompress(stream.read())
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            contents.append(
                {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}  # type: ignore[union-attr]
            )
    return store, manifest, contents


def test_demo_resolves_through_the_reference_the_readme_uses() -> None:
    store = open_offline_store(parse_source(f"oci:{DEMO}:demo"), LIMITS)
    assert store.resolve().digest == OciLayoutStore(DEMO, "demo", LIMITS).resolve().digest


def test_demo_holds_real_packages_in_two_layers() -> None:
    store, manifest, (base, app) = _layers()
    assert len(manifest.layers) == 2
    assert sum(d.size for d in manifest.layers) < 4 * 1024 * 1024
    status = base["var/lib/dpkg/status"].decode()
    for package in ("base-files", "busybox-static", "hello"):
        assert f"Package: {package}\nStatus: install ok installed\n" in status
        assert f"var/lib/dpkg/info/{package}.list" in base
    assert "bin/busybox" in base and "usr/bin/hello" in base
    assert b"Version: 2.10" in app["usr/local/lib/python3.11/site-packages/Jinja2-2.10.dist-info/METADATA"]
    assert b'"version": "4.17.20"' in app["app/node_modules/lodash/package.json"]
    config = parse_config(store.read_blob(manifest.config, LIMITS.config_bytes), manifest.config.digest)
    assert config.user is None  # runs as root on purpose
    assert [h.empty_layer for h in config.history].count(False) == 2


def test_build_script_reproduces_the_committed_digest(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_demo", REPO / "scripts" / "build-demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # input_packages() skips (fails in CI) when scripts/fetch-tools.sh has not run.
    same_inputs = module.sources_text() == (REPO / "fixtures" / "demo" / "SOURCES.txt").read_text()
    assert module.main([str(tmp_path / "first")]) == 0
    rebuilt = OciLayoutStore(tmp_path / "first", "demo", LIMITS).resolve()
    if same_inputs:
        committed = OciLayoutStore(DEMO, "demo", LIMITS).resolve()
        assert rebuilt.digest == committed.digest, (
            "scripts/build-demo.py no longer reproduces fixtures/demo/layout: rebuild and commit it"
        )
    else:
        # Debian published a point release of an input package since the demo was built: the committed
        # digest cannot be reproduced from today's archive, but the build must still be deterministic.
        assert module.main([str(tmp_path / "second")]) == 0
        assert OciLayoutStore(tmp_path / "second", "demo", LIMITS).resolve().digest == rebuilt.digest
