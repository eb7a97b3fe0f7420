"""One error root for the whole program.

Every failure a user can meet is an ``ImageTrustError`` with a one-line ``diagnostics()``.  Third-party
exceptions are translated where they enter (``raise ... from e``); the CLI is the only catch site and maps
the family of an error to an exit code, so the three outcomes (failed, usage, could-not-check) never blur.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, shared by every command (see docs/exit-codes.md)."""

    OK = 0
    FAILED = 1  # a check ran and the image did not pass it
    USAGE = 2  # bad arguments, bad configuration, bad local input
    INDETERMINATE = 3  # could not check: network, registry misbehaviour, missing data


class ImageTrustError(Exception):
    """Root of every error imagetrust raises on purpose."""

    exit_code: ExitCode = ExitCode.INDETERMINATE

    def diagnostics(self) -> str:
        """A single line for the user: what was being done, to what, and what went wrong."""
        text = " ".join(str(self).split())
        return text or type(self).__name__


class UsageError(ImageTrustError):
    """The user asked for something malformed or contradictory (exit 2)."""

    exit_code = ExitCode.USAGE


class InvalidReference(UsageError):
    """An image reference that cannot be parsed."""


class ConfigError(UsageError):
    """A configuration or credential file that cannot be used."""


class LocalInputError(UsageError):
    """A local file (layout, archive, key) is missing, unreadable or malformed."""


class AuthenticationError(UsageError):
    """The registry refused the credentials given (wrong password, no access).

    This is a usage problem, not an outage: retrying will not help, the user must change something.
    """


class CouldNotCheck(ImageTrustError):
    """Something needed for a decision could not be obtained (exit 3): never read as 'not signed'."""

    exit_code = ExitCode.INDETERMINATE


class RegistryUnreachable(CouldNotCheck):
    """Connection refused, DNS failure, timeout, TLS failure."""


class RegistryProtocolError(CouldNotCheck):
    """The registry answered, but not as the distribution spec says it must (5xx, 429, garbage)."""


class NotFound(CouldNotCheck):
    """The registry or file says the thing asked for does not exist.

    Kept apart from ``RegistryUnreachable`` so callers can tell "absent" from "could not ask".
    """


class IntegrityError(CouldNotCheck):
    """Bytes did not match the digest or size that named them: the source is lying or broken."""


class LimitExceeded(CouldNotCheck):
    """Input larger or more numerous than a configured ``Limits`` bound allows."""


class MalformedContent(CouldNotCheck):
    """A manifest, index, config or archive from the source that cannot be parsed."""


class VerificationFailed(ImageTrustError):
    """A check ran to completion and said no (exit 1)."""

    exit_code = ExitCode.FAILED


class InvalidVersion(MalformedContent):
    """A package version string that its ecosystem's rules cannot parse, so it cannot be ordered."""


class UnsupportedEcosystem(CouldNotCheck):
    """An advisory or package names an ecosystem whose version order we do not implement."""
