"""The blob cache: hits, misses, corruption on disk, killed and concurrent writers, early close."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imagetrust.errors import IntegrityError, LocalInputError
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.registry.cache import BlobCache, default_cache_dir

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def describe(data: bytes) -> Descriptor:
    return Descriptor(LAYER, Digest.of(data), len(data))


def blob(seed: int, size: int) -> bytes:
    return (seed.to_bytes(4, "big") * (size // 4 + 1))[:size]


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink())


# --- default location -------------------------------------------------------------------------------------


def test_default_dir_honours_xdg_cache_home(tmp_path: Path) -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "imagetrust"


def test_default_dir_ignores_relative_xdg_and_falls_back_to_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_cache_dir({"XDG_CACHE_HOME": "rel/dir"}, home) == home / ".cache" / "imagetrust"
    assert default_cache_dir({}, home) == home / ".cache" / "imagetrust"


def test_directories_created_private(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    old = os.umask(0o022)
    try:
        cache = BlobCache(tmp_path / "a" / "cache")
        cache.put_bytes(describe(b"x"), b"x")
    finally:
        os.umask(old)
    for directory in (
        tmp_path / "a",
        tmp_path / "a" / "cache",
        tmp_path / "a" / "cache" / "blobs",
        tmp_path / "a" / "cache" / "blobs" / "sha256",
        tmp_path / "a" / "cache" / "tmp",
    ):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # a directory we did not create is left alone


def test_unusable_root_is_a_local_input_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(LocalInputError, match="cache directory"):
        BlobCache(tmp_path / "file" / "cache")


# --- hit, miss, put ---------------------------------------------------------------------------------------


def test_miss_then_put_bytes_then_hit(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(1, 10_000)
    desc = describe(data)
    assert cache.open(desc) is None
    assert not cache.contains(desc.digest)
    cache.put_bytes(desc, data)
    assert cache.contains(desc.digest)
    assert cache.path_for(desc.digest) == tmp_path / "blobs" / "sha256" / desc.digest.hex
    reader = cache.open(desc)
    assert reader is not None
    with reader:
        assert reader.read() == data
    assert files_under(tmp_path / "tmp") == []


def test_put_bytes_refuses_wrong_content(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    desc = describe(b"right")
    with pytest.raises(IntegrityError, match="digest"):
        cache.put_bytes(desc, b"wrong")
    with pytest.raises(IntegrityError, match="bytes"):
        cache.put_bytes(desc, b"right!")
    assert files_under(tmp_path) == []


def test_put_stream_commits_only_at_verified_eof(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(2, 3 << 20)
    desc = describe(data)
    reader = cache.put_stream(desc, io.BytesIO(data))
    out = bytearray()
    while chunk := reader.read(1 << 16):
        out += chunk
        if len(out) < len(data):
            assert not cache.contains(desc.digest)  # nothing visible before EOF
    reader.close()
    assert out == data
    assert cache.contains(desc.digest)
    assert cache.path_for(desc.digest).read_bytes() == data
    assert stat.S_IMODE(cache.path_for(desc.digest).stat().st_mode) == 0o600
    assert files_under(tmp_path / "tmp") == []


@pytest.mark.parametrize(
    ("served", "message"),
    [(b"tampered!", "digest"), (b"short", "expected 9"), (b"too long by far", "more than")],
)
def test_put_stream_of_bad_source_raises_and_caches_nothing(
    tmp_path: Path, served: bytes, message: str
) -> None:
    cache = BlobCache(tmp_path)
    desc = describe(b"genuine!!")
    reader = cache.put_stream(desc, io.BytesIO(served))
    with pytest.raises(IntegrityError, match=message):
        reader.read()
    reader.close()
    assert not cache.contains(desc.digest)
    assert files_under(tmp_path) == []


def test_early_close_does_not_commit(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(3, 100_000)
    desc = describe(data)
    reader = cache.put_stream(desc, io.BytesIO(data))
    assert reader.read(99_999)  # all but the last byte
    reader.close()
    assert not cache.contains(desc.digest)
    assert files_under(tmp_path) == []


def test_dropped_reader_does_not_commit(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(4, 50_000)
    desc = describe(data)
    reader = cache.put_stream(desc, io.BytesIO(data))
    reader.read(10)
    del reader
    assert files_under(tmp_path) == []


def test_put_stream_replaces_a_corrupt_entry(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(5, 1000)
    desc = describe(data)
    cache.put_bytes(desc, data)
    cache.path_for(desc.digest).write_bytes(b"x" * 1000)
    with cache.put_stream(desc, io.BytesIO(data)) as reader:
        assert reader.read() == data
    reader = cache.open(desc)
    assert reader is not None
    assert reader.read() == data


def test_unwritable_cache_still_passes_verified_data_through(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    (tmp_path / "tmp").rmdir()
    (tmp_path / "tmp").write_bytes(b"")  # no temp file can be made now
    data = blob(6, 70_000)
    desc = describe(data)
    with cache.put_stream(desc, io.BytesIO(data)) as reader:
        assert reader.read() == data
    cache.put_bytes(desc, data)
    assert not cache.contains(desc.digest)
    with pytest.raises(IntegrityError):  # verification does not depend on the cache working
        cache.put_stream(desc, io.BytesIO(data[:-1] + b"!")).read()


def test_zero_length_reads_do_not_end_the_stream(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(7, 1000)
    desc = describe(data)
    reader = cache.put_stream(desc, io.BytesIO(data))
    assert reader.read(0) == b""
    assert reader.read() == data
    reader.close()
    assert cache.contains(desc.digest)


# --- corruption on disk -----------------------------------------------------------------------------------


def test_wrong_digest_on_disk_is_detected_and_removed(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(6, 200_000)
    desc = describe(data)
    cache.put_bytes(desc, data)
    path = cache.path_for(desc.digest)
    damaged = bytearray(data)
    damaged[123_456] ^= 0x01  # same size, one bit flipped
    path.write_bytes(bytes(damaged))
    reader = cache.open(desc)
    assert reader is not None
    with pytest.raises(IntegrityError, match="cached blob"):
        reader.read()
    assert not path.exists()
    assert cache.open(desc) is None  # a miss now: the caller re-fetches


def test_wrong_size_on_disk_is_refused_at_open(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(7, 5000)
    desc = describe(data)
    cache.put_bytes(desc, data)
    path = cache.path_for(desc.digest)
    with path.open("ab") as handle:
        handle.write(b"appended")
    with pytest.raises(IntegrityError, match="5008 bytes on disk, expected 5000"):
        cache.open(desc)
    assert not path.exists()


def test_descriptor_with_a_lying_size_never_reads_as_a_hit(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    data = blob(8, 5000)
    cache.put_bytes(describe(data), data)
    with pytest.raises(IntegrityError):
        cache.open(Descriptor(LAYER, Digest.of(data), 4999))


def test_symlinked_entry_is_not_followed(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache")
    secret = tmp_path / "elsewhere"
    data = b"attacker-chosen content"
    secret.write_bytes(data)
    desc = describe(data)
    path = cache.path_for(desc.digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(secret)
    assert cache.open(desc) is None
    assert not path.is_symlink()
    assert secret.read_bytes() == data  # the target is untouched


def test_fifo_entry_is_not_read(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    desc = describe(b"data")
    path = cache.path_for(desc.digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    assert cache.open(desc) is None  # would block forever if opened blocking
    assert not path.exists()


def test_reader_corrupted_after_open_fails_for_that_read_only(tmp_path: Path) -> None:
    """A failed read removes only the file it read, not a good one another process put there since."""
    cache = BlobCache(tmp_path)
    data = blob(9, 4096)
    desc = describe(data)
    cache.put_bytes(desc, data)
    path = cache.path_for(desc.digest)
    path.write_bytes(b"\0" * 4096)
    reader = cache.open(desc)
    assert reader is not None
    cache.put_bytes(desc, data)  # a new inode replaces the bad one
    with pytest.raises(IntegrityError):
        reader.read()
    assert path.read_bytes() == data


# --- housekeeping -----------------------------------------------------------------------------------------


def test_size_and_prune_oldest_used_first(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    blobs = [blob(seed, 1000) for seed in range(10, 14)]
    for i, data in enumerate(blobs):
        cache.put_bytes(describe(data), data)
        os.utime(cache.path_for(describe(data).digest), (1000 + i, 1000 + i))
    reader = cache.open(describe(blobs[0]))  # using the oldest makes it the newest
    assert reader is not None
    reader.close()
    (tmp_path / "blobs" / "sha256" / "not-a-digest").write_bytes(b"ignored")
    assert cache.size_bytes() == 4000
    assert cache.prune(2500) == 2000
    assert [cache.contains(describe(d).digest) for d in blobs] == [True, False, False, True]
    assert cache.size_bytes() == 2000
    assert cache.prune(10_000) == 0


def test_stale_temp_files_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    stale = tmp_path / "tmp" / "sha256-dead.part"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / "tmp" / "sha256-young.part"
    fresh.write_bytes(b"partial")
    data = blob(20, 10_000)
    live = cache.put_stream(describe(data), io.BytesIO(data))
    live.read(100)
    (live_temp,) = (p for p in (tmp_path / "tmp").iterdir() if p not in (stale, fresh))
    os.utime(live_temp, (time.time() - 7200, time.time() - 7200))  # old but its writer still holds it
    BlobCache(tmp_path)
    assert not stale.exists()
    assert fresh.exists()
    assert live_temp.exists()
    assert live.read() == data[100:]
    live.close()
    assert cache.contains(describe(data).digest)


# --- other processes --------------------------------------------------------------------------------------

_WRITER = """
import sys
from pathlib import Path
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.registry.cache import BlobCache

root, digest, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
cache = BlobCache(Path(root))
descriptor = Descriptor("application/octet-stream", Digest.parse(digest), size)
reader = cache.put_stream(descriptor, sys.stdin.buffer)
first = True
while chunk := reader.read(65536):
    if first:
        print("reading", flush=True)
        first = False
reader.close()
print("done", flush=True)
"""


def start_writer(root: Path, data: bytes) -> subprocess.Popen[bytes]:
    desc = describe(data)
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), str(desc.digest), str(desc.size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )


def test_writer_killed_mid_write_leaves_no_entry(tmp_path: Path) -> None:
    data = blob(30, 2 << 20)
    desc = describe(data)
    writer = start_writer(tmp_path, data)
    assert writer.stdin is not None and writer.stdout is not None
    writer.stdin.write(data[: 1 << 20])
    writer.stdin.flush()
    assert writer.stdout.readline() == b"reading\n"
    time.sleep(0.05)  # let it copy some of the half it has
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    writer.stdin.close()
    writer.stdout.close()

    cache = BlobCache(tmp_path)
    assert not cache.contains(desc.digest)
    assert cache.open(desc) is None
    assert list((tmp_path / "blobs").rglob("*.part")) == []
    leftovers = list((tmp_path / "tmp").iterdir())
    assert len(leftovers) == 1  # the dead writer's partial file, harmless where it is
    os.utime(leftovers[0], (time.time() - 7200, time.time() - 7200))

    cache = BlobCache(tmp_path)  # a later run sweeps it
    assert list((tmp_path / "tmp").iterdir()) == []
    with cache.put_stream(desc, io.BytesIO(data)) as reader:
        assert reader.read() == data
    reader = cache.open(desc)
    assert reader is not None
    assert reader.read() == data


def test_concurrent_writers_same_and_different_blobs(tmp_path: Path) -> None:
    same = blob(40, 3 << 20)
    other = blob(41, 2 << 20)
    writers = [start_writer(tmp_path, same), start_writer(tmp_path, same), start_writer(tmp_path, other)]
    feeds = [same, same, other]
    cache = BlobCache(tmp_path)
    chunk = 256 * 1024
    seen_entries: set[Path] = set()
    for offset in range(0, len(same), chunk):
        for writer, data in zip(writers, feeds, strict=True):
            assert writer.stdin is not None
            if offset < len(data):
                writer.stdin.write(data[offset : offset + chunk])
                writer.stdin.flush()
        # Whatever is visible under blobs/ must already be complete and correct.
        for path in files_under(tmp_path / "blobs"):
            seen_entries.add(path)
            assert Digest.of(path.read_bytes()).hex == path.name
    for writer in writers:
        assert writer.stdin is not None and writer.stdout is not None
        writer.stdin.close()
        assert writer.wait(timeout=30) == 0
        assert writer.stdout.read().endswith(b"done\n")
        writer.stdout.close()
    for data in (same, other):
        reader = cache.open(describe(data))
        assert reader is not None
        assert reader.read() == data
    assert sorted(p.name for p in files_under(tmp_path / "blobs")) == sorted(
        {describe(same).digest.hex, describe(other).digest.hex}
    )
    assert list((tmp_path / "tmp").iterdir()) == []
