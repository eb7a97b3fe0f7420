"""Unauthorised software and licenses (kind ``policy``): purl and SPDX-expression allow/deny rules."""

from imagetrust.audit.licenses.policy import (
    SoftwareRule,
    evaluate_software_policy,
    load_software_rules,
    package_expression,
    purl_base,
)
from imagetrust.audit.licenses.spdx import License, normalise, parse

__all__ = [
    "License",
    "SoftwareRule",
    "evaluate_software_policy",
    "load_software_rules",
    "normalise",
    "package_expression",
    "parse",
    "purl_base",
]
