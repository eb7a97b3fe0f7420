"""Inputs the fuzzers found that once escaped a parser as a non-ImageTrustError (see docs/fuzzing.md)."""

from __future__ import annotations

import json

import pytest

from imagetrust.errors import ImageTrustError
from imagetrust.verify.statement import parse_statement


@pytest.mark.parametrize("value", [[{"name": "img"}], {"a": 1}, 1, None, True])
def test_statement_type_that_is_not_a_string_is_refused(value: object) -> None:
    """Found by the ``statement`` target: a list or object ``_type`` raised TypeError (unhashable)."""
    raw = json.dumps(
        {"_type": value, "subject": [{"name": "a", "digest": {"sha256": "a" * 64}}], "predicateType": "x"}
    ).encode()
    with pytest.raises(ImageTrustError, match="_type"):
        parse_statement(raw)
