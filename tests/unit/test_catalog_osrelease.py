"""OS detection: os-release quoting, fallbacks, and the purl distro qualifier."""

from __future__ import annotations

import io
import tarfile

from imagetrust.audit.catalog import content_policy, default_catalogers, detect_os, parse_os_release
from imagetrust.audit.catalog.purl import make_purl
from imagetrust.audit.unpack import FileIndex, LayerInput, unpack_layers
from imagetrust.oci.digest import Digest


def test_os_release_fields_and_quoting() -> None:
    text = b"""# comment
NAME="Debian GNU/Linux"
ID=debian
ID_LIKE='rhel fedora'
VERSION_ID="12"
VERSION_CODENAME=bookworm
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
"""
    found = parse_os_release(text, "etc/os-release")
    assert found is not None
    assert (found.id, found.version_id, found.version_codename) == ("debian", "12", "bookworm")
    assert found.pretty_name == "Debian GNU/Linux 12 (bookworm)"
    assert found.id_like == ("rhel", "fedora")
    assert found.distro_qualifier == "debian-12"


def test_etc_wins_over_usr_lib() -> None:
    files = FileIndex.from_contents({"usr/lib/os-release": b"ID=ubuntu\nVERSION_ID=22.04\n"})
    found = detect_os(files)
    assert found is not None and (found.id, found.version_id, found.source) == (
        "ubuntu",
        "22.04",
        "usr/lib/os-release",
    )
    files.contents["etc/os-release"] = b'ID="alpine"\nVERSION_ID=3.19.1\n'
    files.live["etc/os-release"] = files.live["usr/lib/os-release"]
    assert detect_os(files).id == "alpine"  # type: ignore[union-attr]


def test_fallbacks() -> None:
    alpine = detect_os(FileIndex.from_contents({"etc/alpine-release": b"3.10.2\n"}))
    assert alpine is not None and (alpine.id, alpine.version_id) == ("alpine", "3.10.2")
    debian = detect_os(FileIndex.from_contents({"etc/debian_version": b"12.5\n"}))
    assert debian is not None and (debian.id, debian.version_id) == ("debian", "12")
    sid = detect_os(FileIndex.from_contents({"etc/debian_version": b"bookworm/sid\n"}))
    assert sid is not None and (sid.id, sid.version_id, sid.version_codename) == ("debian", None, "bookworm")
    assert detect_os(FileIndex.from_contents({"etc/os-release": b"NAME=nothing\n"})) is None


def test_purl_encoding() -> None:
    assert make_purl("rpm", "fedora", "curl", "7.50.3-1.fc25", {"epoch": "1", "arch": "i386"}) == (
        "pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386&epoch=1"
    )
    assert (
        make_purl("deb", "debian", "g++", "4:12.2.0-3", {"arch": None}) == "pkg:deb/debian/g%2B%2B@4:12.2.0-3"
    )


def test_debian_style_symlinked_os_release_through_the_unpacker() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("etc/os-release")
        link.type, link.linkname = tarfile.SYMTYPE, "../usr/lib/os-release"
        tar.addfile(link)
        data = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
        real = tarfile.TarInfo("usr/lib/os-release")
        real.size = len(data)
        tar.addfile(real, io.BytesIO(data))
    raw = buf.getvalue()
    index = unpack_layers(
        [LayerInput(io.BytesIO(raw), Digest.of(raw), "none")], content_policy(default_catalogers())
    )
    found = detect_os(index)
    assert found is not None and (found.id, found.version_id, found.source) == (
        "debian",
        "12",
        "etc/os-release",
    )
