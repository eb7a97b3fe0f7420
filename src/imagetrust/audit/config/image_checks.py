"""Rules over a built image: its config, its history read as instructions, and its file index."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imagetrust.audit.config.history import history_instructions
from imagetrust.audit.config.instruction_checks import (
    Hit,
    add_hits,
    base_is_floating,
    check_run,
    port_hits,
    secret_hits,
    user_is_root,
    volume_hits,
    workdir_hits,
)
from imagetrust.audit.config.secrets import looks_secret
from imagetrust.audit.unpack import Entry, EntryType, FileIndex
from imagetrust.oci.manifest import ImageConfig

BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"
# Contents the unpacker must keep for the account checks (pass to ContentPolicy.want_paths).
WANTED_PATHS = ("etc/shadow", "etc/passwd", "etc/group")
_HISTORY_RULES = {"CFG-002", "CFG-005", "CFG-006", "CFG-007", "CFG-018", "CFG-020", "CFG-021", "CFG-022"}
_BIN_DIRS = {"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"}
_TOOLS = {
    "CFG-008": re.compile(r"^(?:sudo|doas)$"),
    "CFG-009": re.compile(r"^(?:sshd|dropbear)$"),
    "CFG-010": re.compile(r"^(?:apt|apt-get|dpkg|apk|dnf|dnf-3|yum|microdnf|tdnf|zypper|rpm)$"),
    "CFG-011": re.compile(
        r"^(?:(?:[a-z0-9_]+-linux-gnu-)?(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+|tcc)(?:-[0-9.]+)?)$"
    ),
}
_CACHES = (
    ("var/cache/apt/archives/", re.compile(r"\.deb$")),
    ("var/lib/apt/lists/", re.compile(r"^(?!lock$|partial$|auxfiles$).+")),
    ("var/cache/apk/", re.compile(r".+")),
    ("var/cache/dnf/", re.compile(r".+")),
    ("var/cache/yum/", re.compile(r".+")),
)


@dataclass(frozen=True)
class ImageHit:
    hit: Hit
    path: str | None = None
    entry: Entry | None = None
    history_index: int | None = None
    layer_index: int | None = None


def raw_config(config: ImageConfig) -> Mapping[str, object]:
    """Fields ImageConfig does not model (Healthcheck, Volumes); the raw bytes were size-checked on parse."""
    try:
        obj = json.loads(config.raw)
    except ValueError:
        return {}
    cfg = obj.get("config") if isinstance(obj, dict) else None
    return cfg if isinstance(cfg, dict) else {}


def config_hits(config: ImageConfig, base_annotations: Mapping[str, str]) -> list[ImageHit]:
    out: list[ImageHit] = []
    if user_is_root(config.user):
        out.append(ImageHit(Hit("CFG-001", None, f"config User is {config.user or 'unset'!r}")))
    for item in config.env:
        name, _, value = item.partition("=")
        if looks_secret(name, value):
            out.append(ImageHit(Hit("CFG-002", None, f"ENV {name} has a value")))
    out += [ImageHit(h) for h in port_hits(None, [p.split("/", 1)[0] for p in config.exposed_ports])]
    raw = raw_config(config)
    health = raw.get("Healthcheck")
    test = health.get("Test") if isinstance(health, dict) else None
    if not (isinstance(test, list) and test and test[0] != "NONE"):
        out.append(ImageHit(Hit("CFG-017", None, "config has no Healthcheck")))
    volumes = raw.get("Volumes")
    if isinstance(volumes, dict):
        out += [ImageHit(h) for h in volume_hits(None, [str(v) for v in volumes])]
    if config.working_dir:
        out += [ImageHit(h) for h in workdir_hits(None, config.working_dir) if h.rule_id == "CFG-035"]
    base = base_annotations.get(BASE_NAME_ANNOTATION)
    if base is not None and base_is_floating(base):
        out.append(ImageHit(Hit("CFG-016", None, f"base image {base!r} is not pinned to a version")))
    return out


def history_hits(config: ImageConfig) -> list[ImageHit]:
    out: list[ImageHit] = []
    for item in history_instructions(config):
        ins = item.instruction
        hits: list[Hit] = []
        if ins.keyword == "RUN":
            hits = check_run(ins) + secret_hits(ins)
        elif ins.keyword == "ARG":
            hits = secret_hits(ins)
        elif ins.keyword == "ADD":
            hits = add_hits(ins)
        for h in hits:
            if h.rule_id in _HISTORY_RULES:
                out.append(ImageHit(h, history_index=item.history_index, layer_index=item.layer_index))
    return out


def file_hits(files: FileIndex) -> list[ImageHit]:
    out: list[ImageHit] = []
    caches: dict[str, list[Entry]] = {}
    for entry in files.entries():
        parent, _, name = entry.path.rpartition("/")
        if parent in _BIN_DIRS and entry.type in (EntryType.FILE, EntryType.SYMLINK, EntryType.HARDLINK):
            for rule_id, rx in _TOOLS.items():
                if rx.match(name):
                    out.append(ImageHit(Hit(rule_id, None, f"/{entry.path} present"), entry.path, entry))
        if entry.type in (EntryType.FILE, EntryType.HARDLINK) and entry.mode & 0o6000:
            bits = " and ".join(b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if entry.mode & m)
            out.append(ImageHit(Hit("CFG-012", None, f"{bits} /{entry.path}"), entry.path, entry))
        if entry.type in (EntryType.FILE, EntryType.DIR) and entry.mode & 0o002 and not entry.mode & 0o1000:
            out.append(
                ImageHit(Hit("CFG-013", None, f"/{entry.path} mode {entry.mode:04o}"), entry.path, entry)
            )
        if entry.type is EntryType.FILE:
            for prefix, rx in _CACHES:
                if entry.path.startswith(prefix) and rx.match(entry.path[len(prefix) :].split("/", 1)[0]):
                    caches.setdefault(prefix, []).append(entry)
    for prefix, entries in caches.items():
        first = entries[0]
        message = f"/{prefix} holds {len(entries)} cached files"
        out.append(ImageHit(Hit("CFG-014", None, message), prefix.rstrip("/"), first))
    out += _account_hits(files)
    return out


def _lines(files: FileIndex, path: str) -> Iterable[list[str]]:
    data = files.content(path)
    if data is None:
        return []
    return [
        line.split(":") for line in data.decode("utf-8", "replace").splitlines() if line and line[0] != "#"
    ]


def _account_hits(files: FileIndex) -> list[ImageHit]:
    out: list[ImageHit] = []
    for fields in _lines(files, "etc/shadow"):
        if len(fields) >= 2 and fields[1] == "":
            out.append(
                ImageHit(Hit("CFG-036", None, f"account {fields[0]!r} has an empty password"), "etc/shadow")
            )
    for path, what in (("etc/passwd", "UID"), ("etc/group", "GID")):
        owners: dict[str, list[str]] = {}
        for fields in _lines(files, path):
            if len(fields) >= 3:
                owners.setdefault(fields[2], []).append(fields[0])
        for number, names in sorted(owners.items()):
            if len(names) > 1:
                message = f"{what} {number} shared by {', '.join(names)}"
                out.append(ImageHit(Hit("CFG-037", None, message), path))
    return out


__all__ = [
    "BASE_NAME_ANNOTATION",
    "WANTED_PATHS",
    "ImageHit",
    "config_hits",
    "file_hits",
    "history_hits",
    "raw_config",
]
