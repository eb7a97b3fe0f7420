"""Go buildinfo over the real Go binaries in tools/roots, compared with what each tool reports itself.

No Go toolchain is installed, so ``go version -m`` is unavailable: the toolchain version is checked
against ``cosign version``'s GoVersion line, the module path against the package's import path.  Debian
builds these tools in GOPATH mode, so they carry no ``mod``/``dep`` lines: those are checked on modinfo
text in cmd/go's format.
"""

from __future__ import annotations

import io
import itertools
import re
import subprocess

import pytest

from imagetrust.audit.catalog import BinaryScan, GoCataloger
from imagetrust.audit.catalog.elf import Pieces, parse_elf
from imagetrust.audit.catalog.gobuildinfo import MAGIC, find_in_elf, parse_blob, parse_modinfo
from imagetrust.audit.catalog.golang import binary_packages
from imagetrust.audit.unpack import FileIndex, LayerInput, unpack_layers
from imagetrust.limits import Limits
from tests.conftest import REPO, tool_path
from tests.support.images import LayerSpec, layer_tar

ROOTS = REPO / "tools" / "roots"
BINARIES = sorted(ROOTS.glob("*/usr/bin/*"))
PATHS = {
    "cosign2": "github.com/sigstore/cosign/cmd/cosign",
    "cosign3": "github.com/sigstore/cosign/v3/cmd/cosign",
    "crane": "github.com/google/go-containerregistry/cmd/crane",
    "oras": "oras.land/oras/cmd/oras",
}


@pytest.mark.parametrize("name", sorted(PATHS))
def test_real_binary_module_path(name: str) -> None:
    binary = next(ROOTS.glob(f"{name}/usr/bin/*"))
    info = find_in_elf(parse_elf(binary.read_bytes()), 4 << 20)
    assert info is not None and info.path == PATHS[name]
    assert ("GOOS", "linux") in info.settings


def test_toolchain_version_matches_what_cosign_prints() -> None:
    out = subprocess.run([tool_path("cosign2"), "version"], capture_output=True, text=True).stdout
    printed = re.search(r"GoVersion:\s+(\S+)", out)
    assert printed is not None
    info = find_in_elf(parse_elf((ROOTS / "cosign2/usr/bin/cosign").read_bytes()), 4 << 20)
    assert info is not None and info.go_version == printed.group(1)
    stdlib = [p for p in binary_packages(info, "usr/bin/cosign") if p.name == "stdlib"]
    assert [(p.version, p.purl) for p in stdlib] == [
        (printed.group(1)[2:], f"pkg:golang/stdlib@{printed.group(1)[2:]}")
    ]


def test_non_go_elf_has_no_buildinfo() -> None:
    libs = sorted((ROOTS / "libs").rglob("*.so*"))
    real = next(p for p in libs if p.is_file() and not p.is_symlink())
    assert find_in_elf(parse_elf(real.read_bytes()), 4 << 20) is None


def test_elf_read_from_streamed_pieces_as_from_whole_bytes() -> None:
    """The binary scan keeps a file's chunks as they came: headers, sections and addresses read across
    piece boundaries (inside the section header table too) give what the joined bytes give."""
    tool_path("crane")
    data = next(ROOTS.glob("crane/usr/bin/*")).read_bytes()
    whole = parse_elf(data)
    shoff = int.from_bytes(data[0x28:0x30], "little")
    for cuts in ([1 << 20], [40, 4096], [shoff + 100], [shoff - 3, shoff + 1]):
        bounds = [0, *cuts, len(data)]
        pieces = Pieces([data[a:b] for a, b in itertools.pairwise(bounds)])
        elf = parse_elf(pieces)
        assert (elf.sections, elf.segments) == (whole.sections, whole.segments)
        assert elf.section(".go.buildinfo") == whole.section(".go.buildinfo")
        assert find_in_elf(elf, 4 << 20) == find_in_elf(whole, 4 << 20)
        assert pieces.read(shoff - 10, 30) == data[shoff - 10 : shoff + 20]
        assert pieces.read(len(data) - 5, 50) == data[-5:] and pieces.read(len(data) + 1, 5) == b""
        assert elf.data == data


def test_go_binary_without_section_headers_is_searched_whole() -> None:
    """Stripped of its section headers (as sstrip leaves a binary), crane is still read from the magic; with
    headers but no .go.buildinfo section a binary is not Go, and is not searched."""
    tool_path("crane")
    data = bytearray(next(ROOTS.glob("crane/usr/bin/*")).read_bytes())
    assert data[4] == 2 and data[5] == 1  # ELF64, little-endian: e_shoff at 0x28, e_shnum at 0x3C
    data[0x28:0x30] = bytes(8)
    data[0x3C:0x3E] = bytes(2)
    stripped = parse_elf(bytes(data))
    assert stripped.sections == ()
    info = find_in_elf(stripped, 4 << 20)
    assert info is not None and info.path == PATHS["crane"]


def test_modinfo_deps_and_replacements() -> None:
    text = (
        "path\texample.com/app/cmd/app\n"
        "mod\texample.com/app\t(devel)\t\n"
        "dep\tgithub.com/a/b\tv1.2.3\th1:x=\n"
        "dep\tgolang.org/x/net\tv0.1.0\th1:y=\n"
        "=>\tgithub.com/fork/net\tv0.1.1-fixed\th1:z=\n"
        "dep\texample.com/local\tv0.0.0\n"
        "=>\t../local\t\n"
        "build\tCGO_ENABLED=0\n"
    )
    info = parse_modinfo("go1.21.5", text)
    got = [(p.name, p.version, p.purl) for p in binary_packages(info, "bin/app")]
    assert got == [
        ("example.com/app", "(devel)", "pkg:golang/example.com/app"),
        ("github.com/a/b", "v1.2.3", "pkg:golang/github.com/a/b@v1.2.3"),
        ("github.com/fork/net", "v0.1.1-fixed", "pkg:golang/github.com/fork/net@v0.1.1-fixed"),
        ("example.com/local", "(devel)", "pkg:golang/example.com/local"),
        ("stdlib", "1.21.5", "pkg:golang/stdlib@1.21.5"),
    ]


@pytest.mark.parametrize(
    "blob",
    [MAGIC, MAGIC + b"\x08\x02" + b"\0" * 16 + b"\xff" * 12, MAGIC + b"\x08\x02" + b"\0" * 16 + b"\x7f"],
)
def test_hostile_blobs_are_refused(blob: bytes) -> None:
    from imagetrust.audit.catalog.gobuildinfo import MalformedBuildInfo

    with pytest.raises(MalformedBuildInfo):
        parse_blob(blob)


def _layer(files: dict[str, bytes]) -> LayerInput:
    raw = layer_tar(LayerSpec.from_files(files, modes=dict.fromkeys(files, 0o755), compression="none"))
    from imagetrust.oci.digest import Digest

    return LayerInput(io.BytesIO(raw), Digest.of(raw), "none")


def test_binary_over_the_buffer_cap_is_still_read_by_streaming() -> None:
    crane = (ROOTS / "crane/usr/bin/crane").read_bytes()
    scan = BinaryScan(Limits(max_file_content_bytes=1 << 20))  # far below crane's size: nothing buffered
    files = unpack_layers([_layer({"usr/bin/crane": crane})], visitors=[scan])
    result = GoCataloger(scan).catalog(files)
    assert [p.purl for p in result.packages] == ["pkg:golang/stdlib@1.27.2"]


def test_catalog_without_the_scan_attached_fails_closed() -> None:
    files = unpack_layers([_layer({"usr/bin/tool": b"\x7fELF" + b"\0" * 100})])
    result = GoCataloger(BinaryScan()).catalog(files)
    assert result.packages == () and "not given to the unpacker" in result.unknowns[0].reason


def test_replaced_binary_in_a_later_layer_is_not_reported() -> None:
    crane = (ROOTS / "crane/usr/bin/crane").read_bytes()
    scan = BinaryScan()
    files = unpack_layers(
        [_layer({"usr/bin/crane": crane}), _layer({"usr/bin/crane": b"#!/bin/sh\n" * 10})], visitors=[scan]
    )
    assert GoCataloger(scan).catalog(files).packages == ()
    assert isinstance(files, FileIndex)
