"""in-toto layouts: layout signatures, expiry, step links, thresholds and artifact rules, NEVER inspections.

``in_toto.verifylib.in_toto_verify`` runs each inspection's ``run`` command as a subprocess of the verifier
(and recurses into sublayouts, whose inspections it runs too).  A verifier must not execute commands chosen
by whoever wrote a layout, so this module composes the library's own checks without that step:

* a layout with any inspection is refused before links are read (its inspection rules could not be
  checked without running the commands, and skipping them silently would weaken the layout);
* a step whose link is itself a layout (a sublayout) is refused;
* artifact-rule patterns whose bracket negation reads differently in the Go and Python implementations
  (``[!x]`` / ``[^x]``, GHSA-pmwq-pjrm-6p5r) are refused rather than interpreted one way.

Patterns otherwise follow the reference (Python) implementation: ``fnmatch``, where ``*`` also matches
``/``.  Every file is read with a size bound; step names are checked before they become file names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from imagetrust.errors import LocalInputError, VerificationFailed
from imagetrust.limits import Limits
from imagetrust.localfiles import read_bounded, read_if_present

_STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_AMBIGUOUS_NEGATION = re.compile(r"\[[!^]")
_MAX_KEY_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LayoutKey:
    """A layout verification key (from a PEM public key) in securesystemslib's key-dict form."""

    keyid: str
    key_dict: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class VerifiedLayout:
    """A layout whose signatures, expiry, step links and artifact rules all held."""

    path: Path
    expires: datetime
    layout_keys: tuple[str, ...]  # keyids that signed it
    steps: tuple[str, ...]
    functionaries: tuple[tuple[str, tuple[str, ...]], ...]  # (step, keyids whose links verified)


def load_layout_key(path: Path) -> LayoutKey:
    """A PEM public key (RSA -> rsassa-pss-sha256, ECDSA, Ed25519) as in-toto's verifier wants it."""
    from securesystemslib.signer._key import SSlibKey

    pem = read_bounded(path, _MAX_KEY_FILE_BYTES, "layout key")
    try:
        public = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise LocalInputError(f"{path}: not a PEM public key") from e
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise LocalInputError(f"{path}: unsupported layout key type {type(public).__name__}")
    try:
        key = SSlibKey.from_crypto(public)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise LocalInputError(f"{path}: unsupported layout key ({e})") from e
    key_dict = key.to_dict()
    key_dict["keyid"] = key.keyid
    return LayoutKey(key.keyid, key_dict, str(path))


def _read_json(path: Path, what: str, limits: Limits) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when there is no such file."""
    raw = read_if_present(path, limits.small_blob_bytes, what)
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise LocalInputError(f"{path}: {what} is not JSON") from e
    if not isinstance(doc, dict):
        raise LocalInputError(f"{path}: {what} is not a JSON object")
    return doc


def _metadata(doc: dict[str, Any], path: Path, what: str) -> Any:
    from in_toto.models.metadata import Metadata
    from securesystemslib.exceptions import Error as SslibError

    try:
        return Metadata.from_dict(doc)
    except (SslibError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise VerificationFailed(f"{path}: not valid in-toto {what} metadata ({e})") from e


def _refuse_unsafe(layout: Any, path: Path) -> None:
    if layout.inspect:
        names = ", ".join(str(i.name) for i in layout.inspect)
        raise VerificationFailed(
            f"{path}: layout has inspections ({names}); their commands would run on this machine, "
            "so layouts with inspections are refused"
        )
    from in_toto.rulelib import unpack_rule
    from securesystemslib.exceptions import FormatError

    for step in layout.steps:
        if not isinstance(step.name, str) or not _STEP_NAME.match(step.name):
            raise VerificationFailed(f"{path}: step name {step.name!r} cannot name a link file")
        for rule in list(step.expected_materials) + list(step.expected_products):
            try:
                pattern = unpack_rule(rule)["pattern"]
            except FormatError as e:
                raise VerificationFailed(f"{path}: step {step.name}: bad artifact rule {rule!r}") from e
            if _AMBIGUOUS_NEGATION.search(pattern):
                raise VerificationFailed(
                    f"{path}: step {step.name}: pattern {pattern!r} uses bracket negation, which in-toto "
                    "implementations read differently (GHSA-pmwq-pjrm-6p5r); list the names instead"
                )


def _expiry(layout: Any, path: Path, now: datetime) -> datetime:
    try:
        expires = datetime.fromisoformat(str(layout.expires))
    except ValueError as e:
        raise VerificationFailed(f"{path}: layout expiry {layout.expires!r} is not a date") from e
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires <= now:
        raise VerificationFailed(f"{path}: layout expired at {expires.isoformat()}")
    return expires


def _load_links(layout: Any, link_dir: Path, limits: Limits) -> dict[str, dict[str, Any]]:
    """Links named ``<step>.<keyid[:8]>.link`` for each authorised functionary; absent ones are skipped."""
    from in_toto.models.link import FILENAME_FORMAT

    found: dict[str, dict[str, Any]] = {}
    for step in layout.steps:
        per_step: dict[str, Any] = {}
        for keyid in step.pubkeys:
            path = link_dir / FILENAME_FORMAT.format(step_name=step.name, keyid=keyid)
            doc = _read_json(path, "link", limits)
            if doc is None:
                continue
            per_step[keyid] = _metadata(doc, path, "link")
        if len(per_step) < step.threshold:
            raise VerificationFailed(
                f"step {step.name} needs {step.threshold} link(s) in {link_dir}, found {len(per_step)}"
            )
        found[step.name] = per_step
    return found


def verify_layout(
    layout_path: Path,
    layout_keys: Sequence[LayoutKey],
    link_dir: Path,
    *,
    limits: Limits,
    now: datetime,
) -> VerifiedLayout:
    """Every layout key must have signed the layout; then expiry, links, thresholds and rules are checked.

    Raises ``VerificationFailed`` with the first problem, ``LocalInputError`` for unreadable local files.
    """
    from in_toto import verifylib
    from securesystemslib.exceptions import Error as SslibError

    if not layout_keys:
        raise LocalInputError(f"{layout_path}: a layout needs at least one --layout-key")
    doc = _read_json(layout_path, "layout", limits)
    if doc is None:
        raise LocalInputError(f"{layout_path}: layout not found")
    metadata = _metadata(doc, layout_path, "layout")
    keys = {k.keyid: dict(k.key_dict) for k in layout_keys}
    try:
        verifylib.verify_metadata_signatures(metadata, keys)
        layout = metadata.get_payload()
        if getattr(layout, "type_", None) != "layout":
            raise VerificationFailed(f"{layout_path}: signed metadata is not a layout")
        _refuse_unsafe(layout, layout_path)
        expires = _expiry(layout, layout_path, now)
        steps_metadata = _load_links(layout, link_dir, limits)
        verified_links = verifylib.verify_link_signature_thresholds(layout, steps_metadata)
        chain: dict[str, dict[str, Any]] = {}
        for step_name, by_key in verified_links.items():
            chain[step_name] = {}
            for keyid, link_metadata in by_key.items():
                payload = link_metadata.get_payload()
                if getattr(payload, "type_", None) != "link":
                    raise VerificationFailed(
                        f"step {step_name}: a sublayout was given as its link; sublayouts are refused "
                        "(they may carry inspections)"
                    )
                chain[step_name][keyid] = payload
        verifylib.verify_threshold_constraints(layout, chain)
        reduced = verifylib.reduce_chain_links(chain)
        verifylib.verify_all_item_rules(layout.steps, reduced)
    except VerificationFailed:
        raise
    except (SslibError, ValueError, KeyError, TypeError, AttributeError) as e:
        detail = " ".join(str(e).split()) or type(e).__name__
        raise VerificationFailed(f"{layout_path}: {type(e).__name__}: {detail}") from e
    return VerifiedLayout(
        layout_path,
        expires,
        tuple(sorted(keys)),
        tuple(step.name for step in layout.steps),
        tuple((name, tuple(sorted(chain[name]))) for name in chain),
    )
