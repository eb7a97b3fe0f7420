#!/usr/bin/env python3
"""Rebuild fixtures/demo/layout: the small OCI image the README's `make demo` inspects.

Everything in it is real third-party material fetched by scripts/fetch-tools.sh (Debian .debs, PyPI wheels,
an npm tarball); nothing is downloaded here and the demo needs no network when it runs.  Output is
deterministic for a given set of packages and zlib, so re-running leaves the committed digests unchanged.

    .venv/bin/python scripts/build-demo.py [OUT]      # writes fixtures/demo/layout (tag "demo")
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.debs import (  # noqa: E402
    build_deb_rootfs,
    deb,
    install_npm,
    install_wheel,
    npm_tarball,
    wheel,
)
from tests.support.images import (  # noqa: E402
    ConfigSpec,
    LayerSpec,
    build_image,
    dir_entries,
    write_layout,
)

OUT = REPO / "fixtures" / "demo" / "layout"
SOURCES = REPO / "fixtures" / "demo" / "SOURCES.txt"
TAG = "demo"
DEBS = ("base-files", "busybox-static", "hello")
WHEELS = ("jinja2", "markupsafe")
NPM = ("lodash",)
BUSYBOX_APPLETS = ("sh", "ls", "cat", "echo", "id", "ps", "wget", "vi")

APP_PY = b'''"""Demo app: renders a greeting with Jinja2."""
from jinja2 import Template

print(Template("Hello {{ name }}!").render(name="imagetrust"))
'''
APP_PACKAGE_JSON = (
    b'{"name": "demo-app", "version": "1.0.0", "private": true, "dependencies": {"lodash": "4.17.20"}}\n'
)
BASE_STEP = "/bin/sh -c #(nop) ADD base-files busybox-static hello (Debian bookworm .debs) in /"
APP_STEP = "/bin/sh -c pip install jinja2==2.10 markupsafe==2.1.5 && npm install lodash@4.17.20"
CREATED = "2023-11-14T22:13:20Z"


def input_packages() -> list[Path]:
    """Every package file the image is built from, in a fixed order."""
    return [
        *(deb(name) for name in DEBS),
        *(wheel(name) for name in WHEELS),
        *(npm_tarball(name) for name in NPM),
    ]


def sources_text() -> str:
    """``sha256  file`` for each input: the committed image is reproducible from exactly these."""
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in input_packages()]
    return "\n".join(lines) + "\n"


def base_rootfs(root: Path) -> None:
    build_deb_rootfs(root, [deb(name) for name in DEBS])
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for applet in BUSYBOX_APPLETS:
        link = bin_dir / applet
        if not link.exists() and not link.is_symlink():
            link.symlink_to("busybox")


def app_rootfs(root: Path) -> None:
    for name in WHEELS:
        install_wheel(root, wheel(name))
    for name in NPM:
        install_npm(root, npm_tarball(name))
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "app.py").write_bytes(APP_PY)
    (app / "package.json").write_bytes(APP_PACKAGE_JSON)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    out = Path(args[0]).resolve() if args else OUT
    os.umask(0o022)  # modes of directories we create must not depend on the caller's umask
    with tempfile.TemporaryDirectory(prefix="imagetrust-demo-") as tmp:
        base = Path(tmp) / "base"
        app = Path(tmp) / "app"
        base_rootfs(base)
        app_rootfs(app)
        layers = [
            LayerSpec(
                tuple(dir_entries(base)),
                compression="gzip",
                created_by=BASE_STEP,
            ),
            LayerSpec(
                tuple(dir_entries(app)),
                compression="gzip",
                created_by=APP_STEP,
            ),
        ]
    config = ConfigSpec(
        user=None,  # runs as root: the config checks have something to report
        env=(
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH=/usr/local/lib/python3.11/site-packages",
        ),
        cmd=("/bin/sh",),
        working_dir="/app",
        exposed_ports=("8080/tcp",),
        labels={
            "org.opencontainers.image.title": "imagetrust demo",
            "org.opencontainers.image.description": "Small real-package image for the imagetrust demo",
            "org.opencontainers.image.licenses": (
                "GPL-2.0-or-later AND GPL-2.0-only AND GPL-3.0-or-later AND BSD-3-Clause AND MIT"
            ),
        },
        extra_history=(
            {
                "created": "2023-11-14T22:13:20Z",
                "created_by": "/bin/sh -c #(nop) EXPOSE 8080",
                "empty_layer": True,
            },
            {
                "created": "2023-11-14T22:13:20Z",
                "created_by": '/bin/sh -c #(nop) CMD ["/bin/sh"]',
                "empty_layer": True,
            },
        ),
    )
    image = build_image(layers, config, platform="linux/amd64")
    if out.exists():
        shutil.rmtree(out)
    write_layout(out, {TAG: image})
    if out == OUT:
        SOURCES.write_text(sources_text())
    size = sum(b.descriptor.size for b in image.blobs)
    print(f"wrote {out}: {image.digest} ({size} bytes of blobs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
