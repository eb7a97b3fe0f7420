"""Maven version order, as ``org.apache.maven.artifact.versioning.ComparableVersion`` defines it.

Rules follow the "Version Order Specification" of the POM reference and ComparableVersion (maven 3.8/3.9
behaviour for the inputs feeds contain):

- lower-case the string; split at ``.`` and ``-`` and at every digit/letter transition; an empty part is
  0; a ``-`` (and a letter-to-digit transition) opens a nested sub-list, so ``1-1`` is ``[1, [1]]``;
- a part of digits is a number; ``a``/``b``/``m`` directly followed by a digit mean alpha/beta/milestone;
  ``ga``/``final``/``release`` are the empty qualifier and ``cr`` is ``rc``;
- qualifiers rank ``alpha < beta < milestone < rc < snapshot < "" < sp`` and any other qualifier after
  those, ordered as text;
- trailing "null" items (0, the empty qualifier, empty lists) are dropped from each list;
- item against item: number > list > qualifier; a missing item compares as null (0 / ""), so
  ``1 = 1.0 = 1-0``, ``1-alpha < 1`` and ``1 < 1-sp < 1-1``.

Nothing is refused except empty strings and whitespace or control characters: Maven orders any string.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imagetrust.audit.vulns.versions._common import (
    is_ascii_digit,
    number_key,
    reject_blank_or_control,
)

SCHEME = "maven"

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE_INDEX = _QUALIFIERS.index("")
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}


@dataclass(frozen=True)
class _Int:
    key: tuple[int, str]


@dataclass(frozen=True)
class _Str:
    value: str  # after alias resolution

    def rank(self) -> tuple[int, str]:
        if self.value in _QUALIFIERS:
            return (_QUALIFIERS.index(self.value), "")
        return (len(_QUALIFIERS), self.value)


@dataclass
class _List:
    items: list[_Int | _Str | _List] = field(default_factory=list)


_Item = _Int | _Str | _List


def _is_null(item: _Item) -> bool:
    if isinstance(item, _Int):
        return item.key == (0, "")
    if isinstance(item, _Str):
        return item.value == ""
    return not item.items


def _make_str(text: str, followed_by_digit: bool) -> _Str:
    if followed_by_digit and text in _SHORT:
        text = _SHORT[text]
    return _Str(_ALIASES.get(text, text))


def _parse_item(text: str, is_digit: bool) -> _Item:
    return _Int(number_key(text)) if is_digit else _make_str(text, False)


def _normalize(lst: _List) -> None:
    items = lst.items
    i = len(items) - 1
    while i >= 0:
        last = items[i]
        if _is_null(last):
            del items[i]
        elif not isinstance(last, _List):
            break
        i -= 1


def parse(version: str) -> _List:
    """Build ComparableVersion's item tree for ``version``."""
    reject_blank_or_control(SCHEME, version)
    text = version.lower()
    root = _List()
    current = root
    stack = [root]
    is_digit = False
    start = 0

    def push_list() -> None:
        nonlocal current
        new = _List()
        current.items.append(new)
        current = new
        stack.append(new)

    for i, ch in enumerate(text):
        if ch == ".":
            current.items.append(_Int((0, "")) if i == start else _parse_item(text[start:i], is_digit))
            start = i + 1
        elif ch == "-":
            current.items.append(_Int((0, "")) if i == start else _parse_item(text[start:i], is_digit))
            start = i + 1
            push_list()
        elif is_ascii_digit(ch):
            if not is_digit and i > start:
                current.items.append(_make_str(text[start:i], True))
                start = i
                push_list()
            is_digit = True
        else:
            if is_digit and i > start:
                current.items.append(_parse_item(text[start:i], True))
                start = i
                push_list()
            is_digit = False
    if len(text) > start:
        current.items.append(_parse_item(text[start:], is_digit))
    while stack:
        _normalize(stack.pop())
    return root


def _cmp_item(a: _Item, b: _Item | None) -> int:
    if isinstance(a, _Int):
        if b is None:
            return 0 if a.key == (0, "") else 1
        if isinstance(b, _Int):
            return (a.key > b.key) - (a.key < b.key)
        return 1
    if isinstance(a, _Str):
        if b is None:
            ra = a.rank()
            rel = (_RELEASE_INDEX, "")
            return (ra > rel) - (ra < rel)
        if isinstance(b, _Str):
            ra, rb = a.rank(), b.rank()
            return (ra > rb) - (ra < rb)
        return -1
    if b is None:
        for item in a.items:
            r = _cmp_item(item, None)
            if r:
                return r
        return 0
    if isinstance(b, _Int):
        return -1
    if isinstance(b, _Str):
        return 1
    return _cmp_lists(a, b)


def _cmp_lists(a: _List, b: _List) -> int:
    n = max(len(a.items), len(b.items))
    for i in range(n):
        left = a.items[i] if i < len(a.items) else None
        right = b.items[i] if i < len(b.items) else None
        # a missing item is "null": compare the present one against null, from its side
        r = _cmp_item(left, right) if left is not None else -_cmp_item(right, None) if right else 0
        if r:
            return r
    return 0


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Maven orders ``a`` against ``b``."""
    return _cmp_lists(parse(a), parse(b))
