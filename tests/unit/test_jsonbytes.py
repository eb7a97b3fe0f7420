"""Bounded JSON decoding: size and depth limits hold before the recursive decoder sees the bytes."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagetrust.errors import ImageTrustError, LimitExceeded, MalformedContent
from imagetrust.oci.jsonbytes import load_json, load_object


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def actual_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((actual_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((actual_depth(v) for v in value.values()), default=0)
    return 0


@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_hostile_nesting_refused_without_recursion_error(opener: bytes) -> None:
    raw = opener * 100_000
    with pytest.raises(LimitExceeded, match="nested deeper than 64"):
        load_json(raw, "manifest", max_bytes=10 << 20)


def test_depth_limit_is_exact() -> None:
    assert load_json(nested(64), "doc", max_bytes=1000, max_depth=64) is not None
    with pytest.raises(LimitExceeded):
        load_json(nested(65), "doc", max_bytes=1000, max_depth=64)
    with pytest.raises(LimitExceeded):
        load_json(b'{"a":' * 5 + b"1" + b"}" * 5, "doc", max_bytes=1000, max_depth=4)


def test_brackets_inside_strings_do_not_count() -> None:
    raw = json.dumps({"s": "[" * 10_000, "t": "{" * 10_000, "u": '\\"[[[[' * 1000}).encode()
    value = load_object(raw, "doc", max_bytes=1 << 20, max_depth=2)
    assert value["s"] == "[" * 10_000


def test_escaped_quote_does_not_end_the_string() -> None:
    # If the scanner took \" as the end of the string, the brackets after it would count and this would fail.
    raw = b'["\\"' + b"[" * 100 + b'"]'
    assert load_json(raw, "doc", max_bytes=1000, max_depth=2) == ['"' + "[" * 100]
    # ... and an escaped backslash right before a quote does end it: the nesting after counts.
    raw = b'["\\\\",' + b"[" * 10 + b"]" * 10 + b"]"
    with pytest.raises(LimitExceeded):
        load_json(raw, "doc", max_bytes=1000, max_depth=5)


def test_oversized_refused_before_parsing() -> None:
    raw = b'{"a": "' + b"x" * 1000 + b'"}'
    with pytest.raises(LimitExceeded, match=f"{len(raw)} bytes exceeds the limit of 1000"):
        load_json(raw, "config", max_bytes=1000)
    assert load_json(raw, "config", max_bytes=len(raw)) == {"a": "x" * 1000}


def test_non_utf8_refused_even_when_json_could_guess_it() -> None:
    # json.loads(bytes) would decode UTF-16; the depth scan reads bytes, so only UTF-8 is accepted.
    hidden = ('["\u2200",' + "[" * 1000 + "]" * 1000 + "]").encode("utf-16")
    with pytest.raises(ImageTrustError):
        load_json(hidden, "doc", max_bytes=1 << 20)
    with pytest.raises(MalformedContent, match="not UTF-8"):
        load_json(b'{"a": "\xff"}', "doc", max_bytes=1000)


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"nope", b'{"a": 1,}', b"[1] [2]", b"\xef\xbb\xbf{}", b"1" * 5000]
)
def test_malformed_is_malformed_content(raw: bytes) -> None:
    with pytest.raises(MalformedContent, match="doc"):
        load_json(raw, "doc", max_bytes=1 << 20)


def test_load_object_requires_an_object() -> None:
    assert load_object(b'{"k": [1]}', "doc", max_bytes=100) == {"k": [1]}
    for raw in (b"[]", b"1", b'"s"', b"null"):
        with pytest.raises(MalformedContent, match="expected a JSON object"):
            load_object(raw, "doc", max_bytes=100)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(codec="utf-8")),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


@given(json_values, st.integers(min_value=1, max_value=8))
def test_depth_scan_agrees_with_real_nesting(value: Any, limit: int) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode()
    if actual_depth(value) > limit:
        with pytest.raises(LimitExceeded):
            load_json(raw, "doc", max_bytes=1 << 20, max_depth=limit)
    else:
        assert load_json(raw, "doc", max_bytes=1 << 20, max_depth=limit) == value


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_image_trust_errors(raw: bytes) -> None:
    with contextlib.suppress(LimitExceeded, MalformedContent):
        load_json(raw, "doc", max_bytes=200, max_depth=3)


@given(st.text(alphabet='[]{}"\\:,1 ', max_size=400))
def test_bracket_soup_never_recurses_past_the_limit(text: str) -> None:
    try:
        value = load_json(text.encode(), "doc", max_bytes=1000, max_depth=4)
    except (LimitExceeded, MalformedContent):
        return
    assert actual_depth(value) <= 4
