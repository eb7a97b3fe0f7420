"""A single-file HTML trust report: inline CSS, no scripts, no external assets, every value escaped."""

from __future__ import annotations

from html import escape
from typing import Any

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1d2330;background:#f7f8fa}
h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.2rem;margin-top:2rem}
.badge{display:inline-block;padding:.3rem .9rem;border-radius:4px;font-weight:700;color:#fff}
.pass{background:#1f883d}.fail{background:#cf222e}.indeterminate{background:#9a6700}
.not_applicable{background:#6e7781}
table{border-collapse:collapse;width:100%;background:#fff;margin-top:.5rem}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#eaeef2}code{font-family:ui-monospace,monospace;font-size:.85rem;word-break:break-all}
.critical,.high{color:#cf222e;font-weight:700}.medium{color:#9a6700}
ul{margin:.3rem 0}
"""


_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _header(*names: str) -> str:
    return "<table><tr>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _badge(outcome: str) -> str:
    return f'<span class="badge {_e(outcome)}">{_e(outcome.upper().replace("_", " "))}</span>'


def trust_html(doc: dict[str, Any]) -> str:
    decision = doc["decision"]
    policy = doc["policy"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>imagetrust report: {_e(doc['image'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_badge(decision['outcome'])} {_e(doc['image'])}</h1>",
        f"<p><code>{_e(doc['digest'])}</code><br>policy <b>{_e(policy['name'])}</b> "
        f"({_e(policy['source'])}, mode {_e(policy['mode'])}), generated {_e(doc['generatedAt'])}</p>",
        "<ul>" + "".join(f"<li>{_e(r)}</li>" for r in decision["reasons"]) + "</ul>",
        "<h2>Policy checks</h2>" + _header("Check", "Outcome", "Reasons"),
    ]
    for rule in doc["rules"]:
        reasons = "<br>".join(_e(r) for r in rule["reasons"])
        parts.append(
            f"<tr><td><code>{_e(rule['id'])}</code></td><td>{_badge(rule['outcome'])}</td><td>{reasons}</td></tr>"
        )
    parts.append("</table>")
    if decision["expiredWaivers"] or decision["suppressed"]:
        parts.append("<h2>Waivers and VEX</h2><ul>")
        parts += [f"<li>expired: {_e(n)}</li>" for n in decision["expiredWaivers"]]
        parts += [
            f"<li>suppressed {_e(s['finding'])} ({_e(s['package'])}) by {_e(s['by'])}</li>"
            for s in decision["suppressed"]
        ]
        parts.append("</ul>")
    verification = doc["verification"]
    parts.append("<h2>Signatures and attestations</h2>")
    parts.append(_header("Kind", "Verified", "Signer", "Type", "Evidence"))
    for item in verification["items"]:
        signer = item["signer"] or {}
        who = signer.get("keyId") or signer.get("identity") or ""
        evidence = f"{item['format']} from {item['foundIn']}" + (
            f"; tlog: {item['tlog']}" if item["tlog"] else ""
        )
        if not item["verified"]:
            evidence += f"; {item['reason']}"
        parts.append(
            f"<tr><td>{_e(item['kind'])}</td><td>{'yes' if item['verified'] else 'no'}</td>"
            f"<td><code>{_e(who)}</code></td>"
            f"<td>{_e(item['predicateType'])}</td><td>{_e(evidence)}</td></tr>"
        )
    parts.append("</table>")
    for platform in doc["audit"]["platforms"]:
        label = platform["platform"] or "image"
        parts.append(f"<h2>Findings: {_e(label)} <code>{_e(platform['digest'])}</code></h2>")
        parts.append(f"<p>base: {_e(platform['base'] or 'unknown')}; {_e(platform['packages'])} packages</p>")
        parts.append(_header("Severity", "Kind", "Id", "Title", "Where", "Origin", "Layer"))
        for f in platform["findings"]:
            parts.append(
                f'<tr><td class="{_e(f["severity"])}">{_e(f["severity"])}</td><td>{_e(f["kind"])}</td>'
                f"<td>{_e(f['id'])}</td><td>{_e(f['title'])}</td>"
                f"<td><code>{_e(f['package'] or f['path'])}</code></td>"
                f"<td>{_e(f['origin'])}</td><td><code>{_e((f['layer'] or '')[:19])}</code></td></tr>"
            )
        parts.append("</table>")
    if doc["notChecked"]:
        parts.append(
            "<h2>Not checked</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in doc["notChecked"]) + "</ul>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
