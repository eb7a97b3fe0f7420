"""Inventory records from an audit: one per platform image, keyed by its manifest digest."""

from __future__ import annotations

from imagetrust.audit.result import AuditResult
from imagetrust.store.model import ImageRecord, StoredPackage


def records_from_audit(result: AuditResult, references: tuple[str, ...], now: float) -> list[ImageRecord]:
    """``references``: what the user named the image by (the pinned source is added)."""
    refs = tuple(dict.fromkeys((*references, result.source)))
    return [
        ImageRecord(
            digest=p.image.digest,
            references=refs,
            platform=str(p.image.platform) if p.image.platform is not None else "",
            distro=p.distro,
            packages=tuple(StoredPackage(lp.package, lp.layer) for lp in p.packages),
            findings=p.findings,
            state=None,
            scanned_at=now,
        )
        for p in result.platforms
    ]
