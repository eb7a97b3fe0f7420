"""The policy ``check`` applies when no ``--policy`` is given (documented in docs/policy.md).

A valid signature by the given key(s) or identity, no malware, no secrets, and no critical vulnerability
with a fix available.  It covers every image.
"""

from __future__ import annotations

from collections.abc import Sequence

from imagetrust.audit.findings import Severity
from imagetrust.errors import UsageError
from imagetrust.policy.model import (
    Authority,
    ForbidRule,
    KeyAuthority,
    KeylessAuthority,
    Mode,
    Policy,
    Rule,
    SignatureRule,
    VulnerabilityRule,
)
from imagetrust.trust.keys import PublicKey
from imagetrust.verify.identity import IdentityPolicy

DEFAULT_RULE = "default"


def default_policy(
    keys: Sequence[tuple[PublicKey, str]], identity: IdentityPolicy | None, *, mode: Mode = Mode.ENFORCE
) -> Policy:
    """``keys`` are (key, where it was read from) pairs; any one trusted signer is enough."""
    authorities: list[Authority] = [KeyAuthority(key, path) for key, path in keys]
    if identity is not None:
        authorities.append(KeylessAuthority(identity))
    if not authorities:
        raise UsageError("check needs --policy, or --key / --certificate-identity for the default policy")
    rule = Rule(
        DEFAULT_RULE,
        ("*",),
        signatures=SignatureRule(tuple(authorities), 1),
        vulnerabilities=VulnerabilityRule(max_severity=Severity.HIGH, fixable_only=True),
        secrets=ForbidRule(),
        malware=ForbidRule(),
    )
    return Policy("default", mode, (rule,), "default policy")
