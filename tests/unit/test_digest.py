"""Digest: the typed content address every other value is keyed by."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagetrust.errors import IntegrityError, InvalidReference
from imagetrust.oci.digest import Digest

HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@given(st.sampled_from(sorted(HEX_LENGTHS)), st.data())
def test_parse_str_round_trip(algorithm: str, data: st.DataObject) -> None:
    hex_text = data.draw(
        st.text("0123456789abcdef", min_size=HEX_LENGTHS[algorithm], max_size=HEX_LENGTHS[algorithm])
    )
    digest = Digest.parse(f"{algorithm}:{hex_text}")
    assert (digest.algorithm, digest.hex) == (algorithm, hex_text)
    assert str(digest) == f"{algorithm}:{hex_text}"
    assert Digest.parse(str(digest)) == digest
    assert digest.tag_form == f"{algorithm}-{hex_text}"
    assert digest.short == f"{algorithm}:{hex_text[:12]}"


@given(st.binary(max_size=2048), st.sampled_from(sorted(HEX_LENGTHS)))
def test_of_and_check_agree_with_hashlib(data: bytes, algorithm: str) -> None:
    digest = Digest.of(data, algorithm)
    assert digest.hex == hashlib.new(algorithm, data).hexdigest()
    digest.check(data, "blob")
    hasher = digest.hasher()
    hasher.update(data)
    assert hasher.hexdigest() == digest.hex


def test_check_raises_integrity_error_naming_both_digests() -> None:
    expected = Digest.of(b"expected")
    with pytest.raises(IntegrityError) as info:
        expected.check(b"served", "layer 3")
    message = info.value.diagnostics()
    assert message.startswith("layer 3:")
    assert str(expected) in message
    assert str(Digest.of(b"served")) in message


@pytest.mark.parametrize(
    "text",
    [
        "md5:" + "a" * 32,  # not an algorithm we can trust
        "sha1:" + "a" * 40,
        "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
        "blake3:" + "a" * 64,
        "sha256:" + "a" * 63,  # wrong length
        "sha256:" + "a" * 65,
        "sha512:" + "a" * 64,
        "sha256:" + "A" * 64,  # upper-case hex is not canonical
        "SHA256:" + "a" * 64,
        "sha256:" + "g" * 64,
        "sha256" + "a" * 64,
        "sha256:",
        ":" + "a" * 64,
        "",
        "sha256:" + "a" * 64 + "\n",  # a trailing newline must not slip through
        " sha256:" + "a" * 64,
        "sha256:" + "a" * 64 + " ",
        "sha256: " + "a" * 63,
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidReference):
        Digest.parse(text)


def test_constructor_validates_too() -> None:
    with pytest.raises(InvalidReference, match="unsupported digest algorithm"):
        Digest("md5", "a" * 32)
    with pytest.raises(InvalidReference, match="malformed"):
        Digest("sha256", "A" * 64)


@given(st.text(max_size=200))
def test_parse_arbitrary_text_raises_only_invalid_reference(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except InvalidReference:
        return
    assert str(digest) == text  # anything accepted is already canonical


def test_ordering_and_hashing_are_by_value() -> None:
    a = Digest.of(b"a")
    assert Digest.parse(str(a)) == a
    assert len({a, Digest.parse(str(a))}) == 1
    assert sorted([Digest("sha256", "f" * 64), Digest("sha256", "0" * 64)])[0].hex == "0" * 64
