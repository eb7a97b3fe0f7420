"""``promote``: copy an image to another repository only if it passes, with its evidence, tag last.

SRC is resolved once; the decision and the copy both use that digest.  The decision comes either from a
policy file evaluated by the ``check`` pipeline (verify + audit + policy), or from signature verification
alone (``verify`` with the given keys and required attestation types).  Nothing is written to DST unless the
decision is a pass (a policy in ``mode: warn`` does not let a failing image through: promotion is the gate),
and DST's tag is written only after every blob, manifest, referrer and cosign tag is in place, so a copy
that dies half way leaves DST's tag where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from imagetrust.attest.copy import CopyPlan, ImageCopier, Progress, plan_copy
from imagetrust.errors import NotFound, UsageError
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import RegistryRef, parse_source
from imagetrust.pipeline.check import CheckResult, KeylessMaterial, check_image
from imagetrust.pipeline.scanners import ScannerOptions
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.pipeline.verify import VerifyOptions, verify_image
from imagetrust.policy.evaluate import Outcome as PolicyOutcome
from imagetrust.policy.model import Policy
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
    """Decide with ``policy`` (the check pipeline) when given, else with ``verify`` alone."""

    verify: VerifyOptions | None = None
    dry_run: bool = False
    policy: Policy | None = None
    scanner_options: ScannerOptions | None = None  # scanners the policy needs (--db, --malware-rules)
    keyless: KeylessMaterial | None = None  # for the policy's keyless authorities
    now: datetime | None = None  # the policy's clock (waiver expiry, maxAge); default: now


@dataclass(frozen=True)
class PromoteResult:
    source: str  # SRC pinned: registry/repo@digest
    destination: str  # registry/repo:tag
    digest: Digest
    outcome: PromoteOutcome
    reason: str
    decision: VerifyResult | None  # the verify decision (None when a policy decided)
    plan: CopyPlan | None  # None when the decision did not pass
    previous: Digest | None  # what DST's tag named before
    written: Digest | None  # what DST's tag names now (None unless promoted)
    check: CheckResult | None = None  # the policy decision's trust report (None without a policy)

    @property
    def decided(self) -> str:
        """The decision's own outcome word: verified/failed/indeterminate, or pass/fail/indeterminate."""
        if self.check is not None:
            return self.check.decision.outcome.value
        assert self.decision is not None
        return self.decision.outcome.value


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
    decision: VerifyResult | None = None
    checked: CheckResult | None = None
    if options.policy is not None:
        checked = check_image(
            str(pinned),
            every,
            options.policy,
            now=options.now or datetime.now(UTC),
            scanner_options=options.scanner_options,
            keyless=options.keyless,
        )
        verdict = checked.decision.outcome
        reason = "; ".join(checked.decision.reasons) or f"policy {verdict.value}"
        if checked.digest != top.digest:  # cannot happen with a pinned reference; never copy on a mismatch
            verdict, reason = PolicyOutcome.INDETERMINATE, f"the check saw {checked.digest}, not {top.digest}"
        refused, passed = verdict is PolicyOutcome.FAIL, verdict is PolicyOutcome.PASS
    elif options.verify is not None:
        decision = verify_image(str(pinned), every, options.verify)
        reason = decision.reason
        refused, passed = decision.outcome is Outcome.FAILED, decision.outcome is Outcome.VERIFIED
    else:
        raise UsageError("promote needs a policy or the keys SRC must be signed by")

    def result(
        outcome: PromoteOutcome,
        plan: CopyPlan | None = None,
        previous: Digest | None = None,
        written: Digest | None = None,
    ) -> PromoteResult:
        return PromoteResult(
            str(pinned), str(dst_ref), top.digest, outcome, reason, decision, plan, previous, written, checked
        )

    if refused:
        return result(PromoteOutcome.REFUSED)
    if not passed:
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
