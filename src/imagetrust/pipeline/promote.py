"""``promote``: copy an image to another repository only if it passes, with its evidence, tag last.

SRC is resolved once; the decision and the copy both use that digest.  The decision comes from signature
verification (``verify`` with the given keys and required attestation types); policy files are for the
``check`` pipeline and are refused here until it is wired in.  Nothing is written to DST unless the decision
is a pass, and DST's tag is written only after every blob, manifest, referrer and cosign tag is in place,
so a copy that dies half way leaves DST's tag where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from imagetrust.attest.copy import CopyPlan, ImageCopier, Progress, plan_copy
from imagetrust.errors import NotFound, UsageError
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import RegistryRef, parse_source
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.pipeline.verify import VerifyOptions, verify_image
from imagetrust.registry.repository import open_repository
from imagetrust.registry.resolve import ImageNotFound, PlatformSelection
from imagetrust.report.verify import Outcome, VerifyResult


class PromoteOutcome(StrEnum):
    PROMOTED = "promoted"
    WOULD_PROMOTE = "would-promote"  # --dry-run, decision passed
    REFUSED = "refused"  # the decision failed: nothing copied
    INDETERMINATE = "indeterminate"  # the decision could not be made: nothing copied


@dataclass(frozen=True)
class PromoteOptions:
    verify: VerifyOptions
    dry_run: bool = False


@dataclass(frozen=True)
class PromoteResult:
    source: str  # SRC pinned: registry/repo@digest
    destination: str  # registry/repo:tag
    digest: Digest
    outcome: PromoteOutcome
    reason: str
    decision: VerifyResult
    plan: CopyPlan | None  # None when the decision did not pass
    previous: Digest | None  # what DST's tag named before
    written: Digest | None  # what DST's tag names now (None unless promoted)


def _registry_ref(text: str, what: str) -> RegistryRef:
    ref = parse_source(text)
    if not isinstance(ref, RegistryRef):
        raise UsageError(f"{what} {text!r}: promote copies between registries; give a registry reference")
    return ref


def destination_ref(text: str, source: RegistryRef) -> RegistryRef:
    """DST with a tag: its own, else SRC's; a digest in DST makes no sense (the tag is what is promoted)."""
    ref = _registry_ref(text, "DST")
    if ref.digest is not None:
        raise UsageError(f"DST {text!r}: name a tag to promote to, not a digest")
    tag = ref.tag or source.tag
    if not tag:
        raise UsageError(f"DST {text!r}: give a tag (SRC has none to reuse)")
    return ref.with_tag(tag)


def promote_image(
    source_text: str,
    destination_text: str,
    settings: SourceSettings,
    options: PromoteOptions,
    progress: Progress | None = None,
) -> PromoteResult:
    """Decide on SRC's digest, then (unless dry-run) copy everything to DST, its tag last."""
    src_ref = _registry_ref(source_text, "SRC")
    dst_ref = destination_ref(destination_text, src_ref)
    assert dst_ref.tag is not None
    source = open_repository(src_ref, settings.registry)
    try:
        top = source.resolve()
    except NotFound as e:
        raise ImageNotFound(f"image not found: {e.diagnostics()}") from e
    pinned = src_ref.with_digest(top.digest)
    every = replace(settings, selection=PlatformSelection(all_platforms=True))
    decision = verify_image(str(pinned), every, options.verify)

    def result(
        outcome: PromoteOutcome,
        plan: CopyPlan | None = None,
        previous: Digest | None = None,
        written: Digest | None = None,
    ) -> PromoteResult:
        return PromoteResult(
            str(pinned), str(dst_ref), top.digest, outcome, decision.reason, decision, plan, previous, written
        )

    if decision.outcome is Outcome.FAILED:
        return result(PromoteOutcome.REFUSED)
    if decision.outcome is not Outcome.VERIFIED:
        return result(PromoteOutcome.INDETERMINATE)
    # the store that resolved SRC lists its content: every later read is by that digest
    plan = plan_copy(source, settings.limits)
    destination = open_repository(dst_ref, settings.registry)
    before = destination.get_tagged(dst_ref.tag)
    previous = before.descriptor.digest if before is not None else None
    if options.dry_run:
        return result(PromoteOutcome.WOULD_PROMOTE, plan, previous)
    written = ImageCopier(source, destination, progress).run(plan, dst_ref.tag)
    return result(PromoteOutcome.PROMOTED, plan, previous, written)
