"""Notation x509 trust stores: the CA (or self-signed signer) certificates notation signatures must chain to.

Accepts notation's own layout (``<dir>/x509/ca/<store>/*.pem|crt``, as under
``~/.config/notation/truststore``) or a plain directory of PEM files (the store is then named after the
directory).  Only ``ca`` stores are read: ``signingAuthority`` stores need RFC 3161 timestamps, which are not
verified here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from imagetrust.errors import LocalInputError
from imagetrust.localfiles import read_bounded

_MAX_CERT_FILE_BYTES = 1024 * 1024
_MAX_CERTS = 1000
_SUFFIXES = (".pem", ".crt", ".cer")


@dataclass(frozen=True)
class TrustedCertificate:
    store: str  # e.g. "ca:test-signer"
    certificate: x509.Certificate


@dataclass(frozen=True)
class NotationTrustStore:
    source: str
    certificates: tuple[TrustedCertificate, ...]


def _read_certs(path: Path) -> list[x509.Certificate]:
    data = read_bounded(path, _MAX_CERT_FILE_BYTES, "certificate file")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise LocalInputError(f"{path}: not a PEM or DER certificate") from e


def _store_dirs(root: Path) -> list[tuple[str, Path]]:
    for base in (root / "x509" / "ca", root / "truststore" / "x509" / "ca"):
        if base.is_dir():
            return [(f"ca:{d.name}", d) for d in sorted(base.iterdir()) if d.is_dir()]
    return [(f"ca:{root.name}", root)]


def load_notation_trust_store(root: Path) -> NotationTrustStore:
    """Every certificate of every ``ca`` store under ``root``; an empty store is a usage error."""
    if not root.is_dir():
        raise LocalInputError(f"{root}: notation trust store is not a directory")
    found: list[TrustedCertificate] = []
    for store, directory in _store_dirs(root):
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.suffix.lower() in _SUFFIXES:
                found.extend(TrustedCertificate(store, cert) for cert in _read_certs(path))
                if len(found) > _MAX_CERTS:
                    raise LocalInputError(f"{root}: more than {_MAX_CERTS} trust store certificates")
    if not found:
        raise LocalInputError(f"{root}: no certificates found (expected x509/ca/<name>/*.pem or *.pem)")
    return NotationTrustStore(str(root), tuple(found))
