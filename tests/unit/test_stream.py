"""VerifyingReader and read_verified: bytes are proven before anything derived from them is trusted."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagetrust.errors import IntegrityError, LimitExceeded
from imagetrust.oci.digest import Digest
from imagetrust.registry.stream import VerifyingReader, read_verified


class Trickle(io.RawIOBase):
    """A raw stream that hands out at most ``step`` bytes per read, as sockets and HTTP bodies do."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__()
        self._data = data
        self._step = step
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._step, len(self._data) - self.consumed)
        buffer[:n] = self._data[self.consumed : self.consumed + n]
        self.consumed += n
        return n


def reader_for(served: bytes, expected: bytes, size: int | None = -1, **kw: object) -> VerifyingReader:
    declared = len(expected) if size == -1 else size
    return VerifyingReader(io.BytesIO(served), Digest.of(expected), declared, "blob", **kw)


def test_exact_body_reads_and_calls_on_verified_once() -> None:
    events: list[str] = []
    data = b"x" * 100_000
    reader = reader_for(
        data, data, on_verified=lambda: events.append("ok"), on_failed=lambda: events.append("bad")
    )
    assert reader.read() == data
    assert reader.read() == b""
    assert events == ["ok"]
    assert reader.bytes_read == len(data)


def test_short_body_fails_at_eof() -> None:
    events: list[str] = []
    reader = reader_for(b"abc", b"abcd", on_failed=lambda: events.append("bad"))
    with pytest.raises(IntegrityError, match="got 3 bytes, expected 4"):
        reader.read()
    assert events == ["bad"]


def test_long_body_fails_before_reading_it_all() -> None:
    declared = b"y" * 1000
    source = Trickle(declared + b"z" * 10_000_000, step=1 << 20)
    reader = VerifyingReader(source, Digest.of(declared), 1000, "layer")
    with pytest.raises(IntegrityError, match="more than the declared 1000 bytes"):
        reader.read()
    assert source.consumed == 1001  # one byte past the declared size, not the 10 MB behind it


def test_wrong_digest_fails_at_eof_not_before() -> None:
    reader = reader_for(b"evil", b"good")
    assert reader.read(2) == b"ev"  # bytes flow; they are not trusted until EOF
    with pytest.raises(IntegrityError, match=r"content digest is sha256:[0-9a-f]{64}, expected sha256:"):
        reader.read()


def test_unknown_size_checks_digest_only() -> None:
    data = b"no size given"
    assert reader_for(data, data, size=None).read() == data
    with pytest.raises(IntegrityError):
        reader_for(data + b"!", data, size=None).read()


def test_failure_is_sticky() -> None:
    reader = reader_for(b"evil", b"good")
    with pytest.raises(IntegrityError):
        reader.read()
    # A caller that swallowed the first error must not then see a clean end of stream.
    with pytest.raises(IntegrityError):
        reader.read()
    with pytest.raises(IntegrityError):
        reader.drain()


def test_zero_length_read_is_not_end_of_stream() -> None:
    data = b"0123456789"
    reader = reader_for(data, data)
    assert reader.read(3) == b"012"
    assert reader.read(0) == b""
    assert reader.read() == b"3456789"


def test_drain_verifies_and_counts() -> None:
    data = bytes(range(256)) * 1000
    assert reader_for(data, data).drain(chunk_size=4096) == len(data)
    with pytest.raises(IntegrityError):
        reader_for(data[:-1] + b"\0", data).drain()


def test_close_closes_the_source() -> None:
    source = io.BytesIO(b"data")
    reader = VerifyingReader(source, Digest.of(b"data"), 4, "blob")
    reader.close()
    assert source.closed


def test_works_under_buffered_reader() -> None:
    data = b"q" * 70_000
    buffered = io.BufferedReader(reader_for(data, data))
    assert buffered.read(10) == b"q" * 10
    assert buffered.read() == data[10:]


@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=700))
def test_read_verified_over_short_reads(data: bytes, step: int) -> None:
    reader = VerifyingReader(Trickle(data, step), Digest.of(data), len(data), "bundle")
    assert read_verified(reader, len(data), "bundle") == data


def test_read_verified_limit() -> None:
    data = b"s" * 1000
    reader = VerifyingReader(Trickle(data, 7), Digest.of(data), None, "sig")
    with pytest.raises(LimitExceeded, match="sig: larger than the limit of 999 bytes"):
        read_verified(reader, 999, "sig")


def test_read_verified_checks_the_digest() -> None:
    reader = reader_for(b"forged", b"signed")
    with pytest.raises(IntegrityError):
        read_verified(reader, 100, "sig")


@given(st.binary(max_size=3000), st.binary(max_size=3000), st.integers(min_value=1, max_value=500))
def test_accepts_exactly_the_right_bytes(expected: bytes, served: bytes, step: int) -> None:
    reader = VerifyingReader(Trickle(served, step), Digest.of(expected), len(expected), "blob")
    if served == expected:
        assert reader.read() == expected
    else:
        with pytest.raises(IntegrityError):
            reader.drain(chunk_size=333)
