"""Checks a rule names by ``validator``: structure a regex cannot express (JWT header, Basic payload).

Each takes the regex match and the value and answers whether the candidate is a real-looking secret.
They run only on candidates hyperscan and the rule's regex already accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable

from imagetrust.audit.secrets.entropy import shannon

_WEAK = frozenset(
    b"password passw0rd pass1234 pa55word p@ssw0rd p@ssword 123456 12345678 123456789 1234 12345 admin "
    b"administrator root toor secret pass test guest user username default qwerty letmein welcome abc123 "
    b"foobar postgres mysql oracle none null nil empty required optional string true false changeit "
    b"mypassword yourpassword userpassword dbpassword passwd pwd asdf asdfgh asdfghjkl".split()
)
_DOTTED_IDENT = re.compile(rb"^[A-Za-z_$][\w$]*(?:(?:\.|->|::)[A-Za-z_$][\w$]*)+(?:\(\))?$")
_CODE_CHARS = re.compile(rb"[(){}\[\]]|^[$%@&*!\\<:=]|^[./~][\w.-]*/|\s")
# inside quotes brackets are just characters (`"v@fq(wjzp)"`); a quoted call, list or template is still code
_QUOTED_CODE = re.compile(rb"^[\w.$]*\(|^\{.*\}$|^\[.*\]$|^[$%@&*!\\<:=]|^[./~][\w.-]*/|\s")
_FILE_NAME = re.compile(
    rb"(?i)\.(?:js|json|ts|py|rb|go|java|xml|html?|css|ya?ml|txt|md|png|jpe?g|svg|pem|crt"
    rb"|key|pub|conf|cfg|ini|properties|env|sh|php|lock|log)$"
)
_NOT_A_VALUE_NAME = re.compile(
    rb"(?i)(?:izer|ize|ization|type|url|uri|endpoint|file|path|dir|name|length|len|size|ttl|expir\w*|header"
    rb"|field|param|label|prefix|suffix|format|count|index|policy|regex|pattern|hint|prompt|placeholder|hash"
    rb"|salt|id|ids|_?mode|version|required|enabled|min|max|reset|changed|validator|strength|provider|input"
    rb"|column|char|desc|description|title|text|message|msg|error|key_?id|location|endpoint|uuid)$"
)


def _b64decode(text: bytes) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


_NOT_SECRET_NAME_PART = re.compile(rb"(?i)public|sha\d*|md5|hash|digest|checksum|fingerprint|license")
# versions, OIDs, IP addresses, host:port/path
_NUMERIC_THING = re.compile(rb"^[~^<>=v]*\d+(?:\.\d+)+|^\d{1,5}/")


def _name_says_not_a_value(match: re.Match[bytes]) -> bool:
    """``password_hash``, ``public_key``, ``token_url``, ``run-tests.py``: names of something else."""
    name = match.groupdict().get("name")
    if name is None:
        return False
    name = name.rstrip(b"\"'] \t\\")
    # `fs.s3a.secret.key`, `tls.key`: a property path ending in `.key` names the key, not a key file
    file_name = _FILE_NAME.search(name)
    return bool(
        _NOT_A_VALUE_NAME.search(name)
        or _NOT_SECRET_NAME_PART.search(name)
        or (file_name is not None and file_name.group(0).lower() != b".key")
    )


def jwt(match: re.Match[bytes], value: bytes) -> bool:
    header = _b64decode(value.split(b".", 1)[0])
    if header is None:
        return False
    try:
        obj = json.loads(header)
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(obj, dict) and "alg" in obj


def basic_auth(match: re.Match[bytes], value: bytes) -> bool:
    try:
        decoded = base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, sep, password = decoded.partition(b":")
    if not sep or not user or len(password) < 4 or not all(32 < b < 127 for b in decoded):
        return False
    return password.lower() not in _WEAK and password.lower() != user.lower()


def url_password(match: re.Match[bytes], value: bytes) -> bool:
    whole = match.group(0).lower()
    if b"example." in whole or b"@host" in whole:
        return False
    return _password_like(value) and value.lower() not in {b"pass", b"pwd"}


def _quoted(match: re.Match[bytes]) -> bool:
    """The value sits between a pair of the same quote characters in the source."""
    start, end = match.span("secret")
    before, after = match.string[start - 1 : start], match.string[end : end + 1]
    return start > 0 and before in (b'"', b"'", b"`") and after == before


def _password_like(value: bytes, *, quoted: bool = False) -> bool:
    if not value.isascii():
        return False  # an emoji or a translated UI string, not a credential
    low = value.lower()
    # a dictionary default with digits or `!` tacked on (`letmein123`, `admin1!`) is still a default
    if low in _WEAK or low.rstrip(b"0123456789!") in _WEAK or b"password" in low or b"passwd" in low:
        return False
    code = _QUOTED_CODE if quoted else _CODE_CHARS
    if _DOTTED_IDENT.match(value) or code.search(value) or _FILE_NAME.search(value):
        return False
    if _NUMERIC_THING.match(value):
        return False
    return not (value.isdigit() and len(value) < 6)


def password(match: re.Match[bytes], value: bytes) -> bool:
    return not _name_says_not_a_value(match) and _password_like(value, quoted=_quoted(match))


def _called(match: re.Match[bytes]) -> bool:
    """`key = base64url_decode(...)`: the value is a function being called."""
    end = match.end("secret")
    return match.string[end : end + 1] == b"("


def generic(match: re.Match[bytes], value: bytes) -> bool:
    if _name_says_not_a_value(match) or _called(match):
        return False
    if _DOTTED_IDENT.match(value) or _FILE_NAME.search(value) or value.startswith((b"/", b"./", b"-")):
        return False
    if _NUMERIC_THING.match(value):
        return False
    has_digit = len(value.translate(None, b"0123456789")) < len(value)
    # without digits only a long, letter-random value passes (`uuvclbfguuiyupykpp...`, not `someLongName`)
    if not has_digit and not (len(value) >= 16 and shannon(value) >= 3.5):
        return False
    return not _looks_like_a_name(value)


_PART = re.compile(rb"^(?:[A-Za-z]+[0-9]*|[0-9]{1,4})$")
_TOKEN = re.compile(rb"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_VOWELS = frozenset(b"aeiouy")
_CONSONANT_RUN = re.compile(rb"[b-df-hj-np-tv-xz]{5,}")


def _wordlike(token: bytes) -> bool:
    """`Strict`, `scancode`, `nistp`: could be a word or abbreviation; `wnthgqttzelo` could not."""
    if not token.isalpha() or len(token) <= 3:
        return True
    low = token.lower()
    if len(token) > 20 or _CONSONANT_RUN.search(low):
        return False
    return len(token) < 8 or sum(1 for c in low if c in _VOWELS) / len(token) >= 0.2


def _looks_like_a_name(value: bytes) -> bool:
    """`aardvark-py-2014`, `LicenseRef-scancode-x-1.0`, `Ed25519PrivateKey`: identifiers, not keys.

    Random keys break into many one- or two-character letter/digit runs, or into letter runs no language
    spells (long, few vowels, long consonant clusters); names into few long pronounceable words.
    """
    tokens = _TOKEN.findall(value)
    letters = [t for t in tokens if t.isalpha()]
    if not letters or not all(_wordlike(t) for t in letters):
        return False
    parts = [p for p in re.split(rb"[_\-.]", value) if p]
    if len(parts) >= 3 and all(_PART.match(p) for p in parts):
        return True
    digits = sum(len(t) for t in tokens if t.isdigit())
    if digits * 3 > len(value):
        return False  # mostly digits: a number-ish key, not a name
    return len(tokens) >= 2 and sum(map(len, letters)) / len(letters) >= 4.0


def cli_password(match: re.Match[bytes], value: bytes) -> bool:
    """Unquoted after an option, prose reads the same (`--password flag`): ask for a made-up-looking value."""
    if not _password_like(value):
        return False
    has_digit = len(value.translate(None, b"0123456789")) < len(value)
    has_other = not value.isalnum()
    mixed = value.lower() != value and value.upper() != value
    return has_digit or has_other or mixed or not _wordlike(value)


def base64_pem(match: re.Match[bytes], value: bytes) -> bool:
    """Base64 of a PEM block: the decoded header must name an unencrypted private key."""
    head = value[:64]
    try:
        decoded = base64.b64decode(head[: len(head) - len(head) % 4], validate=True)
    except (binascii.Error, ValueError):
        return False
    header = decoded.split(b"\n", 1)[0]
    return header.startswith(b"-----BEGIN ") and b"PRIVATE KEY" in header and b"ENCRYPTED" not in header


VALIDATORS: dict[str, Callable[[re.Match[bytes], bytes], bool]] = {
    "jwt": jwt,
    "basic-auth": basic_auth,
    "url-password": url_password,
    "password": password,
    "generic": generic,
    "cli-password": cli_password,
    "base64-pem": base64_pem,
}
