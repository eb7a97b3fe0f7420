"""Unpacker behaviour on layers built here: whiteouts, path safety, links, limits, compression."""

from __future__ import annotations

import io
import tarfile

import pytest
import zstandard
from isal import igzip

from imagetrust.audit.unpack import (
    ContentPolicy,
    Entry,
    EntryType,
    LayerInput,
    ResolveError,
    unpack_layers,
)
from imagetrust.errors import LimitExceeded
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest

Member = tuple[str, str, bytes | str]  # (name, kind, data-or-linkname)


def build_tar(members: list[Member]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "chardev": tarfile.CHRTYPE,
            }[kind]
            if kind in ("symlink", "hardlink"):
                assert isinstance(payload, str)
                info.linkname = payload
            tar.addfile(info)
    return buf.getvalue()


def layer(members: list[Member], compression: str = "none") -> LayerInput:
    raw = build_tar(members)
    if compression == "gzip":
        raw = igzip.compress(raw)
    elif compression == "zstd":
        raw = zstandard.ZstdCompressor().compress(raw)
    return LayerInput(io.BytesIO(raw), Digest.of(raw), compression)  # type: ignore[arg-type]


def keep_all() -> ContentPolicy:
    return ContentPolicy().want(lambda _p: True)


def test_whiteout_deletes_file_and_subtree_and_attributes_deletion() -> None:
    base = layer(
        [
            ("etc/", "dir", b""),
            ("etc/secret", "file", b"password=hunter2"),
            ("opt/app/", "dir", b""),
            ("opt/app/a.txt", "file", b"a"),
            ("opt/app/sub/b.txt", "file", b"b"),
            ("opt/keep", "file", b"k"),
        ]
    )
    top = layer([("etc/.wh.secret", "file", b""), ("opt/.wh.app", "file", b"")])
    index = unpack_layers([base, top], keep_all())

    assert index.get("etc/secret") is None
    assert index.get("opt/app/sub/b.txt") is None
    assert index.get("opt/app") is None
    assert index.get("opt/keep") is not None
    assert index.get("etc/.wh.secret") is None  # whiteout markers are not files
    deleted = {e.path: e for e in index.all_entries(include_deleted=True) if e.is_deleted}
    assert set(deleted) == {"etc/secret", "opt/app", "opt/app/a.txt", "opt/app/sub/b.txt"}
    assert deleted["etc/secret"].layer == base.digest
    assert deleted["etc/secret"].deleted_by == top.digest
    assert index.content("etc/secret") is None
    assert all(not e.is_deleted for e in index.all_entries())


def test_opaque_directory_hides_lower_children_but_keeps_its_own() -> None:
    base = layer(
        [("d/", "dir", b""), ("d/old", "file", b"o"), ("d/sub/x", "file", b"x"), ("e/f", "file", b"")]
    )
    top = layer([("d/", "dir", b""), ("d/.wh..wh..opq", "file", b""), ("d/new", "file", b"n")])
    index = unpack_layers([base, top])
    assert sorted(p for p in index.paths() if p.startswith("d")) == ["d", "d/new"]
    assert index.get("e/f") is not None
    assert {e.path for e in index.deleted_entries()} == {"d/old", "d/sub/x"}


def test_whiteout_does_not_hide_files_of_its_own_layer() -> None:
    base = layer([("a", "file", b"1")])
    top = layer([("a", "file", b"2"), (".wh.a", "file", b"")])
    index = unpack_layers([base, top], keep_all())
    assert index.content("a") == b"2"
    assert [e.layer for e in index.deleted_entries()] == [base.digest]


def test_file_readded_after_deletion_is_live_with_history() -> None:
    one, two = layer([("f", "file", b"v1")]), layer([(".wh.f", "file", b"")])
    three = layer([("f", "file", b"v3")])
    index = unpack_layers([one, two, three], keep_all())
    entry = index.get("f")
    assert entry is not None and entry.layer == three.digest
    assert index.content("f") == b"v3"
    assert [(e.layer, e.deleted_by) for e in index.deleted_entries()] == [(one.digest, two.digest)]


def test_file_replacing_lower_directory_hides_its_subtree() -> None:
    base = layer([("x/", "dir", b""), ("x/y", "file", b"")])
    top = layer([("x", "file", b"now a file")])
    index = unpack_layers([base, top])
    assert index.get("x/y") is None
    assert index.get("x") is not None and index.get("x").type is EntryType.FILE  # type: ignore[union-attr]


def test_parent_traversal_is_refused_and_recorded() -> None:
    index = unpack_layers(
        [layer([("../../etc/passwd", "file", b"root::0:0"), ("a/../../b", "file", b""), ("ok", "file", b"")])]
    )
    assert list(index.paths()) == ["ok"]
    assert {u.path for u in index.unknowns} == {"../../etc/passwd", "a/../../b"}
    assert all("'..'" in u.reason for u in index.unknowns)


def test_absolute_and_dot_names_are_placed_under_the_root() -> None:
    index = unpack_layers(
        [layer([("/etc/passwd", "file", b"x"), ("./usr//bin/sh", "file", b"y")])], keep_all()
    )
    assert list(index.paths()) == ["etc/passwd", "usr/bin/sh"]
    assert index.content("/etc/passwd") == b"x"


def test_symlinks_resolve_inside_the_root_only() -> None:
    index = unpack_layers(
        [
            layer(
                [
                    ("etc/shadow", "file", b"inside"),
                    ("escape", "symlink", "../../../../../etc/shadow"),
                    ("abs", "symlink", "/etc/shadow"),
                    ("dirlink", "symlink", "/etc"),
                ]
            )
        ],
        keep_all(),
    )
    assert index.resolve("escape") == "etc/shadow"
    assert index.resolve("abs") == "etc/shadow"
    assert index.resolve("dirlink/shadow") == "etc/shadow"
    assert index.content("escape") == b"inside"
    assert index.get("escape").link_target == "../../../../../etc/shadow"  # type: ignore[union-attr]


def test_symlink_loop_is_bounded() -> None:
    index = unpack_layers(
        [layer([("a", "symlink", "b"), ("b", "symlink", "a"), ("self", "symlink", "self/x")])],
        limits=Limits(max_link_depth=8),
    )
    with pytest.raises(ResolveError):
        index.resolve("a")
    with pytest.raises(ResolveError):
        index.resolve("self")
    assert index.content("a") is None


def test_hardlinks_escaping_or_forward_are_unknown_and_valid_ones_share_content() -> None:
    index = unpack_layers(
        [
            layer(
                [
                    ("out", "hardlink", "../../etc/passwd"),
                    ("early", "hardlink", "later"),
                    ("later", "file", b"data"),
                    ("good", "hardlink", "later"),
                ]
            )
        ],
        keep_all(),
    )
    reasons = {u.path: u.reason for u in index.unknowns}
    assert set(reasons) == {"out", "early"}
    assert "refused" in reasons["out"] and "not a file seen before" in reasons["early"]
    good = index.get("good")
    assert good is not None and good.type is EntryType.HARDLINK and good.link_target == "later"
    assert good.size == 4 and index.content("good") == b"data"
    assert index.get("out") is None and index.get("early") is None


def test_device_files_are_recorded_not_read() -> None:
    index = unpack_layers([layer([("dev/null", "chardev", b"")])], keep_all())
    entry = index.get("dev/null")
    assert entry is not None and entry.type is EntryType.CHAR_DEVICE and entry.size == 0
    assert "dev/null" not in index.contents


def test_duplicate_entries_later_wins() -> None:
    index = unpack_layers([layer([("f", "file", b"first"), ("f", "file", b"second!")])], keep_all())
    assert index.content("f") == b"second!"
    assert index.get("f").size == 7  # type: ignore[union-attr]
    assert index.deleted_entries() == []  # same layer: a duplicate, not a deletion


def test_invalid_utf8_names_survive_via_surrogateescape() -> None:
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        info = tarfile.TarInfo("bad-\udcff.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    raw = buf.getvalue()
    assert b"bad-\xff.txt" in raw
    index = unpack_layers([LayerInput(io.BytesIO(raw), Digest.of(raw), "none")], keep_all())
    (path,) = list(index.paths())
    assert path.encode("utf-8", "surrogateescape") == b"bad-\xff.txt"
    assert index.content(path) == b"hi"


def test_gzip_bomb_stops_at_decompressed_limit() -> None:
    bomb = layer([("zeros", "file", b"\0" * (8 << 20))], "gzip")
    assert len(bomb.stream.read()) < 100_000  # type: ignore[union-attr]
    bomb.stream.seek(0)  # type: ignore[union-attr]
    with pytest.raises(LimitExceeded, match="max_decompressed_bytes"):
        unpack_layers([bomb], limits=Limits(max_decompressed_bytes=1 << 20))


def test_decompressed_budget_is_shared_across_layers() -> None:
    layers = [layer([(f"f{i}", "file", b"x" * 300_000)], "gzip") for i in range(4)]
    with pytest.raises(LimitExceeded):
        unpack_layers(layers, limits=Limits(max_decompressed_bytes=1_000_000))


def test_zstd_and_gzip_layers_unpack() -> None:
    index = unpack_layers(
        [layer([("a", "file", b"zstd!")], "zstd"), layer([("b", "file", b"gzip!")], "gzip")], keep_all()
    )
    assert index.content("a") == b"zstd!" and index.content("b") == b"gzip!"


def test_content_kept_only_for_wanted_paths_and_within_limits() -> None:
    policy = ContentPolicy().want_paths(["etc/os-release"]).want_glob("var/lib/dpkg/status.d/*")
    index = unpack_layers(
        [
            layer(
                [
                    ("etc/os-release", "file", b"ID=debian\n"),
                    ("var/lib/dpkg/status.d/big", "file", b"x" * 5000),
                    ("usr/bin/tool", "file", b"binary"),
                ]
            )
        ],
        policy,
        limits=Limits(max_file_content_bytes=1000),
    )
    assert index.content("etc/os-release") == b"ID=debian\n"
    assert index.content("usr/bin/tool") is None
    assert index.content("var/lib/dpkg/status.d/big") is None
    assert [u.path for u in index.unknowns] == ["var/lib/dpkg/status.d/big"]


def test_total_content_limit() -> None:
    index = unpack_layers(
        [layer([("a", "file", b"x" * 600), ("b", "file", b"y" * 600)])],
        keep_all(),
        limits=Limits(max_total_content_bytes=1000),
    )
    assert index.content("a") is not None and index.content("b") is None
    assert [u.path for u in index.unknowns] == ["b"]


def test_max_files_limit() -> None:
    with pytest.raises(LimitExceeded, match="max_files"):
        unpack_layers([layer([(f"f{i}", "file", b"") for i in range(20)])], limits=Limits(max_files=10))


def test_visitors_see_every_regular_file_without_it_being_kept() -> None:
    seen: dict[str, bytes] = {}

    class Sink:
        def __init__(self, path: str) -> None:
            self.path, self.parts = path, []  # type: ignore[var-annotated]

        def write(self, chunk: bytes) -> None:
            self.parts.append(chunk)

        def close(self) -> None:
            seen[self.path] = b"".join(self.parts)

    class Visitor:
        def open(self, entry: Entry) -> Sink | None:
            return Sink(entry.path)

    big = bytes(range(256)) * 10_000
    index = unpack_layers(
        [layer([("a", "file", b"AKIA"), ("big", "file", big), ("l", "symlink", "a")], "gzip")],
        visitors=[Visitor()],
    )
    assert seen == {"a": b"AKIA", "big": big}
    assert index.contents == {}


def test_truncated_layer_becomes_unknown_not_silence() -> None:
    raw = igzip.compress(build_tar([("a", "file", b"x" * 10_000), ("b", "file", b"y")]))[:-200]
    index = unpack_layers([LayerInput(io.BytesIO(raw), Digest.of(raw), "gzip")])
    assert len(index.unknowns) == 1 and "could not be fully read" in index.unknowns[0].reason


def test_trailing_data_after_tar_end_is_reported() -> None:
    raw = build_tar([("a", "file", b"x")]) + b"hidden payload" + b"\0" * 512
    index = unpack_layers([LayerInput(io.BytesIO(raw), Digest.of(raw), "none")])
    assert [u.reason for u in index.unknowns] == ["14 non-zero bytes after the end of the tar archive"]


def test_empty_layer_is_fine() -> None:
    index = unpack_layers([LayerInput(io.BytesIO(b""), Digest.of(b""), "none")])
    assert list(index.paths()) == [] and index.unknowns == []


def test_members_under_a_symlinked_directory_land_where_extraction_would_put_them() -> None:
    index = unpack_layers(
        [
            layer([("etc", "symlink", "/x"), ("x/", "dir", b"")]),
            layer(
                [
                    ("etc/os-release", "file", b"ID=alpine\n"),
                    ("up", "symlink", "../../.."),
                    ("up/evil", "file", b"e"),
                ]
            ),
        ],
        ContentPolicy().want_paths(["x/os-release", "evil"]),
    )
    assert index.get("x/os-release") is not None and index.get("etc/os-release") is None
    assert index.content("etc/os-release") == b"ID=alpine\n"
    assert index.get("evil") is not None  # '..' through a symlink stops at the image root
    assert index.content("evil") == b"e"


def test_member_under_a_looping_symlink_is_unknown() -> None:
    index = unpack_layers(
        [layer([("a", "symlink", "a/b"), ("a/c", "file", b"")])], limits=Limits(max_link_depth=5)
    )
    assert [u.path for u in index.unknowns] == ["a/c"] and "symbolic links" in index.unknowns[0].reason
