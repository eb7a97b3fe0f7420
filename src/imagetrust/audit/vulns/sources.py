"""Recognise what an advisory file is (OSV, Debian tracker, Alpine secdb) and parse it accordingly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from imagetrust.audit.vulns.distro import (
    is_alpine_secdb,
    is_debian_tracker,
    parse_alpine_secdb,
    parse_debian_tracker,
)
from imagetrust.audit.vulns.model import Advisory
from imagetrust.audit.vulns.osv import iter_documents, parse_osv
from imagetrust.errors import MalformedContent


def load_advisories(path: Path) -> Iterator[Advisory]:
    """Every advisory in ``path`` (file, directory, zip or tarball), whatever feed format each file is."""
    for where, doc in iter_documents(path):
        if isinstance(doc, dict) and "id" in doc and ("affected" in doc or "modified" in doc):
            yield parse_osv(doc, where)
        elif is_alpine_secdb(doc):
            yield from parse_alpine_secdb(doc, where)
        elif is_debian_tracker(doc):
            yield from parse_debian_tracker(doc, where)
        elif isinstance(doc, dict) and ("distroversion" in doc or "id" in doc):
            raise MalformedContent(f"{where}: not a readable advisory document")
        else:
            raise MalformedContent(f"{where}: not an OSV, Debian tracker or Alpine secdb document")
