"""Properties of the layer reader on generated tars: confinement, whiteout scope, truncation, limits."""

from __future__ import annotations

import io
import tarfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagetrust.audit.unpack import ContentPolicy, LayerInput, unpack_layers
from imagetrust.audit.unpack.paths import UnsafePath, by_components, normalise
from imagetrust.errors import LimitExceeded
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest

FAST = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
LIMITS = Limits(max_files=40, max_path_length=200, max_link_depth=8, max_decompressed_bytes=1 << 20)

parts = st.sampled_from(["a", "b", "etc", "..", ".", "", ".wh.a", ".wh..wh..opq", ".wh.", "c d", "\udcff"])
paths = st.lists(parts, min_size=1, max_size=5).map("/".join).map(lambda p: p if p.strip("/") else "x")
absolute = st.tuples(st.booleans(), paths).map(lambda t: ("/" if t[0] else "") + t[1])
kinds = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE])
members = st.lists(st.tuples(absolute, kinds, absolute, st.binary(max_size=40)), max_size=25)


def _tar(entries: list[tuple[str, bytes, str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, link, data in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = link
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return out.getvalue()


def _unpack(*layers: bytes) -> object:
    inputs = [LayerInput(io.BytesIO(raw), Digest.of(raw), "none") for raw in layers]  # type: ignore[arg-type]
    return unpack_layers(inputs, ContentPolicy().want(lambda _p: True), (), LIMITS)


@FAST
@given(members, st.integers(min_value=0))
def test_every_live_path_is_confined_and_normalised(
    entries: list[tuple[str, bytes, str, bytes]], cut: int
) -> None:
    raw = _tar(entries)
    for layer in (raw, raw[: cut % (len(raw) + 1)]):
        try:
            index = _unpack(layer)
        except LimitExceeded:
            continue
        for path, entry in index.live.items():  # type: ignore[attr-defined]
            pieces = path.split("/")
            assert path and not path.startswith("/") and ".." not in pieces and "" not in pieces, path
            assert entry.path == path
        for path in index.contents:  # type: ignore[attr-defined]
            assert path in index.live  # type: ignore[attr-defined]


def _norm(name: str) -> str | None:
    try:
        return normalise(name, LIMITS.max_path_length)
    except UnsafePath:
        return None


@FAST
@given(members, members)
def test_without_whiteouts_an_upper_layer_removes_only_what_it_replaces(
    lower: list[tuple[str, bytes, str, bytes]], upper: list[tuple[str, bytes, str, bytes]]
) -> None:
    """Lower paths survive unless the upper layer whites them out, writes the same path, or puts a
    non-directory (or a symlink that redirects placement) on one of their parents."""
    upper = [m for m in upper if ".wh." not in m[0]]
    try:
        lower_only = _unpack(_tar(lower))
        both = _unpack(_tar(lower), _tar(upper))
    except LimitExceeded:
        return
    names = {n for n in (_norm(m[0]) for m in upper) if n}
    for path in lower_only.live:  # type: ignore[attr-defined]
        pieces = path.split("/")
        shadowed = any("/".join(pieces[:i]) in names for i in range(1, len(pieces) + 1))
        assert path in both.live or shadowed, path  # type: ignore[attr-defined]


def _normalise_by_parts(name: str, max_length: int) -> str:
    """``normalise`` without its shortcut for names that are already normal: the reference."""
    if len(name) > max_length or "\x00" in name:
        return normalise(name, max_length)  # refused before either way is taken
    return by_components(name)


@given(st.lists(st.sampled_from(["", "/", ".", "..", "a", "b.", ".b", "a..b", "\x00", "..."]), max_size=8))
def test_normalise_shortcut_answers_as_splitting_does(atoms: list[str]) -> None:
    name = "".join(atoms)
    outcomes = []
    for normaliser in (normalise, _normalise_by_parts):
        try:
            outcomes.append(("ok", normaliser(name, 40)))
        except UnsafePath as e:
            outcomes.append(("refused", str(e)))
    assert outcomes[0] == outcomes[1], name
