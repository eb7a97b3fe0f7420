"""Secret scanning: our own rules, hyperscan candidate search, entropy and placeholder filters, redaction."""

from imagetrust.audit.secrets.allowlist import Allowlist
from imagetrust.audit.secrets.matcher import Matcher, check_rule_examples
from imagetrust.audit.secrets.redact import preview
from imagetrust.audit.secrets.rules import BUILTIN_RULES, Pattern, Rule
from imagetrust.audit.secrets.scanner import (
    SecretHit,
    SecretScanner,
    default_matcher,
    scan_config,
    scan_file,
    scan_tree,
)
from imagetrust.audit.secrets.userconfig import load_user_config

__all__ = [
    "BUILTIN_RULES",
    "Allowlist",
    "Matcher",
    "Pattern",
    "Rule",
    "SecretHit",
    "SecretScanner",
    "check_rule_examples",
    "default_matcher",
    "load_user_config",
    "preview",
    "scan_config",
    "scan_file",
    "scan_tree",
]
