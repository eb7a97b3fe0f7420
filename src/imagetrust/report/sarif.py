"""SARIF 2.1.0 from the trust document: one result per policy check that did not pass, one per finding.

Code-scanning UIs show SARIF results as alerts, so the policy checks come first (they are the decision);
findings follow with levels from their severity.  Areas not checked are tool execution notifications.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from imagetrust import __version__

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "negligible": "note",
    "unknown": "warning",
}
_CHECK_LEVEL = {"fail": "error", "indeterminate": "warning"}


def path_uri(path: str) -> str:
    """An image path as a relative URI reference (SARIF requires one): every byte outside RFC 3986's
    unreserved set and ``/`` is percent-encoded, so ``<``, ``#``, ``?``, spaces and non-ASCII survive."""
    return quote(path.lstrip("/"), safe="/", errors="surrogatepass")


def _location(finding: dict[str, Any], image: str) -> list[dict[str, Any]]:
    path = finding.get("path")
    if path:
        return [
            {
                "physicalLocation": {"artifactLocation": {"uri": path_uri(path), "uriBaseId": "IMAGE_ROOT"}},
                "logicalLocations": [{"name": finding.get("layer") or image, "kind": "module"}],
            }
        ]
    return [{"logicalLocations": [{"name": finding.get("package") or image, "kind": "module"}]}]


def trust_sarif(doc: dict[str, Any]) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []

    def rule_index(rule_id: str, description: str) -> int:
        if rule_id not in rules:
            rules[rule_id] = {"id": rule_id, "shortDescription": {"text": description[:1000] or rule_id}}
        return list(rules).index(rule_id)

    image = f"{doc['image']}@{doc['digest']}"
    for check in doc["rules"]:
        level = _CHECK_LEVEL.get(check["outcome"])
        if level is None:
            continue
        rule_id = f"policy/{check['id']}"
        results.append(
            {
                "ruleId": rule_id,
                "ruleIndex": rule_index(rule_id, f"policy check {check['id']}"),
                "level": level,
                "message": {"text": f"{check['outcome']}: " + "; ".join(check["reasons"])},
                "locations": [{"logicalLocations": [{"name": image, "kind": "module"}]}],
                "properties": {"outcome": check["outcome"]},
            }
        )
    for platform in doc["audit"]["platforms"]:
        for finding in platform["findings"]:
            rule_id = f"{finding['kind']}/{finding['id']}"
            results.append(
                {
                    "ruleId": rule_id,
                    "ruleIndex": rule_index(rule_id, finding["title"]),
                    "level": _LEVEL.get(finding["severity"], "warning"),
                    "message": {
                        "text": f"{finding['title']} ({finding['severity']}, {finding['origin']} layer)"
                    },
                    "locations": _location(finding, image),
                    "properties": {
                        "severity": finding["severity"],
                        "origin": finding["origin"],
                        "layer": finding["layer"],
                        "package": finding["package"],
                        "platform": platform["platform"],
                    },
                }
            )
    notifications = [
        {"level": "warning", "message": {"text": f"not checked: {note}"}} for note in doc["notChecked"]
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "imagetrust",
                        "version": __version__,
                        "informationUri": "https://imagetrust.dev",
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications},
                ],
                "originalUriBaseIds": {
                    "IMAGE_ROOT": {"description": {"text": f"root filesystem of {image}"}}
                },
                "results": results,
                "properties": {
                    "image": doc["image"],
                    "digest": doc["digest"],
                    "decision": doc["decision"]["outcome"],
                    "policy": doc["policy"]["name"],
                },
            }
        ],
    }
