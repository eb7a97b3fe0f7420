"""COSE_Sign1 (RFC 9052) envelopes as notation writes them, reduced to the shared ``ParsedEnvelope``.

The signature covers ``Sig_structure = ["Signature1", protected bstr, external_aad b"", payload]`` in CBOR.
Signed attributes are read from the protected header (integer labels 1 alg, 2 crit, 3 content type; notation
attributes by name); the certificate chain is the unprotected ``x5chain`` (label 33).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2

from imagetrust.errors import VerificationFailed
from imagetrust.verify.notation import ParsedEnvelope

_COSE_SIGN1_TAG = 18
_ALG, _CRIT, _CONTENT_TYPE, _X5CHAIN = 1, 2, 3, 33
_ALGORITHMS = {-37: "PS256", -38: "PS384", -39: "PS512", -7: "ES256", -35: "ES384", -36: "ES512"}


def _loads(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError, OverflowError) as e:
        raise VerificationFailed(f"notation COSE: {what} is not valid CBOR") from e


def parse_cose(raw: bytes) -> ParsedEnvelope:
    tagged = _loads(raw, "envelope")
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != _COSE_SIGN1_TAG:
        raise VerificationFailed("notation COSE: not a tagged COSE_Sign1 message")
    message = tagged.value
    if not isinstance(message, list | tuple) or len(message) != 4:
        raise VerificationFailed("notation COSE: COSE_Sign1 must have four elements")
    protected_raw, unprotected, payload, signature = message
    if (
        not isinstance(protected_raw, bytes)
        or not isinstance(payload, bytes)
        or not isinstance(signature, bytes)
    ):
        raise VerificationFailed(
            "notation COSE: protected header, payload and signature must be byte strings"
        )
    protected = _loads(protected_raw, "protected header") if protected_raw else {}
    if not isinstance(protected, Mapping) or not isinstance(unprotected, Mapping):
        raise VerificationFailed("notation COSE: headers must be maps")
    alg = _ALGORITHMS.get(protected.get(_ALG))  # type: ignore[arg-type]
    critical = protected.get(_CRIT, [])
    if not isinstance(critical, list | tuple) or not all(isinstance(c, str) for c in critical):
        raise VerificationFailed("notation COSE: crit must list attribute names")
    chain = unprotected.get(_X5CHAIN)
    if isinstance(chain, bytes):
        chain = [chain]
    if not isinstance(chain, list | tuple) or not all(isinstance(c, bytes) for c in chain):
        raise VerificationFailed("notation COSE: x5chain (label 33) missing or malformed")
    named = {k: v for k, v in protected.items() if isinstance(k, str)}
    content_type = protected.get(_CONTENT_TYPE)
    signed = cbor2.dumps(["Signature1", protected_raw, b"", payload])
    return ParsedEnvelope(
        "COSE",
        alg or f"COSE alg {protected.get(_ALG)!r}",
        signed,
        signature,
        named,
        tuple(critical),
        content_type if isinstance(content_type, str) else None,
        payload,
        tuple(chain),
    )
