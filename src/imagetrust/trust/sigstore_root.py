"""Sigstore trusted roots (``trusted_root.json``): the Fulcio CAs, Rekor and CT log keys and TSAs we trust.

A trusted root is chosen by the user (or is the pinned public-good root in ``trust-roots/``); it is never
fetched at verification time and never taken from the evidence.  Besides handing it to sigstore-python, we
keep each instance's ``validFor`` window: sigstore-python 4.5 ignores those windows for Rekor keys and
Fulcio CAs when verifying, so the keyless verifier compares the signing time with them itself
(sigstore-go#178, #496; SECURITY-CASES D).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509

from imagetrust.errors import LocalInputError
from imagetrust.localfiles import read_bounded

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
_MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ValidFor:
    """A ``validFor`` window; an open end means "still valid"."""

    start: datetime.datetime | None
    end: datetime.datetime | None

    def contains(self, when: datetime.datetime) -> bool:
        if self.start is not None and when < self.start:
            return False
        return self.end is None or when <= self.end

    def __str__(self) -> str:
        start = self.start.isoformat() if self.start else "-inf"
        end = self.end.isoformat() if self.end else "open"
        return f"{start} .. {end}"


@dataclass(frozen=True)
class LogInstance:
    """A Rekor or CT log: its key id (sha256 of the DER key) and when that key may have signed."""

    base_url: str
    log_id: bytes
    key_der: bytes = field(repr=False)
    valid_for: ValidFor


@dataclass(frozen=True)
class CertificateAuthority:
    """A Fulcio CA (or TSA): its chain, leaf-most CA first, and its validity window."""

    uri: str
    chain: tuple[x509.Certificate, ...] = field(repr=False)
    valid_for: ValidFor


@dataclass(frozen=True)
class SigstoreTrustedRoot:
    """A parsed trusted root: our own view of its windows, plus sigstore-python's object."""

    source: str
    tlogs: tuple[LogInstance, ...]
    ctlogs: tuple[LogInstance, ...]
    certificate_authorities: tuple[CertificateAuthority, ...]
    timestamp_authorities: tuple[CertificateAuthority, ...]
    sigstore: TrustedRoot = field(repr=False, compare=False)

    def tlog(self, log_id: bytes) -> LogInstance | None:
        return next((log for log in self.tlogs if log.log_id == log_id), None)


def _time(value: Any, what: str) -> datetime.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise LocalInputError(f"{what}: not an RFC 3339 time")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise LocalInputError(f"{what}: not an RFC 3339 time ({value!r})") from e
    if parsed.tzinfo is None:
        raise LocalInputError(f"{what}: time {value!r} has no time zone")
    return parsed.astimezone(datetime.UTC)


def _valid_for(value: Any, what: str) -> ValidFor:
    if value is None:
        return ValidFor(None, None)
    if not isinstance(value, dict):
        raise LocalInputError(f"{what}: validFor is not an object")
    window = ValidFor(_time(value.get("start"), f"{what} validFor.start"), _time(value.get("end"), what))
    if window.start is None:
        raise LocalInputError(f"{what}: validFor has no start")
    return window


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise LocalInputError(f"{what}: expected base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise LocalInputError(f"{what}: not valid base64") from e


def _logs(doc: dict[str, Any], key: str, source: str) -> tuple[LogInstance, ...]:
    items = doc.get(key, [])
    if not isinstance(items, list):
        raise LocalInputError(f"{source}: {key} is not a list")
    logs = []
    for index, item in enumerate(items):
        what = f"{source}: {key}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("publicKey"), dict):
            raise LocalInputError(f"{what}: no publicKey")
        log_id = item.get("logId")
        if not isinstance(log_id, dict):
            raise LocalInputError(f"{what}: no logId")
        public = item["publicKey"]
        logs.append(
            LogInstance(
                base_url=str(item.get("baseUrl", "")),
                log_id=_b64(log_id.get("keyId"), f"{what} logId"),
                key_der=_b64(public.get("rawBytes"), f"{what} publicKey"),
                valid_for=_valid_for(public.get("validFor"), what),
            )
        )
    return tuple(logs)


def _authorities(doc: dict[str, Any], key: str, source: str) -> tuple[CertificateAuthority, ...]:
    items = doc.get(key, [])
    if not isinstance(items, list):
        raise LocalInputError(f"{source}: {key} is not a list")
    result = []
    for index, item in enumerate(items):
        what = f"{source}: {key}[{index}]"
        chain = item.get("certChain") if isinstance(item, dict) else None
        certs = chain.get("certificates") if isinstance(chain, dict) else None
        if not isinstance(certs, list) or not certs:
            raise LocalInputError(f"{what}: no certChain certificates")
        parsed = []
        for position, cert in enumerate(certs):
            der = _b64(cert.get("rawBytes") if isinstance(cert, dict) else None, f"{what} certificate")
            try:
                parsed.append(x509.load_der_x509_certificate(der))
            except ValueError as e:
                raise LocalInputError(f"{what}: certificate {position} is not DER X.509") from e
        window = _valid_for(item.get("validFor"), what)
        result.append(CertificateAuthority(str(item.get("uri", "")), tuple(parsed), window))
    return tuple(result)


def parse_trusted_root(raw: bytes, source: str) -> SigstoreTrustedRoot:
    """Parse trusted-root bytes; every problem is the user's trust material, so a usage error (exit 2)."""
    if len(raw) > _MAX_TRUSTED_ROOT_BYTES:
        raise LocalInputError(f"{source}: too large to be a trusted root")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise LocalInputError(f"{source}: not JSON ({e})") from e
    if not isinstance(doc, dict):
        raise LocalInputError(f"{source}: not a JSON object")
    if doc.get("mediaType") != TRUSTED_ROOT_MEDIA_TYPE:
        raise LocalInputError(
            f"{source}: mediaType {doc.get('mediaType')!r} is not {TRUSTED_ROOT_MEDIA_TYPE!r}"
        )
    tlogs = _logs(doc, "tlogs", source)
    authorities = _authorities(doc, "certificateAuthorities", source)
    if not tlogs:
        raise LocalInputError(f"{source}: names no transparency log")
    if not authorities:
        raise LocalInputError(f"{source}: names no certificate authority")
    # sigstore-python costs ~0.5 s to import: only code that reads a trusted root pays for it.
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot import v1 as trustroot_v1

    try:
        inner = trustroot_v1.TrustedRoot.from_json(raw)
        sigstore_root = TrustedRoot(inner)
    except (SigstoreError, ValueError) as e:
        raise LocalInputError(f"{source}: sigstore cannot use this trusted root ({_first_line(e)})") from e
    return SigstoreTrustedRoot(
        source=source,
        tlogs=tlogs,
        ctlogs=_logs(doc, "ctlogs", source),
        certificate_authorities=authorities,
        timestamp_authorities=_authorities(doc, "timestampAuthorities", source),
        sigstore=sigstore_root,
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def load_trusted_root(path: Path) -> SigstoreTrustedRoot:
    """Read a ``trusted_root.json`` named by the user."""
    raw = read_bounded(path, _MAX_TRUSTED_ROOT_BYTES, "trusted root")
    return parse_trusted_root(raw, str(path))
