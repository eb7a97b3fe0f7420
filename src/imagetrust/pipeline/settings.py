"""How every command reaches images: registry options, platform choice, cache and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.resolve import PlatformSelection

if TYPE_CHECKING:
    from imagetrust.registry.cache import BlobCache


@dataclass(frozen=True)
class SourceSettings:
    """How to reach images: registry options, platform choice, cache and limits."""

    registry: RegistryOptions = field(default_factory=RegistryOptions)
    selection: PlatformSelection = field(default_factory=PlatformSelection)
    cache_dir: Path | None = None
    use_cache: bool = True
    limits: Limits = DEFAULT_LIMITS

    def cache_dir_or_default(self) -> Path | None:
        """Where derived data (compiled rules, advisory DB) may be kept; None with --no-cache."""
        if not self.use_cache:
            return None
        from imagetrust.registry.cache import default_cache_dir  # not loaded by --no-cache runs

        return self.cache_dir or default_cache_dir()

    def cache(self) -> BlobCache | None:
        root = self.cache_dir_or_default()
        if root is None:
            return None
        from imagetrust.registry.cache import BlobCache

        return BlobCache(root)
