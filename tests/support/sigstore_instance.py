"""A private Sigstore instance for tests: Fulcio-like CA, CT log, Rekor-style log, trusted_root.json.

Everything is made here with ``cryptography``; nothing is fetched.  The pieces follow what sigstore-python
4.5 checks (``sigstore/verify/verifier.py``, ``models.py``, ``_internal/sct.py``, ``merkle.py``,
``rekor/checkpoint.py``):

* CA: a self-signed root and an intermediate (both with SKI/AKI, critical basic constraints and keyCertSign,
  as OpenSSL's X509_STRICT wants); leaves are short-lived, code-signing, with an empty subject, one critical
  SAN (email or URI), the OIDC issuer in 1.3.6.1.4.1.57264.1.1 (raw) and .1.8 (DER UTF8String), optional
  GitHub "V2" claims, and one embedded precertificate SCT signed by the test CT-log key over the leaf's
  TBS-without-SCT (RFC 6962 section 3.2);
* log: an RFC 6962 Merkle tree over canonicalised entry bodies (hashedrekord 0.0.1, dsse 0.0.1), inclusion
  proofs, a signed checkpoint in the signed-note format, and a SET over the RFC 8785 form of
  ``{body, integratedTime, logID, logIndex}``;
* bundles v0.3 (single certificate) and v0.2 (chain) for blobs (messageSignature) and in-toto statements
  (dsseEnvelope).

Tests tamper with the returned JSON documents to build the hostile cases.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
BUNDLE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
IN_TOTO = "application/vnd.in-toto+json"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
_SCT_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_FULCIO = "1.3.6.1.4.1.57264.1."
_CLAIM_ARCS = {
    "build_signer_uri": "9",
    "runner_environment": "11",
    "source_repository_uri": "12",
    "source_repository_ref": "14",
    "build_trigger": "20",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    if len(data) < 0x80:
        return bytes([0x0C, len(data)]) + data
    size = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(size)]) + size + data


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _rfc3339(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ca_cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    path_length: int | None,
) -> x509.Certificate:
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    return builder.sign(issuer_key, hashes.SHA384())


@dataclass
class FulcioCA:
    """A Fulcio-like CA: root -> intermediate -> short-lived leaves."""

    name: str
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate

    @classmethod
    def create(cls, name: str, not_before: datetime.datetime, years: int = 10) -> FulcioCA:
        root_key = ec.generate_private_key(ec.SECP384R1())
        root_name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{name}.test"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-root"),
            ]
        )
        not_after = not_before + datetime.timedelta(days=365 * years)
        root = _ca_cert(root_name, root_key, root_name, root_key, not_before, not_after, 1)
        inter_key = ec.generate_private_key(ec.SECP384R1())
        inter_name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{name}.test"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-intermediate"),
            ]
        )
        inter = _ca_cert(inter_name, inter_key, root_name, root_key, not_before, not_after, 0)
        return cls(name, root_key, root, inter_key, inter)


@dataclass
class TestLog:
    """A Rekor-v1-like log: Merkle tree of canonical bodies, checkpoint, SET."""

    origin: str
    key: ec.EllipticCurvePrivateKey
    leaves: list[bytes] = field(default_factory=list)

    @property
    def log_id(self) -> bytes:
        return hashlib.sha256(_spki(self.key.public_key())).digest()

    def append(self, body: bytes) -> int:
        self.leaves.append(body)
        return len(self.leaves) - 1

    def root_hash(self, size: int) -> bytes:
        return _mth([_leaf_hash(leaf) for leaf in self.leaves[:size]])

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return _path(index, [_leaf_hash(leaf) for leaf in self.leaves[:size]])

    def checkpoint(self, size: int) -> str:
        note = f"{self.origin}\n{size}\n{b64(self.root_hash(size))}\n"
        signature = self.key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        return f"{note}\n\u2014 {self.origin.split(' ')[0]} {b64(self.log_id[:4] + signature)}\n"

    def signed_entry_timestamp(self, body: bytes, integrated_time: int, index: int) -> bytes:
        payload = {
            "body": b64(body),
            "integratedTime": integrated_time,
            "logID": self.log_id.hex(),
            "logIndex": index,
        }
        return self.key.sign(rfc8785.dumps(payload), ec.ECDSA(hashes.SHA256()))


def _leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(hashes_: list[bytes]) -> bytes:
    if not hashes_:
        return hashlib.sha256(b"").digest()
    if len(hashes_) == 1:
        return hashes_[0]
    k = _split(len(hashes_))
    return _node(_mth(hashes_[:k]), _mth(hashes_[k:]))


def _path(m: int, hashes_: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]), leaf-most sibling first."""
    if len(hashes_) <= 1:
        return []
    k = _split(len(hashes_))
    if m < k:
        return [*_path(m, hashes_[:k]), _mth(hashes_[k:])]
    return [*_path(m - k, hashes_[k:]), _mth(hashes_[:k])]


def _sct_extension(
    tbs_precert: bytes, issuer: x509.Certificate, ct_key: ec.EllipticCurvePrivateKey, when: datetime.datetime
) -> x509.UnrecognizedExtension:
    """One v1 precertificate SCT (RFC 6962 3.2) wrapped as the X.509 SCT-list extension."""
    log_id = hashlib.sha256(_spki(ct_key.public_key())).digest()
    millis = int(when.timestamp() * 1000)
    issuer_key_hash = hashlib.sha256(_spki(issuer.public_key())).digest()  # type: ignore[arg-type]
    signed = (
        struct.pack("!BBQH", 0, 0, millis, 1)
        + issuer_key_hash
        + len(tbs_precert).to_bytes(3, "big")
        + tbs_precert
        + struct.pack("!H", 0)
    )
    signature = ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    sct = (
        struct.pack("!B", 0)
        + log_id
        + struct.pack("!QH", millis, 0)
        + struct.pack("!BBH", 4, 3, len(signature))
        + signature
    )
    sct_list = struct.pack("!H", len(sct) + 2) + struct.pack("!H", len(sct)) + sct
    # extnValue holds a DER OCTET STRING whose content is the TLS-encoded list.
    octet = bytes([0x04]) + _der_length(len(sct_list)) + sct_list
    return x509.UnrecognizedExtension(_SCT_OID, octet)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(size)]) + size


@dataclass
class Signed:
    """What one signing produced: the bundle document and the parts tests tamper with."""

    bundle: dict[str, Any]
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey

    def raw(self) -> bytes:
        return json.dumps(self.bundle).encode()

    @property
    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = self.bundle["verificationMaterial"]["tlogEntries"][0]
        return entry


@dataclass
class SigstoreInstance:
    """CA + CT log + Rekor log with one clock; ``now`` is the default signing time."""

    ca: FulcioCA
    ct_key: ec.EllipticCurvePrivateKey
    log: TestLog
    now: datetime.datetime
    name: str = "test"

    @classmethod
    def create(cls, name: str = "test", now: datetime.datetime | None = None) -> SigstoreInstance:
        now = now or datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        start = now - datetime.timedelta(days=30)
        log = TestLog(f"rekor.{name}.test - 1234", ec.generate_private_key(ec.SECP256R1()))
        for index in range(5):  # earlier entries, so proofs have real siblings
            log.append(json.dumps({"filler": index}).encode())
        return cls(FulcioCA.create(name, start), ec.generate_private_key(ec.SECP256R1()), log, now, name)

    # -- trust material ---------------------------------------------------------------------------------
    def trusted_root(
        self,
        *,
        log_valid_for: tuple[datetime.datetime, datetime.datetime | None] | None = None,
        ca_valid_for: tuple[datetime.datetime, datetime.datetime | None] | None = None,
        extra_cas: tuple[FulcioCA, ...] = (),
    ) -> dict[str, Any]:
        start = self.now - datetime.timedelta(days=30)

        def window(pair: tuple[datetime.datetime, datetime.datetime | None] | None) -> dict[str, str]:
            begin, end = pair or (start, None)
            out = {"start": _rfc3339(begin)}
            if end is not None:
                out["end"] = _rfc3339(end)
            return out

        def key(public: ec.EllipticCurvePublicKey, valid: dict[str, str]) -> dict[str, Any]:
            return {
                "rawBytes": b64(_spki(public)),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": valid,
            }

        def authority(ca: FulcioCA) -> dict[str, Any]:
            return {
                "subject": {"organization": f"{ca.name}.test", "commonName": ca.name},
                "uri": f"https://fulcio.{ca.name}.test",
                "certChain": {
                    "certificates": [
                        {"rawBytes": b64(ca.intermediate.public_bytes(serialization.Encoding.DER))},
                        {"rawBytes": b64(ca.root.public_bytes(serialization.Encoding.DER))},
                    ]
                },
                "validFor": window(ca_valid_for if ca is self.ca else None),
            }

        ct_id = hashlib.sha256(_spki(self.ct_key.public_key())).digest()
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {
                    "baseUrl": f"https://rekor.{self.name}.test",
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": key(self.log.key.public_key(), window(log_valid_for)),
                    "logId": {"keyId": b64(self.log.log_id)},
                }
            ],
            "certificateAuthorities": [authority(self.ca), *(authority(ca) for ca in extra_cas)],
            "ctlogs": [
                {
                    "baseUrl": f"https://ctfe.{self.name}.test",
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": key(self.ct_key.public_key(), window(None)),
                    "logId": {"keyId": b64(ct_id)},
                }
            ],
            "timestampAuthorities": [],
        }

    def write_trusted_root(self, path: Path, **options: Any) -> Path:
        path.write_text(json.dumps(self.trusted_root(**options), indent=2))
        return path

    # -- certificates -----------------------------------------------------------------------------------
    def issue(
        self,
        identity: str,
        issuer: str,
        *,
        at: datetime.datetime | None = None,
        validity: tuple[datetime.datetime, datetime.datetime] | None = None,
        claims: dict[str, str] | None = None,
        ca: FulcioCA | None = None,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A Fulcio-style leaf for ``identity`` (an email, or a URI when it has a scheme)."""
        ca = ca or self.ca
        at = at or self.now
        not_before, not_after = validity or (
            at - datetime.timedelta(minutes=1),
            at + datetime.timedelta(minutes=9),
        )
        key = ec.generate_private_key(ec.SECP256R1())
        san: x509.GeneralName = (
            x509.UniformResourceIdentifier(identity) if "://" in identity else x509.RFC822Name(identity)
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(ca.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.intermediate_key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(
                x509.UnrecognizedExtension(ObjectIdentifier(_FULCIO + "1"), issuer.encode()), critical=False
            )
            .add_extension(
                x509.UnrecognizedExtension(ObjectIdentifier(_FULCIO + "8"), _der_utf8(issuer)), critical=False
            )
        )
        for name, value in (claims or {}).items():
            oid = ObjectIdentifier(_FULCIO + _CLAIM_ARCS[name])
            builder = builder.add_extension(x509.UnrecognizedExtension(oid, _der_utf8(value)), critical=False)
        precert = builder.sign(ca.intermediate_key, hashes.SHA384())
        sct = _sct_extension(precert.tbs_certificate_bytes, ca.intermediate, self.ct_key, not_before)
        leaf = builder.add_extension(sct, critical=False).sign(ca.intermediate_key, hashes.SHA384())
        assert leaf.tbs_precertificate_bytes == precert.tbs_certificate_bytes
        return leaf, key

    # -- log entries ------------------------------------------------------------------------------------
    def _log_entry(self, body: dict[str, Any], kind: str, integrated: datetime.datetime) -> dict[str, Any]:
        canonical = rfc8785.dumps(body)
        index = self.log.append(canonical)
        size = len(self.log.leaves)
        seconds = int(integrated.timestamp())
        return {
            "logIndex": str(index),
            "logId": {"keyId": b64(self.log.log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(seconds),
            "inclusionPromise": {
                "signedEntryTimestamp": b64(self.log.signed_entry_timestamp(canonical, seconds, index))
            },
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": b64(self.log.root_hash(size)),
                "treeSize": str(size),
                "hashes": [b64(h) for h in self.log.inclusion_proof(index, size)],
                "checkpoint": {"envelope": self.log.checkpoint(size)},
            },
            "canonicalizedBody": b64(canonical),
        }

    def _material(
        self,
        leaf: x509.Certificate,
        entry: dict[str, Any],
        media_type: str,
        chain: tuple[x509.Certificate, ...],
    ) -> dict[str, Any]:
        der = b64(leaf.public_bytes(serialization.Encoding.DER))
        if media_type == BUNDLE_V03:
            return {"certificate": {"rawBytes": der}, "tlogEntries": [entry]}
        certs = [{"rawBytes": der}] + [
            {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))} for c in chain
        ]
        return {"x509CertificateChain": {"certificates": certs}, "tlogEntries": [entry]}

    def sign_blob(
        self,
        data: bytes,
        *,
        identity: str = "signer@example.test",
        issuer: str = "https://issuer.example.test",
        media_type: str = BUNDLE_V03,
        at: datetime.datetime | None = None,
        validity: tuple[datetime.datetime, datetime.datetime] | None = None,
        claims: dict[str, str] | None = None,
        ca: FulcioCA | None = None,
        chain: tuple[x509.Certificate, ...] = (),
    ) -> Signed:
        """A messageSignature bundle over ``data``, logged as hashedrekord 0.0.1."""
        at = at or self.now
        leaf, key = self.issue(identity, issuer, at=at, validity=validity, claims=claims, ca=ca)
        digest = hashlib.sha256(data).digest()
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        pem = leaf.public_bytes(serialization.Encoding.PEM)
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {"content": b64(signature), "publicKey": {"content": b64(pem)}},
            },
        }
        entry = self._log_entry(body, "hashedrekord", at)
        bundle = {
            "mediaType": media_type,
            "verificationMaterial": self._material(leaf, entry, media_type, chain),
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(signature),
            },
        }
        return Signed(bundle, leaf, key)

    def attest(
        self,
        statement: dict[str, Any] | bytes,
        *,
        identity: str = "signer@example.test",
        issuer: str = "https://issuer.example.test",
        media_type: str = BUNDLE_V03,
        payload_type: str = IN_TOTO,
        at: datetime.datetime | None = None,
        claims: dict[str, str] | None = None,
    ) -> Signed:
        """A dsseEnvelope bundle over an in-toto statement, logged as dsse 0.0.1."""
        at = at or self.now
        payload = statement if isinstance(statement, bytes) else json.dumps(statement).encode()
        leaf, key = self.issue(identity, issuer, at=at, claims=claims)
        pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)
        signature = key.sign(pae, ec.ECDSA(hashes.SHA256()))
        envelope = {
            "payload": b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(signature)}],
        }
        pem = leaf.public_bytes(serialization.Encoding.PEM)
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(json.dumps(envelope).encode()).hexdigest(),
                },
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                "signatures": [{"signature": b64(signature), "verifier": b64(pem)}],
            },
        }
        entry = self._log_entry(body, "dsse", at)
        bundle = {
            "mediaType": media_type,
            "verificationMaterial": self._material(leaf, entry, media_type, ()),
            "dsseEnvelope": envelope,
        }
        return Signed(bundle, leaf, key)


def statement_for(
    data: bytes, *, name: str = "blob", predicate_type: str = "https://example.test/p/v1"
) -> dict[str, Any]:
    """An in-toto v1 Statement whose only subject is ``data``."""
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}],
        "predicateType": predicate_type,
        "predicate": {"ok": True},
    }
