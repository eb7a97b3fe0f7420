"""Unauthorised software and license rules (kind ``policy``) over catalogued packages.

Semantics: a package is denied when it matches a deny rule, or when allow rules exist for its kind
(purl or license) and it matches none.  A license expression is denied when no way of satisfying it avoids
denied licenses: ``A OR B`` passes if either branch passes, ``A AND B`` needs both, ``X WITH e`` is judged
as ``X`` unless the rule names the exception.  Unknown or missing licenses fail an allow list (fail closed).
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from imagetrust.audit.catalog.model import Package
from imagetrust.audit.findings import Finding, FindingKind, Severity
from imagetrust.audit.licenses.spdx import And, Expr, License, Or, normalise, parse
from imagetrust.audit.vulns.versions import registry as versions
from imagetrust.errors import ConfigError, ImageTrustError, MalformedContent

Action = Literal["allow", "deny"]
Scope = Literal["all", "app"]


@dataclass(frozen=True)
class SoftwareRule:
    """One rule: ``purl`` glob (on the purl without version/qualifiers) and/or ``license`` ids/globs."""

    id: str
    action: Action
    purl: str | None = None
    versions: str | None = None  # e.g. ">=1.0,<2.0" in the package's own ecosystem ordering
    licenses: tuple[str, ...] = ()
    scope: Scope = "all"
    severity: Severity = Severity.HIGH
    reason: str = ""


def purl_base(purl: str) -> str:
    return purl.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[0]


_ORDER_BY_PURL_TYPE = {
    "deb": versions.DPKG, "apk": versions.APK, "rpm": versions.RPM, "pypi": versions.PEP440,
    "npm": versions.NPM, "golang": versions.GO, "maven": versions.MAVEN, "gem": versions.RUBYGEMS,
    "nuget": versions.NUGET, "composer": versions.COMPOSER, "cargo": versions.SEMVER,
}  # fmt: skip


def _version_ok(pkg: Package, spec: str) -> bool:
    """Versions compare in the package's own ecosystem; a version that cannot be ordered fails the rule."""
    order = _ORDER_BY_PURL_TYPE.get(pkg.purl.removeprefix("pkg:").split("/", 1)[0])
    if order is None:
        return False
    for clause in (c.strip() for c in spec.split(",") if c.strip()):
        for op in (">=", "<=", "!=", "==", ">", "<", "="):
            if clause.startswith(op):
                bound = clause[len(op) :].strip()
                break
        else:
            op, bound = "==", clause
        try:
            c = order.compare(pkg.version, bound)
        except ImageTrustError:
            return False
        ok = {">=": c >= 0, "<=": c <= 0, ">": c > 0, "<": c < 0, "!=": c != 0, "==": c == 0, "=": c == 0}[op]
        if not ok:
            return False
    return True


def _matches_purl(rule: SoftwareRule, pkg: Package) -> bool:
    if rule.purl is None:
        return False
    if not fnmatch.fnmatchcase(purl_base(pkg.purl), rule.purl):
        return False
    return rule.versions is None or _version_ok(pkg, rule.versions)


def _term_matches(lic: License, patterns: Iterable[str]) -> bool:
    names = {lic.id, str(lic)}
    return any(
        fnmatch.fnmatchcase(n, normalise(p)) or fnmatch.fnmatchcase(n, p) for p in patterns for n in names
    )


def _passes(expr: Expr, denied: Sequence[str], allowed: Sequence[str] | None) -> bool:
    if isinstance(expr, Or):
        return any(_passes(t, denied, allowed) for t in expr.terms)
    if isinstance(expr, And):
        return all(_passes(t, denied, allowed) for t in expr.terms)
    if _term_matches(expr, denied):
        return False
    return allowed is None or _term_matches(expr, allowed)


def package_expression(pkg: Package) -> Expr | None:
    """All of a package's declared licenses apply together (Debian copyright lists several files' terms)."""
    exprs: list[Expr] = []
    for text in pkg.licenses:
        try:
            exprs.append(parse(text))
        except MalformedContent:
            exprs.append(License(normalise(text)))
    if not exprs:
        return None
    return exprs[0] if len(exprs) == 1 else And(tuple(exprs))


def evaluate_software_policy(
    packages: Iterable[Package],
    rules: Sequence[SoftwareRule],
    layer_is_app: Callable[[Package], bool] | None = None,
) -> list[Finding]:
    """Findings for packages the rules deny.  ``layer_is_app`` says whether a package was added by an
    application layer (not the base image); rules scoped ``app`` skip packages it rejects, and apply to
    every package when it is not given."""
    findings: list[Finding] = []
    for pkg in packages:
        in_app = layer_is_app(pkg) if layer_is_app is not None else True
        active = [r for r in rules if r.scope == "all" or in_app]
        findings += _purl_findings(pkg, active)
        findings += _license_findings(pkg, active)
    return findings


def _finding(rule: SoftwareRule, pkg: Package, title: str, extra: dict[str, Any]) -> Finding:
    details = {"rule": rule.id, "action": rule.action, "scope": rule.scope, "reason": rule.reason, **extra}
    return Finding(
        FindingKind.POLICY,
        rule.id,
        rule.severity,
        title,
        path=pkg.locations[0] if pkg.locations else None,
        package_purl=pkg.purl,
        details=tuple(details.items()),
    )


def _purl_findings(pkg: Package, rules: Sequence[SoftwareRule]) -> list[Finding]:
    out = []
    purl_rules = [r for r in rules if r.purl is not None]
    for r in purl_rules:
        if r.action == "deny" and _matches_purl(r, pkg):
            out.append(_finding(r, pkg, f"Denied software: {pkg.name} {pkg.version}", {"pattern": r.purl}))
    allows = [r for r in purl_rules if r.action == "allow"]
    if allows and not any(_matches_purl(r, pkg) for r in allows):
        first = allows[0]
        out.append(_finding(first, pkg, f"Software not on the allow list: {pkg.name} {pkg.version}", {}))
    return out


def _license_findings(pkg: Package, rules: Sequence[SoftwareRule]) -> list[Finding]:
    lic_rules = [r for r in rules if r.licenses and r.purl is None]
    if not lic_rules:
        return []
    expr = package_expression(pkg)
    denied = [p for r in lic_rules if r.action == "deny" for p in r.licenses]
    allow_rules = [r for r in lic_rules if r.action == "allow"]
    allowed = [p for r in allow_rules for p in r.licenses] if allow_rules else None
    text = " AND ".join(pkg.licenses)
    if expr is None:
        if allow_rules:
            return [_finding(allow_rules[0], pkg, f"No license declared: {pkg.name}", {"licenses": []})]
        return []
    if _passes(expr, denied, allowed):
        return []
    culprit = next((r for r in lic_rules if r.action == "deny" and not _passes(expr, r.licenses, None)), None)
    rule = culprit or (allow_rules[0] if allow_rules else lic_rules[0])
    title = f"License not permitted: {pkg.name} ({text})"
    return [_finding(rule, pkg, title, {"licenses": list(pkg.licenses)})]


# --- rule files --------------------------------------------------------------------------------------------


def load_software_rules(path: Path) -> list[SoftwareRule]:
    """Rules from TOML or JSON: ``[[rule]]`` (or a JSON ``{"rules": [...]}``) with id, action, purl,
    versions, licenses, scope, severity, reason."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"software policy {path}: cannot read: {e.strerror or e}") from e
    try:
        doc = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"software policy {path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {e}"
        ) from e
    items = doc.get("rules", doc.get("rule")) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"software policy {path}: expected a list of rules under 'rules' or [[rule]]")
    return [_rule(item, i, path) for i, item in enumerate(items)]


def _rule(item: Any, i: int, path: Path) -> SoftwareRule:
    where = f"software policy {path} rule {i}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a table/object")
    action = item.get("action")
    if action not in ("allow", "deny"):
        raise ConfigError(f"{where}: action must be 'allow' or 'deny'")
    scope = item.get("scope", "all")
    if scope not in ("all", "app"):
        raise ConfigError(f"{where}: scope must be 'all' or 'app'")
    licenses = item.get("licenses", item.get("license", []))
    if isinstance(licenses, str):
        licenses = [licenses]
    if not isinstance(licenses, list) or not all(isinstance(x, str) for x in licenses):
        raise ConfigError(f"{where}: licenses must be a list of strings")
    purl = item.get("purl")
    if purl is not None and not isinstance(purl, str):
        raise ConfigError(f"{where}: purl must be a string")
    if purl is None and not licenses:
        raise ConfigError(f"{where}: needs a purl pattern or licenses")
    if purl is not None and licenses:
        raise ConfigError(f"{where}: give a purl pattern or licenses, not both")
    versions = item.get("versions")
    if versions is not None and not isinstance(versions, str):
        raise ConfigError(f"{where}: versions must be a string like '>=1.0,<2.0'")
    severity = Severity.parse(str(item.get("severity", "high")))
    return SoftwareRule(
        id=str(item.get("id", f"policy-{i}")),
        action=action,
        purl=purl,
        versions=versions,
        licenses=tuple(licenses),
        scope=scope,
        severity=severity,
        reason=str(item.get("reason", "")),
    )


__all__ = [
    "SoftwareRule",
    "evaluate_software_policy",
    "load_software_rules",
    "package_expression",
    "purl_base",
]
