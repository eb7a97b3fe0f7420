"""Discovery of signatures, attestations and SBOMs attached to a digest.

Every lookup either answers or raises: a failed lookup must make the outcome indeterminate, never read as
"nothing attached" (cosign v3 once reported images unsigned when its referrers call hit a 429).

Registry requests are spent only where they can find something: callers name the cosign tag kinds they
will use (``verify`` never reads ``.sbom``), and a repository whose referrers API answered 404 is
remembered for a while (``REFERRERS_MEMO``) so a run over many images asks once, then goes straight to
the fallback tag.  Only a clean 404 is remembered; any other answer raises as before.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from imagetrust.errors import LimitExceeded, MalformedContent
from imagetrust.limits import Limits
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import Descriptor, Index, Manifest
from imagetrust.registry.store import ImageStore

COSIGN_SUFFIXES = ("sig", "att", "sbom")


class ReferrersMemo:
    """Stores whose referrers API answered 404, remembered for ``ttl`` seconds (thread-safe).

    A registry that gains the API later is asked again once the entry expires; nothing else is cached.
    """

    def __init__(self, ttl: float = 600.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._absent: dict[tuple[str, str], float] = {}

    @staticmethod
    def _key(store: ImageStore) -> tuple[str, str]:
        return type(store).__qualname__, store.location

    def known_absent(self, store: ImageStore) -> bool:
        with self._lock:
            since = self._absent.get(self._key(store))
            return since is not None and time.monotonic() - since < self.ttl

    def remember_absent(self, store: ImageStore) -> None:
        with self._lock:
            self._absent[self._key(store)] = time.monotonic()

    def clear(self) -> None:
        with self._lock:
            self._absent.clear()


REFERRERS_MEMO = ReferrersMemo()


@dataclass(frozen=True)
class CosignAttachment:
    """A manifest found under a cosign tag such as ``sha256-<hex>.sig``."""

    kind: str  # "sig", "att" or "sbom"
    tag: str
    manifest: Manifest


@dataclass(frozen=True)
class AttachedEvidence:
    """Everything found attached to one subject digest, deduplicated by digest."""

    subject: Digest
    cosign: tuple[CosignAttachment, ...]
    referrers: tuple[Descriptor, ...]
    referrers_sources: tuple[str, ...]  # "referrers API", "fallback tag sha256-<hex>"; empty when none
    cosign_kinds: tuple[str, ...] = COSIGN_SUFFIXES  # the cosign tags that were looked up
    referrers_read: bool = True  # False while only the cosign tags have been read

    @property
    def empty(self) -> bool:
        return not self.cosign and not self.referrers


def _cosign_attachments(
    store: ImageStore, subject: Digest, limits: Limits, kinds: tuple[str, ...]
) -> list[CosignAttachment]:
    found = []
    for kind in kinds:
        tag = f"{subject.tag_form}.{kind}"
        fetched = store.get_tagged(tag)
        if fetched is None:
            continue
        parsed = fetched.parse(limits)
        if not isinstance(parsed, Manifest):
            raise MalformedContent(f"{store.location}: cosign tag {tag} holds an index, not a manifest")
        found.append(CosignAttachment(kind, tag, parsed))
    return found


def _fallback_referrers(store: ImageStore, subject: Digest, limits: Limits) -> list[Descriptor] | None:
    fetched = store.get_tagged(subject.tag_form)
    if fetched is None:
        return None
    parsed = fetched.parse(limits)
    if not isinstance(parsed, Index):
        raise MalformedContent(f"{store.location}: referrers fallback tag {subject.tag_form} is not an index")
    return list(parsed.manifests)


def _referrers_api(store: ImageStore, subject: Digest, memo: ReferrersMemo | None) -> list[Descriptor] | None:
    if memo is not None and memo.known_absent(store):
        return None
    api = store.referrers(subject)
    if api is None and memo is not None:
        memo.remember_absent(store)
    return api


def find_attached(
    store: ImageStore,
    subject: Digest,
    limits: Limits,
    *,
    kinds: tuple[str, ...] = COSIGN_SUFFIXES,
    memo: ReferrersMemo | None = REFERRERS_MEMO,
    referrers: bool = True,
) -> AttachedEvidence:
    """Look in every place evidence can be stored for ``subject`` and merge what is found.

    ``kinds`` limits the cosign tags read (``sig``, ``att``, ``sbom``); the referrers API (unless ``memo``
    knows it is absent) and the fallback tag are read unless ``referrers`` is off (then
    ``add_referrers`` can read them later).
    """
    unknown = set(kinds) - set(COSIGN_SUFFIXES)
    if unknown:
        raise ValueError(f"unknown cosign tag kinds: {sorted(unknown)}")
    cosign = _cosign_attachments(store, subject, limits, kinds)
    found = AttachedEvidence(subject, tuple(cosign), (), (), kinds, referrers_read=False)
    return add_referrers(store, found, limits, memo=memo) if referrers else found


def add_referrers(
    store: ImageStore,
    found: AttachedEvidence,
    limits: Limits,
    *,
    memo: ReferrersMemo | None = REFERRERS_MEMO,
) -> AttachedEvidence:
    """``found`` with the referrers API and the fallback tag read (once) and merged in."""
    if found.referrers_read:
        return found
    subject = found.subject
    sources: list[str] = []
    merged: dict[Digest, Descriptor] = {}
    api = _referrers_api(store, subject, memo)
    if api is not None:
        sources.append("referrers API")
        for descriptor in api:
            merged.setdefault(descriptor.digest, descriptor)
    fallback = _fallback_referrers(store, subject, limits)
    if fallback is not None:
        sources.append(f"fallback tag {subject.tag_form}")
        for descriptor in fallback:
            merged.setdefault(descriptor.digest, descriptor)
    if len(merged) > limits.referrers:
        raise LimitExceeded(
            f"{store.location}: {len(merged)} referrers of {subject.short} exceeds the limit of"
            f" {limits.referrers}"
        )
    return replace(
        found, referrers=tuple(merged.values()), referrers_sources=tuple(sources), referrers_read=True
    )
