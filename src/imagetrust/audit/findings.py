"""The one finding shape every auditor emits, so reports, policy and SARIF treat all kinds alike.

Each scanner (vulnerabilities, secrets, configuration, malware, policy) returns ``Finding`` values with its
own ``kind`` and puts anything kind-specific in ``details``; what it could not examine goes in the
``Unknown`` list of ``audit.unpack`` rather than being silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from imagetrust.oci.digest import Digest


class Severity(Enum):
    """Ordered severities; ``UNKNOWN`` sorts lowest but policies may treat it as high (fail closed)."""

    UNKNOWN = "unknown"
    NEGLIGIBLE = "negligible"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    @property
    def gating(self) -> Severity:
        """The severity a limit (``maxSeverity``, ``--fail-on``) compares: an unknown one counts as critical,
        so a missing score cannot let a finding through."""
        return Severity.CRITICAL if self is Severity.UNKNOWN else self

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Map the spellings sources use (``CRITICAL``, ``Moderate``, ``important``) onto our scale."""
        key = text.strip().lower()
        aliases = {"moderate": "medium", "important": "high", "none": "negligible", "info": "negligible"}
        key = aliases.get(key, key)
        for member in cls:
            if member.value == key:
                return member
        return cls.UNKNOWN


class FindingKind(Enum):
    VULNERABILITY = "vulnerability"
    SECRET = "secret"  # noqa: S105 (a finding kind, not a password)
    MISCONFIGURATION = "misconfiguration"
    MALWARE = "malware"
    POLICY = "policy"


@dataclass(frozen=True)
class Finding:
    """One problem found in an image.

    ``id`` is the advisory id (vulnerabilities) or the rule id (everything else). ``layer`` is the layer that
    introduced what was found, ``path`` the file it is in, when those apply.  ``details`` holds
    kind-specific, JSON-ready fields (installed and fixed versions, redacted preview, line number, ...); it
    is a tuple of pairs so the value stays hashable and frozen.
    """

    kind: FindingKind
    id: str
    severity: Severity
    title: str
    path: str | None = None
    layer: Digest | None = None
    package_purl: str | None = None
    details: tuple[tuple[str, Any], ...] = ()

    def detail(self, key: str) -> Any:
        return dict(self.details).get(key)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "id": self.id,
            "severity": self.severity.value,
            "title": self.title,
        }
        if self.path is not None:
            out["path"] = self.path
        if self.layer is not None:
            out["layer"] = str(self.layer)
        if self.package_purl is not None:
            out["package"] = self.package_purl
        out.update(dict(self.details))
        return out
