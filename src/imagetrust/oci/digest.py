"""Content digests as a typed value, never a bare string."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from imagetrust.errors import IntegrityError, InvalidReference

# Algorithms we can recompute; a digest we cannot recompute is a digest we cannot trust.
_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-f0-9]+)$")


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, order=True)
class Digest:
    """An OCI content digest ``algorithm:hex`` with a supported, recomputable algorithm."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        expected = _HEX_LENGTHS.get(self.algorithm)
        if expected is None:
            raise InvalidReference(f"unsupported digest algorithm {self.algorithm!r}")
        if len(self.hex) != expected or not all(c in "0123456789abcdef" for c in self.hex):
            raise InvalidReference(f"malformed {self.algorithm} digest {self.hex!r}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        match = _DIGEST_RE.fullmatch(text)
        if not match:
            raise InvalidReference(f"not a digest: {text!r}")
        return cls(match.group(1), match.group(2))

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> _Hasher:
        return hashlib.new(self.algorithm)

    def check(self, data: bytes, what: str) -> None:
        """Raise ``IntegrityError`` unless ``data`` hashes to this digest."""
        actual = Digest.of(data, self.algorithm)
        if actual != self:
            raise IntegrityError(f"{what}: content digest is {actual}, expected {self}")

    @property
    def tag_form(self) -> str:
        """``sha256-<hex>``: the form used by cosign tags and the referrers tag schema."""
        return f"{self.algorithm}-{self.hex}"

    @property
    def short(self) -> str:
        return f"{self.algorithm}:{self.hex[:12]}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"
