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
- item against item: first which side of null (0 / "") each falls on (a 0 kept before a qualifier takes
  the side of what follows it), then number > list > qualifier; a missing item is null, so
  ``1 = 1.0 = 1-0``, ``1-alpha < 1`` and ``1 < 1-sp < 1-1``.  Maven applies the type rule first, which
  is not transitive (``1.x < 1-alpha < 1 < 1.x``); this order is total and departs from Maven only in
  such cycles (3 of the 14,752 generated ground-truth pairs, see the accuracy test).

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


def _own_side(item: _Item) -> int:
    """Maven's comparison of ``item`` with a missing ("null") item: 0, "" and empty lists are null."""
    if isinstance(item, _Int):
        return 0 if item.key == (0, "") else 1
    if isinstance(item, _Str):
        ra, rel = item.rank(), (_RELEASE_INDEX, "")
        return (ra > rel) - (ra < rel)
    for i in range(len(item.items)):
        side = _side(item.items, i)
        if side:
            return side
    return 0


def _side(items: list[_Item], i: int) -> int:
    """Which side of null the version continues on from position ``i``: a null-like item (a 0 kept before
    a qualifier, as in ``1.0.rc1``) takes the side of what follows it."""
    for item in items[i:]:
        side = _own_side(item)
        if side:
            return side
    return 0


_TYPE_ORDER = {_Str: 0, _List: 1, _Int: 2}


def _cmp_at(a: list[_Item], b: list[_Item], i: int) -> int:
    """Order two lists at position ``i`` (a list shorter than ``i`` is padded with null).

    Maven orders items of different types by type alone (number > list > qualifier) but an item against a
    missing one by its content, which is not transitive: ``1.x`` < ``1-alpha`` < ``1`` < ``1.x``, and
    ``0`` < ``a`` < ``0a0`` < ``0`` (the digit/letter transitions make ``0a0`` the list ``[[alpha]]`` once its
    leading 0 is dropped).  Here the side of null decides first and Maven's type order only breaks ties
    between items on the same side, which makes the order total.  It departs from Maven only where Maven
    contradicts itself, e.g. Maven has ``2.9.0`` < ``2.9.0-1`` < ``2.9.0.RC1`` and ``2.9.0.RC1`` < ``2.9.0``.
    """
    sa = _side(a, i) if i < len(a) else 0
    sb = _side(b, i) if i < len(b) else 0
    if sa != sb:
        return (sa > sb) - (sa < sb)
    if i >= len(a) or i >= len(b) or sa == 0:
        return 0
    x, y = a[i], b[i]
    tx, ty = _TYPE_ORDER[type(x)], _TYPE_ORDER[type(y)]
    if tx != ty:
        return (tx > ty) - (tx < ty)
    if isinstance(x, _Int) and isinstance(y, _Int):
        return (x.key > y.key) - (x.key < y.key)
    if isinstance(x, _Str) and isinstance(y, _Str):
        rx, ry = x.rank(), y.rank()
        return (rx > ry) - (rx < ry)
    assert isinstance(x, _List) and isinstance(y, _List)
    return _cmp_lists(x, y)


def _cmp_lists(a: _List, b: _List) -> int:
    for i in range(max(len(a.items), len(b.items))):
        r = _cmp_at(a.items, b.items, i)
        if r:
            return r
    return 0


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Maven orders ``a`` against ``b``."""
    return _cmp_lists(parse(a), parse(b))
