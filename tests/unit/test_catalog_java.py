"""Java archives: the real Debian commons-lang3 jar, nesting bounds, manifest fallback, broken zips."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

from imagetrust.audit.catalog.java import JavaCataloger, read_archive
from imagetrust.audit.unpack import FileIndex
from imagetrust.limits import Limits
from tests.support.debs import deb


def _real_jar(tmp_path: Path) -> bytes:
    subprocess.run(["dpkg", "-x", str(deb("libcommons-lang3-java")), str(tmp_path)], check=True)
    return (tmp_path / "usr/share/java/commons-lang3.jar").read_bytes()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_real_jar_and_nesting_depth(tmp_path: Path) -> None:
    jar = _real_jar(tmp_path)
    result = JavaCataloger().catalog(FileIndex.from_contents({"opt/lib/commons-lang3.jar": jar}))
    assert [p.purl for p in result.packages] == ["pkg:maven/org.apache.commons/commons-lang3@3.12.0"]
    nested = jar
    for level in range(3):
        nested = _zip(
            {
                "META-INF/MANIFEST.MF": f"Implementation-Title: l{level}\nImplementation-Version: 1\n".encode(),  # noqa: E501
                f"lib/inner{level}.jar": nested,
            }
        )
    deep = read_archive(nested, "app.ear", Limits(java_archive_depth=2))
    assert [p.name for p in deep.packages] == ["l2", "l1", "l0"]
    assert "nested deeper than 2" in deep.unknowns[0].reason
    full = read_archive(nested, "app.ear", Limits(java_archive_depth=4))
    commons = full.packages[-1]
    assert commons.purl == "pkg:maven/org.apache.commons/commons-lang3@3.12.0"
    assert commons.locations == ("app.ear!lib/inner2.jar!lib/inner1.jar!lib/inner0.jar",)


def test_manifest_fallback_bomb_and_broken_zip() -> None:
    bundle = _zip(
        {"META-INF/MANIFEST.MF": b"Bundle-SymbolicName: org.x.y;singleton:=true\nBundle-Version: 2.1\n"}
    )
    assert [p.purl for p in read_archive(bundle, "x.jar", Limits()).packages] == ["pkg:maven/org.x.y@2.1"]
    bomb = _zip({"META-INF/maven/g/a/pom.properties": b"version=1\n" + b"#" * 200_000})
    result = read_archive(bomb, "bomb.jar", Limits(max_file_content_bytes=10_000))
    assert any("larger than 10000" in u.reason for u in result.unknowns)
    broken = read_archive(b"PK\x03\x04 not a zip", "b.jar", Limits())
    assert broken.packages == () and "not a readable zip" in broken.unknowns[0].reason
