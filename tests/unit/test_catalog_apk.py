"""apk cataloger: fields, origin, licence and file ownership from F/R lines."""

from __future__ import annotations

from imagetrust.audit.catalog import ApkCataloger, OSRelease
from imagetrust.audit.unpack import FileIndex

INSTALLED = b"""C:Q1abc=
P:libcrypto1.1
V:1.1.1d-r0
A:x86_64
L:OpenSSL
o:openssl
m:Timo Teras <timo.teras@iki.fi>
F:lib
R:libcrypto.so.1.1
Z:Q1xyz=
F:usr/lib/engines-1.1
R:afalg.so
a:0:0:755

P:musl
V:1.1.22-r3
A:x86_64
L:MIT
o:musl
F:lib
R:ld-musl-x86_64.so.1

P:broken
"""


def test_fields_origin_and_owned_files() -> None:
    files = FileIndex.from_contents({"lib/apk/db/installed": INSTALLED})
    result = ApkCataloger().catalog(files, OSRelease("alpine", "3.10.4"))
    pkgs = {p.name: p for p in result.packages}
    crypto = pkgs["libcrypto1.1"]
    assert (crypto.version, crypto.arch, crypto.source_name, crypto.licenses) == (
        "1.1.1d-r0",
        "x86_64",
        "openssl",
        ("OpenSSL",),
    )
    assert crypto.files == ("lib/libcrypto.so.1.1", "usr/lib/engines-1.1/afalg.so")
    assert (
        crypto.purl
        == "pkg:apk/alpine/libcrypto1.1@1.1.1d-r0?arch=x86_64&distro=alpine-3.10.4&upstream=openssl"
    )
    assert pkgs["musl"].purl == "pkg:apk/alpine/musl@1.1.22-r3?arch=x86_64&distro=alpine-3.10.4"
    assert [u.reason for u in result.unknowns] == ["apk record without P or V: broken"]


def test_no_database_means_no_packages_and_no_unknowns() -> None:
    result = ApkCataloger().catalog(FileIndex.from_contents({"etc/hostname": b"x"}))
    assert result.packages == () and result.unknowns == ()
