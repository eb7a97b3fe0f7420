"""The ``inspect`` document: what an image is made of and what is attached to it.

The JSON shape is a contract for scripts (see docs/inspect.md); the text form is for people.  Environment
variable values are never shown: only names, since values often hold secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imagetrust.discovery.attached import AttachedEvidence
from imagetrust.oci.manifest import Descriptor, Index
from imagetrust.registry.resolve import PlatformImage, ResolvedImage

SCHEMA = "https://imagetrust.dev/schemas/inspect/v1"


@dataclass(frozen=True)
class InspectResult:
    source: str
    resolved: ResolvedImage
    evidence: tuple[AttachedEvidence, ...]


def _descriptor(d: Descriptor) -> dict[str, Any]:
    out: dict[str, Any] = {"digest": str(d.digest), "size": d.size, "mediaType": d.media_type}
    if d.artifact_type:
        out["artifactType"] = d.artifact_type
    if d.annotations:
        out["annotations"] = dict(d.annotations)
    return out


def _image(image: PlatformImage) -> dict[str, Any]:
    config = image.config
    return {
        "platform": str(image.platform) if image.platform else None,
        "digest": str(image.manifest.digest),
        "mediaType": image.manifest.media_type,
        "size": len(image.manifest.raw),
        "layers": [_descriptor(layer) for layer in image.manifest.layers],
        "totalLayerBytes": sum(layer.size for layer in image.manifest.layers),
        "config": {
            "digest": str(config.digest),
            "created": config.created,
            "user": config.user,
            "envNames": list(config.env_names),
            "entrypoint": list(config.entrypoint) if config.entrypoint is not None else None,
            "cmd": list(config.cmd) if config.cmd is not None else None,
            "workingDir": config.working_dir,
            "exposedPorts": list(config.exposed_ports),
            "labels": dict(config.labels),
            "history": [
                {
                    "created": h.created,
                    "createdBy": h.created_by,
                    "emptyLayer": h.empty_layer,
                    **({"comment": h.comment} if h.comment else {}),
                }
                for h in config.history
            ],
        },
    }


def _evidence(ev: AttachedEvidence) -> dict[str, Any]:
    return {
        "subject": str(ev.subject),
        "cosignTags": [
            {
                "kind": a.kind,
                "tag": a.tag,
                "digest": str(a.manifest.digest),
                "layers": [_descriptor(layer) for layer in a.manifest.layers],
            }
            for a in ev.cosign
        ],
        "referrers": [_descriptor(d) for d in ev.referrers],
        "referrersFrom": list(ev.referrers_sources),
    }


def inspect_document(result: InspectResult) -> dict[str, Any]:
    top = result.resolved.top
    return {
        "schema": SCHEMA,
        "source": result.source,
        "location": result.resolved.location,
        "digest": str(top.digest),
        "mediaType": top.media_type,
        "size": len(top.raw),
        "isIndex": isinstance(top, Index),
        "platforms": [str(p) for p in result.resolved.available_platforms],
        "images": [_image(i) for i in result.resolved.images],
        "attached": [_evidence(ev) for ev in result.evidence],
    }


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _lines_for_image(image: PlatformImage) -> list[str]:
    cfg = image.config
    lines = [
        f"  {image.platform or 'unknown platform'}  {image.manifest.digest}",
        f"    layers: {len(image.manifest.layers)}"
        f" ({_human_size(sum(x.size for x in image.manifest.layers))} compressed)",
    ]
    for layer in image.manifest.layers:
        lines.append(f"      {layer.digest}  {_human_size(layer.size):>10}  {layer.media_type}")
    lines.append(f"    user: {cfg.user or '(not set: runs as root)'}")
    if cfg.entrypoint is not None:
        lines.append(f"    entrypoint: {list(cfg.entrypoint)}")
    if cfg.cmd is not None:
        lines.append(f"    cmd: {list(cfg.cmd)}")
    if cfg.env_names:
        lines.append(f"    env: {', '.join(cfg.env_names)}")
    if cfg.exposed_ports:
        lines.append(f"    ports: {', '.join(cfg.exposed_ports)}")
    for key, value in cfg.labels:
        lines.append(f"    label {key}={value}")
    if cfg.history:
        lines.append(f"    history: {len(cfg.history)} steps")
        for h in cfg.history:
            step = (h.created_by or "").strip().replace("\n", " ")
            if len(step) > 100:
                step = step[:97] + "..."
            lines.append(f"      {'(empty) ' if h.empty_layer else ''}{step}")
    return lines


def _lines_for_evidence(evidence: Sequence[AttachedEvidence]) -> list[str]:
    lines = ["attached:"]
    if all(ev.empty for ev in evidence):
        lines.append("  nothing found (no cosign tags, no referrers)")
    for ev in evidence:
        if ev.empty:
            continue
        lines.append(f"  to {ev.subject}:")
        for a in ev.cosign:
            lines.append(f"    cosign {a.kind:4} {a.tag} ({len(a.manifest.layers)} layer(s))")
        for d in ev.referrers:
            kind = d.artifact_type or d.media_type
            lines.append(f"    referrer {d.digest}  {kind}")
        if ev.referrers_sources:
            lines.append(f"    (referrers from: {', '.join(ev.referrers_sources)})")
    return lines


def inspect_text(result: InspectResult) -> str:
    top = result.resolved.top
    kind = "index" if isinstance(top, Index) else "manifest"
    lines = [
        f"image:    {result.source}",
        f"digest:   {top.digest}",
        f"type:     {kind} ({top.media_type})",
    ]
    if result.resolved.available_platforms:
        lines.append(f"platforms: {', '.join(str(p) for p in result.resolved.available_platforms)}")
    lines.append("images:")
    for image in result.resolved.images:
        lines.extend(_lines_for_image(image))
    lines.extend(_lines_for_evidence(result.evidence))
    return "\n".join(lines) + "\n"
