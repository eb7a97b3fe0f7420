"""Markdown for pull-request comments: the decision, the checks, the worst findings, and the gaps.

Every value is escaped: image content (paths, titles) is attacker-chosen and GitHub renders inline HTML.
"""

from __future__ import annotations

import html
from typing import Any

_ICON = {"pass": "PASS", "fail": "FAIL", "indeterminate": "INDETERMINATE", "not_applicable": "n/a"}
_MAX_FINDINGS = 30


def md(text: object) -> str:
    """Escape a value for a Markdown table cell (HTML, pipes, emphasis, code, links, newlines)."""
    value = html.escape(str(text), quote=False)
    for ch in "\\`*_[]|#!~":
        value = value.replace(ch, "\\" + ch)
    return " ".join(value.split())


def trust_markdown(doc: dict[str, Any]) -> str:
    decision = doc["decision"]
    policy = doc["policy"]
    out = [
        f"## imagetrust: {_ICON[decision['outcome']]}",
        "",
        f"**Image:** {md(doc['image'])} @ {md(doc['digest'])}  ",
        f"**Policy:** {md(policy['name'])} (mode {md(policy['mode'])})",
        "",
    ]
    out += [f"- {md(r)}" for r in decision["reasons"]]
    out += ["", "| Check | Outcome | Reasons |", "| --- | --- | --- |"]
    for rule in doc["rules"]:
        out.append(f"| {md(rule['id'])} | {_ICON[rule['outcome']]} | {md('; '.join(rule['reasons']))} |")
    if decision["expiredWaivers"]:
        out += ["", "**Expired waivers (no longer applied):**", ""]
        out += [f"- {md(n)}" for n in decision["expiredWaivers"]]
    findings = [(p, f) for p in doc["audit"]["platforms"] for f in p["findings"]]
    if findings:
        out += [
            "",
            f"### Findings ({len(findings)})",
            "",
            "| Severity | Kind | Id | Title | Where | Origin |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for _, f in findings[:_MAX_FINDINGS]:
            where = f.get("package") or f.get("path") or ""
            out.append(
                f"| {md(f['severity'])} | {md(f['kind'])} | {md(f['id'])} | {md(f['title'])} "
                f"| {md(where)} | {md(f['origin'])} |"
            )
        if len(findings) > _MAX_FINDINGS:
            out.append(f"\n{len(findings) - _MAX_FINDINGS} more in the full report.")
    signers = doc["verification"]["signers"]
    out += ["", "### Evidence", ""]
    out += [f"- signer {md(s['id'])}: {md(s['evidence'])}" for s in signers] or [
        "- no trusted signature verified"
    ]
    out += [
        f"- attestation {md(a['predicateType'])} by {md(a['signer'])}"
        for a in doc["verification"]["attestations"]
    ]
    if doc["notChecked"]:
        out += ["", "### Not checked", ""] + [f"- {md(n)}" for n in doc["notChecked"]]
    return "\n".join(out) + "\n"
