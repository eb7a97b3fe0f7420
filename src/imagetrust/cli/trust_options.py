"""Trust flags shared by ``verify``, ``check``, ``attest`` and ``promote``: signer identity, keyless material.

One place parses them so every command reads ``--certificate-identity`` or ``--trusted-root`` the same way:
identity and issuer are each given exactly once (exact or regexp), keyless checks default to the pinned
public-good trusted root, and legacy keyless signatures take their Fulcio CAs and Rekor keys from that root
unless they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from imagetrust.errors import LocalInputError, UsageError
from imagetrust.trust.keys import PublicKey, load_public_key
from imagetrust.trust.paths import public_good_trusted_root

if TYPE_CHECKING:
    from cryptography import x509

    from imagetrust.limits import Limits
    from imagetrust.pipeline.check import KeylessMaterial
    from imagetrust.policy.model import Policy
    from imagetrust.verify.identity import IdentityPolicy

F = TypeVar("F", bound=Callable[..., Any])

PEM_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_MAX_PEM_BYTES = 1024 * 1024


def identity_options(function: F) -> F:
    """``--certificate-identity[-regexp]`` and ``--certificate-oidc-issuer[-regexp]``."""
    for option in reversed(
        (
            click.option("--certificate-identity", help="Expected keyless signer identity (exact)."),
            click.option(
                "--certificate-identity-regexp", help="Expected signer identity, as a fully matched regexp."
            ),
            click.option(
                "--certificate-oidc-issuer", help="Expected OIDC issuer of the signing certificate (exact)."
            ),
            click.option(
                "--certificate-oidc-issuer-regexp", help="Expected OIDC issuer, fully matched regexp."
            ),
        )
    ):
        function = option(function)
    return function


def keyless_material_options(function: F) -> F:
    """``--trusted-root``, ``--fulcio-root`` and ``--rekor-key``: what keyless signatures are checked with."""
    for option in reversed(
        (
            click.option(
                "--fulcio-root",
                "fulcio_roots",
                multiple=True,
                type=PEM_FILE,
                help="PEM Fulcio root(s) (legacy keyless).",
            ),
            click.option(
                "--rekor-key",
                "rekor_keys",
                multiple=True,
                type=PEM_FILE,
                help="PEM Rekor public key (repeatable).",
            ),
            click.option(
                "--trusted-root", type=PEM_FILE, help="sigstore trusted_root.json for keyless signers."
            ),
        )
    ):
        function = option(function)
    return function


def load_certificates(paths: tuple[Path, ...]) -> tuple[x509.Certificate, ...]:
    """Every certificate in the PEM files given (a file over 1 MiB is refused unread)."""
    if not paths:
        return ()
    from cryptography.x509 import load_pem_x509_certificates  # imported only when certificates are given

    roots: list[x509.Certificate] = []
    for path in paths:
        try:
            data = path.read_bytes()[: _MAX_PEM_BYTES + 1]
            if len(data) > _MAX_PEM_BYTES:
                raise LocalInputError(f"{path}: too large to be a certificate file")
            roots.extend(load_pem_x509_certificates(data))
        except OSError as e:
            raise LocalInputError(f"{path}: cannot read certificates ({e.strerror or e})") from e
        except ValueError as e:
            raise LocalInputError(f"{path}: not a PEM certificate file") from e
    return tuple(roots)


def identity_policy(
    identity: str | None,
    identity_regexp: str | None,
    issuer: str | None,
    issuer_regexp: str | None,
    claims: tuple[tuple[str, str], ...] = (),
) -> IdentityPolicy | None:
    """The keyless identity the flags ask for, or None when no identity flag was given."""
    if identity is None and identity_regexp is None and issuer is None and issuer_regexp is None:
        if claims:
            raise UsageError("--certificate-github-workflow-* flags need --certificate-identity and issuer")
        return None
    if identity is not None and identity_regexp is not None:
        raise UsageError("give --certificate-identity or --certificate-identity-regexp, not both")
    if issuer is not None and issuer_regexp is not None:
        raise UsageError("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both")
    if identity is None and identity_regexp is None:
        raise UsageError("keyless verification needs --certificate-identity or --certificate-identity-regexp")
    if issuer is None and issuer_regexp is None:
        raise UsageError(
            "keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp"
        )
    from imagetrust.verify.identity import IdentityPolicy  # keyless only

    return IdentityPolicy(identity, identity_regexp, issuer, issuer_regexp, claims)


def default_trusted_root(keyless: bool, given: Path | None) -> Path | None:
    """Keyless checks default to the pinned public-good root; keyed-only runs need none."""
    if given is not None or not keyless:
        return given
    try:
        return public_good_trusted_root()
    except LocalInputError:
        return None


def legacy_material(
    root_path: Path | None, roots: tuple[x509.Certificate, ...], rekor: tuple[PublicKey, ...]
) -> tuple[tuple[x509.Certificate, ...], tuple[PublicKey, ...]]:
    """Fulcio CAs and Rekor keys for legacy keyless signatures, from the trusted root unless given."""
    if root_path is None or (roots and rekor):
        return roots, rekor
    from imagetrust.trust.sigstore_root import load_trusted_root

    root = load_trusted_root(root_path)
    if not roots:
        roots = tuple(cert for ca in root.certificate_authorities for cert in ca.chain)
    if not rekor:
        keys = []
        for log in root.tlogs:
            try:
                keys.append(
                    PublicKey.from_crypto(serialization.load_der_public_key(log.key_der), log.base_url)
                )
            except (LocalInputError, ValueError, UnsupportedAlgorithm):
                continue  # a log key type we cannot use for SETs (e.g. a Rekor v2 checkpoint-only key)
        rekor = tuple(keys)
    return roots, rekor


def keyless_parts(
    keyless: bool,
    trusted_root: Path | None,
    fulcio_roots: tuple[Path, ...],
    rekor_keys: tuple[Path, ...],
) -> tuple[Path | None, tuple[x509.Certificate, ...], tuple[PublicKey, ...]]:
    """The flags' trusted root, Fulcio roots and Rekor keys; with ``keyless`` signers expected, defaults
    filled from the trusted root.  (``verify`` uses the parts so it never imports the check pipeline.)"""
    root = default_trusted_root(keyless, trusted_root)
    roots = load_certificates(fulcio_roots)
    rekor = tuple(load_public_key(p) for p in rekor_keys)
    if keyless:
        roots, rekor = legacy_material(root, roots, rekor)
    return root, roots, rekor


def keyless_material(
    keyless: bool,
    trusted_root: Path | None,
    fulcio_roots: tuple[Path, ...],
    rekor_keys: tuple[Path, ...],
) -> KeylessMaterial:
    """``keyless_parts`` as the check pipeline's ``KeylessMaterial``."""
    from imagetrust.pipeline.check import KeylessMaterial

    return KeylessMaterial(*keyless_parts(keyless, trusted_root, fulcio_roots, rekor_keys))


def policy_from_flags(
    policy_path: Path | None, keys: tuple[Path, ...], identity: IdentityPolicy | None, limits: Limits
) -> Policy:
    """``--policy FILE``, or the documented default policy built from ``--key``/identity flags; not both."""
    from imagetrust.policy.default import default_policy
    from imagetrust.policy.load import load_policy

    if policy_path is not None:
        if keys or identity is not None:
            raise UsageError("give --policy, or --key/identity flags for the default policy, not both")
        return load_policy(policy_path, limits)
    return default_policy([(load_public_key(p), str(p)) for p in keys], identity)
