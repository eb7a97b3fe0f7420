"""Cosign "simple signing" payloads (legacy ``.sig`` signatures): signature first, then what it says.

The signed bytes are the payload exactly as stored.  The signature is checked before the payload is
interpreted; then the payload must be a cosign image signature naming the expected manifest digest.
``critical.identity.docker-reference`` is ignored by cosign (a signature copied to another repository
still verifies); binding it to a repository is opt-in here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imagetrust.errors import InvalidReference, LimitExceeded, VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import RegistryRef, parse_registry_ref
from imagetrust.trust.keys import KeyId, PublicKey
from imagetrust.verify.encoding import b64decode, field_folded, load_strict_object
from imagetrust.verify.results import VerifiedSignature

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIMPLE_SIGNING_TYPE = "cosign container image signature"
_WHAT = "simple-signing payload"


@dataclass(frozen=True)
class SimpleSigningPayload:
    """The claims of a simple-signing payload; ``raw`` is what was signed."""

    raw: bytes = field(repr=False)
    image: Digest
    docker_reference: str | None
    optional: Mapping[str, Any] | None = field(repr=False)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise VerificationFailed(f"{_WHAT}: {what} is missing or not an object")
    return value


def parse_simple_signing(raw: bytes, *, limits: Limits = DEFAULT_LIMITS) -> SimpleSigningPayload:
    """Parse and check the payload's fixed claims; keys match case-insensitively with conflicts refused."""
    doc = load_strict_object(raw, _WHAT, max_bytes=limits.small_blob_bytes, max_depth=limits.json_depth)
    critical = _object(field_folded(doc, "critical", _WHAT), "critical")
    kind = field_folded(critical, "type", _WHAT)
    if kind != SIMPLE_SIGNING_TYPE:
        raise VerificationFailed(f"{_WHAT}: critical.type is {kind!r}, expected {SIMPLE_SIGNING_TYPE!r}")
    image = _object(field_folded(critical, "image", _WHAT), "critical.image")
    digest_text = field_folded(image, "docker-manifest-digest", _WHAT)
    if not isinstance(digest_text, str):
        raise VerificationFailed(f"{_WHAT}: critical.image.docker-manifest-digest is missing")
    try:
        digest = Digest.parse(digest_text)
    except InvalidReference as e:
        raise VerificationFailed(f"{_WHAT}: bad docker-manifest-digest ({e})") from e
    identity = field_folded(critical, "identity", _WHAT)
    reference: str | None = None
    if identity is not None:
        reference_value = field_folded(_object(identity, "critical.identity"), "docker-reference", _WHAT)
        if reference_value is not None and not isinstance(reference_value, str):
            raise VerificationFailed(f"{_WHAT}: critical.identity.docker-reference is not a string")
        reference = reference_value
    optional = field_folded(doc, "optional", _WHAT)
    if optional is not None and not isinstance(optional, dict):
        raise VerificationFailed(f"{_WHAT}: optional is not an object")
    return SimpleSigningPayload(raw, digest, reference, optional)


def _check_repository(payload: SimpleSigningPayload, expected: RegistryRef) -> None:
    if payload.docker_reference is None:
        raise VerificationFailed(f"{_WHAT}: no docker-reference, cannot bind it to {expected.name}")
    try:
        signed = parse_registry_ref(payload.docker_reference)
    except InvalidReference as e:
        raise VerificationFailed(f"{_WHAT}: unusable docker-reference ({e})") from e
    if (signed.registry, signed.repository) != (expected.registry, expected.repository):
        raise VerificationFailed(
            f"signature was made for repository {signed.name}, not {expected.name} (repository binding)"
        )


def find_signer(signature: bytes, data: bytes, keys: Sequence[PublicKey], what: str) -> KeyId:
    """The first trusted key whose signature this is; every key is tried (no key hints are trusted)."""
    if not keys:
        raise VerificationFailed(f"{what}: no trusted keys to verify against")
    for key in keys:
        if key.verifies(signature, data):
            return key.key_id
    raise VerificationFailed(f"{what}: signature does not verify with any of {len(keys)} trusted key(s)")


def verify_simple_signing(
    payload: bytes,
    signature_b64: str,
    keys: Sequence[PublicKey],
    expected: Digest,
    *,
    repository: RegistryRef | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedSignature:
    """Verify a cosign signature over ``payload`` and that it names the image ``expected``.

    ``repository`` (opt-in) also requires ``critical.identity.docker-reference`` to name that repository.
    """
    if len(payload) > limits.small_blob_bytes:
        raise LimitExceeded(f"{_WHAT}: {len(payload)} bytes exceeds the limit of {limits.small_blob_bytes}")
    signature = b64decode(signature_b64, "cosign signature")
    signer = find_signer(signature, payload, keys, "cosign signature")
    parsed = parse_simple_signing(payload, limits=limits)
    if parsed.image != expected:
        raise VerificationFailed(
            f"signature is for image {parsed.image}, not {expected} (docker-manifest-digest mismatch)"
        )
    if repository is not None:
        _check_repository(parsed, repository)
    return VerifiedSignature(signer, parsed.image, payload, parsed.docker_reference, parsed.optional)
