"""dpkg cataloger: installed-only, Source forms, distroless status.d, ownership from info/*.list."""

from __future__ import annotations

from imagetrust.audit.catalog import DpkgCataloger, OSRelease
from imagetrust.audit.unpack import FileIndex

STATUS = b"""Package: curl
Status: install ok installed
Architecture: amd64
Source: curl (7.88.1-10)
Version: 7.88.1-10+deb12u5
Maintainer: Alessandro Ghedini <ghedo@debian.org>
Description: command line tool
 with a continuation line
 .
 and another

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9

Package: gone
Status: deinstall ok config-files
Architecture: all
Version: 1.0

Package: broken
Status: install reinstreq half-installed
Architecture: all
Version: 2.0

Package: tzdata
Status: hold ok installed
Architecture: all
Version: 2024a-0+deb12u1
"""

DISTROLESS = b"""Package: base-files
Version: 12.4+deb12u5
Architecture: amd64
Source: base-files
"""


def by_name(files: FileIndex, distro: OSRelease | None = None) -> dict[str, object]:
    return {p.name: p for p in DpkgCataloger().catalog(files, distro).packages}


def test_only_installed_packages_with_source_forms() -> None:
    files = FileIndex.from_contents(
        {
            "var/lib/dpkg/status": STATUS,
            "var/lib/dpkg/info/libc6:amd64.list": b"/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n",
            "var/lib/dpkg/info/curl.list": b"/.\n/usr/bin/curl\n",
        }
    )
    result = DpkgCataloger().catalog(files, OSRelease("debian", "12"))
    pkgs = {p.name: p for p in result.packages}
    assert sorted(pkgs) == ["curl", "libc6", "tzdata"]  # held packages are installed too
    curl, libc = pkgs["curl"], pkgs["libc6"]
    assert (curl.source_name, curl.source_version) == ("curl", "7.88.1-10")
    assert (libc.source_name, libc.source_version) == ("glibc", "2.36-9")
    assert pkgs["tzdata"].source_name == "tzdata"
    assert curl.maintainer == "Alessandro Ghedini <ghedo@debian.org>"
    assert libc.files == ("lib", "lib/x86_64-linux-gnu/libc.so.6")  # via the name:arch.list form
    assert curl.files == ("usr/bin/curl",)
    assert (
        curl.purl
        == "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12&upstream=curl%407.88.1-10"
    )
    assert libc.purl == "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc"
    assert curl.locations == ("var/lib/dpkg/status",)


def test_epoch_kept_in_version_and_purl() -> None:
    status = b"Package: perl\nStatus: install ok installed\nVersion: 1:5.36.0-7\nArchitecture: amd64\n"
    (perl,) = DpkgCataloger().catalog(FileIndex.from_contents({"var/lib/dpkg/status": status})).packages
    assert perl.version == "1:5.36.0-7"
    assert perl.purl == "pkg:deb/debian/perl@1:5.36.0-7?arch=amd64"


def test_distroless_status_d_files() -> None:
    cataloger = DpkgCataloger()
    assert cataloger.wanted("var/lib/dpkg/status.d/base-files")
    assert not cataloger.wanted("var/lib/dpkg/status.d/base-files.md5sums")
    assert not cataloger.wanted("var/lib/dpkg/status-old")
    files = FileIndex.from_contents(
        {
            "var/lib/dpkg/status.d/base-files": DISTROLESS,
            "var/lib/dpkg/status.d/base-files.md5sums": b"d41d8cd98f00b204e9800998ecf8427e  etc/issue\n",
        }
    )
    (pkg,) = cataloger.catalog(files).packages
    assert (pkg.name, pkg.version, pkg.arch) == ("base-files", "12.4+deb12u5", "amd64")
    assert pkg.locations == ("var/lib/dpkg/status.d/base-files",)


def test_database_present_but_not_read_is_unknown() -> None:
    files = FileIndex.from_contents({"var/lib/dpkg/status": b""})
    del files.contents["var/lib/dpkg/status"]
    result = DpkgCataloger().catalog(files)
    assert result.packages == () and [u.path for u in result.unknowns] == ["var/lib/dpkg/status"]


def test_package_without_version_is_unknown_not_dropped() -> None:
    files = FileIndex.from_contents({"var/lib/dpkg/status": b"Package: x\nStatus: install ok installed\n"})
    result = DpkgCataloger().catalog(files)
    assert result.packages == () and "no Version" in result.unknowns[0].reason
