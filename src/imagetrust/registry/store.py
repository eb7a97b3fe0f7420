"""The interface every image source offers: a registry repository, an OCI layout, an archive.

The pipeline and discovery code see only this protocol, so online and offline images are handled by the
same code after the first step.  Every method returns bytes already verified against their digest.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor, Index, Manifest, parse_manifest_or_index


@dataclass(frozen=True)
class FetchedManifest:
    """Manifest bytes exactly as served, with the descriptor they were verified against."""

    descriptor: Descriptor
    raw: bytes = field(repr=False)

    def parse(self, limits: Limits) -> Manifest | Index:
        return parse_manifest_or_index(
            self.raw,
            self.descriptor.digest,
            declared_media_type=self.descriptor.media_type,
            what=f"manifest {self.descriptor.digest.short}",
            limits=limits,
        )


class ImageStore(Protocol):
    """A place one repository's worth of content can be read from."""

    @property
    def location(self) -> str:
        """Human-readable name of the source, for messages and reports."""
        ...

    def resolve(self) -> Descriptor:
        """Pin the reference this store was opened with to the descriptor of its top-level manifest.

        Called once; everything after uses the returned digest.
        """
        ...

    def get_manifest(self, digest: Digest) -> FetchedManifest:
        """Manifest or index by digest; raises ``NotFound`` if absent, ``IntegrityError`` if bytes lie."""
        ...

    def get_tagged(self, tag: str) -> FetchedManifest | None:
        """Manifest by tag (cosign ``sha256-<hex>.sig`` tags, referrers fallback tags); ``None`` if absent.

        Any error other than a clean "no such tag" raises: absence must never be inferred from a failure.
        """
        ...

    def open_blob(self, descriptor: Descriptor) -> AbstractContextManager[BinaryIO]:
        """A stream over the blob that verifies size and digest by EOF (see ``VerifyingReader``)."""
        ...

    def read_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        """A small blob (config, signature, bundle) read whole and verified; refuses more than max_bytes."""
        ...

    def referrers(self, digest: Digest) -> list[Descriptor] | None:
        """Descriptors whose ``subject`` is ``digest``, from the OCI 1.1 referrers API.

        ``None`` means the source has no referrers API (the caller then tries the fallback tag); errors raise.
        """
        ...
