"""What verification returns: frozen values that exist only once their check has passed.

Verifiers construct ``Verified*`` objects as their last step; policy code takes these types only, so
"policy over unverified data" cannot be written.  Each keeps the exact bytes that were verified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from imagetrust.oci.digest import Digest
from imagetrust.trust.keys import KeyId


@dataclass(frozen=True)
class CertIdentity:
    """The signer identity a Fulcio-style certificate asserts (not yet trusted by itself)."""

    san: str  # the single subject alternative name: email, URI or otherName value
    san_kind: str  # "email" | "uri" | "othername"
    issuer: str | None  # OIDC issuer, from 1.3.6.1.4.1.57264.1.8 (or the legacy .1.1)
    # Fulcio extensions by short name ("source_repository_ref", "github_workflow_repository", ...)
    claims: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def claim(self, name: str) -> str | None:
        """A Fulcio extension value by short name, e.g. ``source_repository_ref``."""
        return self.claims.get(name)


@dataclass(frozen=True)
class Subject:
    """An in-toto ResourceDescriptor reduced to what binding needs: name and digest set."""

    name: str
    digests: Mapping[str, str]


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement (v0.1 or v1) as signed; ``raw`` is the exact payload bytes."""

    type: str
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any] = field(repr=False)
    raw: bytes = field(repr=False)


@dataclass(frozen=True)
class VerifiedSignature:
    """A cosign simple-signing signature that verified and names ``image``."""

    signer: KeyId
    image: Digest
    payload: bytes = field(repr=False)
    docker_reference: str | None = None
    optional: Mapping[str, Any] | None = field(default=None, repr=False)
    identity: CertIdentity | None = None  # set only by keyless verification, after the chain checked out


@dataclass(frozen=True)
class VerifiedEnvelope:
    """A DSSE envelope whose payload was signed by at least ``threshold`` distinct trusted keys."""

    payload_type: str
    payload: bytes = field(repr=False)
    signers: frozenset[KeyId]


@dataclass(frozen=True)
class VerifiedStatement:
    """An in-toto Statement from a verified envelope."""

    statement: Statement
    signers: frozenset[KeyId]
    identity: CertIdentity | None = None

    @property
    def predicate_type(self) -> str:
        return self.statement.predicate_type


@dataclass(frozen=True)
class VerifiedProvenance:
    """SLSA provenance that matched the expected builder and source."""

    statement: VerifiedStatement
    slsa_version: str  # "0.2" | "1"
    builder_id: str
    builder_version: str | None  # "v2.1.0" when the builder id ends in @refs/tags/v2.1.0
    build_type: str
    source_uri: str  # normalised, e.g. "https://github.com/org/repo"
    source_ref: str | None  # "refs/heads/main", "refs/tags/v1.2.3"
