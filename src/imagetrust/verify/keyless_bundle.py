"""Keyless Sigstore bundles (v0.1-v0.3): Fulcio certificate, Rekor entry, optional RFC 3161 timestamps.

sigstore-python 4.5 does the cryptography (chain at the verified time, SCT, inclusion proof + checkpoint,
SET, signature, entry-to-artifact consistency).  Around it we add what it leaves to callers or skips:

* the bundle's version rules are enforced on the JSON first (v0.1 needs a promise, >=v0.2 a proof with a
  checkpoint, v0.3 a single certificate, v0.1/v0.2 a chain) and a chain that ships a self-signed root is
  refused outright (SECURITY-CASES I), duplicate JSON keys too;
* the identity policy is ours (full-match regexps, SECURITY-CASES E) and runs inside sigstore's flow, on the
  chain-verified leaf;
* the log entry must name a log of the trusted root, the checkpoint's size must equal the proof's tree
  size, and every established time must fall inside the ``validFor`` windows of that log and of the Fulcio
  CA that issued the leaf (sigstore-python ignores both windows);
* a DSSE payload is parsed as an in-toto Statement (v0.1 and v1) and returned; subjects are bound by the
  caller, or here when ``artifact`` is given (SECURITY-CASES B).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from sigstore.errors import CertValidationError, MetadataError
from sigstore.errors import Error as SigstoreError
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore.verify import Verifier
from sigstore_models.common.v1 import HashAlgorithm

from imagetrust.errors import ImageTrustError, LimitExceeded, LocalInputError, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.trust.sigstore_root import LogInstance, SigstoreTrustedRoot, load_trusted_root
from imagetrust.verify.certchain import issued_by
from imagetrust.verify.dsse import IN_TOTO_PAYLOAD_TYPE
from imagetrust.verify.encoding import load_strict_object
from imagetrust.verify.identity import IdentityPolicy, identity_from_certificate
from imagetrust.verify.results import CertIdentity, Statement
from imagetrust.verify.statement import parse_statement, subject_matches

_WHAT = "sigstore bundle"
BUNDLE_MEDIA_TYPES: dict[str, tuple[int, int]] = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": (0, 1),
    "application/vnd.dev.sigstore.bundle+json;version=0.2": (0, 2),
    "application/vnd.dev.sigstore.bundle+json;version=0.3": (0, 3),  # legacy spelling of v0.3
    "application/vnd.dev.sigstore.bundle.v0.3+json": (0, 3),
}
_MAX_CHAIN = 10
_MAX_TLOG_ENTRIES = 1  # sigstore bundles carry one entry; more would invite threshold games (class F)
_MAX_TIMESTAMPS = 32  # sigstore-go's bound on RFC 3161 timestamps
_MAX_REASON = 240


@dataclass(frozen=True)
class KeylessTrust:
    """What a keyless bundle is measured against: a Sigstore instance and the expected signer."""

    trusted_root: Path  # sigstore trusted_root.json
    policy: IdentityPolicy


@dataclass(frozen=True)
class VerifiedBundle:
    """A keyless bundle that verified; ``statement`` for DSSE bundles, ``message_digest`` otherwise."""

    identity: CertIdentity
    statement: Statement | None
    message_digest: Digest | None
    log_index: int | None
    integrated_time: datetime.datetime | None


def bundle_version(media_type: object) -> tuple[int, int]:
    """The bundle format version named by ``mediaType``; anything else (incl. >= v0.4) is refused."""
    if not isinstance(media_type, str) or media_type not in BUNDLE_MEDIA_TYPES:
        raise VerificationFailed(f"{_WHAT}: unsupported mediaType {media_type!r}")
    return BUNDLE_MEDIA_TYPES[media_type]


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _der_certificate(item: Any, what: str) -> x509.Certificate:
    raw = item.get("rawBytes") if isinstance(item, dict) else None
    if not isinstance(raw, str):
        raise VerificationFailed(f"{_WHAT}: {what} has no rawBytes")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError) as e:
        raise VerificationFailed(f"{_WHAT}: {what} is not a DER certificate") from e


def _check_structure(doc: dict[str, Any], version: tuple[int, int]) -> dict[str, Any]:
    """The protobuf-specs version rules (sigstore-go ``validate()``); returns the single tlog entry."""
    has_message = "messageSignature" in doc
    has_dsse = "dsseEnvelope" in doc
    if has_message == has_dsse:
        raise VerificationFailed(f"{_WHAT}: needs exactly one of messageSignature and dsseEnvelope")
    material = doc.get("verificationMaterial")
    if not isinstance(material, dict):
        raise VerificationFailed(f"{_WHAT}: verificationMaterial is missing")
    kinds = [k for k in ("publicKey", "x509CertificateChain", "certificate") if k in material]
    if len(kinds) != 1:
        raise VerificationFailed(
            f"{_WHAT}: needs exactly one of publicKey, x509CertificateChain, certificate"
        )
    if kinds == ["publicKey"]:
        raise VerificationFailed(f"{_WHAT}: signed with a key, not a certificate; verify it with a key")
    version_text = f"v{version[0]}.{version[1]}"
    if version >= (0, 3) and kinds != ["certificate"]:
        raise VerificationFailed(f"{_WHAT}: {version_text} must carry a single certificate, not a chain")
    if version < (0, 3) and kinds != ["x509CertificateChain"]:
        raise VerificationFailed(f"{_WHAT}: {version_text} must carry an x509CertificateChain")
    if kinds == ["x509CertificateChain"]:
        chain = material["x509CertificateChain"]
        certs = chain.get("certificates") if isinstance(chain, dict) else None
        if not isinstance(certs, list) or not certs:
            raise VerificationFailed(f"{_WHAT}: empty certificate chain")
        if len(certs) > _MAX_CHAIN:
            raise VerificationFailed(f"{_WHAT}: {len(certs)} chain certificates is more than {_MAX_CHAIN}")
        for index, item in enumerate(certs):
            cert = _der_certificate(item, f"chain certificate {index}")
            if cert.issuer == cert.subject:
                raise VerificationFailed(
                    f"{_WHAT}: certificate chain ships a self-signed root "
                    f"({cert.subject.rfc4514_string()}); roots come only from the trusted root"
                )
    entries = material.get("tlogEntries")
    if not isinstance(entries, list) or not entries:
        raise VerificationFailed(f"{_WHAT}: no transparency log entry")
    if len(entries) > _MAX_TLOG_ENTRIES:
        raise VerificationFailed(f"{_WHAT}: {len(entries)} log entries, expected exactly one")
    entry = entries[0]
    if not isinstance(entry, dict):
        raise VerificationFailed(f"{_WHAT}: log entry is not an object")
    if version == (0, 1) and not isinstance(entry.get("inclusionPromise"), dict):
        raise VerificationFailed(f"{_WHAT}: v0.1 log entry has no inclusionPromise")
    proof = entry.get("inclusionProof")
    if version >= (0, 2) and not (isinstance(proof, dict) and isinstance(proof.get("checkpoint"), dict)):
        raise VerificationFailed(f"{_WHAT}: {version_text} log entry has no inclusion proof with checkpoint")
    stamps = material.get("timestampVerificationData")
    if isinstance(stamps, dict):
        listed = stamps.get("rfc3161Timestamps", [])
        if isinstance(listed, list) and len(listed) > _MAX_TIMESTAMPS:
            raise VerificationFailed(f"{_WHAT}: {len(listed)} timestamps is more than {_MAX_TIMESTAMPS}")
    if has_dsse:
        envelope = doc["dsseEnvelope"]
        signatures = envelope.get("signatures") if isinstance(envelope, dict) else None
        if not isinstance(signatures, list) or len(signatures) != 1:
            raise VerificationFailed(f"{_WHAT}: a bundle's DSSE envelope must carry exactly one signature")
    return entry


def _check_checkpoint_size(entry: dict[str, Any]) -> None:
    """The signed checkpoint must commit to the proof's tree (sigstore-python compares only the roots)."""
    proof = entry.get("inclusionProof")
    if not isinstance(proof, dict):
        return  # v0.1 without a proof: the SET alone binds the entry
    checkpoint = proof.get("checkpoint")
    envelope = checkpoint.get("envelope") if isinstance(checkpoint, dict) else None
    if not isinstance(envelope, str):
        raise VerificationFailed(f"{_WHAT}: log entry's inclusion proof has no signed checkpoint")
    lines = envelope.split("\n")
    if len(lines) < 3 or str(proof.get("treeSize")) != lines[1]:
        raise VerificationFailed(
            f"{_WHAT}: checkpoint tree size {lines[1] if len(lines) > 1 else '?'!r} "
            f"is not the proof's tree size {proof.get('treeSize')!r}"
        )


class _PolicyAdapter:
    """Runs our identity policy where sigstore runs its own: on the leaf, after the chain verified."""

    def __init__(self, policy: IdentityPolicy) -> None:
        self._policy = policy

    def verify(self, cert: x509.Certificate) -> None:
        self._policy.check(identity_from_certificate(cert))


def _established_times(bundle: Bundle) -> list[datetime.datetime]:
    times: list[datetime.datetime] = []
    inner = bundle.log_entry._inner
    if inner.integrated_time and inner.inclusion_promise:
        times.append(datetime.datetime.fromtimestamp(inner.integrated_time, tz=datetime.UTC))
    data = bundle.verification_material.timestamp_verification_data
    if data is not None:
        times.extend(stamp.tst_info.gen_time.astimezone(datetime.UTC) for stamp in data.rfc3161_timestamps)
    return times


def _trusted_log(bundle: Bundle, root: SigstoreTrustedRoot) -> LogInstance:
    """sigstore-python tries every Rekor key when the log id is unknown; we want the named log only."""
    log_id = bundle.log_entry._inner.log_id.key_id
    log = root.tlog(log_id)
    if log is None:
        raise VerificationFailed(f"{_WHAT}: log entry names log {log_id.hex()[:16]}, not in {root.source}")
    return log


def _check_windows(bundle: Bundle, root: SigstoreTrustedRoot) -> None:
    """Every established time inside the log's and the issuing CA's ``validFor`` windows."""
    log = _trusted_log(bundle, root)
    log_id = log.log_id
    leaf = bundle.signing_certificate
    authorities = [ca for ca in root.certificate_authorities if issued_by(leaf, ca.chain[0])]
    if not authorities:
        raise VerificationFailed(f"{_WHAT}: no certificate authority of {root.source} issued the leaf")
    for when in _established_times(bundle):
        if not log.valid_for.contains(when):
            raise VerificationFailed(
                f"{_WHAT}: signing time {when.isoformat()} is outside the validity window of log "
                f"{log.base_url or log_id.hex()[:16]} ({log.valid_for})"
            )
        if not any(ca.valid_for.contains(when) for ca in authorities):
            raise VerificationFailed(
                f"{_WHAT}: signing time {when.isoformat()} is outside the validity window of the issuing "
                f"certificate authority ({authorities[0].uri}: {authorities[0].valid_for})"
            )


def _hashed(artifact: bytes | Digest | None, doc: dict[str, Any]) -> tuple[bytes | Hashed, Digest]:
    if isinstance(artifact, bytes):
        return artifact, Digest.of(artifact)
    if isinstance(artifact, Digest):
        if artifact.algorithm != "sha256":
            raise VerificationFailed(f"{_WHAT}: only sha256 artifact digests can be verified, got {artifact}")
        return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(artifact.hex)), artifact
    # No artifact: verify against the digest the bundle itself signs; the caller must bind it.
    message = doc["messageSignature"]
    digest = message.get("messageDigest") if isinstance(message, dict) else None
    if not isinstance(digest, dict) or digest.get("algorithm") != "SHA2_256":
        raise VerificationFailed(f"{_WHAT}: messageSignature has no SHA2_256 messageDigest")
    try:
        value = base64.b64decode(str(digest.get("digest")), validate=True)
    except (binascii.Error, ValueError) as e:
        raise VerificationFailed(f"{_WHAT}: messageDigest is not base64") from e
    if len(value) != hashlib.sha256().digest_size:
        raise VerificationFailed(f"{_WHAT}: messageDigest is not a sha256 digest")
    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=value), Digest("sha256", value.hex())


def _statement(
    payload_type: str, payload: bytes, artifact: bytes | Digest | None, limits: Limits
) -> Statement:
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationFailed(
            f"{_WHAT}: DSSE payloadType {payload_type!r} is not {IN_TOTO_PAYLOAD_TYPE!r}"
        )
    statement = parse_statement(payload, limits=limits)
    if artifact is not None:
        digest = Digest.of(artifact) if isinstance(artifact, bytes) else artifact
        if not any(subject_matches(subject, digest) for subject in statement.subjects):
            raise VerificationFailed(f"{_WHAT}: in-toto statement subjects do not include {digest}")
    return statement


def _run_sigstore(
    verifier: Verifier, bundle: Bundle, policy: _PolicyAdapter, dsse: bool, hashed: bytes | Hashed | None
) -> tuple[str, bytes] | None:
    try:
        if dsse:
            return verifier.verify_dsse(bundle, policy)
        assert hashed is not None
        verifier.verify_artifact(hashed, bundle, policy)
        return None
    except ImageTrustError:
        raise
    except CertValidationError as e:
        raise VerificationFailed(
            f"{_WHAT}: signing certificate does not chain to a trusted Fulcio CA at the signing time "
            f"({_one_line(e)})"
        ) from e
    except MetadataError as e:
        raise LocalInputError(f"trusted root cannot verify this bundle: {_one_line(e)}") from e
    except SigstoreError as e:
        raise VerificationFailed(f"{_WHAT}: {_one_line(e)}") from e
    except Exception as e:  # hostile input reaching sigstore's internals: fail closed, never pass
        raise VerificationFailed(f"{_WHAT}: malformed ({type(e).__name__}: {_one_line(e)})") from e


def verify_keyless_bundle(
    raw: bytes, trust: KeylessTrust, *, limits: Limits, artifact: bytes | Digest | None = None
) -> VerifiedBundle:
    """Verify a keyless bundle offline against ``trust``; raise ``VerificationFailed`` with the reason."""
    if len(raw) > limits.small_blob_bytes:
        raise LimitExceeded(f"{_WHAT}: {len(raw)} bytes exceeds the limit of {limits.small_blob_bytes}")
    doc = load_strict_object(raw, _WHAT, max_bytes=limits.small_blob_bytes, max_depth=limits.json_depth)
    version = bundle_version(doc.get("mediaType"))
    entry = _check_structure(doc, version)
    _check_checkpoint_size(entry)
    root = load_trusted_root(trust.trusted_root)
    try:
        bundle = Bundle.from_json(raw)
    except SigstoreError as e:
        raise VerificationFailed(f"{_WHAT}: {_one_line(e)}") from e
    except Exception as e:  # pydantic/cryptography errors on hostile input
        raise VerificationFailed(f"{_WHAT}: malformed ({type(e).__name__}: {_one_line(e)})") from e
    dsse = "dsseEnvelope" in doc
    hashed: bytes | Hashed | None = None
    message_digest: Digest | None = None
    if not dsse:
        hashed, message_digest = _hashed(artifact, doc)
    try:
        verifier = Verifier(trusted_root=root.sigstore)
    except (SigstoreError, ValueError) as e:
        raise LocalInputError(f"{trust.trusted_root}: cannot be used to verify ({_one_line(e)})") from e
    _trusted_log(bundle, root)
    result = _run_sigstore(verifier, bundle, _PolicyAdapter(trust.policy), dsse, hashed)
    _check_windows(bundle, root)
    identity = identity_from_certificate(bundle.signing_certificate)
    trust.policy.check(identity)  # already run inside sigstore's flow; kept explicit so it cannot be lost
    statement = _statement(*result, artifact, limits) if result is not None else None
    inner = bundle.log_entry._inner
    integrated = (
        datetime.datetime.fromtimestamp(inner.integrated_time, tz=datetime.UTC)
        if inner.integrated_time and inner.inclusion_promise
        else None
    )
    return VerifiedBundle(
        identity=identity,
        statement=statement,
        message_digest=message_digest,
        log_index=int(inner.log_index) if inner.log_index is not None else None,
        integrated_time=integrated,
    )
