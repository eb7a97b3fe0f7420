"""One door to every image source: registry references and offline files alike."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from imagetrust.limits import Limits
from imagetrust.oci.reference import DirRef, DockerArchiveRef, OciArchiveRef, OciLayoutRef, RegistryRef
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.repository import open_repository
from imagetrust.registry.store import ImageStore

if TYPE_CHECKING:
    from imagetrust.registry.cache import BlobCache


def open_store(
    ref: RegistryRef | OciLayoutRef | OciArchiveRef | DockerArchiveRef | DirRef,
    options: RegistryOptions,
    limits: Limits,
    cache: BlobCache | None,
) -> ImageStore:
    """Open the store a reference names; nothing is fetched until the store is asked for something.

    The cache is used for registries only: offline files are already local and are verified as read.
    """
    if isinstance(ref, RegistryRef):
        if options.limits != limits:
            options = replace(options, limits=limits)
        return open_repository(ref, options, cache)
    # Offline readers (tar archives, layouts, directories) load only when such a source is given.
    if isinstance(ref, DirRef):
        from imagetrust.registry.rootdir import DirectoryStore

        return DirectoryStore(ref.path, limits)
    from imagetrust.registry.archive import open_offline_store

    return open_offline_store(ref, limits)
