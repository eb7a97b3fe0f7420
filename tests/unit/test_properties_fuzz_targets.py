"""Hypothesis-driven fuzzing of every parser target in tests/fuzz/targets.py with a fixed example budget.

The atheris entry points (tests/fuzz/fuzz_<name>.py) search coverage-guided; this runs the same targets on
random and mutated inputs inside the ordinary test run, deterministically (``derandomize``), so a crash a
hostile input can cause fails ``make test`` even where atheris is not installed.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import TARGETS, Target

BUDGET = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Fragments that push random bytes toward each parser's interesting paths.
_TOKENS = [
    b"{", b"}", b"[", b"]", b'"', b":", b",", b"null", b"0", b"-1", b"1e999", b'"schemaVersion":2',
    b'"mediaType":"application/vnd.oci.image.index.v1+json"', b'"manifests":[', b'"layers":[',
    b'"digest":"sha256:' + b"a" * 64 + b'"', b'"size":', b'"payload":"',
    b'"payloadType":"', b'"signatures":[',
    b'"_type":"https://in-toto.io/Statement/v1"', b'"subject":[', b'"predicateType":"x"', b"Package: a\n",
    b"Status: install ok installed\n", b"Version: 1:2-3\n", b"\n\n", b"P:a\nV:1-r0\n", b"SQLite format 3\x00",
    b"\x8e\xad\xe8\x01", b"ustar\x0000", b"\x1f\x8b\x08", b"\x28\xb5\x2f\xfd", b"../", b"/", b".wh.", b"\x00",
]  # fmt: skip
structured = st.lists(st.one_of(st.sampled_from(_TOKENS), st.binary(max_size=16)), max_size=40).map(b"".join)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_handles_arbitrary_input(name: str) -> None:
    target: Target = TARGETS[name]

    @BUDGET
    @given(st.one_of(st.binary(max_size=2048), structured))
    @example(b"")
    @example(b"\x00" * 1024)
    @example(b"[" * 5000)
    def check(data: bytes) -> None:
        target(data)

    check()
