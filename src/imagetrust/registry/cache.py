"""A content-addressed blob cache on local disk, shared safely by concurrent processes.

Layout: ``ROOT/blobs/<algorithm>/<hex>`` holds complete, verified blobs; ``ROOT/tmp`` holds writes in
progress.  A blob only ever enters ``blobs/`` by ``os.replace`` of a fully written, verified and fsynced
temp file, so no reader can see a partial entry and two writers of the same blob both end with a correct
one.  Entries are verified again on every read: the disk is not trusted more than the network.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, cast

from imagetrust.errors import IntegrityError, InvalidReference, LocalInputError
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor
from imagetrust.registry.stream import VerifyingReader

_log = logging.getLogger(__name__)

_DIR_MODE = 0o700
_CHUNK = 1 << 20


def default_cache_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """``$XDG_CACHE_HOME/imagetrust``, else ``~/.cache/imagetrust`` (XDG: a relative value is ignored).

    The CLI owns the environment; it may pass ``environ``/``home`` explicitly, ``None`` means the process's.
    """
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "imagetrust"
    return (home if home is not None else Path.home()) / ".cache" / "imagetrust"


def _mkdir_private(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700; directories that already exist are left alone."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            continue  # another process made it first
        directory.chmod(_DIR_MODE)  # mkdir's mode is filtered by the umask


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobCache:
    """Verified blobs by digest under ``root``; a miss or a bad entry means the caller fetches again."""

    def __init__(self, root: Path, *, stale_tmp_seconds: float = 600.0) -> None:
        self._root = Path(root)
        self._blobs = self._root / "blobs"
        self._tmp = self._root / "tmp"
        try:
            _mkdir_private(self._blobs)
            _mkdir_private(self._tmp)
        except OSError as e:
            raise LocalInputError(f"cache directory {self._root}: cannot create it ({e.strerror})") from e
        self._sweep_tmp(stale_tmp_seconds)

    @property
    def root(self) -> Path:
        return self._root

    def path_for(self, digest: Digest) -> Path:
        return self._blobs / digest.algorithm / digest.hex

    def contains(self, digest: Digest) -> bool:
        """Whether a regular file is cached for ``digest`` (not whether it is still correct)."""
        try:
            return stat.S_ISREG(os.lstat(self.path_for(digest)).st_mode)
        except OSError:
            return False

    def open(self, descriptor: Descriptor) -> BinaryIO | None:
        """A verifying reader over the cached blob, or ``None`` on a miss.

        A wrong size is refused at once, a wrong digest at EOF; either way the entry is deleted and
        ``IntegrityError`` raised, so the caller re-fetches.  A symlink or other non-regular entry is never
        followed: it is removed and reported as a miss.
        """
        digest = descriptor.digest
        path = self.path_for(digest)
        what = f"cached blob {digest.short}"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:  # a symlink: we never put one there
                self._discard(path, None)
                return None
            raise LocalInputError(f"{what}: cannot open {path} ({e.strerror})") from e
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                self._discard(path, info)
                os.close(fd)
                return None
            os.set_blocking(fd, True)
            if info.st_size != descriptor.size:
                self._discard(path, info)
                raise IntegrityError(f"{what}: {info.st_size} bytes on disk, expected {descriptor.size}")
            with contextlib.suppress(OSError):
                os.utime(fd)  # last use, for prune(); atime is unreliable (noatime, relatime)
            handle = os.fdopen(fd, "rb")
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        reader = VerifyingReader(
            cast(BinaryIO, handle),
            digest,
            descriptor.size,
            what,
            on_failed=lambda: self._discard(path, info),
        )
        return cast(BinaryIO, reader)

    def put_stream(self, descriptor: Descriptor, source: BinaryIO) -> BinaryIO:
        """A reader over ``source`` that verifies it and copies it into the cache.

        The entry is committed only when the reader reaches a verified EOF; a failure, or closing early,
        leaves nothing in the cache.  If the disk fails (full, read-only) the data still flows to the
        reader, only uncached.
        """
        verifier = VerifyingReader(
            source, descriptor.digest, descriptor.size, f"blob {descriptor.digest.short}"
        )
        return cast(
            BinaryIO, _TeeWriter(verifier, self._new_temp(descriptor.digest), self._commit_to(descriptor))
        )

    def put_bytes(self, descriptor: Descriptor, data: bytes) -> None:
        """Cache a small blob already in memory, after checking it against ``descriptor``."""
        what = f"blob {descriptor.digest.short}"
        if len(data) != descriptor.size:
            raise IntegrityError(f"{what}: got {len(data)} bytes, expected {descriptor.size}")
        descriptor.digest.check(data, what)
        temp = self._new_temp(descriptor.digest)
        if temp is None:
            return
        try:
            temp.write(data)
            self._commit_to(descriptor)(temp)
        except OSError as e:
            _log.warning("not caching %s: %s", what, e)
            _remove_temp(temp)
        else:
            temp.close()

    def remove(self, digest: Digest) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path_for(digest).unlink()

    def entries(self) -> Iterator[tuple[Digest, os.stat_result]]:
        """Every well-formed cached entry with its ``lstat`` (names that are not digests are skipped)."""
        try:
            algorithm_dirs = sorted(self._blobs.iterdir())
        except FileNotFoundError:
            return
        for algorithm_dir in algorithm_dirs:
            if algorithm_dir.is_symlink() or not algorithm_dir.is_dir():
                continue
            for path in sorted(algorithm_dir.iterdir()):
                try:
                    digest = Digest(algorithm_dir.name, path.name)
                    info = os.lstat(path)
                except (InvalidReference, OSError):
                    continue
                if stat.S_ISREG(info.st_mode):
                    yield digest, info

    def size_bytes(self) -> int:
        return sum(info.st_size for _, info in self.entries())

    def prune(self, max_bytes: int) -> int:
        """Delete least recently used entries until at most ``max_bytes`` remain; returns bytes freed."""
        entries = sorted(self.entries(), key=lambda item: item[1].st_mtime_ns)
        total = sum(info.st_size for _, info in entries)
        freed = 0
        for digest, info in entries:
            if total - freed <= max_bytes:
                break
            self._discard(self.path_for(digest), info)
            freed += info.st_size
        return freed

    def _discard(self, path: Path, expected: os.stat_result | None) -> None:
        """Unlink ``path`` unless another process has since replaced it with a new file."""
        with contextlib.suppress(OSError):
            if expected is not None:
                now = os.lstat(path)
                if (now.st_dev, now.st_ino) != (expected.st_dev, expected.st_ino):
                    return
            path.unlink()

    def _new_temp(self, digest: Digest) -> _TempFile | None:
        """A locked temp file in ``ROOT/tmp``; the lock tells the sweeper its writer is alive."""
        try:
            fd, name = tempfile.mkstemp(
                prefix=f"{digest.algorithm}-{digest.hex[:16]}.", suffix=".part", dir=self._tmp
            )
        except OSError as e:
            _log.warning("not caching %s: %s", digest.short, e)
            return None
        fcntl.flock(fd, fcntl.LOCK_EX)
        return _TempFile(os.fdopen(fd, "wb"), Path(name))

    def _commit_to(self, descriptor: Descriptor) -> Callable[[_TempFile], None]:
        target = self.path_for(descriptor.digest)

        def commit(temp: _TempFile) -> None:
            temp.flush()
            os.fsync(temp.fileno())
            if os.fstat(temp.fileno()).st_size != descriptor.size:
                raise OSError(errno.EIO, "temp file size does not match what was verified")
            _mkdir_private(target.parent)
            temp.path.replace(target)
            _fsync_dir(target.parent)

        return commit

    def _sweep_tmp(self, stale_seconds: float) -> None:
        """Remove temp files of writers that died: old, and no longer locked by a live process."""
        cutoff = time.time() - stale_seconds
        try:
            names = list(self._tmp.iterdir())
        except OSError:
            return
        for path in names:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                with contextlib.suppress(OSError):
                    if path.is_symlink():
                        path.unlink()
                continue
            try:
                if os.fstat(fd).st_mtime > cutoff:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is still alive
                with contextlib.suppress(OSError):
                    path.unlink()
            finally:
                os.close(fd)


class _TempFile:
    """An open, locked temp file and its path (a file opened from a descriptor does not know its name)."""

    def __init__(self, file: io.BufferedWriter, path: Path) -> None:
        self.file = file
        self.path = path
        self.name = str(path)

    def write(self, data: bytes | memoryview) -> None:
        self.file.write(data)

    def flush(self) -> None:
        self.file.flush()

    def fileno(self) -> int:
        return self.file.fileno()

    def close(self) -> None:
        self.file.close()


def _remove_temp(temp: _TempFile) -> None:
    with contextlib.suppress(OSError):
        temp.close()
    with contextlib.suppress(OSError):
        temp.path.unlink()


class _TeeWriter(io.RawIOBase):
    """Passes verified bytes to the caller and copies them to a temp file, committed at verified EOF."""

    def __init__(
        self,
        verifier: VerifyingReader,
        temp: _TempFile | None,
        commit: Callable[[_TempFile], None],
    ) -> None:
        super().__init__()
        self._verifier = verifier
        self._temp = temp
        self._commit = commit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        try:
            count = self._verifier.readinto(view)
        except BaseException:
            self._abandon()
            raise
        if count:
            self._copy(view[:count])
        else:
            self._finish()
        return count

    def _copy(self, data: memoryview) -> None:
        if self._temp is None:
            return
        try:
            self._temp.write(data)
        except OSError as e:
            _log.warning("not caching %s: %s", self._temp.name, e)
            self._abandon()

    def _finish(self) -> None:
        """Reached only after the verifier accepted size and digest."""
        temp, self._temp = self._temp, None
        if temp is None:
            return
        try:
            self._commit(temp)
        except OSError as e:
            _log.warning("not caching %s: %s", temp.name, e)
            _remove_temp(temp)
        else:
            temp.close()  # renamed into blobs/: the name in tmp/ may already belong to another writer

    def _abandon(self) -> None:
        temp, self._temp = self._temp, None
        if temp is not None:
            _remove_temp(temp)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._abandon()  # closed before a verified EOF: nothing enters the cache
            self._verifier.close()
        finally:
            super().close()
