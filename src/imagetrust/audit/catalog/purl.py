"""Package URLs per the purl spec (github.com/package-url/purl-spec), built from parts, never parsed."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote


def _enc(text: str) -> str:
    # The spec leaves ':' unencoded in versions and names; everything else outside unreserved is encoded.
    return quote(text, safe="").replace("%3A", ":")


def make_purl(
    ptype: str, namespace: str | None, name: str, version: str | None, qualifiers: Mapping[str, str | None]
) -> str:
    head = f"pkg:{ptype}/"
    if namespace:
        head += "/".join(_enc(seg) for seg in namespace.split("/") if seg) + "/"
    head += _enc(name)
    if version:
        head += "@" + _enc(version)
    quals = sorted((k.lower(), v) for k, v in qualifiers.items() if v)
    if quals:
        head += "?" + "&".join(f"{k}={_enc(v)}" for k, v in quals)
    return head
