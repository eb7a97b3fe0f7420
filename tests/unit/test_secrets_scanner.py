"""Secret scanning of real layers through the unpacker, of image configs, and redaction on every output."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Sequence

from imagetrust.audit.findings import Finding, Severity
from imagetrust.audit.secrets import SecretScanner, scan_config, scan_file
from imagetrust.audit.secrets.scanner import BLOCK, UNCOUNTED, default_matcher
from imagetrust.audit.unpack import FileIndex, LayerInput, unpack_layers
from imagetrust.limits import Limits
from imagetrust.oci.manifest import ImageConfig, parse_config
from tests.support.images import ConfigSpec, File, LayerSpec, Whiteout, build_image

GH = "ghp_R8kq2Lx9Vm4Tn7Wp1Zb5Yc3Hf6Gj0Ud8Ae2Ks"
AWS_ID = "AKIAZ5Q7M3RTW2LXNHB4"
AWS_SECRET = "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"
NPM = "npm_Kq9Lm2Vx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2GaQs3D"
DB_PASSWORD = "Tr0ub4dor&3xq"
PEM_BODY = "MIIEpAIBAAKCAQEA3qK9vLm2Xx8Rt5Nw1Pb7Hc4Zf6Jy0Ue2GaQs3Dk8Lr5Mt9Vn"
ALL_SECRETS = (GH, AWS_ID, AWS_SECRET, NPM, DB_PASSWORD, PEM_BODY)


def _scan(
    layers: Sequence[LayerSpec], config: ConfigSpec | None = None, limits: Limits | None = None
) -> tuple[list[Finding], SecretScanner, FileIndex, ImageConfig, list[LayerInput]]:
    image = build_image(layers, config)
    inputs = [LayerInput(io.BytesIO(b.data), b.descriptor.digest, "gzip") for b in image.layers]
    scanner = SecretScanner(limits=limits) if limits else SecretScanner()
    index = unpack_layers(inputs, visitors=[scanner])
    cfg = parse_config(image.config.data, image.config.descriptor.digest)
    layer_digests = [b.descriptor.digest for b in image.layers]
    findings = scanner.findings(index) + scan_config(cfg, layers=layer_digests)
    return findings, scanner, index, cfg, inputs


def _assert_redacted(findings: Sequence[Finding], *extra: object) -> None:
    """No secret in JSON, repr, str or titles of anything the scanner hands out."""
    outputs = [json.dumps([f.to_json() for f in findings]), repr(findings), str(findings)]
    outputs += [f.title for f in findings] + [repr(x) for x in extra]
    for text in outputs:
        for secret in ALL_SECRETS:
            assert secret not in text
            assert secret[4:] not in text


def test_secret_added_then_deleted_is_reported_with_both_layers() -> None:
    add = LayerSpec.from_files({"app/.env": f"GITHUB_TOKEN={GH}\n", "app/main.py": "print('hi')\n"})
    delete = LayerSpec((Whiteout("app/.env"),))
    findings, scanner, index, _, inputs = _scan([add, delete])
    [finding] = [f for f in findings if f.path is not None]
    assert finding.id == "github-token"
    assert finding.path == "app/.env"
    assert finding.layer == inputs[0].digest
    assert finding.detail("present") is False
    assert finding.detail("deleted_by") == str(inputs[1].digest)
    assert finding.detail("line") == 1
    assert finding.severity is Severity.HIGH
    assert index.get("app/.env") is None
    _assert_redacted(findings, scanner.hits, scanner.unknowns)


def test_secret_overwritten_by_later_layer_is_still_reported() -> None:
    first = LayerSpec.from_files(
        {"etc/app.conf": f"aws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n"}
    )
    second = LayerSpec.from_files({"etc/app.conf": "aws_access_key_id = from-instance-role\n"})
    findings, *_rest, inputs = _scan([first, second])
    file_findings = sorted((f for f in findings if f.path), key=lambda f: f.detail("line"))
    assert [(f.id, f.detail("line"), f.detail("present")) for f in file_findings] == [
        ("aws-access-key-id", 1, False),
        ("aws-secret-access-key", 2, False),
    ]
    assert all(f.detail("deleted_by") == str(inputs[1].digest) for f in file_findings)
    _assert_redacted(findings)


def test_present_secret_and_line_numbers() -> None:
    body = "# settings\n\n" + "x = 1\n" * 40 + f'DB_PASSWORD="{DB_PASSWORD}"\n'
    findings, *_ = _scan([LayerSpec.from_files({"srv/settings.env": body})])
    [finding] = [f for f in findings if f.path]
    assert (finding.id, finding.detail("line"), finding.detail("present")) == (
        "password-assignment",
        43,
        True,
    )
    assert finding.detail("preview") == "Tr…(13 chars)"
    assert finding.detail("length") == len(DB_PASSWORD)
    _assert_redacted(findings)


def test_private_key_spanning_lines() -> None:
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n"
    findings, *_ = _scan([LayerSpec.from_files({"root/.ssh/id_rsa": "\n\n" + pem})])
    [finding] = [f for f in findings if f.path]
    assert (finding.id, finding.detail("line"), finding.severity) == ("private-key", 3, Severity.CRITICAL)
    _assert_redacted(findings)


def test_env_labels_cmd_and_build_args_in_history() -> None:
    config = ConfigSpec(
        env=("PATH=/usr/bin", f"NPM_TOKEN={NPM}", f"DB_PASSWORD={DB_PASSWORD}"),
        labels={"deploy.key": GH},
        cmd=("/app/run", "--password", f"'{DB_PASSWORD}'"),
    )
    build = LayerSpec.from_files(
        {"app/x": "1\n"}, created_by=f"|1 GITHUB_TOKEN={GH} /bin/sh -c git clone https://github.com/acme/app"
    )
    url = LayerSpec.from_files(
        {"app/y": "2\n"},
        created_by="/bin/sh -c curl -fsS https://deploy:Vq7xL2mP9kR4@artifacts.acme.io/app.tgz",
    )
    findings, _, _, _, inputs = _scan([build, url], config)
    where = {(f.id, f.detail("location")) for f in findings}
    assert ("npm-token", "config.Env[1]") in where
    assert ("password-assignment", "config.Env[2]") in where
    assert ("github-token", "config.Labels[deploy.key]") in where
    assert ("password-assignment", "config.Cmd") in where
    assert ("github-token", "history[0].created_by") in where
    assert ("url-credentials", "history[1].created_by") in where
    assert not any(f.detail("location") == "config.Env[0]" for f in findings)
    by_loc = {f.detail("location"): f for f in findings}
    assert by_loc["history[0].created_by"].layer == inputs[0].digest
    assert by_loc["history[1].created_by"].layer == inputs[1].digest
    assert by_loc["config.Env[1]"].path is None
    _assert_redacted(findings)


def test_placeholders_and_references_are_not_findings() -> None:
    text = (
        "password = ${DB_PASSWORD}\n"
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "token: <your token here>\n"
        "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
        'api_key = "changeme"\n'
    )
    findings, *_ = _scan([LayerSpec.from_files({"etc/app.env": text})])
    assert [f for f in findings if f.path] == []


def test_lockfiles_skipped_and_test_paths_downgraded() -> None:
    lock = '{"packages": {"x": {"integrity": "sha512-' + "Qx3pV8s7Lm2Nd4Rt9Kw1Zb6Y" * 3 + '"}}}\n'
    layer = LayerSpec.from_files(
        {
            "app/package-lock.json": lock + f"token = '{GH}'\n",
            "usr/lib/python3/site-packages/x/tests/test_x.py": f"TOKEN = '{GH}'\n",
        }
    )
    findings, *_ = _scan([layer])
    [finding] = [f for f in findings if f.path]
    assert finding.path == "usr/lib/python3/site-packages/x/tests/test_x.py"
    assert finding.severity is Severity.LOW
    assert finding.detail("test_path") is True


def test_binary_files_get_only_specific_rules() -> None:
    blob = b"\x7fELF\0\0\0" + f"password = 'Zx81qLm4abc' {AWS_ID}".encode() + b"\0" * 10
    findings, *_ = _scan([LayerSpec((File("usr/bin/tool", blob, 0o755),))])
    assert [f.id for f in findings if f.path] == ["aws-access-key-id"]


def test_secret_across_a_block_boundary_found_once_with_its_line() -> None:
    matcher = default_matcher()
    filler = b"a" * 99 + b"\n"
    prefix = b"export GITHUB_TOKEN="
    for offset in (20, 2000, 20000):  # token straddles the block end; inside the overlap; before it
        lines = filler * ((BLOCK - offset) // 100)
        pad = BLOCK - offset - len(lines) - len(prefix) - 1
        data = lines + b"b" * pad + b"\n" + prefix + GH.encode() + b"\n" + filler * 20000
        assert data.index(GH.encode()) == BLOCK - offset
        line = data[: data.index(GH.encode())].count(b"\n") + 1
        chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
        hits = scan_file(matcher, "etc/profile.d/ci.sh", chunks)
        assert [(h.rule_id, h.line) for h in hits] == [("github-token", line)], offset
        assert [(h.rule_id, h.line) for h in scan_file(matcher, "x.sh", [data])] == [("github-token", line)]


def test_line_numbers_after_many_blocks_counted_late_or_early() -> None:
    """Newlines of searched blocks are counted only when a later hit needs them, or when more than
    ``UNCOUNTED`` bytes wait: line numbers are the same either way, for each of several hits."""
    matcher = default_matcher()
    filler = b"a" * 99 + b"\n"
    secret = b"export GITHUB_TOKEN=" + GH.encode() + b"\n"
    for before in (3 * BLOCK, UNCOUNTED + 5 * BLOCK):
        data = filler * (before // 100) + secret + filler * (2 * BLOCK // 100) + secret + filler * 50
        first = data.index(GH.encode())
        lines = [data[:first].count(b"\n") + 1, data[: data.index(GH.encode(), first + 1)].count(b"\n") + 1]
        chunks = [data[i : i + BLOCK] for i in range(0, len(data), BLOCK)]
        hits = scan_file(matcher, "etc/profile.d/ci.sh", chunks)
        assert [h.line for h in hits] == lines, before


def test_many_secrets_in_one_file_are_bounded_and_reported_unknown() -> None:
    text = "".join(f"token_{i} = 'k3Jx9Vq2Lm7Tz4Wp8Rn{i:05d}'\n" for i in range(50))
    limits = Limits(secret_findings_per_file=10, secret_findings=15)
    layer = LayerSpec.from_files({"a/one.env": text, "b/two.env": text})
    findings, scanner, *_ = _scan([layer], limits=limits)
    assert len([f for f in findings if f.path]) == 15
    reasons = [u.reason for u in scanner.unknowns]
    assert any("secret_findings_per_file" in r for r in reasons)
    assert any("(secret_findings)" in r for r in reasons)


def test_small_files_scanned_together_keep_their_own_paths_lines_and_layers() -> None:
    """Small files are searched in one batch: every hit still names its own file, line and layer, a match
    cannot run from one file into the next, and a file with no newline at its end is read whole."""
    files = {
        "a/first.txt": "x" * 10 + "\n" + f"token {GH}",  # no final newline: the next file starts right after
        "a/second.env": f"# settings\n\nGITHUB_TOKEN={GH}\n",
        "a/split1": "npm_Kq9Lm2Vx8Rt5",  # the first half of a token ...
        "a/split2": "Nw1Pb7Hc4Zf6Jy0Ue2GaQs3D\n",  # ... and the second: two files, no secret
        "a/blob.bin": "\0binary\0" + f"\n{GH}\n",  # binary files: their own batch, specific rules only
    }
    first = LayerSpec.from_files(files)
    second = LayerSpec.from_files({"b/late.cfg": f"\n\n\ntoken: {GH}\n"})
    findings, scanner, _, _, inputs = _scan([first, second])
    found = sorted((f.path, f.detail("line"), f.layer) for f in findings if f.path is not None)
    assert found == [
        ("a/blob.bin", 2, inputs[0].digest),
        ("a/first.txt", 2, inputs[0].digest),
        ("a/second.env", 3, inputs[0].digest),
        ("b/late.cfg", 4, inputs[1].digest),
    ]
    assert not any(f.id == "npm-token" for f in findings)
    _assert_redacted(findings, scanner.hits, scanner.unknowns)


def test_secrets_far_apart_on_one_long_line_are_all_found() -> None:
    """Minified code and one-line JSON: a second key kilobytes along the same line is its own candidate."""
    second = "AKIAQ2W3E4R5T6Y7U2I3"
    line = f'a="{AWS_ID}";{"x" * 3000};b="{second}";{"y" * 40_000};c="{GH}"\n'.encode()
    values = {m.value.decode() for m in default_matcher().find(line)}
    assert {AWS_ID, second, GH} <= values


def test_an_open_ended_pattern_on_a_long_line_gives_spaced_candidates() -> None:
    """Every end offset of an open-ended tail is reported by hyperscan; one per SPACING bytes are kept."""
    from imagetrust.audit.secrets.matcher import SPACING

    matcher = default_matcher()
    data = b"token = '" + b"Zq8" * 20_000 + b"'\n" + b"secret = 'Zq8Zq8Zq8Zq8Zq8Zq8Zq8Zq8'\n"
    hits = matcher.engine.candidates(data, binary=False)
    per_pattern: dict[int, list[int]] = {}
    for pattern_id, end in hits:
        per_pattern.setdefault(pattern_id, []).append(end)
    assert per_pattern, "the keyword rules give candidates here"
    first_line_end = data.index(b"\n")
    for ends in per_pattern.values():
        on_first = [e for e in ends if e <= first_line_end]
        assert all(b - a >= SPACING for a, b in itertools.pairwise(on_first))
        assert len(on_first) <= len(data) // SPACING + 1
    later = [e for ends in per_pattern.values() for e in ends if e > first_line_end]
    assert later, "the next line is searched too"
