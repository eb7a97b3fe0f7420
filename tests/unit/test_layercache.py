"""Per-layer cache: a cached (replayed) audit must equal an uncached one, whiteouts and all."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from imagetrust.audit.catalog.binaries import BinaryScan
from imagetrust.audit.layercache import LayerCache, LayerOpener, chain_keys, unpack_cached
from imagetrust.audit.secrets.scanner import SecretScanner, default_matcher
from imagetrust.audit.unpack import ContentPolicy, FileIndex, LayerInput
from imagetrust.errors import ConfigError, LimitExceeded
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest

TOKEN = b"api_token = 'ghp_R8kq2Lx9Vm4Tn7Wp1Zb5Yc3Hf6Gj0Ud8Ae2Ks'\n"
MATCHER = default_matcher()


def tar_of(members: list[tuple[str, str, bytes | str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size, info.mode = len(payload), 0o644
                tar.addfile(info, io.BytesIO(payload))
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                assert isinstance(payload, str)
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tar.addfile(info)
    return buf.getvalue()


class Layers:
    """Uncompressed layers that count how often each one is actually read."""

    def __init__(self, tars: list[bytes]) -> None:
        self.tars = tars
        self.digests = [Digest.of(t) for t in tars]
        self.reads: list[Digest] = []

    def openers(self) -> list[tuple[Digest, LayerOpener]]:
        def opener(data: bytes, digest: Digest) -> LayerOpener:
            @contextmanager
            def open_it() -> Iterator[LayerInput]:
                self.reads.append(digest)
                yield LayerInput(io.BytesIO(data), digest, "none")

            return open_it

        return [(d, opener(t, d)) for t, d in zip(self.tars, self.digests, strict=True)]


def audit(
    layers: Layers, cache: LayerCache | None, limits: Limits = DEFAULT_LIMITS
) -> tuple[FileIndex, list[str]]:
    secrets = SecretScanner(MATCHER, limits)
    binaries = BinaryScan(limits)
    policy = ContentPolicy().want_paths(["etc/os-release"])
    files = unpack_cached(layers.openers(), policy, [secrets, binaries], limits, cache, "secret")
    findings = [repr(f) for f in secrets.findings(files)]
    return files, sorted(findings)


def summary(files: FileIndex) -> tuple[object, ...]:
    return (
        sorted((e.path, e.type, e.layer) for e in files.entries()),
        sorted((e.path, e.layer, e.deleted_by) for e in files.removed),
        sorted(files.contents.items()),
        sorted((u.path, u.reason) for u in files.unknowns),
    )


BASE = [
    ("etc", "dir", b""),
    ("etc/os-release", "file", b'ID=debian\nVERSION_ID="12"\n'),
    ("app", "dir", b""),
    ("app/config.py", "file", TOKEN),
    ("app/keep.txt", "file", b"plain\n"),
    ("opt", "dir", b""),
    ("opt/old/a.txt", "file", TOKEN),
    ("lib", "symlink", "usr/lib"),
    ("usr/lib/x.so", "file", b"x"),
]
MIDDLE = [
    ("app/.wh.config.py", "file", b""),  # deletes the planted secret: it must be reported as removed
    ("opt/.wh..wh..opq", "file", b""),
    ("lib/y.so", "file", b"placed through the symlink"),
]


def top(n: int) -> list[tuple[str, str, bytes | str]]:
    return [("srv/app.txt", "file", f"build {n}\n".encode())]


def _layers(n: int) -> Layers:
    return Layers([tar_of(BASE), tar_of(MIDDLE), tar_of(top(n))])


def _image_fields(files: FileIndex) -> None:
    assert "app/config.py" not in files.live
    assert "opt/old/a.txt" not in files.live
    assert "usr/lib/y.so" in files.live


def test_cached_audit_equals_uncached_including_whiteouts(tmp_path: Path) -> None:
    plain_files, plain_findings = audit(_layers(1), None)
    _image_fields(plain_files)
    cache = LayerCache(tmp_path / "layers")
    cold = _layers(1)
    cold_files, cold_findings = audit(cold, cache)
    assert cache.misses == 3 and cache.hits == 0
    warm = _layers(1)
    warm_files, warm_findings = audit(warm, cache)
    assert warm.reads == []  # nothing was read: every layer replayed
    assert cache.hits == 3
    for files, findings in ((cold_files, cold_findings), (warm_files, warm_findings)):
        _image_fields(files)
        assert summary(files) == summary(plain_files)
        assert findings == plain_findings
    assert len(plain_findings) == 2  # both planted secrets, each flagged as deleted by a later layer


def test_image_differing_in_top_layer_reads_only_that_layer(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "layers")
    audit(_layers(1), cache)
    other = _layers(2)
    files, findings = audit(other, cache)
    assert other.reads == [other.digests[2]]
    plain_files, plain_findings = audit(_layers(2), None)
    assert summary(files) == summary(plain_files)
    assert findings == plain_findings
    assert files.content("etc/os-release") == b'ID=debian\nVERSION_ID="12"\n'


def test_same_layer_over_different_lower_layers_is_not_reused(tmp_path: Path) -> None:
    """The middle layer's symlink placement and whiteouts depend on what lies below: keys chain."""
    cache = LayerCache(tmp_path / "layers")
    audit(_layers(1), cache)
    other_base = [m for m in BASE if m[0] != "lib"] + [("lib", "dir", b"")]
    layers = Layers([tar_of(other_base), tar_of(MIDDLE), tar_of(top(1))])
    files, _ = audit(layers, cache)
    assert len(layers.reads) == 3
    assert "lib/y.so" in files.live and "usr/lib/y.so" not in files.live
    assert chain_keys(layers.digests[:1], "f") != chain_keys(_layers(1).digests[:1], "f")


def test_other_limits_miss_the_cache_and_still_apply(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "layers")
    audit(_layers(1), cache)
    layers = _layers(1)
    with pytest.raises(LimitExceeded):
        audit(layers, cache, Limits(max_files=5))
    assert layers.reads  # limits are part of the key: nothing replayed under other limits


def test_a_cache_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigError, match="writable by others"):
        audit(_layers(1), LayerCache(shared))


def test_a_corrupt_record_is_a_miss(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "layers")
    audit(_layers(1), cache)
    for record in (tmp_path / "layers").iterdir():
        record.write_bytes(b"garbage")
    layers = _layers(1)
    plain_files, _ = audit(_layers(1), None)
    files, _ = audit(layers, cache)
    assert len(layers.reads) == 3
    assert summary(files) == summary(plain_files)
