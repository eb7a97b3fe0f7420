"""Platforms (``os/arch[/variant]``) and choosing one from an index."""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass

from imagetrust.errors import UsageError

_MACHINE_TO_ARCH = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", None),
    "arm64": ("arm64", None),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i686": ("386", None),
    "i386": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"invalid platform {text!r}: expected OS/ARCH or OS/ARCH/VARIANT")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def host(cls) -> Platform:
        arch, variant = _MACHINE_TO_ARCH.get(_host.machine().lower(), (_host.machine().lower(), None))
        return cls("linux", arch, variant)

    def matches(self, other: Platform) -> bool:
        """Whether an index entry ``other`` satisfies this requested platform.

        A request without a variant accepts any variant; ``arm64`` treats ``v8`` and no variant alike, and
        ``arm`` treats ``v7`` and no variant alike (an entry without a variant is a v7 image).
        """
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if self.variant is None:
            return True
        return _norm_variant(self.architecture, self.variant) == _norm_variant(
            other.architecture, other.variant
        )

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


def _norm_variant(arch: str, variant: str | None) -> str | None:
    """containerd's normalisation: arm64 means v8 unless told otherwise, and 32-bit arm means v7."""
    if arch == "arm64" and variant in (None, "", "8", "v8", "v8.0"):
        return None
    if arch == "arm":
        if variant in (None, "", "7"):
            return "v7"
        if variant in ("5", "6", "8"):
            return f"v{variant}"
    return variant
