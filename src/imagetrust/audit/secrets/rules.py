# ruff: noqa: E501  (patterns and examples read best on one line)
"""Our secret rule set, as data: each rule carries the examples its unit test proves it on.

A rule's patterns are Python regular expressions that hyperscan can also compile in prefilter mode (so
lookarounds are allowed: hyperscan over-approximates them and Python confirms).  The value that is the
secret is the named group ``secret``.  ``generic`` rules are keyword-plus-value heuristics: they only
run on text, and a provider-specific rule matching the same value wins over them.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagetrust.audit.findings import Severity


@dataclass(frozen=True)
class Pattern:
    """One expression of a rule; ``config_only`` limits it to config-like files (unquoted values)."""

    regex: str
    config_only: bool = False
    anchor: str | None = None  # hyperscan expression found at or before every match's end (speed)


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    severity: Severity
    patterns: tuple[Pattern, ...]
    keywords: tuple[
        str, ...
    ] = ()  # lower-case words one of which the match contains (documentation, fallback)
    entropy: float | None = None  # minimum Shannon entropy (bits per char) of the secret value
    min_length: int = 0
    case_insensitive: bool = False
    generic: bool = False  # keyword + value heuristics: text only, placeholder filters, loses to specific
    window_after: int = 0  # extra bytes after the line the value may span (PEM bodies)
    validator: str | None = None  # name of an extra check in ``validate.py`` (jwt, basic-auth, ...)
    true_examples: tuple[str, ...] = ()
    false_examples: tuple[str, ...] = ()


def _p(regex: str, anchor: str | None = None) -> tuple[Pattern, ...]:
    return (Pattern(regex, anchor=anchor),)


# A value boundary: what may follow a token so ``abc`` is not read as the start of ``abcdef``.
_END = r"(?![A-Za-z0-9_\-])"
_START = r"(?<![A-Za-z0-9_\-])"
# `name = value`, `name: value`, `"name": "value"`, `name := value`, `name => value`, `--name value`
_ASSIGN = r"""\\?["']?\]?[ \t]*(?::=|=>|=|:|[ \t]+(?=\\?["']))[ \t]*"""
# names a generic secret is assigned to; `key` alone only as a whole word
_SECRET_NAMES = (
    r"(?:secret|token"  # noqa: S105 (a pattern of names, not a password)
    r"|api[_\-.]?key|apikey|access[_\-.]?key|auth[_\-.]?key|private[_\-.]?key|credential"
    r"|app[_\-.]?key|master[_\-.]?key|signing[_\-.]?key|encryption[_\-.]?key|session[_\-.]?key"
    r"|consumer[_\-.]?key|_key|auth(?!or)|(?<![A-Za-z])key(?![A-Za-z])|(?-i:(?<=[a-z0-9])Key(?![a-z])))"
)
# a value character; `%2B` (URL-encoded) counts as one, so keys in query strings are read whole
_GENERIC_VALUE = r"(?:[A-Za-z0-9+/=_\-.~]|%[0-9A-Fa-f]{2})"
_PW_STRONG = r"password|passwd|passwrd|passphrase|pwd|_pass(?![a-z])|(?<![a-z])pass_"
# `proxyPass`, `dbPass` (camelCase), `pass` or `pw` alone (not `user:pass`, not `-no-pass`): also a verb, a loop
# pass or a pointer, so only as the whole end of a name, given an explicit operator (or a digit, bare)
_PW_WEAK = r"(?-i:(?<=[A-Za-z0-9])Pass)|(?<![A-Za-z0-9:\-])(?:pass|pw)"
_PW_NAME = r"(?i)(?<![\w.\-])(?P<name>[\w.\-]{0,60}(?:" + _PW_STRONG + r")[\w.\-]{0,20})"
_PW_WEAK_NAME = r"(?i)(?<![\w.\-])(?P<name>[\w.\-]{0,60}(?:" + _PW_WEAK + r"))(?![\w])"
_PW_ANY_NAME = r"(?i)(?<![\w.\-])(?P<name>[\w.\-]{0,60}(?:" + _PW_STRONG + "|" + _PW_WEAK + r")[\w.\-]{0,20})"
_PW_ANCHOR = (
    r"""(?i)(?:pass|pw)[\w.\-]{0,26}\\?["']?\]?[ \t]*"""
    r"""(?:(?::=|=>|=|:)[ \t]*)?(?:``|\\?["'`])[^"'`\n\r\\]{4}"""
)
_PW_ANCHOR_BARE = r"""(?i)(?:pass|pw)[\w.\-]{0,26}["']?[ \t]*[=:][ \t]*[^\s"'`,;#<>\\]{4}"""
_H = Severity.HIGH
_C = Severity.CRITICAL
_M = Severity.MEDIUM
_L = Severity.LOW

# fmt: off
BUILTIN_RULES: tuple[Rule, ...] = (
    # --- cloud -----------------------------------------------------------------------------------------
    Rule(
        "aws-access-key-id", "AWS access key id", _C,
        _p(_START + r"(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})" + _END, r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"),
        keywords=("akia", "asia", "abia", "acca"), entropy=3.0,
        true_examples=("aws_access_key_id = AKIAZ5Q7M3RTW2LXNHB4", '"AccessKeyId": "ASIAV3KQ7ZPN2MWXRT6Y"'),
        false_examples=("AKIAIOSFODNN7EXAMPLE", "AKIAXXXXXXXXXXXXXXXX", "MYAKIAZ5Q7M3RTW2LXNHB4Z"),
    ),
    Rule(
        "aws-secret-access-key", "AWS secret access key", _C,
        _p(r"(?i)aws[\w.-]{0,20}?(?:secret|sk)[\w.-]{0,20}" + _ASSIGN
           + r"""["']?(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])""", r"(?i)aws[\w.-]{0,20}(?:secret|sk)"),
        keywords=("aws",), entropy=4.0,
        true_examples=("aws_secret_access_key = Qx3pV8s7Lm2Nd4Rt9Kw1Zb6Yc5Hf0Gj8Ue3Ai7Op",
                       'AWS_SECRET_KEY: "8Fk2mP9qR4tV7wX1yZ3bC6dE0gH5jK8nL2pS4uW7"'),
        false_examples=("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
                        "aws_secret_access_key = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ),
    Rule(
        "aws-iam-unique-id", "AWS IAM user, role or group unique id (names a principal of an account)", _L,
        _p(_START + r"(?P<secret>(?:AIDA|AROA|AGPA|AIPA|ANPA|ANVA)[A-Z2-7]{17})" + _END,
           r"(?:AIDA|AROA|AGPA|AIPA|ANPA|ANVA)[A-Z2-7]{17}"),
        keywords=("aida", "aroa", "agpa", "aipa", "anpa", "anva"), entropy=3.0,
        true_examples=('"UserId": "AIDAJQ7B3KX2VTZ5MNR4W"', '"unique_id": "AROAZ5Q7M3RTW2LXNHB4K"'),
        false_examples=("AIDAXXXXXXXXXXXXXXXXX", "AROAEXAMPLEEXAMPLEEXA", "MYAIDAJQ7B3KX2VTZ5MNR4W"),
    ),
    Rule(
        "gcp-service-account-key", "Google Cloud service-account private key (JSON key file)", _C,
        _p(r'"private_key"[ \t]*:[ \t]*"-----BEGIN (?:RSA )?PRIVATE KEY-----(?:\\r)?\\n'
           r"(?P<secret>[A-Za-z0-9+/=]{64,})", r'"private_key"[ \t]*:[ \t]*"-----BEGIN'),
        keywords=("private_key",), entropy=4.5,
        true_examples=('"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7'
                       'qM3xV9Lr2pT5wK8nY4bZ1cF6gH0jD3sA7eR9uI2oP5lN8mQ4vW1xE6yB3zC0aG7\\n"',),
        false_examples=('"private_key": "-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n"',),
    ),
    Rule(
        "google-api-key", "Google API key", _H,
        _p(_START + r"(?P<secret>AIza[0-9A-Za-z_\-]{35})" + _END, r"AIza[0-9A-Za-z_\-]{35}"),
        keywords=("aiza",), entropy=3.5,
        true_examples=("key=AIzaSyD3kq9Lm2Vx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2G",),
        false_examples=("AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "AIzaShort"),
    ),
    Rule(
        "google-oauth-access-token", "Google OAuth access token", _H,
        _p(_START + r"(?P<secret>ya29\.[0-9A-Za-z_\-]{30,})" + _END, r"ya29\.[0-9A-Za-z_\-]{30}"),
        keywords=("ya29.",), entropy=3.5,
        true_examples=("token: ya29.a0AfH6SMBx7Lq2Vt9Rk4Np8Wz1Cy5Dh3Fj6Gm0Sb2Ue7Ko",),
        false_examples=("ya29.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",),
    ),
    Rule(
        "azure-storage-key", "Azure storage account key or connection string", _C,
        (
            Pattern(r"(?i)AccountKey[ \t]*=[ \t]*(?P<secret>[A-Za-z0-9+/]{86}==)", anchor=r"(?i)AccountKey[ \t]*="),
            Pattern(r"(?i)azure[\w.-]{0,20}(?:storage|account)[\w.-]{0,10}key" + _ASSIGN
                    + r"""["']?(?P<secret>[A-Za-z0-9+/]{86}==)""", anchor=r"(?i)azure[\w.-]{0,20}(?:storage|account)"),
        ),
        keywords=("accountkey", "azure"), entropy=4.5,
        true_examples=(
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA/"
            "2O76UMFxFkM/R5Kjp1vRt+1fjORS/6ilI8ihN5KXSc7Tvo==;EndpointSuffix=core.windows.net",
        ),
        false_examples=("AccountKey=<your-key>", "AccountKey=" + "A" * 86 + "=="),
    ),
    Rule(
        "firebase-database-url", "Firebase Realtime Database URL (names a database; an open one is readable by anyone)", _L,
        _p(r"(?i)(?<![A-Za-z0-9.\-])(?P<secret>[a-z0-9][a-z0-9\-]{2,62})(?:\.[a-z]{2,}-[a-z]+[0-9])?"
           r"\.(?:firebaseio\.com|firebasedatabase\.app)(?![A-Za-z0-9\-])", r"(?i)\.(?:firebaseio\.com|firebasedatabase\.app)"),
        keywords=("firebaseio.com", "firebasedatabase.app"),
        true_examples=('"databaseURL": "https://shop-prod-7f3a2.firebaseio.com"',
                       "FIREBASE_URL=https://tracker-9b1c-default-rtdb.europe-west1.firebasedatabase.app/"),
        false_examples=('"databaseURL": "https://<your-project>.firebaseio.com"', "https://your-app.firebaseio.com",
                        "see firebaseio.com for details", "https://my-app.firebaseio.company.net/"),
    ),
    # --- version control ---------------------------------------------------------------------------------
    Rule(
        "github-token", "GitHub personal, OAuth, user-to-server, server-to-server or refresh token", _H,
        (
            Pattern(_START + r"(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251})" + _END, anchor=r"gh[pousr]_[A-Za-z0-9]{36}"),
            Pattern(_START + r"(?P<secret>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + _END, anchor="github_pat_"),
        ),
        keywords=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), entropy=3.5,
        true_examples=("GITHUB_TOKEN=ghp_R8kq2Lx9Vm4Tn7Wp1Zb5Yc3Hf6Gj0Ud8Ae2Ks",
                       "gho_T7nV2xQ9mL4kR8pW1zB6yC3dF5gH0jS2aE7u",
                       "github_pat_11ABCDEFG0Kq9Lm2Vx8Rt5_1Pb7Hc4Zf6Jy0Ue2GaQs3Dk8Lr5Mt9Vn1Xw4Yb7Cz2Fh6Jj0Kp3Lq8Mr5Ns"),
        false_examples=("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ghp_short", "ghp_${GITHUB_TOKEN}"),
    ),
    Rule(
        "gitlab-token", "GitLab personal access token", _H,
        _p(_START + r"(?P<secret>glpat-[A-Za-z0-9_\-]{20})" + _END, r"glpat-[A-Za-z0-9_\-]{20}"),
        keywords=("glpat-",), entropy=3.0,
        true_examples=("CI_TOKEN: glpat-Xk2m9QvL7pR4tW1nB6yC",),
        false_examples=("glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-<token>"),
    ),
    # --- chat and webhooks ---------------------------------------------------------------------------
    Rule(
        "slack-token", "Slack bot, user, app or configuration token", _H,
        _p(_START + r"(?P<secret>xox[abposre]-[0-9]{8,14}-[0-9A-Za-z\-]{8,250})" + _END, r"xox[abposre]-[0-9]{8}"),
        keywords=("xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xoxe-"), entropy=3.0,
        true_examples=("SLACK_TOKEN=xoxb-263594206564-2343594206574-FGqddMF8t08v8N7Oq4i57vs1",),
        false_examples=("xoxb-XXXXXXXXXXX-XXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX", "xoxb-token"),
    ),
    Rule(
        "slack-webhook", "Slack incoming webhook URL", _H,
        _p(r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/"
           r"(?P<secret>T[A-Z0-9]{6,12}/[A-Z0-9]{6,12}/[A-Za-z0-9]{20,40})", r"hooks\.slack\.com/"),
        keywords=("hooks.slack.com",), entropy=3.0,
        true_examples=("https://hooks.slack.com/services/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",),
        false_examples=("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",),
    ),
    Rule(
        "discord-webhook", "Discord webhook URL", _H,
        _p(r"https?://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/"
           r"(?P<secret>[A-Za-z0-9_\-]{60,72})", r"discord(?:app)?\.com/api/webhooks/"),
        keywords=("discord",), entropy=3.5,
        true_examples=("https://discord.com/api/webhooks/812345678901234567/" + "Kq9Lm2Vx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2GaQs3Dk8Lr5Mt9Vn1Xw4Yb7Cz2Fh6Jj0Kp3L",),
        false_examples=("https://discord.com/api/webhooks/812345678901234567/" + "x" * 68,),
    ),
    Rule(
        "discord-bot-token", "Discord bot token", _H,
        _p(_START + r"(?P<secret>[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38})" + _END, r"[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27}"),
        keywords=("discord",), entropy=4.0,
        true_examples=("DISCORD_TOKEN=MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",),
        false_examples=("MTk4NjIyNDgzNDcxOTI1MjQ4.xxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxx",),
    ),
    Rule(
        "telegram-bot-token", "Telegram bot API token", _H,
        _p(_START + r"(?P<secret>[0-9]{8,10}:AA[0-9A-Za-z_\-]{33})" + _END, r"[0-9]{8}:AA[0-9A-Za-z_\-]{33}"),
        keywords=(":aa",), entropy=3.5,
        true_examples=("BOT_TOKEN=5872931046:AAHk9Lm2Vx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2GaQ",),
        false_examples=("5872931046:AAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",),
    ),
    # --- payment, mail, messaging, package registries -------------------------------------------------
    Rule(
        "stripe-live-key", "Stripe live secret or restricted key", _C,
        _p(_START + r"(?P<secret>(?:sk|rk)_live_[0-9A-Za-z]{20,99})" + _END, r"[sr]k_live_[0-9A-Za-z]{20}"),
        keywords=("sk_live_", "rk_live_"), entropy=3.5,
        true_examples=("STRIPE_KEY=sk_live_51Hq9Lm2Vx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2GaQs3Dk",),
        false_examples=("sk_test_51Hq9Lm2Vx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2GaQs3Dk", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"),
    ),
    Rule(
        "sendgrid-api-key", "SendGrid API key", _H,
        _p(_START + r"(?P<secret>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + _END, r"SG\.[A-Za-z0-9_\-]{22}\."),
        keywords=("sg.",), entropy=4.0,
        true_examples=("SENDGRID_API_KEY=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",),
        false_examples=("SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",),
    ),
    Rule(
        "twilio-api-key", "Twilio API key sid", _H,
        _p(_START + r"(?P<secret>SK[0-9a-f]{32})" + _END, r"SK[0-9a-f]{32}"),
        keywords=("sk",), entropy=3.2,
        true_examples=("TWILIO_API_KEY=SK4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e",),
        false_examples=("SK00000000000000000000000000000000", "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ),
    Rule(
        "twilio-auth-token", "Twilio auth token", _H,
        _p(r"(?i)twilio[\w.-]{0,20}(?:auth|token|secret)[\w.-]{0,10}" + _ASSIGN
           + r"""["']?(?P<secret>[0-9a-f]{32})""" + _END, r"(?i)twilio[\w.-]{0,20}(?:auth|token|secret)"),
        keywords=("twilio",), entropy=3.2,
        true_examples=("TWILIO_AUTH_TOKEN=9c2e7a1f4b8d3e6a0c5f9b2d7e1a4c8f",),
        false_examples=("TWILIO_AUTH_TOKEN=your_auth_token", "TWILIO_AUTH_TOKEN=00000000000000000000000000000000"),
    ),
    Rule(
        "twilio-account-sid", "Twilio account SID (the user half of a Twilio credential pair)", _L,
        _p(_START + r"(?P<secret>AC[0-9a-f]{32})" + _END, r"AC[0-9a-f]{32}"),
        keywords=("ac",), entropy=3.2,
        true_examples=("TWILIO_ACCOUNT_SID=AC4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e",),
        false_examples=("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "AC00000000000000000000000000000000",
                        "TRAC4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e"),
    ),
    Rule(
        "akamai-edgegrid-token", "Akamai EdgeGrid client or access token", _H,
        _p(_START + r"(?P<secret>akab-[a-z0-9]{16}-[a-z0-9]{16})" + _END, r"akab-[a-z0-9]{16}-[a-z0-9]{16}"),
        keywords=("akab-",), entropy=3.2,
        true_examples=("client_token = akab-q7x2m9k4r1t8v3w6-n5b0c2l7d9f4h1j6",),
        false_examples=("client_token = akab-xxxxxxxxxxxxxxxx-xxxxxxxxxxxxxxxx", "akab-client-token-here"),
    ),
    Rule(
        "mailgun-api-key", "Mailgun API key", _H,
        _p(_START + r"(?P<secret>key-[0-9a-f]{32})" + _END, r"key-[0-9a-f]{32}"),
        keywords=("key-",), entropy=3.2,
        true_examples=("MAILGUN_KEY=key-9c2e7a1f4b8d3e6a0c5f9b2d7e1a4c8f",),
        false_examples=("key-00000000000000000000000000000000",),
    ),
    Rule(
        "npm-token", "npm access token", _H,
        (
            Pattern(_START + r"(?P<secret>npm_[A-Za-z0-9]{36})" + _END, anchor=r"npm_[A-Za-z0-9]{36}"),
            Pattern(r"(?i)_authToken[ \t]*=[ \t]*(?P<secret>[A-Za-z0-9_\-.+/=]{20,})", anchor=r"(?i)_authToken[ \t]*="),
        ),
        keywords=("npm_", "_authtoken"), entropy=3.5,
        true_examples=("//registry.npmjs.org/:_authToken=npm_Kq9Lm2Vx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2GaQs3D",
                       "//npm.acme.io/:_authToken=4b8d3e6a-0c5f-9b2d-7e1a-4c8f9c2e7a1f"),
        false_examples=("//registry.npmjs.org/:_authToken=${NPM_TOKEN}", "npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ),
    Rule(
        "pypi-token", "PyPI upload token", _H,
        _p(_START + r"(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})", r"pypi-AgEIcHlwaS5vcmc"),
        keywords=("pypi-ageichlwas5vcmc",), entropy=3.5,
        true_examples=("password = pypi-AgEIcHlwaS5vcmcCJGQ3ZTk1Y2E3LWQ4NDEtNGQ5Mi1hYjQyLTg0ZjJlNmE2YjE4ZAACKlsz",),
        false_examples=("pypi-AgEIcHlwaS5vcmc",),
    ),
    # --- keys and tokens in standard formats --------------------------------------------------------
    Rule(
        "private-key", "Private key (PEM, OpenSSH or PGP block)", _C,
        _p(r"-----BEGIN(?! ENCRYPTED)[ A-Z0-9_]{0,40}PRIVATE KEY(?: BLOCK)?-----"
           r"""(?:\s|\\[rn]|["',+])*(?:(?!Proc-Type: 4,ENCRYPTED)[A-Za-z][A-Za-z-]{1,30}:[^\n]{0,200}(?:\n|\\n)(?:\s|\\[rn])*)*"""
           r"(?P<secret>[A-Za-z0-9+/=]{40,})", r"-----BEGIN[ A-Z0-9_]{0,40}PRIVATE KEY"),
        keywords=("private key",), entropy=3.5, window_after=4096,
        true_examples=("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3qK9vLm2Xx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2GaQs3Dk8Lr5Mt9Vn\n",
                       "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"),
        false_examples=("-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
                        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3qK9vLm2Xx8Rt5Nw1Pb7\n",
                        "-----BEGIN RSA PRIVATE KEY-----\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"),
    ),
    Rule(
        "private-key-base64", "Base64-encoded PEM private key (Kubernetes Secret data, Helm values, env vars)", _C,
        # base64 of "-----BEGIN": the validator decodes the header and wants an unencrypted PRIVATE KEY
        _p(_START + r"(?P<secret>LS0tLS1CRUdJTi[A-Za-z0-9+/]{100,20000}={0,2})(?![A-Za-z0-9+/=])", r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{100}"),
        keywords=("ls0tls1crudjti",), entropy=4.0, validator="base64-pem",
        true_examples=("  tls.key: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVBM3FLOXZMbTJYeDhSdDVOdzFQYjdIYzRaZjZKeTBVZTJH"
                       "YVFzM0RrOExyNU10OVZuCnE3VmsyeExtOVJ0NE53OFBiMUhjNlpmM0p5MFVlNUdhUXMyRGs3THI0TXQxVm44WHczWWI2Q3o5RmgySmo1S3AwCg==",),
        false_examples=("  tls.crt: LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUlJQklqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQ0FROEFNSUlCQ2dLQ0FRRUEzcUs5dkxtMlh4OFJ0NU53MVBiNwo=",
                        "  key: LS0tLS1CRUdJTiBFTkNSWVBURUQgUFJJVkFURSBLRVktLS0tLQpNSUlGSHpCSkJna3Foa2lHOXcwQkJRMHdQREFiQmdrcWhraUc5dzBCQlF3d0RnUUlxN1ZrMnhMbTlSdDRBZ0lJQUQK"),
    ),
    Rule(
        "private-key-der-base64", "Private key as one base64 DER string, without PEM armour (PKCS#8, PKCS#1 RSA, SEC1 EC)", _C,
        # the fixed DER prefixes, base64: PKCS#8 `30 82 .. .. 02 01 00 30 0d 06 09 <rsaEncryption>` (and the
        # P-256 form `30 81 87 02 01 00 30 13 <ecPublicKey>`), PKCS#1 `30 82 .. .. 02 01 00 02 82`, SEC1 `30 77 02 01 01 04 20`
        # (not on a line that continues base64 from the line before: the DER prefix only ever opens a key)
        _p(_START + r"(?<![A-Za-z0-9+/=]\n)(?<![A-Za-z0-9+/=]\r\n)(?P<secret>(?:MII[A-Za-z0-9+/]{3}IBA(?:DANBgkqhkiG9w0BAQEFAASC|AKCA|AKBg)|MIGHAgEAMBMGByqGSM49AgEG|MHcCAQEEI)"
           r"[A-Za-z0-9+/]{40,20000}={0,2})(?![A-Za-z0-9+/=])",
           r"(?:MII[A-Za-z0-9+/]{3}IBA(?:DANBgkqhkiG9w0BAQEFAASC|AKCA|AKBg)|MIGHAgEAMBMGByqGSM49AgEG|MHcCAQEEI)[A-Za-z0-9+/]{40}"),
        keywords=("miie", "miic", "mij", "migh", "mhccaqeei"), entropy=4.5,
        true_examples=('String privateKey = "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwpU3KGCUwux1tEyze1iN7LtkeP3IfyxlxF0SU1kk8nVw0YL4xIB5p/tqg7ui5mX9cfCmZ/a/lkyU81lSvTfrXFCegrrP+6SMvivIhH57kkcWxC+y1Vjv8Hm+T";',
                       "RSA_KEY=MIIEowIBAAKCAQEApU3KGCUwux1tEyze1iN7LtkeP3IfyxlxF0SU1kk8nVw0YL4xIB5p/tqg7ui5mX9cfCmZ/a/lkyU81lSvTfrXFCegrrP+6SMvivIhH57kkcWxC+y1Vjv8Hm+T",
                       "ec_key: MHcCAQEEIApU3KGCUwux1tEyze1iN7LtkeP3IfyxlxF0SU1kk8nVw0YL4xIB5p/tqg7ui5"),
        false_examples=("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApU3KGCUwux1tEyze1iN7LtkeP3IfyxlxF0SU1kk8nVw0YL4xIB5p/tqg7ui5mX9cfCmZ/a/lkyU81lSvTfrXFCegrrP+6SMvivIhH57kkcWxC+y1Vjv8Hm+T",
                        "MIIEowIBAAKCAQEA" + "A" * 120, "Qk3x" * 16 + "\nMIIEowIBAAKCAQEA" + "Zq8Lm2Vx7Rt5Nw1Pb4Hc9Jf" * 3,
                        "XMIIEowIBAAKCAQEApU3KGCUwux1tEyze1iN7LtkeP3IfyxlxF0SU1kk8nVw0YL4xIB5p/tqg7ui5mX9cfCmZ/a/lkyU81lSvTfrXFCegrrP+6SMvivIhH57kkcWxC+y1Vjv8Hm+T"),
    ),
    Rule(
        "jwt", "JSON Web Token", _M,
        _p(_START + r"(?P<secret>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})" + _END, r"eyJ[A-Za-z0-9_\-]{8}[A-Za-z0-9_\-]*\.eyJ"),
        keywords=("eyj",), entropy=3.0, validator="jwt",
        true_examples=("Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",),
        false_examples=("eyJub3RhIjoiand0In0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",),
    ),
    Rule(
        "url-credentials", "URL with an embedded password", _H,
        _p(r"(?i)(?<![A-Za-z0-9+.\-])[a-z][a-z0-9+.\-]{1,20}://[^\s:@/\"'<>()\[\]{}\\]{1,64}:"
           r"(?P<secret>[^\s:@/\"'<>()\[\]{}\\]{3,128})@[A-Za-z0-9.\-_\[\]]{2,}",
           r"://[^\s:@/]{1,64}:[^\s:@/]{3,128}@"),
        keywords=("://",), validator="url-password", generic=True,
        true_examples=("DATABASE_URL=postgres://app:Vq7xL2mP9kR4@db.internal:5432/app",
                       "amqp://guest:Sx8Pq3Lm7Ty2@rabbit:5672/"),
        false_examples=("postgres://user:password@localhost/db", "mysql://root:${MYSQL_ROOT_PASSWORD}@db/app",
                        "https://user:<password>@host", "http://user:pass@example.com",
                        "git@github.com:org/repo.git"),
    ),
    Rule(
        "http-basic-auth", "HTTP Basic authorization credentials", _H,
        _p(r"(?i)\bbasic[ \t]+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])", r"(?i)basic[ \t]+[A-Za-z0-9+/]{8}"),
        keywords=("basic",), validator="basic-auth",
        true_examples=("Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",),
        false_examples=("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Basic authentication is supported",
                        "Authorization: Basic Zm9vYmFy"),
    ),
    Rule(
        "bearer-token", "HTTP Bearer token", _M,
        _p(r"(?i)\bbearer[ \t]+(?P<secret>[A-Za-z0-9_\-.~+/]{20,}=*)(?![A-Za-z0-9_\-.~+/=])",
           r"(?i)bearer[ \t]+[A-Za-z0-9_\-.~+/]{20}"),
        keywords=("bearer",), entropy=3.5, generic=True,
        true_examples=('curl -H "Authorization: Bearer 6f1a9c2e7b4d8e3a0c5f9b2d7e1a4c8f3b6d"',),
        false_examples=("Authorization: Bearer YOUR_ACCESS_TOKEN_HERE", "Bearer ${TOKEN}",
                        "Authorization: Bearer <token>"),
    ),
    Rule(
        "powershell-securestring", "Plain-text password passed to ConvertTo-SecureString", _H,
        _p(r"""(?i)ConvertTo-SecureString[ \t]+(?:-String[ \t]+)?["'](?P<secret>[^"'\s$]{4,128})["'][ \t]+"""
           r"-AsPlainText", r"(?i)ConvertTo-SecureString"),
        keywords=("convertto-securestring",), generic=True,
        true_examples=('$p = ConvertTo-SecureString "Pz8!kq2Lx9" -AsPlainText -Force',),
        false_examples=('ConvertTo-SecureString "$env:PASS" -AsPlainText -Force',
                        "ConvertTo-SecureString 'changeme' -AsPlainText -Force"),
    ),
    Rule(
        "http-digest-auth", "HTTP Digest authorization response (a hash of the password, replayable and crackable)", _M,
        _p(r"""(?i)\bdigest[ \t]+username=\\?["'][^"'\\\n]{1,64}\\?["'][^\n]{0,400}?\bresponse=\\?["']?(?P<secret>[0-9a-f]{32,128})\b""",
           r"(?i)digest[ \t]+username="),
        keywords=("digest",), entropy=3.0,
        true_examples=('Authorization: Digest username="ops", realm="api", nonce="dcd98b7102dd2f0e", uri="/", '
                       'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9"',),
        false_examples=('Authorization: Digest username="ops", realm="api", response="00000000000000000000000000000000"',
                        "Digest username is required"),
    ),
    Rule(
        "ntlm-authenticate", "NTLM authenticate message (type 3: carries the password-derived responses, crackable)", _M,
        # base64 of the signature "NTLMSSP\0" followed by message type 3 (MS-NLMP 2.2.1.3)
        _p(_START + r"(?P<secret>TlRMTVNTUAADAAAA[A-Za-z0-9+/]{40,4000}={0,2})(?![A-Za-z0-9+/=])", r"TlRMTVNTUAADAAAA[A-Za-z0-9+/]{40}"),
        keywords=("tlrmtvntuaadaaaa",), entropy=3.0,
        true_examples=("Authorization: NTLM TlRMTVNTUAADAAAAGAAYAEgAAAAYABgAYAAAAAwADAB4AAAACAAIAIQAAAAQABAAjAAAAAAAAACcAAAABYKIogUBKAoAAAAP"
                       "q7Vk2xLm9Rt4Nw8Pb1Hc6Zf3Jy0Ue5GaQs2Dk7Lr4Mt1Vn8Xw3Yb6Cz9Fh2Jj5Kp0",),
        false_examples=("Authorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
                        "WWW-Authenticate: NTLM TlRMTVNTUAACAAAADAAMADgAAAAFgomiq7Vk2xLm9Rt4AAAAAAAAAAA"),
    ),
    Rule(
        "cli-user-password", "user:password given to curl, wget or httpie on the command line", _H,
        _p(r"""(?i)(?:^|[\s;|&(])(?:curl|wget|http|https)\b[^\n]{0,200}?[ \t](?:-u|--user|--auth|-a|--http-user)[ \t=]+["']?"""
           r"""[^\s:"'$@]{1,64}:(?P<secret>[^\s"'$]{4,128})["']?(?=\s|$)""",
           r"(?i)(?:curl|wget|http)\b[^\n]{0,200}[ \t](?:-u|--user|--auth|-a|--http-user)[ \t=]"),
        keywords=("curl", "wget"), generic=True, validator="password",
        true_examples=("curl -s --user 'admin:q7Rx2kLm' https://registry.local/v2/_catalog",
                       "curl -u deploy:Vx8pQ2mz https://ci.local/api"),
        false_examples=("curl -u admin:$ADMIN_PASSWORD https://host", "curl --user user:password https://host",
                        "curl -u \"$USER:$PASS\" https://host", "curl -u token: https://host"),
    ),
    Rule(
        "cli-password", "Password given unquoted to a command-line option (--password VALUE)", _M,
        # `-CertFilePassword VALUE`: PowerShell parameters end in Password
        _p(r"""(?i)(?:^|[\s"'])(?:--password|--passwd|--pass|-[a-z]{0,30}password|-p(?:ass)?wd)[ \t](?P<secret>[^\s"'$<>{}\[\]|`%]{4,128})(?=\s|$)""",
           r"(?i)-(?:-password|-passwd|-pass|[a-z]{0,30}password|pwd|passwd)[ \t][^\s\"'$]{4}"),
        keywords=("--password", "-password"), generic=True, validator="cli-password",
        true_examples=("mysqladmin --user root --password Rcq8Lm2x status", "Invoke-Spray -UserList u.txt -Password Wq7!rkz2",
                       r"PS> .\Deploy.ps1 -Certificate C:\certs\app.pfx -CertFilePassword Kq7@vx2Lm9 -Verbose"),
        false_examples=("-W, --password  force password prompt", "the --password flag may be used",
                        "--password $DB_PASSWORD", "--password <password>", "app --password password",
                        "--no-password prompt", "-ResetPassword required"),
    ),
    Rule(
        "sql-password", "Password set in SQL (IDENTIFIED BY, SET PASSWORD, CREATE LOGIN/ROLE ... PASSWORD, PASSWORD())", _M,
        (
            Pattern(r"""(?i)\b(?:identified(?:[ \t]+with[ \t]+\w+)?[ \t]+by(?:[ \t]+password)?|set[ \t]+password[ \t]*(?:for[ \t]+\S+[ \t]*)?=)"""
                    r"""[ \t]*(?:password[ \t]*\([ \t]*)?\\?["'`](?P<secret>[^\s"'`;)\\]{4,128})\\?["'`]""",
                    anchor=r"(?i)(?:identified[ \t]|set[ \t]+password)"),
            Pattern(r"""(?i)\bidentified[ \t]+by[ \t]+(?P<secret>(?=[A-Za-z_]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9_#$]{4,128})(?=[\s;]|$)""",
                    anchor=r"(?i)identified[ \t]+by[ \t]+[A-Za-z0-9_#$]{4}"),
            # CREATE LOGIN (SQL Server) / CREATE ROLE (PostgreSQL) ... PASSWORD 'x'; MySQL's PASSWORD('x') function
            Pattern(r"""(?i)\b(?:create|alter)[ \t]+(?:user|role|login)\b[^\n;]{0,160}?\bpassword[ \t]*=?[ \t]*'{1,4}"""
                    r"""(?P<secret>[^\s'";)\\]{4,128})'""", anchor=r"(?i)(?:create|alter)[ \t]+(?:user|role|login)[ \t]"),
            Pattern(r"""(?i)(?<![\w.])password\([ \t]*'(?P<secret>[^\s'";)\\]{4,128})'[ \t]*\)""", anchor=r"(?i)password\([ \t]*'"),
        ),
        keywords=("identified by", "set password", "password"), generic=True, case_insensitive=True, validator="password",
        true_examples=("CREATE USER 'app'@'%' IDENTIFIED BY 'qX7v2Lm9k';",
                       "ALTER USER root IDENTIFIED WITH mysql_native_password BY 'Rk4-pz8Wq';",
                       "create user app identified by Kx82mq5 default tablespace users;",
                       "CREATE LOGIN etl WITH PASSWORD = 'Vq7-xL2mP9';", "CREATE ROLE app WITH LOGIN PASSWORD 'pz8Wq-Rk4';",
                       "INSERT INTO mysql.user (user, password) VALUES ('app', PASSWORD('Tz4kq9Lm'));"),
        false_examples=("CREATE USER app IDENTIFIED BY 'password';", "IDENTIFIED BY '${DB_PASSWORD}'",
                        "CREATE USER app IDENTIFIED BY :pw;", "the TaskQueue identified by this SID",
                        "CREATE LOGIN etl WITH PASSWORD = @pw;", "identified by username", "SELECT PASSWORD('changeme');"),
    ),
    # --- generic assignments -------------------------------------------------------------------------
    Rule(
        "password-assignment", "Password assigned in configuration or code", _M,
        (
            Pattern(_PW_NAME + _ASSIGN + r"""(?:``|\\?["'`])(?P<secret>[^"'`\n\r\\]{4,128})\\?["'`]""",
                    anchor=_PW_ANCHOR),
            # compared with a literal: `if password == "..."`, `string(pass) == '...'`, `pw.equals("...")`
            Pattern(_PW_ANY_NAME + r"""[\])}"'`]{0,3}[ \t]*(?:===?|!==?|\.equals\()[ \t]*\\?["'`](?P<secret>[^"'`\n\r\\]{4,128})\\?["'`]""",
                    anchor=r"""(?i)(?:pass|pw)[\w.\-]{0,26}[\])}"'`]{0,3}[ \t]*(?:==|!=|\.equals\()[ \t]*\\?["'`]"""),
            # `set PASSWORD value` (Metasploit, psql `\set`, Redis `CONFIG SET requirepass`); prose has no digits
            Pattern(r"""(?im)(?:^|[\s>])(?:\\?set|config[ \t]+set)[ \t]+""" + _PW_ANY_NAME[4:]
                    + r"""[ \t]+(?P<secret>(?=\S*[0-9])[^\s"'`]{4,128})[ \t]*$""",
                    anchor=r"(?i)set[ \t]+[\w.\-]{0,60}(?:pass|pw)[\w.\-]{0,26}[ \t]+[^\s\"'`]{4}"),
            Pattern(_PW_NAME + r"""["']?[ \t]*[=:][ \t]*(?P<secret>[^\s"'`,;#<>\\]{4,128})(?=$|[\s,;#"'\\])""",
                    config_only=True, anchor=_PW_ANCHOR_BARE),
            # weak names hold other things too (`'allPass': 'overEvery'` in lodash): a quoted value needs a digit
            Pattern(_PW_WEAK_NAME + r"""\\?["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*(?:``|\\?["'`])(?P<secret>(?=[^"'`\n\r\\]*[0-9])[^"'`\n\r\\]{4,128})\\?["'`]""",
                    anchor=_PW_ANCHOR),
            Pattern(_PW_WEAK_NAME + r"""["']?[ \t]*[=:][ \t]*(?P<secret>(?=[^\s"'`,;#<>\\]*[0-9])(?=[^\s"'`,;#<>\\]*[A-Za-z])"""
                    r"""[^\s"'`,;#<>\\]{4,128})(?=$|[\s,;#"'\\])""", config_only=True, anchor=_PW_ANCHOR_BARE),
            Pattern(r"""(?i)(?:^|[\s"'])(?:--password|--passwd|-password)(?:=["']?|[ \t]+["'])"""
                    r"""(?P<secret>[^\s"'$]{4,128})""", anchor=r"(?i)-(?:-password|-passwd|password)[= \t]"),
            Pattern(r"""(?i)(?<![\w\-])(?P<name>set\w{0,20}(?:password|passwd))\([ \t]*["'](?P<secret>[^"'\n\r\\]{4,128})["'][ \t]*\)""",
                    anchor=r"""(?i)set\w{0,20}(?:password|passwd)\([ \t]*["']"""),
        ),
        keywords=("pass", "pwd"), generic=True, case_insensitive=True, validator="password",
        true_examples=('DB_PASSWORD="Tr0ub4dor&3x"', "password: kq8Vt2Lm", "spring.datasource.password=Zx81qLm4",
                       "const password = 'talnrk8Sq';", "mysql -u root --password=Zx81qLm4 app",
                       'user.setPassword("Qx7rL2m9");', 'const string proxyPass = "Kq7vXe2m";', 'pw = "Rk4-pz8Wq_x"',
                       "msfvenom -p windows/adduser USER=svc PASS=Tz4kq9Lm", "password: 'Rx#3GQ]zR3q=Z}',",
                       '&Config{User: "app", Passwd: "v@q(w8zp)", Net: "tcp"}', "> Admin password: ``Qx7-rL2m9``",
                       'if c.User() == "ops" && string(pass) == "Vx8pQ2mz" {', 'if [ "${password}" == "kq8Vt2Lm" ]; then',
                       "msf6 > set SMBPass Rk4pz8Wq", "\\set POSTGRES_PASS Lq9hd7rz"),
        false_examples=("password = ${DB_PASSWORD}", 'password = "changeme"', "password: <your password>",
                        'password = "password"', "Password: d.config.Password,", "password = getenv('PW')",
                        "password_hash = 'a'", 'PASSWORD = ""', "password: !vault |", "password=123456",
                        'password = "letmein123"', "$pwd = 'asdf';", 'user.setPassword("changeme");',
                        "Get-GPPPassword.py -no-pass 'DOMAIN_CONTROLLER'", '--auth "user:pass" : Creds to connect with',
                        'password: "(optional)"', 'password = "[hidden]"', 'password = "getValue(key)"',
                        'if password == "":', "if (password !== 'undefined')", "Set password for the admin account",
                        "set pass-through mode", 'if [ "$PASSWORD" == "$CONFIRM" ]; then',
                        '"git pull" did not pass "-v/-q" options', "CurrPass  : byte;", "kHighPassFilterSetting = 'hipf'",
                        "secret = pass:insta", "PW : PWindow;", "  'allPass': 'overEvery',"),
    ),
    Rule(
        "credential-constructor", "Literal password given to a credential object (new NetworkCredential(\"u\", \"p\"))", _M,
        # `new XCredential("p")`, `new XCredentials("u", "p")`, Kotlin `= XPassword("p")`: the last of one or two literals
        _p(r"""(?:\bnew[ \t]+|=[ \t]*)(?P<name>[A-Z]\w{0,40}(?:Credentials?|CredentialValue|Password|PasswordAuthentication|Secret))"""
           r"""\([ \t]*(?:"[^"\n\\]{0,64}"[ \t]*,[ \t]*)?"(?P<secret>[^"\n\\]{4,128})"[ \t]*\)""",
           r"""(?:Credentials?|CredentialValue|Password|PasswordAuthentication|Secret)\([ \t]*\""""),
        keywords=("credential", "password", "secret"), generic=True, validator="password",
        true_examples=('var c = new NetworkCredential("svc-backup", "Qr7!vx2Lm");',
                       'val pw = StringCredentialValue("kq8Vt2Lmzr")',
                       'creds = new UsernamePasswordCredentials("deploy", "Zx81qLm4");'),
        false_examples=('new NetworkCredential("user", "password")', 'new NetworkCredential(user, pass)',
                        'throw new InvalidPassword("Wrong password")', 'var c = new NetworkCredential("admin", "changeme");',
                        'store.save(new Credential("/team/db-credential"));'),
    ),
    Rule(
        "session-cookie", "Session cookie value (a logged-in session: whoever holds it is that user)", _M,
        _p(r"""(?i)(?<![\w.\-])[\w.\-]{0,40}(?:sid|sess|session|session_?id)="""
           r"""(?P<secret>[A-Za-z0-9%_\-.+/:]{32,512})(?=$|[;\s&"',])""",
           r"(?i)(?:sid|sess|session|session_?id)=[A-Za-z0-9%_\-.+/:]{32}"),
        keywords=("sid=", "sess", "session"), entropy=4.0, generic=True, validator="generic",
        true_examples=("Set-Cookie: connect.sid=s%3AqL7vx2Kd9Rt4Nw8Pb1Hc6Zf3Jy0Ue5G.aQs2Dk7Lr4Mt1Vn8Xw3Yb6Cz9Fh2Jj5Kp0; Path=/; HttpOnly",
                       "Cookie: PHPSESSID=9f2c41d7a03b8e65c1f0d94a7b2e3c58a1; lang=en"),
        false_examples=("Set-Cookie: session=deleted; expires=Thu, 01 Jan 1970 00:00:00 GMT",
                        "Cookie: sessionid=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                        "session_timeout=3600000000000000000000000000000000"),
    ),
    Rule(
        "generic-secret", "High-entropy value assigned to a key, token or secret name", _M,
        (
            Pattern(r"(?i)(?<![\w.\-])(?P<name>[\w.\-]{0,60}" + _SECRET_NAMES + r"[\w.\-]{0,20})"
                    + _ASSIGN + r"""(?:``|\\?["'`])?(?P<secret>""" + _GENERIC_VALUE + r"""{16,1000})(?![A-Za-z0-9+/=_\-.~])""",
                    anchor=r"(?i)(?:secret|token|key|credential|auth)"
                    r"""[\w.\-]{0,20}\\?["']?\]?[ \t]*(?::=|=>|=|:|[ \t]+\\?["'])[ \t]*(?:``|\\?["'`])?[A-Za-z0-9+/=_\-.~%]{16}"""),
            # a JSON document stored as a string under a secret name: its values are the secret
            Pattern(r"(?i)(?<![\w.\-])(?P<name>[\w.\-]{0,60}" + _SECRET_NAMES + r"[\w.\-]{0,20})"
                    + _ASSIGN + r"""["']\{[^{}\n]{0,200}?:[ \t]*\\?["'](?P<secret>""" + _GENERIC_VALUE + r"""{16,1000})\\?["']""",
                    anchor=r"""(?i)(?:secret|token|key|credential|auth)[\w.\-]{0,20}\\?["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*["']\{"""),
            # a list of values under a secret name: `api_keys = ["...", "..."]` (the first element is reported)
            Pattern(r"(?i)(?<![\w.\-])(?P<name>[\w.\-]{0,60}" + _SECRET_NAMES + r"[\w.\-]{0,20})"
                    + _ASSIGN + r"""\[[ \t]*\\?["'](?P<secret>""" + _GENERIC_VALUE + r"""{16,1000})\\?["']""",
                    anchor=r"""(?i)(?:secret|token|key|credential|auth)[\w.\-]{0,20}\\?["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*\[[ \t]*\\?["']"""),
            # a setter or builder given the literal: setAuthToken("..."), withApiKey('...')
            Pattern(r"(?i)(?<![\w\-])(?P<name>(?:set|with)[\w]{0,30}(?:secret|token|key|credential|auth)[\w]{0,10})"
                    r"""\([ \t]*["'](?P<secret>""" + _GENERIC_VALUE + r"""{16,1000})["']""",
                    anchor=r"""(?i)(?:set|with)\w{0,30}(?:secret|token|key|credential|auth)\w{0,10}\([ \t]*["']"""),
        ),
        keywords=("secret", "token", "key", "credential", "auth"), entropy=3.3, min_length=16, generic=True,
        case_insensitive=True, validator="generic",
        true_examples=("api_key = 'Zq8Lm2Vx7Rt5Nw1Pb4Hc9Jf'", 'client_secret: "6f1a9c2e7b4d8e3a0c5f9b2d7e1a4c8f"',
                       '"{\\"access_token\\":\\"Qm9Lx2Vt7Rk4Np8Wz1Cy5Dh3\\"}"', "'key' => 'k3Jx9Vq2Lm7Tz4Wp8Rn1Ys6B'",
                       "SECRET_KEY=k3Jx9Vq2Lm7Tz4Wp8Rn1Ys6B", "DNS_API_KEY=wqhxkzrtplmvbnfgjdsw",
                       'validationKey="9F2C41D7A03B8E65C1F0D94A7B2E3C58"', '"apiToken": "{\\"v\\":\\"1\\",\\"k\\":\\"q81v2x9m4t6p3w7z5k0r\\"}"',
                       'valid_tokens = ["9f28a64c1e7b3d50", "c3797e40f18c7fb4"]', 'client.setAuthToken("Kq9Lm2Vx8Rt5Nw1Pb7Hc");',
                       "https://chat.local/join?k=1&authKey=DwvY2hdT3g9K6o%2Buu7rPcT8y%2Fec0uMWkd&x=0",
                       "'fs.s3a.secret.key': 'Ulwfx9R9FlKIlV7L8zfqtXAeyO0Kk5S2'",
                       'String privateKey = "Qm9Lx2Vt7Rk4Np8Wz1Cy5Dh3FoOj6Gm0Sb2Ue7KaTq4Yr8Hw3Lz";',
                       "> Consumer Key: ``Rk4Np8Wz1Cy5Dh3F``"),
        false_examples=("api_key = 'YOUR_API_KEY_HERE_PLEASE'", "token = 'aaaaaaaaaaaaaaaaaaaa'",
                        "secret_key = os.environ['SECRET_KEY']", "token_type = 'bearer'",
                        "api_key = 'test_api_key_value_1234'", "tokenizer = 'bert-base-uncased-model'",
                        "public_key = 'ssh-rsa'", "monkey = 'k3Jx9Vq2Lm7Tz4Wp8Rn1Ys6B'",
                        '"license_key": "LicenseRef-scancode-adobe-2014"', "private_key: Ed25519PrivateKey | None",
                        '"key": "Strict-Transport-Security"', '"key": "published_tracks_total"',
                        'sha1Key = "da39a3ee5e6b4b0d3255bfef95601890afd80709"', 'settings.setTokenStore("redisTokenStoreBackend")',
                        'tokens = ["access_token_value", "refresh_token_value"]',
                        "/commits?per_page=5&author=jane.doe%40mailhost.net", "DNS_API_TOKEN=1234567890abcdefghijklmnopqrstuvwxyz",
                        'api_key = "thisIsAFakeTokenForTestingPurposesOnly123"', "ssl.key = 'server-certificate-2024.key'"),
    ),
)
# fmt: on
