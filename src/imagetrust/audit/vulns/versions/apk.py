"""Alpine (apk) version order: ``digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}``.

Rules follow apk-tools ``src/version.c`` (2.x, and 3.x which added ``~hash``): the string is read as a
token stream whose grammar is enforced, and two versions compare token by token while the token *types*
agree.  Numbers compare numerically, except that a non-initial number with a leading zero on either side
compares as a string (Gentoo's rule); a letter compares by character; suffixes rank
``_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p``; ``~hash`` compares as a string.
When the types differ, a pre-release suffix loses, otherwise the version whose next token comes earlier
in the grammar (digit < letter < suffix < hash < ``-r`` < end) is the greater one.

One extension: a number directly after the letter (``6.6.2p1``, a common slip for ``6.6.2_p1`` in
secdb) is accepted as apk-tools up to 2.10 did, as a further numeric component; newer apk-tools refuse
it, but such fixed versions are in real advisories and the older order is the one Alpine's feeds were
written against.

Strings that ``apk_version_validate`` rejects (``.1``, ``1.2_blah``, ``1-ruff``, uppercase letters,
``1-r``, an empty ``_``) raise :class:`InvalidVersion`: apk itself only orders those by accident, and the
answer changed between apk-tools releases.  Numbers are unbounded here (apk wraps at 2^64).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from imagetrust.audit.vulns.versions._common import (
    invalid,
    is_ascii_digit,
    number_key,
    reject_blank_or_control,
)

SCHEME = "apk"


class _Tok(IntEnum):
    INITIAL_DIGIT = 0
    DIGIT = 1
    LETTER = 2
    SUFFIX = 3
    SUFFIX_NO = 4
    COMMIT_HASH = 5
    REVISION_NO = 6
    END = 7


_SUFFIXES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
_SUFFIX_NONE = 5
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class _Token:
    kind: _Tok
    text: str = ""
    suffix: int = 0
    numeric: bool = False  # a number right after a letter: always numeric (apk-tools <= 2.10)


@dataclass(frozen=True)
class ApkVersion:
    """A validated apk version as its token stream (ending with END)."""

    tokens: tuple[_Token, ...]


def _take(s: str, i: int, allowed: frozenset[str] | None) -> int:
    n = len(s)
    if allowed is None:
        while i < n and is_ascii_digit(s[i]):
            i += 1
    else:
        while i < n and s[i] in allowed:
            i += 1
    return i


_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")


def parse(version: str) -> ApkVersion:
    """Tokenise and validate an apk version string."""
    reject_blank_or_control(SCHEME, version)
    s = version
    n = len(s)
    end = _take(s, 0, None)
    if end == 0:
        raise invalid(SCHEME, version, "does not start with a digit")
    tokens = [_Token(_Tok.INITIAL_DIGIT, s[:end])]
    i = end
    kind = _Tok.INITIAL_DIGIT
    while i < n:
        ch = s[i]
        if "a" <= ch <= "z":
            if kind > _Tok.DIGIT:
                raise invalid(SCHEME, version, f"letter out of place at offset {i}")
            kind = _Tok.LETTER
            tokens.append(_Token(kind, ch))
            i += 1
        elif ch == "." or is_ascii_digit(ch):
            if ch == ".":
                if kind > _Tok.DIGIT:
                    raise invalid(SCHEME, version, f"'.' out of place at offset {i}")
                i += 1
            after_letter = kind == _Tok.LETTER and ch != "."
            if kind in (_Tok.INITIAL_DIGIT, _Tok.DIGIT) or after_letter:
                kind = _Tok.DIGIT
            elif kind == _Tok.SUFFIX:
                kind = _Tok.SUFFIX_NO
            else:
                raise invalid(SCHEME, version, f"number out of place at offset {i}")
            end = _take(s, i, None)
            if end == i:
                raise invalid(SCHEME, version, f"expected a number at offset {i}")
            tokens.append(_Token(kind, s[i:end], numeric=after_letter))
            i = end
        elif ch == "_":
            if kind > _Tok.SUFFIX_NO:
                raise invalid(SCHEME, version, f"suffix out of place at offset {i}")
            end = _take(s, i + 1, _LOWER)
            name = s[i + 1 : end]
            if name not in _SUFFIXES:
                raise invalid(SCHEME, version, f"unknown suffix {name!r}")
            kind = _Tok.SUFFIX
            tokens.append(_Token(kind, name, _SUFFIXES[name]))
            i = end
        elif ch == "~":
            if kind >= _Tok.COMMIT_HASH:
                raise invalid(SCHEME, version, f"'~' out of place at offset {i}")
            end = _take(s, i + 1, _HEX)
            if end == i + 1:
                raise invalid(SCHEME, version, "'~' is not followed by a hex commit hash")
            kind = _Tok.COMMIT_HASH
            tokens.append(_Token(kind, s[i + 1 : end]))
            i = end
        elif ch == "-":
            if kind >= _Tok.REVISION_NO or not s.startswith("-r", i):
                raise invalid(SCHEME, version, f"'-' must start a single '-r<number>' at offset {i}")
            end = _take(s, i + 2, None)
            if end == i + 2:
                raise invalid(SCHEME, version, "'-r' is not followed by a number")
            kind = _Tok.REVISION_NO
            tokens.append(_Token(kind, s[i + 2 : end]))
            i = end
        else:
            raise invalid(SCHEME, version, f"invalid character {ch!r}")
    tokens.append(_Token(_Tok.END))
    return ApkVersion(tuple(tokens))


def _cmp_str(a: str, b: str) -> int:
    return (a > b) - (a < b)


def _token_cmp(a: _Token, b: _Token) -> int:
    kind = a.kind
    plain = a.numeric or b.numeric
    if kind == _Tok.DIGIT and not plain and (a.text.startswith("0") or b.text.startswith("0")):
        return _cmp_str(a.text, b.text)
    if kind in (_Tok.INITIAL_DIGIT, _Tok.DIGIT, _Tok.SUFFIX_NO, _Tok.REVISION_NO):
        ka, kb = number_key(a.text), number_key(b.text)
        return (ka > kb) - (ka < kb)
    if kind == _Tok.SUFFIX:
        return (a.suffix > b.suffix) - (a.suffix < b.suffix)
    return _cmp_str(a.text, b.text)


def compare_parsed(a: ApkVersion, b: ApkVersion) -> int:
    ta = tb = a.tokens[0]
    for ta, tb in zip(a.tokens, b.tokens, strict=False):
        if ta.kind != tb.kind or ta.kind == _Tok.END:
            break
        r = _token_cmp(ta, tb)
        if r:
            return r
    if ta.kind == tb.kind:
        return 0
    if ta.kind == _Tok.SUFFIX and ta.suffix < _SUFFIX_NONE:
        return -1
    if tb.kind == _Tok.SUFFIX and tb.suffix < _SUFFIX_NONE:
        return 1
    return -1 if ta.kind > tb.kind else 1


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as apk orders ``a`` against ``b``."""
    return compare_parsed(parse(a), parse(b))
