"""Properties of the DSSE and in-toto Statement parsers on generated documents (valid and near-valid)."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagetrust.errors import ImageTrustError
from imagetrust.limits import Limits
from imagetrust.verify.dsse import pae, parse_envelope
from imagetrust.verify.statement import STATEMENT_V01, STATEMENT_V1, parse_statement

FAST = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
LIMITS = Limits(dsse_signatures=4, statement_subjects=8)

keyids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
signatures = st.lists(st.tuples(keyids, st.binary(min_size=1, max_size=80)), min_size=1, max_size=6)


@FAST
@given(st.text(min_size=1, max_size=40), st.binary(max_size=300), signatures)
def test_envelope_round_trip_or_refused_by_count(payload_type: str, payload: bytes, sigs: list[Any]) -> None:
    doc = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": k, "sig": base64.b64encode(s).decode()} for k, s in sigs],
    }
    raw = json.dumps(doc).encode()
    try:
        envelope = parse_envelope(raw, limits=LIMITS)
    except ImageTrustError:
        assert len(sigs) > LIMITS.dsse_signatures or "\x00" in payload_type or not payload_type.strip()
        return
    assert len(sigs) <= LIMITS.dsse_signatures
    assert envelope.payload == payload and envelope.payload_type == payload_type
    assert [(s.keyid, s.sig) for s in envelope.signatures] == [(k, s) for k, s in sigs]
    # PAE is injective in (type, payload): lengths prefix both parts.
    assert pae(payload_type, payload) != pae(payload_type + "x", payload)


@FAST
@given(st.binary(max_size=200), st.sampled_from(["payload", "payloadType", "signatures"]), st.data())
def test_envelope_with_a_field_of_the_wrong_type_is_refused(payload: bytes, field: str, data: Any) -> None:
    doc: dict[str, Any] = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": "", "sig": "AAAA"}],
    }
    doc[field] = data.draw(
        st.one_of(st.none(), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))
    )
    try:
        parse_envelope(json.dumps(doc).encode(), limits=LIMITS)
    except ImageTrustError:
        return
    raise AssertionError(f"accepted {field}={doc[field]!r}")


hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
subjects = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.text(max_size=20),
            "digest": st.dictionaries(st.sampled_from(["sha256", "sha512"]), hexes, min_size=1),
        }
    ),
    min_size=1,
    max_size=12,
)


@FAST
@given(st.sampled_from([STATEMENT_V01, STATEMENT_V1]), subjects, st.text(min_size=1, max_size=30))
def test_statement_subjects_parse_back_exactly(kind: str, subs: list[Any], predicate_type: str) -> None:
    raw = json.dumps(
        {"_type": kind, "subject": subs, "predicateType": predicate_type, "predicate": {}}
    ).encode()
    try:
        statement = parse_statement(raw, limits=LIMITS)
    except ImageTrustError:
        assert len(subs) > LIMITS.statement_subjects
        return
    assert statement.raw == raw
    assert statement.predicate_type == predicate_type
    assert [(s.name, dict(s.digests)) for s in statement.subjects] == [(s["name"], s["digest"]) for s in subs]


@FAST
@given(st.sampled_from(["predicate_type", "PredicateType", "Subject", "_TYPE", "subjects"]), hexes)
def test_statement_key_spellings_never_shadow_the_signed_ones(alias: str, hexdigest: str) -> None:
    """A second spelling of a defined field (protojson vs plain JSON readers) is refused or ignored, and
    never changes what the canonical field says."""
    doc = {
        "_type": STATEMENT_V1,
        "subject": [{"name": "a", "digest": {"sha256": hexdigest}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
        alias: "https://evil.example/other"
        if "type" in alias.lower()
        else [{"digest": {"sha256": "0" * 64}}],
    }
    try:
        statement = parse_statement(json.dumps(doc).encode(), limits=LIMITS)
    except ImageTrustError:
        return
    assert statement.predicate_type == "https://slsa.dev/provenance/v1"
    assert [dict(s.digests) for s in statement.subjects] == [{"sha256": hexdigest}]
