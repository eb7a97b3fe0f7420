"""``verify-blob``: one file (or its sha256) against one Sigstore bundle, keyless or keyed.

Keyless bundles go through ``verify.keyless_bundle`` against a trusted root (the pinned public-good one by
default); keyed bundles through ``verify.bundle`` with the user's key, their Rekor entry checked with the
trusted root's Rekor keys unless the user explicitly skips the log.  For DSSE bundles the in-toto
statement must name the blob's digest.  A keyless blob is never read into memory: it is hashed in a stream
and sigstore verifies the signature over the digest.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_der_public_key

from imagetrust.errors import LimitExceeded, LocalInputError, UsageError, VerificationFailed
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.oci.digest import Digest
from imagetrust.trust.keys import PublicKey, load_public_key
from imagetrust.trust.paths import public_good_trusted_root
from imagetrust.trust.sigstore_root import load_trusted_root
from imagetrust.verify.bundle import parse_bundle, verify_keyed_bundle
from imagetrust.verify.encoding import load_strict_object
from imagetrust.verify.identity import IdentityPolicy
from imagetrust.verify.keyless_bundle import KeylessTrust, verify_keyless_bundle
from imagetrust.verify.results import VerifiedStatement
from imagetrust.verify.statement import require_subject

_DIGEST_ARG = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class VerifyBlobRequest:
    blob: str  # a file path, or sha256:<hex>
    bundle: Path
    key: Path | None = None
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    trusted_root: Path | None = None  # default: the pinned public-good root
    insecure_ignore_tlog: bool = False  # keyed bundles only, as cosign's flag
    limits: Limits = DEFAULT_LIMITS


@dataclass(frozen=True)
class VerifyBlobResult:
    blob: str
    digest: Digest
    bundle: Path
    mode: str  # "keyless" | "key"
    content: str  # "messageSignature" | "dsseEnvelope"
    signer: str  # certificate identity (SAN) or key id
    issuer: str | None
    predicate_type: str | None
    log_index: int | None
    integrated_time: datetime.datetime | None
    tlog: str  # what was established about the transparency log
    trusted_root: Path | None


@dataclass(frozen=True)
class _Blob:
    digest: Digest
    path: Path | None


def _blob(text: str) -> _Blob:
    if _DIGEST_ARG.fullmatch(text):
        return _Blob(Digest.parse(text), None)
    path = Path(text)
    hasher = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
    except OSError as e:
        raise LocalInputError(f"{text}: cannot read blob ({e.strerror or e})") from e
    return _Blob(Digest("sha256", hasher.hexdigest()), path)


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as e:
        raise LocalInputError(f"{path}: cannot read {what} ({e.strerror or e})") from e
    if len(data) > limit:
        raise LimitExceeded(f"{path}: {what} is larger than the limit of {limit} bytes")
    return data


def _policy(request: VerifyBlobRequest) -> IdentityPolicy:
    if (request.identity is None) == (request.identity_regexp is None):
        raise UsageError(
            "keyless verification needs exactly one of --certificate-identity and "
            "--certificate-identity-regexp"
        )
    if (request.issuer is None) == (request.issuer_regexp is None):
        raise UsageError(
            "keyless verification needs exactly one of --certificate-oidc-issuer and "
            "--certificate-oidc-issuer-regexp"
        )
    return IdentityPolicy(
        identity=request.identity,
        identity_regexp=request.identity_regexp,
        issuer=request.issuer,
        issuer_regexp=request.issuer_regexp,
    )


def _is_keyed(raw: bytes, request: VerifyBlobRequest) -> bool:
    doc = load_strict_object(
        raw,
        f"bundle {request.bundle}",
        max_bytes=request.limits.small_blob_bytes,
        max_depth=request.limits.json_depth,
    )
    material = doc.get("verificationMaterial")
    return isinstance(material, dict) and "publicKey" in material


def _rekor_keys(root_path: Path) -> tuple[PublicKey, ...]:
    root = load_trusted_root(root_path)
    keys = []
    for log in root.tlogs:
        try:
            crypto_key = load_der_public_key(log.key_der)
        except (ValueError, UnsupportedAlgorithm) as e:
            raise LocalInputError(f"{root_path}: Rekor key of {log.base_url} cannot be loaded") from e
        keys.append(PublicKey.from_crypto(crypto_key, f"Rekor key {log.base_url}"))
    return tuple(keys)


def _keyless(request: VerifyBlobRequest, raw: bytes, blob: _Blob) -> VerifyBlobResult:
    root = request.trusted_root or public_good_trusted_root()
    result = verify_keyless_bundle(
        raw, KeylessTrust(root, _policy(request)), limits=request.limits, artifact=blob.digest
    )
    tlog = f"Rekor entry {result.log_index} verified (inclusion proof, checkpoint"
    tlog += ", SET)" if result.integrated_time is not None else ")"
    return VerifyBlobResult(
        blob=request.blob,
        digest=blob.digest,
        bundle=request.bundle,
        mode="keyless",
        content="dsseEnvelope" if result.statement is not None else "messageSignature",
        signer=result.identity.san,
        issuer=result.identity.issuer,
        predicate_type=result.statement.predicate_type if result.statement is not None else None,
        log_index=result.log_index,
        integrated_time=result.integrated_time,
        tlog=tlog,
        trusted_root=root,
    )


def _keyed(request: VerifyBlobRequest, raw: bytes, blob: _Blob) -> VerifyBlobResult:
    assert request.key is not None
    if any(
        v is not None
        for v in (request.identity, request.identity_regexp, request.issuer, request.issuer_regexp)
    ):
        raise UsageError("--key cannot be combined with certificate identity or issuer options")
    key = load_public_key(request.key)
    root: Path | None = None
    rekor_keys: tuple[PublicKey, ...] = ()
    if not request.insecure_ignore_tlog:
        root = request.trusted_root or public_good_trusted_root()
        rekor_keys = _rekor_keys(root)
    bundle = parse_bundle(raw, limits=request.limits)
    artifact: bytes | None = None
    if bundle.message is not None:
        if blob.path is None:
            raise UsageError(
                "a keyed messageSignature bundle is verified over the blob's bytes: give the file"
            )
        artifact = _read_bounded(blob.path, request.limits.max_file_content_bytes, "blob")
    verified = verify_keyed_bundle(
        bundle, [key], artifact=artifact, rekor_keys=rekor_keys, limits=request.limits
    )
    predicate_type = None
    if verified.statement is not None:
        _bind(verified.statement, blob.digest)
        predicate_type = verified.statement.predicate_type
    return VerifyBlobResult(
        blob=request.blob,
        digest=blob.digest,
        bundle=request.bundle,
        mode="key",
        content="dsseEnvelope" if verified.statement is not None else "messageSignature",
        signer=str(verified.signer),
        issuer=None,
        predicate_type=predicate_type,
        log_index=verified.tlog.log_index,
        integrated_time=verified.tlog.integrated_time,
        tlog="not checked (--insecure-ignore-tlog)" if request.insecure_ignore_tlog else verified.tlog.detail,
        trusted_root=root,
    )


def _bind(statement: VerifiedStatement, digest: Digest) -> None:
    require_subject(statement, digest)


def verify_blob(request: VerifyBlobRequest) -> VerifyBlobResult:
    """Verify ``request.blob`` against ``request.bundle``; raises on any failure, never returns a 'no'."""
    blob = _blob(request.blob)
    raw = _read_bounded(request.bundle, request.limits.small_blob_bytes, "bundle")
    keyed = _is_keyed(raw, request)
    if request.key is not None:
        if not keyed:
            raise VerificationFailed(
                f"bundle {request.bundle}: signed with a certificate, but --key was given"
            )
        return _keyed(request, raw, blob)
    if request.insecure_ignore_tlog:
        raise UsageError("--insecure-ignore-tlog applies to --key verification only")
    if keyed:
        raise VerificationFailed(f"bundle {request.bundle}: signed with a public key; verify it with --key")
    return _keyless(request, raw, blob)
