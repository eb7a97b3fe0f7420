"""Which layer brought each package, and which layers belong to the base image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imagetrust.audit.catalog import Package
from imagetrust.audit.unpack import FileIndex
from imagetrust.oci.digest import Digest


@dataclass(frozen=True)
class LocatedPackage:
    """A package with the layer that introduced it (``None`` when no file of it is in the index)."""

    package: Package
    layer: Digest | None


def package_layer(package: Package, files: FileIndex) -> Digest | None:
    """The layer of the lowest owned file still present, else of the database that lists the package.

    The package database is rewritten by every layer that installs anything, so its layer says little;
    the files a package owns say when it arrived.
    """
    order = {digest: i for i, digest in enumerate(files.layers)}
    best: Digest | None = None
    for path in package.files:
        entry = files.get(path)
        if entry is None or entry.is_deleted:
            continue
        if best is None or order.get(entry.layer, 1 << 30) < order.get(best, 1 << 30):
            best = entry.layer
            if order.get(best) == 0:
                break
    if best is not None:
        return best
    for path in package.locations:
        entry = files.get(path)
        if entry is not None:
            return entry.layer
    return None


def locate_packages(packages: Sequence[Package], files: FileIndex) -> tuple[LocatedPackage, ...]:
    return tuple(LocatedPackage(p, package_layer(p, files)) for p in packages)


def base_layer_count(diff_ids: Sequence[Digest], base_diff_ids: Sequence[Digest]) -> int:
    """How many bottom layers the image shares with its base (compared by uncompressed digest).

    Uncompressed digests survive recompression by a registry or a copy tool; compressed ones do not.
    An image that does not start with the whole base shares nothing with it as far as we can prove.
    """
    if not base_diff_ids or len(base_diff_ids) > len(diff_ids):
        return 0
    return len(base_diff_ids) if tuple(diff_ids[: len(base_diff_ids)]) == tuple(base_diff_ids) else 0
