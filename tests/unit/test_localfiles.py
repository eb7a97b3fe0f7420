"""Bounded reads of user-named files: the bound holds while reading, and every failure is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagetrust.errors import ConfigError, LocalInputError
from imagetrust.localfiles import read_bounded, read_if_present


def test_a_file_at_the_bound_is_read_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"x" * 16)
    assert read_bounded(path, 16, "public key") == b"x" * 16
    with pytest.raises(LocalInputError, match=r"key\.pem: public key larger than 15 bytes"):
        read_bounded(path, 15, "public key")


def test_an_endless_file_is_refused_without_reading_it_all() -> None:
    with pytest.raises(LocalInputError, match="larger than 1024 bytes"):
        read_bounded(Path("/dev/zero"), 1024, "policy")


def test_missing_is_none_only_where_absence_means_something(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    assert read_if_present(missing, 10, "link") is None
    with pytest.raises(LocalInputError, match=r"absent\.json: cannot read link \(No such file"):
        read_bounded(missing, 10, "link")


def test_unreadable_and_oversize_are_errors_of_the_callers_family(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read docker config"):
        read_if_present(tmp_path, 10, "docker config", ConfigError)  # a directory
    big = tmp_path / "config.json"
    big.write_bytes(b"{}" * 10)
    with pytest.raises(ConfigError, match="docker config larger than 5 bytes"):
        read_if_present(big, 5, "docker config", ConfigError)
