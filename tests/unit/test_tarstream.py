"""tarstream against tarfile: the same members, contents, end offsets and errors on built, real and
mutated layers; bounded reads; the fast path really covers ordinary layers."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagetrust.audit.unpack.tarstream import TarStream, _byte_sum
from imagetrust.errors import ImageTrustError
from tests.conftest import shared_data
from tests.support.images import (
    EPOCH,
    Dir,
    File,
    Hardlink,
    LayerSpec,
    OpaqueDir,
    Raw,
    Symlink,
    Whiteout,
    layer_tar,
)

REPO = Path(__file__).resolve().parents[2]
FAST = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
Outcome = tuple[list[tuple[object, ...]], int | None, str | None]


class BoundedSource:
    """A layer as a stream that fails the test if asked for an unbounded or huge read."""

    def __init__(self, raw: bytes) -> None:
        self._io = io.BytesIO(raw)

    def read(self, n: int = -1, /) -> bytes:
        assert 0 < n <= (2 << 20), n
        return self._io.read(n)


def _digest(parts: list[bytes]) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


def ours(raw: bytes, *, fast: bool = True) -> Outcome:
    stream = TarStream(BoundedSource(raw), fast=fast)
    members: list[tuple[object, ...]] = []
    try:
        for m in stream:
            content = _digest(list(stream.chunks(4096))) if m.has_data else ""
            members.append((m.name, m.type, m.size, m.mode, m.uid, m.gid, m.linkname, content))
    except ImageTrustError as e:
        return members, None, str(e)
    return members, stream.end, None


def reference(raw: bytes) -> Outcome:
    """What tarfile itself reports, read the way the unpacker read layers before tarstream."""
    members: list[tuple[object, ...]] = []
    try:
        tar = tarfile.TarFile(fileobj=io.BytesIO(raw), mode="r", encoding="utf-8", errors="surrogateescape")
        while (info := tar.next()) is not None:
            content = ""
            if info.isreg() or info.type not in tarfile.SUPPORTED_TYPES:
                stream = tar.extractfile(info)
                assert stream is not None
                content = _digest(list(iter(lambda s=stream: s.read(4096), b"")))  # type: ignore[misc]
            members.append(
                (info.name, info.type, info.size, info.mode, info.uid, info.gid, info.linkname, content)
            )
    except (tarfile.TarError, EOFError, ValueError) as e:
        if str(e) == "empty file":
            return members, 0, None
        return members, None, f"not a valid tar stream ({e})"
    return members, int(tar.offset), None


def assert_same(raw: bytes, *, fast_only: bool = False) -> Outcome:
    mine = ours(raw)
    assert mine == reference(raw)
    assert mine == ours(raw, fast=False)
    if fast_only:
        stream = TarStream(io.BytesIO(raw))
        list(stream)
        assert stream.handed_off_at is None, "an ordinary layer should never need tarfile"
    return mine


# -- layers built the way the test suite builds them ------


def _raw(name: str, kind: bytes, **attrs: object) -> Raw:
    info = tarfile.TarInfo(name)
    info.type, info.mtime = kind, EPOCH
    for key, value in attrs.items():
        setattr(info, key, value)
    return Raw(info)


SPEC = LayerSpec(
    (
        Dir("etc"),
        File("etc/os-release", b"ID=debian\n"),
        File("empty"),
        File("bin/tool", bytes(range(256)) * 700, 0o755),
        Symlink("lib", "usr/lib"),
        Hardlink("bin/tool2", "bin/tool"),
        Whiteout("var/gone"),
        OpaqueDir("opt"),
        File("deep/" + "d" * 120 + "/" + "n" * 150, b"long"),
        File("srv/bad-\udcff\udcfe", b"x"),
        File("home/u/big-owner", b"o", uid=2**40, gid=3_000_000),
        _raw("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=1),
        _raw("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        _raw("run/fifo", tarfile.FIFOTYPE),
        _raw("odd", b"Z"),
    ),
    auto_parents=True,
)


def test_suite_style_layer_reads_the_same_and_stays_on_the_fast_path() -> None:
    raw = layer_tar(SPEC)
    assert b"hdrcharset=BINARY" in raw  # how a pax writer stores the non-UTF-8 name
    members, end, error = assert_same(raw, fast_only=True)
    assert error is None and end is not None and len(members) > 15


def _rewrite(raw: bytes, fmt: int, *, pax_globals: dict[str, str] | None = None) -> bytes:
    """The same members written again by tarfile in another format."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(raw), mode="r:", encoding="utf-8", errors="surrogateescape") as src,
        tarfile.open(
            fileobj=out,
            mode="w",
            format=fmt,
            encoding="utf-8",
            errors="surrogateescape",
            pax_headers=pax_globals,
        ) as dst,
    ):
        for info in src:
            if fmt == tarfile.USTAR_FORMAT and (len(info.name) > 255 or info.uid > 0o7777777):
                continue
            data = src.extractfile(info) if info.isreg() or info.type == b"Z" else None
            dst.addfile(info, data)
    return out.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT])
def test_every_format_reads_the_same(fmt: int) -> None:
    raw = _rewrite(layer_tar(SPEC), fmt)
    members, _, error = assert_same(raw)
    assert error is None and members
    if fmt == tarfile.GNU_FORMAT:
        assert b"././@LongLink" in raw  # GNU long names and base-256 owners really were exercised
        assert any(m[4] == 2**40 for m in members)


def test_pax_global_records_apply_as_tarfile_applies_them() -> None:
    raw = _rewrite(layer_tar(SPEC), tarfile.PAX_FORMAT, pax_globals={"uid": "77", "comment": "git archive"})
    members, _, error = assert_same(raw)
    assert error is None and {m[4] for m in members} >= {77}


def test_sparse_files_are_handed_to_tarfile(tmp_path: Path) -> None:
    sparse = tmp_path / "src" / "sparse"
    sparse.parent.mkdir()
    with sparse.open("wb") as f:
        f.seek(1 << 20)
        f.write(b"end")
    (tmp_path / "src" / "after").write_bytes(b"after")
    for fmt in ("gnu", "posix"):
        out = tmp_path / f"{fmt}.tar"
        subprocess.run(
            [
                "tar",
                f"--format={fmt}",
                "--sparse",
                "-cf",
                str(out),
                "-C",
                str(tmp_path / "src"),
                "sparse",
                "after",
            ],
            check=True,
        )
        raw = out.read_bytes()
        members, _, error = assert_same(raw)
        assert error is None and [m[0] for m in members] == ["sparse", "after"]
        stream = TarStream(io.BytesIO(raw))
        assert [m.name for m in stream] == ["sparse", "after"]
        assert stream.handed_off_at == 0 and stream.tarfile_members == 1  # "after" is read by the fast path


# -- real layers ------


def _tar_blobs(blobs: list[bytes]) -> list[bytes]:
    layers = []
    for blob in blobs:
        data = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
        if len(data) >= 512 and data[257:262] == b"ustar":
            layers.append(data)
    return layers


def test_demo_layout_layers_read_the_same() -> None:
    blobs = [p.read_bytes() for p in sorted((REPO / "fixtures/demo/layout/blobs/sha256").iterdir())]
    layers = _tar_blobs(blobs)
    assert layers
    for raw in layers:
        assert_same(raw, fast_only=True)


def test_trivy_alpine_docker_save_layers_read_the_same() -> None:
    path = shared_data("pkgdb/image-tarballs/trivy-alpine-310.docker-save.tar.gz")
    with tarfile.open(path) as outer:
        blobs = [outer.extractfile(m).read() for m in outer if m.isreg() and m.name.endswith(".tar")]  # type: ignore[union-attr]
    layers = _tar_blobs(blobs)
    assert layers
    for raw in layers:
        members, _, error = assert_same(raw, fast_only=True)
        assert error is None and any(m[0] == "lib/apk/db/installed" for m in members)


@pytest.mark.parametrize(
    "deb", sorted((REPO / "tools/packages/deb").glob("*.deb")), ids=lambda p: p.name[:20]
)
def test_real_deb_data_tars_read_the_same(deb: Path) -> None:
    raw = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    members, _, error = assert_same(raw, fast_only=True)
    assert error is None and members


# -- generated and mutated tars ------

names = st.text(st.sampled_from("ab/.-\udcffé"), min_size=1, max_size=160)
kinds = st.sampled_from(
    [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE]
)
members_st = st.lists(
    st.tuples(names, kinds, names, st.binary(max_size=1500), st.integers(0, 2**33)), min_size=1, max_size=8
)
formats = st.sampled_from([tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT])


def _write(entries: list[tuple[str, bytes, str, bytes, int]], fmt: int) -> bytes | None:
    out = io.BytesIO()
    try:
        with tarfile.open(
            fileobj=out, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape"
        ) as tar:
            for name, kind, link, data, owner in entries:
                info = tarfile.TarInfo(name)
                info.type, info.uid, info.gid, info.mode = kind, owner, owner // 3, owner & 0o7777
                info.linkname = link if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
                info.size = len(data) if kind == tarfile.REGTYPE else 0
                tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    except ValueError:
        return None  # this format cannot hold these names or numbers
    return out.getvalue()


@FAST
@given(members_st, formats)
def test_generated_tars_read_back_identically(
    entries: list[tuple[str, bytes, str, bytes, int]], fmt: int
) -> None:
    raw = _write(entries, fmt)
    if raw is None:
        return
    members, _, error = assert_same(raw)
    assert error is None and len(members) == len(entries)


@FAST
@given(
    members_st,
    formats,
    st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0),
)
def test_mutated_tars_fail_the_same_way_and_only_with_our_errors(
    entries: list[tuple[str, bytes, str, bytes, int]], fmt: int, edits: list[tuple[int, int]], cut: int
) -> None:
    raw = _write(entries, fmt)
    if raw is None:
        return
    mutated = bytearray(raw)
    for where, value in edits:
        mutated[where % len(mutated)] = value
    for candidate in (bytes(mutated), bytes(mutated[: cut % (len(mutated) + 1)])):
        assert_same(candidate)  # ours() lets anything but an ImageTrustError fail the test


def test_checksum_and_number_edits_in_headers_fail_the_same_way() -> None:
    raw = layer_tar(SPEC)
    header_offsets = [0, 512, 1024]
    for base in header_offsets:
        for field in (100, 108, 124, 136, 148, 156, 329, 345):
            for value in (0, 0x20, 0x37, 0x80, 0xFF, ord("9")):
                mutated = bytearray(raw)
                mutated[base + field] = value
                assert_same(bytes(mutated))


def test_truncated_content_and_missing_end_blocks() -> None:
    raw = layer_tar(SPEC)
    for cut in (0, 1, 511, 512, 513, 1024, len(raw) // 2, len(raw) - 1024, len(raw) - 1):
        assert_same(raw[:cut])
    _, end, error = ours(b"")
    assert (end, error) == (0, None)
    trailing = raw + b"junk" + bytes(1020)
    assert ours(trailing)[1] == reference(trailing)[1]


def test_header_byte_sum_is_exact_at_its_extremes() -> None:
    """The checksum sum is taken from Adler-32 halves; 256 bytes of 0xff is the largest a half can hold."""
    for data in (b"", b"\xff" * 8, b"\xff" * 256, b"\xff" * 512, bytes(range(256)) * 2, b"\x01" * 511):
        assert _byte_sum(data) == sum(data)


def _header_ranges(raw: bytes) -> list[range]:
    """Where the headers (with their extended headers and records) of a valid tar lie."""
    with tarfile.TarFile(
        fileobj=io.BytesIO(raw), mode="r", encoding="utf-8", errors="surrogateescape"
    ) as tar:
        return [range(info.offset, info.offset_data) for info in tar]


@FAST
@given(
    members_st,
    formats,
    st.lists(st.tuples(st.integers(0), st.integers(0), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_header_mutations_fail_the_same_way(
    entries: list[tuple[str, bytes, str, bytes, int]], fmt: int, edits: list[tuple[int, int, int]]
) -> None:
    raw = _write(entries, fmt)
    if raw is None:
        return
    ranges = _header_ranges(raw)
    mutated = bytearray(raw)
    for which, where, value in edits:
        span = ranges[which % len(ranges)]
        mutated[span[where % len(span)]] = value
    assert_same(bytes(mutated))
