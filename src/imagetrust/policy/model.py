"""The policy document as typed values, and the verified evidence evaluation reads.

Everything here is loaded once (``policy.load``) and then only read: key files are already parsed into
``PublicKey`` values and VEX documents into statements, so evaluation needs no I/O.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from imagetrust.audit.findings import Severity
from imagetrust.oci.digest import Digest
from imagetrust.trust.keys import KeyId, PublicKey
from imagetrust.verify.identity import IdentityPolicy
from imagetrust.verify.results import CertIdentity, VerifiedStatement

API_VERSION = "imagetrust.dev/v1"
KIND = "Policy"


class Mode(StrEnum):
    ENFORCE = "enforce"
    WARN = "warn"


@dataclass(frozen=True)
class Waiver:
    """A finding id (or config check id) let through, for a reason, until a date (inclusive)."""

    id: str
    reason: str
    expires: date | None = None
    line: int | None = None  # where it was written, for messages

    def active(self, now: datetime) -> bool:
        return self.expires is None or now.date() <= self.expires


@dataclass(frozen=True)
class KeyAuthority:
    key: PublicKey
    path: str


@dataclass(frozen=True)
class KeylessAuthority:
    identity: IdentityPolicy

    def describe(self) -> str:
        i = self.identity
        who = i.identity if i.identity is not None else f"/{i.identity_regexp}/"
        issuer = i.issuer if i.issuer is not None else f"/{i.issuer_regexp}/"
        return f"{who} (issuer {issuer})"


Authority = KeyAuthority | KeylessAuthority


@dataclass(frozen=True)
class SignatureRule:
    authorities: tuple[Authority, ...]
    threshold: int = 1


@dataclass(frozen=True)
class SlsaRule:
    builder: str
    source: str
    tag: str | None = None
    branch: str | None = None
    build_type: str | None = None


@dataclass(frozen=True)
class AttestationRule:
    predicate_type: str  # full URI
    max_age: timedelta | None = None
    slsa: SlsaRule | None = None


@dataclass(frozen=True)
class VexStatement:
    """One OpenVEX statement reduced to what suppression needs, with the document it came from."""

    vulnerability: str  # the id or an alias, as written
    status: str  # not_affected | fixed | affected | under_investigation
    products: tuple[str, ...]  # purls or image references; empty = every product
    justification: str | None
    source: str  # the VEX document path and statement index


@dataclass(frozen=True)
class VulnerabilityRule:
    max_severity: Severity | None = None  # findings above this fail; None: any finding fails
    fixable_only: bool = False
    ignore: tuple[Waiver, ...] = ()
    vex: tuple[VexStatement, ...] = ()


@dataclass(frozen=True)
class ForbidRule:
    """Secrets or malware: any finding fails, except waived ids."""

    waive: tuple[Waiver, ...] = ()


@dataclass(frozen=True)
class ConfigRule:
    enforce: tuple[str, ...] = ()  # check ids; ("*",) for every check
    waive: tuple[Waiver, ...] = ()


@dataclass(frozen=True)
class DenyRule:
    """Packages (purl globs) or licenses (SPDX ids, globs) that must not be present."""

    deny: tuple[str, ...]
    waive: tuple[Waiver, ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    images: tuple[str, ...]  # globs on registry/repository
    signatures: SignatureRule | None = None
    attestations: tuple[AttestationRule, ...] = ()
    vulnerabilities: VulnerabilityRule | None = None
    secrets: ForbidRule | None = None
    malware: ForbidRule | None = None
    config: ConfigRule | None = None
    packages: DenyRule | None = None
    licenses: DenyRule | None = None

    def applies_to(self, image_name: str) -> bool:
        return any(fnmatch.fnmatchcase(image_name, pattern) for pattern in self.images)


@dataclass(frozen=True)
class Policy:
    name: str
    mode: Mode
    rules: tuple[Rule, ...]
    source: str  # the file it was read from, or "default policy"

    def rules_for(self, image_name: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.applies_to(image_name))

    def authorities(self) -> tuple[Authority, ...]:
        """Every signer any rule trusts: what verification must be run against."""
        seen: dict[object, Authority] = {}
        for rule in self.rules:
            if rule.signatures is not None:
                for authority in rule.signatures.authorities:
                    key = authority.key.key_id if isinstance(authority, KeyAuthority) else authority
                    seen.setdefault(key, authority)
        return tuple(seen.values())


# ------------------------------------------------------------------------------- verified evidence


@dataclass(frozen=True)
class VerifiedSigner:
    """A signer whose signature over the image digest verified: a key id, or a certificate identity."""

    key_id: KeyId | None = None
    identity: CertIdentity | None = None
    evidence: str = ""  # format, where it was found, transparency log entry

    @property
    def distinct_id(self) -> str:
        if self.key_id is not None:
            return f"key {self.key_id}"
        assert self.identity is not None
        return f"identity {self.identity.san} ({self.identity.issuer})"


@dataclass(frozen=True)
class VerifiedAttestation:
    """A statement whose envelope verified and whose subject is the image digest."""

    statement: VerifiedStatement
    signer: VerifiedSigner


@dataclass(frozen=True)
class Verification:
    """What verification established about one digest; ``could_not_check`` makes checks indeterminate.

    ``unread_types`` are attestation types that verified but whose statement content was not available to
    policy (so age and SLSA checks on them cannot be made).
    """

    digest: Digest
    signers: tuple[VerifiedSigner, ...] = ()
    attestations: tuple[VerifiedAttestation, ...] = ()
    unread_types: tuple[tuple[str, VerifiedSigner], ...] = ()
    could_not_check: tuple[str, ...] = ()
    rejected_signatures: tuple[str, ...] = ()  # signatures found that did not verify, with the reason
