"""Language catalogers over a real two-layer image: real .debs (with a real dpkg database), real wheels,
a real npm tarball, a real jar from Debian, a real Debian gemspec and a real Go binary from tools/.

The Rust section, .deps.json and installed.json are not available as real artifacts from the reachable
registries; they are written here in their real formats (see each note below).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

from imagetrust.audit.catalog import (
    catalog_image,
    content_policy,
    content_visitors,
    default_catalogers,
)
from imagetrust.audit.unpack import LayerInput, unpack_layers
from tests.conftest import REPO
from tests.support.debs import build_deb_rootfs, deb, install_npm, install_wheel, npm_tarball, wheel
from tests.support.images import LayerSpec, build_image

CRANE = REPO / "tools" / "roots" / "crane" / "usr" / "bin" / "crane"

# cargo-auditable's format: zlib-compressed JSON in an ELF section named .dep-v0 (no Debian package ships
# a binary built with cargo-auditable, so the section is added to a real ELF binary with objcopy).
DEP_V0 = {
    "packages": [
        {"name": "demo", "version": "0.1.0", "source": "local", "dependencies": [1, 2], "root": True},
        {"name": "serde", "version": "1.0.197", "source": "crates.io"},
        {"name": "regex", "version": "1.10.3", "source": "crates.io", "dependencies": [3]},
        {"name": "cc", "version": "1.0.90", "source": "crates.io", "kind": "build"},
    ]
}
DEPS_JSON = {  # the layout `dotnet publish` writes (runtimeTarget, targets, libraries)
    "runtimeTarget": {"name": ".NETCoreApp,Version=v8.0", "signature": ""},
    "compilationOptions": {},
    "targets": {".NETCoreApp,Version=v8.0": {"App/1.0.0": {"dependencies": {"Newtonsoft.Json": "13.0.1"}}}},
    "libraries": {
        "App/1.0.0": {"type": "project", "serviceable": False, "sha512": ""},
        "Newtonsoft.Json/13.0.1": {
            "type": "package",
            "serviceable": True,
            "sha512": "sha512-ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0Dw9HmA0+za13IdyrgJwpkDTDA9fHaxOrt20A==",  # noqa: E501
            "path": "newtonsoft.json/13.0.1",
            "hashPath": "newtonsoft.json.13.0.1.nupkg.sha512",
        },
    },
}
INSTALLED_JSON = {  # Composer 2 vendor/composer/installed.json
    "packages": [
        {"name": "psr/log", "version": "1.1.4", "version_normalized": "1.1.4.0", "license": ["MIT"]}
    ],
    "dev": True,
    "dev-package-names": [],
}


def _rust_binary(tmp: Path) -> Path:
    section = tmp / "dep-v0.bin"
    section.write_bytes(zlib.compress(json.dumps(DEP_V0).encode(), 9))
    plain = tmp / "hello-x"
    subprocess.run(["dpkg", "-x", str(deb("hello")), str(tmp / "hello-root")], check=True)
    out = tmp / "demo"
    shutil.copy(tmp / "hello-root/usr/bin/hello", plain)
    subprocess.run(["objcopy", "--add-section", f".dep-v0={section}", str(plain), str(out)], check=True)
    return out


def _war(jar: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "META-INF/MANIFEST.MF",
            "Manifest-Version: 1.0\r\nImplementation-Title: shop\r\nImplementation-Version: 1.4.0\r\n"
            "Implementation-Vendor-Id: com.example\r\n\r\n",
        )
        zf.writestr("WEB-INF/lib/commons-lang3-3.12.0.jar", jar)
    return buf.getvalue()


def _image(tmp_path: Path) -> list[LayerInput]:
    os_root = tmp_path / "os"
    build_deb_rootfs(
        os_root, [deb("base-files"), deb("python3-jinja2"), deb("libcommons-lang3-java"), deb("ruby-rack")]
    )
    app = tmp_path / "app"
    install_wheel(app, wheel("Jinja2"))
    install_wheel(app, wheel("MarkupSafe"))
    install_npm(app, npm_tarball("lodash"))
    (app / "usr/local/bin").mkdir(parents=True)
    shutil.copy(CRANE, app / "usr/local/bin/crane")
    shutil.copy(_rust_binary(tmp_path), app / "usr/local/bin/demo")
    jar = (os_root / "usr/share/java/commons-lang3.jar").read_bytes()
    (app / "opt/web").mkdir(parents=True)
    (app / "opt/web/shop.war").write_bytes(_war(jar))
    (app / "opt/dotnet").mkdir(parents=True)
    (app / "opt/dotnet/App.deps.json").write_text(json.dumps(DEPS_JSON))
    (app / "srv/php/vendor/composer").mkdir(parents=True)
    (app / "srv/php/vendor/composer/installed.json").write_text(json.dumps(INSTALLED_JSON))
    image = build_image([LayerSpec.from_dir(os_root), LayerSpec.from_dir(app)])
    return [LayerInput(io.BytesIO(blob.data), blob.descriptor.digest) for blob in image.layers]


def test_real_image_inventory_is_exact_and_os_owned_files_are_reported_once(tmp_path: Path) -> None:
    catalogers = default_catalogers()
    files = unpack_layers(_image(tmp_path), content_policy(catalogers), content_visitors(catalogers))
    distro, result = catalog_image(files, catalogers)

    assert distro is not None and distro.id == "debian"
    got = sorted((p.type, p.name, p.version, p.purl) for p in result.packages if p.type != "deb")
    assert got == sorted(
        [
            ("pypi", "Jinja2", "2.10", "pkg:pypi/jinja2@2.10"),
            ("pypi", "MarkupSafe", "2.1.5", "pkg:pypi/markupsafe@2.1.5"),
            ("npm", "lodash", "4.17.20", "pkg:npm/lodash@4.17.20"),
            ("golang", "stdlib", "1.27.2", "pkg:golang/stdlib@1.27.2"),
            (
                "maven",
                "org.apache.commons:commons-lang3",
                "3.12.0",
                "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
            ),
            ("maven", "com.example:shop", "1.4.0", "pkg:maven/com.example/shop@1.4.0"),
            ("cargo", "serde", "1.0.197", "pkg:cargo/serde@1.0.197"),
            ("cargo", "regex", "1.10.3", "pkg:cargo/regex@1.10.3"),
            ("cargo", "cc", "1.0.90", "pkg:cargo/cc@1.0.90"),
            ("nuget", "Newtonsoft.Json", "13.0.1", "pkg:nuget/Newtonsoft.Json@13.0.1"),
            ("composer", "psr/log", "1.1.4", "pkg:composer/psr/log@1.1.4"),
        ]
    )
    debs = sorted(p.name for p in result.packages if p.type == "deb")
    assert debs == ["base-files", "libcommons-lang3-java", "python3-jinja2", "ruby-rack"]

    # the Debian-owned copies: reported once, as the deb, and each suppression says which deb owns it
    suppressed = sorted((s.package.purl, s.path, s.owner.split("?")[0]) for s in result.suppressed)
    assert suppressed == [
        (
            "pkg:gem/rack@2.2.22",
            "usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec",
            "pkg:deb/debian/ruby-rack@2.2.22-0%2Bdeb12u1",
        ),
        (
            "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
            "usr/share/java/commons-lang3.jar",
            "pkg:deb/debian/libcommons-lang3-java@3.12.0-2%2Bdeb12u1",
        ),
        (
            "pkg:pypi/jinja2@3.1.2",
            "usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info/PKG-INFO",
            "pkg:deb/debian/python3-jinja2@3.1.2-1%2Bdeb12u3",
        ),
    ]
    maven = next(p for p in result.packages if p.name.endswith("commons-lang3"))
    assert maven.locations == ("opt/web/shop.war!WEB-INF/lib/commons-lang3-3.12.0.jar",)
    jinja = next(p for p in result.packages if p.name == "Jinja2")
    assert "usr/local/lib/python3.11/site-packages/jinja2/__init__.py" in jinja.files
    assert list(result.unknowns) == []
