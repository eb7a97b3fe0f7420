"""Configuration checks (kind ``misconfiguration``) over a Dockerfile or a built image.

The same rule catalogue (``rules.RULES``) serves both: a Dockerfile is parsed into stages, a built image is
read from its config, its history (as instructions) and its file index.
"""

from __future__ import annotations

from collections.abc import Mapping

from imagetrust.audit.config.dockerfile import parse_dockerfile
from imagetrust.audit.config.history import build_args
from imagetrust.audit.config.image_checks import (
    BASE_NAME_ANNOTATION,
    WANTED_PATHS,
    ImageHit,
    config_hits,
    file_hits,
    history_hits,
)
from imagetrust.audit.config.instruction_checks import Hit, dockerfile_hits
from imagetrust.audit.config.rules import RULES, Rule
from imagetrust.audit.findings import Finding, FindingKind
from imagetrust.audit.unpack import FileIndex
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import ImageConfig


def _finding(hit: Hit, *, path: str | None, layer: Digest | None, extra: dict[str, object]) -> Finding:
    r = RULES[hit.rule_id]
    details: dict[str, object] = {
        "message": hit.message,
        "description": r.description,
        "remediation": r.remediation,
        "references": list(r.refs),
        **extra,
    }
    return Finding(
        FindingKind.MISCONFIGURATION,
        r.id,
        r.severity,
        r.title,
        path=path,
        layer=layer,
        details=tuple(details.items()),
    )


def check_dockerfile(text: str, path: str) -> list[Finding]:
    """Findings for one Dockerfile; ``details`` carry the line and the instruction as written."""
    parsed = parse_dockerfile(text, path)
    out = []
    for hit in dockerfile_hits(parsed.stages, parsed.global_args):
        extra: dict[str, object] = {}
        if hit.instruction is not None:
            extra["line"] = hit.instruction.line
            extra["instruction"] = f"{hit.instruction.keyword} {hit.instruction.value}"[:200]
        if hit.stage is not None:
            extra["stage"] = hit.stage
        out.append(_finding(hit, path=path, layer=None, extra=extra))
    return _dedupe(out)


def check_image(
    config: ImageConfig, files: FileIndex | None = None, base_annotations: Mapping[str, str] | None = None
) -> list[Finding]:
    """Findings for a built image; ``files`` enables the file-system rules (keep ``WANTED_PATHS``)."""
    hits = config_hits(config, base_annotations or {}) + history_hits(config)
    if files is not None:
        hits += file_hits(files)
    layers: list[Digest] = list(files.layers) if files is not None and files.layers else list(config.diff_ids)
    out = []
    for ih in hits:
        extra: dict[str, object] = {}
        layer = ih.entry.layer if ih.entry is not None else None
        if ih.history_index is not None:
            extra["history_index"] = ih.history_index
            created_by = config.history[ih.history_index].created_by or ""
            extra["created_by"] = _redact_args(created_by)[:300]
        if ih.layer_index is not None and ih.layer_index < len(layers):
            layer = layers[ih.layer_index]
        if ih.entry is not None:
            extra["mode"] = f"{ih.entry.mode:04o}"
        out.append(_finding(ih.hit, path=ih.path, layer=layer, extra=extra))
    return _dedupe(out)


def _redact_args(created_by: str) -> str:
    """Build-argument values may be the secret itself: keep names only."""
    if not created_by.startswith("|") and not created_by.startswith("RUN |"):
        return created_by
    prefix = "RUN " if created_by.startswith("RUN ") else ""
    pairs, rest = build_args(created_by[len(prefix) :])
    return f"{prefix}|{len(pairs)} " + " ".join(f"{n}=***" for n, _ in pairs) + f" {rest}"


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for f in findings:
        key = (f.id, f.path, f.layer, f.detail("line"), f.detail("history_index"), f.detail("message"))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


__all__ = [
    "BASE_NAME_ANNOTATION",
    "RULES",
    "WANTED_PATHS",
    "ImageHit",
    "Rule",
    "check_dockerfile",
    "check_image",
]
