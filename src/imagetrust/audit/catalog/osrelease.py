"""Which distribution an image is: os-release first, then the distribution's own release files."""

from __future__ import annotations

import shlex

from imagetrust.audit.catalog.model import OSRelease
from imagetrust.audit.unpack import FileIndex

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
FALLBACK_PATHS = ("etc/alpine-release", "etc/debian_version", "etc/redhat-release")
WANTED_PATHS = OS_RELEASE_PATHS + FALLBACK_PATHS
_MAX_LINES = 1000


def wanted(path: str) -> bool:
    return path in WANTED_PATHS


def parse_os_release(data: bytes, source: str = "") -> OSRelease | None:
    """Parse the shell-like ``KEY=value`` format (os-release(5)); None when it has no ID."""
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines()[:_MAX_LINES]:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw, posix=True)
        except ValueError:
            parts = [raw.strip("\"'")]
        fields[key.strip()] = " ".join(parts)
    os_id = fields.get("ID", "").strip().lower()
    if not os_id:
        return None
    return OSRelease(
        id=os_id,
        version_id=fields.get("VERSION_ID") or None,
        version_codename=fields.get("VERSION_CODENAME") or None,
        pretty_name=fields.get("PRETTY_NAME") or None,
        id_like=tuple(fields.get("ID_LIKE", "").lower().split()),
        source=source,
    )


def detect_os(files: FileIndex) -> OSRelease | None:
    """The image's distribution, or None when nothing identifies it (reported as unknown by callers)."""
    for path in OS_RELEASE_PATHS:
        data = files.content(path)
        if data is not None:
            found = parse_os_release(data, path)
            if found is not None:
                return found
    alpine = files.content("etc/alpine-release")
    if alpine is not None and alpine.strip():
        version = alpine.decode("utf-8", "replace").split()[0]
        return OSRelease(
            "alpine", version, pretty_name=f"Alpine Linux v{version}", source="etc/alpine-release"
        )
    debian = files.content("etc/debian_version")
    if debian is not None and debian.strip():
        text = debian.decode("utf-8", "replace").split()[0]
        # "12.4" is a release; "bookworm/sid" is testing/unstable with no number yet
        major = text.split(".")[0] if text[:1].isdigit() else None
        codename = None if major else text.split("/")[0]
        return OSRelease("debian", major, codename, source="etc/debian_version")
    return None
