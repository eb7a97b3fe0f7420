"""Which variable names look like they hold a secret; their values are never copied into findings."""

from __future__ import annotations

import re

_SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASS(?:WORD|WD|PHRASE)?|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|SECRET_?KEY|"
    r"CREDENTIALS?|AUTH|CLIENT_SECRET|DB_PASS|SESSION_KEY|ENCRYPTION_KEY|SIGNING_KEY|KEY)(?:_|$)",
    re.IGNORECASE,
)
# names that say the value is a location, a switch or a public identifier, not the secret itself
_NOT_SECRET = re.compile(
    r"(?:_(?:FILE|PATH|DIR|URL|URI|HOST|PORT|ID|NAME|USER|USERNAME|LENGTH|ENABLED|TYPE|MODE|VERSION|TIMEOUT|"
    r"SERVER|ENDPOINT|REGION|FINGERPRINT|KEYRING|KEYSERVER)$)|GPG|PGP|(?:^|_)PUBLIC(?:_|$)|^PWD$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|changeme|none|null|false|true|<.*>|x+|\*+)$", re.I
)


def looks_secret(name: str, value: str) -> bool:
    """A secret-looking name with a real (non-empty, non-placeholder) value."""
    value = value.strip().strip("\"'")
    if not value or _PLACEHOLDER.match(value):
        return False
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET.search(name)


__all__ = ["looks_secret"]
