"""Read a policy file: YAML, versioned, strict.  Unknown keys are refused with their line number.

The YAML is composed into nodes (not constructed into dicts) so every value keeps the line it came from;
duplicate keys, anchors/aliases and non-string keys are refused rather than silently merged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml  # type: ignore[import-untyped]

from imagetrust.audit.findings import Severity
from imagetrust.errors import ConfigError, ImageTrustError
from imagetrust.limits import DEFAULT_LIMITS, Limits
from imagetrust.localfiles import read_bounded
from imagetrust.policy.model import (
    API_VERSION,
    KIND,
    AttestationRule,
    Authority,
    ConfigRule,
    DenyRule,
    ForbidRule,
    KeyAuthority,
    KeylessAuthority,
    Mode,
    Policy,
    Rule,
    SignatureRule,
    SlsaRule,
    VexStatement,
    VulnerabilityRule,
    Waiver,
)
from imagetrust.trust.keys import load_public_key
from imagetrust.verify.identity import IdentityPolicy
from imagetrust.verify.statement import resolve_predicate_type

T = TypeVar("T")
_DURATION = re.compile(r"^(\d{1,6})([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_SEVERITIES = [s.value for s in Severity if s is not Severity.UNKNOWN]
_VEX_STATUSES = ("not_affected", "affected", "fixed", "under_investigation")


class PolicyError(ConfigError):
    """The policy file cannot be used (exit 2): names the file, the line and the problem."""


class _Ctx:
    def __init__(self, source: str, base: Path, limits: Limits) -> None:
        self.source = source
        self.base = base
        self.limits = limits

    def fail(self, node: yaml.Node | None, message: str) -> PolicyError:
        where = f"{self.source}:{node.start_mark.line + 1}" if node is not None else self.source
        return PolicyError(f"{where}: {message}")


def _mapping(ctx: _Ctx, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise ctx.fail(node, f"{what} must be a mapping")
    out: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
            raise ctx.fail(key, f"{what}: keys must be strings")
        if key.value not in allowed:
            raise ctx.fail(key, f"unknown key {key.value!r} in {what} (allowed: {', '.join(allowed)})")
        if key.value in out:
            raise ctx.fail(key, f"duplicate key {key.value!r} in {what}")
        out[key.value] = value
    return out


def _sequence(ctx: _Ctx, node: yaml.Node, what: str) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise ctx.fail(node, f"{what} must be a list")
    return list(node.value)


def _str(ctx: _Ctx, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not node.value:
        raise ctx.fail(node, f"{what} must be a non-empty string")
    return str(node.value)


def _bool(ctx: _Ctx, node: yaml.Node, what: str) -> bool:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
        raise ctx.fail(node, f"{what} must be true or false")
    return node.value.lower() in ("true", "yes", "on")


def _int(ctx: _Ctx, node: yaml.Node, what: str) -> int:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
        raise ctx.fail(node, f"{what} must be an integer")
    return int(node.value)


def _strings(ctx: _Ctx, node: yaml.Node, what: str) -> tuple[str, ...]:
    return tuple(_str(ctx, item, f"{what} entry") for item in _sequence(ctx, node, what))


def _choice(ctx: _Ctx, node: yaml.Node, what: str, choices: list[str] | tuple[str, ...]) -> str:
    value = _str(ctx, node, what) if not isinstance(node, yaml.ScalarNode) else str(node.value)
    if value not in choices:
        raise ctx.fail(node, f"{what} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _duration(ctx: _Ctx, node: yaml.Node, what: str) -> timedelta:
    text = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
    match = _DURATION.match(text)
    if not match:
        raise ctx.fail(node, f"{what} must be a duration such as 12h, 30d or 2w, not {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _date(ctx: _Ctx, node: yaml.Node, what: str) -> date:
    text = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise ctx.fail(node, f"{what} must be a date YYYY-MM-DD, not {text!r}") from e


def _optional(
    ctx: _Ctx, fields: dict[str, yaml.Node], key: str, read: Callable[[_Ctx, yaml.Node, str], T], what: str
) -> T | None:
    node = fields.get(key)
    return None if node is None else read(ctx, node, f"{what}.{key}")


def _waivers(ctx: _Ctx, node: yaml.Node, what: str) -> tuple[Waiver, ...]:
    out = []
    for item in _sequence(ctx, node, what):
        f = _mapping(ctx, item, f"{what} entry", ("id", "reason", "expires"))
        for required in ("id", "reason", "expires"):
            if required not in f:
                raise ctx.fail(
                    item, f"{what} entry needs {required!r} (every waiver has a reason and expiry)"
                )
        out.append(
            Waiver(
                _str(ctx, f["id"], f"{what}.id"),
                _str(ctx, f["reason"], f"{what}.reason"),
                _date(ctx, f["expires"], f"{what}.expires"),
                item.start_mark.line + 1,
            )
        )
    return tuple(out)


def _authority(ctx: _Ctx, node: yaml.Node, what: str) -> Authority:
    f = _mapping(ctx, node, what, ("key", "keyless"))
    if ("key" in f) == ("keyless" in f):
        raise ctx.fail(node, f"{what} needs exactly one of 'key' or 'keyless'")
    if "key" in f:
        text = _str(ctx, f["key"], f"{what}.key")
        path = Path(text) if Path(text).is_absolute() else ctx.base / text
        try:
            key = load_public_key(path)
        except ImageTrustError as e:
            raise ctx.fail(f["key"], f"{what}.key: {e.diagnostics()}") from e
        return KeyAuthority(key, text)
    k = _mapping(
        ctx, f["keyless"], f"{what}.keyless", ("identity", "identityRegexp", "issuer", "issuerRegexp")
    )
    try:
        identity = IdentityPolicy(
            _optional(ctx, k, "identity", _str, what),
            _optional(ctx, k, "identityRegexp", _str, what),
            _optional(ctx, k, "issuer", _str, what),
            _optional(ctx, k, "issuerRegexp", _str, what),
        )
    except ImageTrustError as e:
        raise ctx.fail(f["keyless"], f"{what}.keyless: {e.diagnostics()}") from e
    return KeylessAuthority(identity)


def _signatures(ctx: _Ctx, node: yaml.Node, what: str) -> SignatureRule:
    f = _mapping(ctx, node, what, ("authorities", "threshold"))
    if "authorities" not in f:
        raise ctx.fail(node, f"{what} needs 'authorities'")
    items = _sequence(ctx, f["authorities"], f"{what}.authorities")
    if not items:
        raise ctx.fail(f["authorities"], f"{what}.authorities must name at least one signer")
    authorities = tuple(_authority(ctx, item, f"{what}.authorities entry") for item in items)
    threshold = _optional(ctx, f, "threshold", _int, what) or 1
    if threshold < 1 or threshold > len(authorities):
        raise ctx.fail(
            f.get("threshold", node),
            f"{what}.threshold {threshold} must be between 1 and the {len(authorities)} authorities given",
        )
    return SignatureRule(authorities, threshold)


def _slsa(ctx: _Ctx, node: yaml.Node, what: str) -> SlsaRule:
    f = _mapping(ctx, node, what, ("builder", "source", "tag", "branch", "buildType"))
    for required in ("builder", "source"):
        if required not in f:
            raise ctx.fail(node, f"{what} needs {required!r}")
    if "tag" in f and "branch" in f:
        raise ctx.fail(node, f"{what} takes 'tag' or 'branch', not both")
    return SlsaRule(
        _str(ctx, f["builder"], f"{what}.builder"),
        _str(ctx, f["source"], f"{what}.source"),
        _optional(ctx, f, "tag", _str, what),
        _optional(ctx, f, "branch", _str, what),
        _optional(ctx, f, "buildType", _str, what),
    )


def _attestations(ctx: _Ctx, node: yaml.Node, what: str) -> tuple[AttestationRule, ...]:
    out = []
    for item in _sequence(ctx, node, what):
        f = _mapping(ctx, item, f"{what} entry", ("type", "maxAge", "slsa"))
        if "type" not in f:
            raise ctx.fail(item, f"{what} entry needs 'type'")
        try:
            predicate_type = resolve_predicate_type(_str(ctx, f["type"], f"{what}.type"))
        except ImageTrustError as e:
            raise ctx.fail(f["type"], f"{what}.type: {e.diagnostics()}") from e
        out.append(
            AttestationRule(
                predicate_type,
                _optional(ctx, f, "maxAge", _duration, what),
                _optional(ctx, f, "slsa", _slsa, what),
            )
        )
    return tuple(out)


def _vex_products(value: Any) -> tuple[str, ...]:
    products = []
    for product in value if isinstance(value, list) else []:
        if isinstance(product, str):
            products.append(product)
        elif isinstance(product, dict):
            pid = product.get("@id")
            if isinstance(pid, str):
                products.append(pid)
            for sub in product.get("subcomponents") or []:
                if isinstance(sub, dict) and isinstance(sub.get("@id"), str):
                    products.append(sub["@id"])
    return tuple(products)


def load_vex(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[VexStatement, ...]:
    """An OpenVEX document (v0.0.x or v0.2.x) reduced to the statements policy can apply."""
    data = read_bounded(path, limits.manifest_bytes, "VEX document", PolicyError)
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: VEX document is not JSON ({e})") from e
    if not isinstance(doc, dict) or not str(doc.get("@context", "")).startswith("https://openvex.dev/ns"):
        raise PolicyError(f"{path}: not an OpenVEX document (no https://openvex.dev/ns @context)")
    statements = doc.get("statements")
    if not isinstance(statements, list):
        raise PolicyError(f"{path}: OpenVEX document has no statements list")
    out = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            raise PolicyError(f"{path}: statement {index} is not an object")
        vuln = statement.get("vulnerability")
        names: list[str] = []
        if isinstance(vuln, str):
            names = [vuln]
        elif isinstance(vuln, dict):
            names = [v for v in [vuln.get("name"), *(vuln.get("aliases") or [])] if isinstance(v, str)]
        status = statement.get("status")
        if not names or status not in _VEX_STATUSES:
            raise PolicyError(f"{path}: statement {index} needs a vulnerability and a valid status")
        products = _vex_products(statement.get("products"))
        justification = statement.get("justification")
        for name in names:
            out.append(
                VexStatement(
                    name,
                    str(status),
                    products,
                    justification if isinstance(justification, str) else None,
                    f"{path.name} statement {index}",
                )
            )
    return tuple(out)


def _vulnerabilities(ctx: _Ctx, node: yaml.Node, what: str) -> VulnerabilityRule:
    f = _mapping(ctx, node, what, ("maxSeverity", "fixableOnly", "ignore", "vex"))
    severity = f.get("maxSeverity")
    vex: list[VexStatement] = []
    for item in _sequence(ctx, f["vex"], f"{what}.vex") if "vex" in f else []:
        text = _str(ctx, item, f"{what}.vex entry")
        path = Path(text) if Path(text).is_absolute() else ctx.base / text
        try:
            vex.extend(load_vex(path, ctx.limits))
        except ImageTrustError as e:
            raise ctx.fail(item, e.diagnostics()) from e
    return VulnerabilityRule(
        Severity(_choice(ctx, severity, f"{what}.maxSeverity", _SEVERITIES))
        if severity is not None
        else None,
        _optional(ctx, f, "fixableOnly", _bool, what) or False,
        _waivers(ctx, f["ignore"], f"{what}.ignore") if "ignore" in f else (),
        tuple(vex),
    )


def _forbid(ctx: _Ctx, node: yaml.Node, what: str) -> ForbidRule | None:
    f = _mapping(ctx, node, what, ("forbid", "waive"))
    if "forbid" not in f:
        raise ctx.fail(node, f"{what} needs 'forbid: true' or 'forbid: false'")
    if not _bool(ctx, f["forbid"], f"{what}.forbid"):
        return None
    return ForbidRule(_waivers(ctx, f["waive"], f"{what}.waive") if "waive" in f else ())


def _config(ctx: _Ctx, node: yaml.Node, what: str) -> ConfigRule:
    f = _mapping(ctx, node, what, ("enforce", "waive"))
    enforce = _strings(ctx, f["enforce"], f"{what}.enforce") if "enforce" in f else ("*",)
    return ConfigRule(enforce, _waivers(ctx, f["waive"], f"{what}.waive") if "waive" in f else ())


def _deny(ctx: _Ctx, node: yaml.Node, what: str) -> DenyRule:
    f = _mapping(ctx, node, what, ("deny", "waive"))
    if "deny" not in f:
        raise ctx.fail(node, f"{what} needs 'deny'")
    return DenyRule(
        _strings(ctx, f["deny"], f"{what}.deny"),
        _waivers(ctx, f["waive"], f"{what}.waive") if "waive" in f else (),
    )


_RULE_KEYS = (
    "name",
    "images",
    "signatures",
    "attestations",
    "vulnerabilities",
    "secrets",
    "malware",
    "config",
    "packages",
    "licenses",
)


def _rule(ctx: _Ctx, node: yaml.Node, index: int) -> Rule:
    what = f"rules[{index}]"
    f = _mapping(ctx, node, what, _RULE_KEYS)
    for required in ("name", "images"):
        if required not in f:
            raise ctx.fail(node, f"{what} needs {required!r}")
    name = _str(ctx, f["name"], f"{what}.name")
    what = f"rule {name!r}"
    images = _strings(ctx, f["images"], f"{what}.images")
    if not images:
        raise ctx.fail(f["images"], f"{what}.images must list at least one pattern")
    return Rule(
        name,
        images,
        _optional(ctx, f, "signatures", _signatures, what),
        _attestations(ctx, f["attestations"], f"{what}.attestations") if "attestations" in f else (),
        _optional(ctx, f, "vulnerabilities", _vulnerabilities, what),
        _forbid(ctx, f["secrets"], f"{what}.secrets") if "secrets" in f else None,
        _forbid(ctx, f["malware"], f"{what}.malware") if "malware" in f else None,
        _optional(ctx, f, "config", _config, what),
        _optional(ctx, f, "packages", _deny, what),
        _optional(ctx, f, "licenses", _deny, what),
    )


def _compose(ctx: _Ctx, text: str) -> yaml.Node:
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark is not None else "?"
        raise PolicyError(f"{ctx.source}:{line}: not valid YAML ({e.problem})") from e
    except yaml.YAMLError as e:
        raise PolicyError(f"{ctx.source}: not valid YAML ({e})") from e
    if len(nodes) != 1 or nodes[0] is None:
        raise PolicyError(f"{ctx.source}: must hold exactly one YAML document")
    for node in _walk(nodes[0]):
        if getattr(node, "anchor", None):
            raise ctx.fail(node, "YAML anchors and aliases are not allowed in a policy")
    return nodes[0]


def _walk(node: yaml.Node) -> list[yaml.Node]:
    out, stack = [], [node]
    while stack:
        current = stack.pop()
        out.append(current)
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return out


def parse_policy(text: str, *, source: str, base: Path, limits: Limits = DEFAULT_LIMITS) -> Policy:
    """A policy from YAML text; relative key and VEX paths are read from ``base``."""
    ctx = _Ctx(source, base, limits)
    root = _compose(ctx, text)
    f = _mapping(ctx, root, "the policy", ("apiVersion", "kind", "metadata", "mode", "rules"))
    for required in ("apiVersion", "kind", "rules"):
        if required not in f:
            raise ctx.fail(root, f"the policy needs {required!r}")
    if _str(ctx, f["apiVersion"], "apiVersion") != API_VERSION:
        raise ctx.fail(f["apiVersion"], f"apiVersion must be {API_VERSION!r}")
    if _str(ctx, f["kind"], "kind") != KIND:
        raise ctx.fail(f["kind"], f"kind must be {KIND!r}")
    name = Path(source).stem
    if "metadata" in f:
        meta = _mapping(ctx, f["metadata"], "metadata", ("name", "description"))
        name = _optional(ctx, meta, "name", _str, "metadata") or name
        _optional(ctx, meta, "description", _str, "metadata")
    mode = Mode(_choice(ctx, f["mode"], "mode", [m.value for m in Mode])) if "mode" in f else Mode.ENFORCE
    items = _sequence(ctx, f["rules"], "rules")
    if not items:
        raise ctx.fail(f["rules"], "rules must list at least one rule")
    rules = tuple(_rule(ctx, item, index) for index, item in enumerate(items))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ctx.fail(f["rules"], f"rule names must be unique: {', '.join(duplicates)}")
    return Policy(name, mode, rules, source)


def load_policy(path: Path, limits: Limits = DEFAULT_LIMITS) -> Policy:
    """Read and check a policy file (exit 2 on any problem, naming the line)."""
    return read_policy(path, limits)[0]


def read_policy(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[Policy, bytes]:
    """``load_policy`` and the very bytes it was parsed from, read once (an attestation records their
    digest, so a second read could name a file other than the one decided with)."""
    data = read_bounded(path, limits.manifest_bytes, "policy", PolicyError)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError(f"{path}: policy is not UTF-8") from e
    return parse_policy(text, source=str(path), base=path.parent, limits=limits), data
