# ruff: noqa: E501  (one failing/passing case per line reads best as a table)
"""Every configuration rule, on a Dockerfile and (where it applies) on a real built image: one failing and
one passing case each, each differing from a clean baseline by the one thing the rule is about."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import pytest

from imagetrust.audit.config import RULES, WANTED_PATHS, check_dockerfile, check_image
from imagetrust.audit.findings import FindingKind
from imagetrust.audit.unpack import ContentPolicy, FileIndex, LayerInput, unpack_layers
from imagetrust.oci.digest import Digest
from imagetrust.oci.manifest import ImageConfig, parse_config
from tests.support.images import BuiltImage, ConfigSpec, Dir, File, LayerSpec, Symlink, build_image

HEAD = "FROM alpine:3.19\n"
TAIL = "USER 1000\nHEALTHCHECK CMD wget -q -O /dev/null http://localhost/ || exit 1\n"
CLEAN = HEAD + "RUN apk add --no-cache ca-certificates\n" + TAIL


def ids(text: str) -> set[str]:
    return {f.id for f in check_dockerfile(text, "Dockerfile")}


def test_clean_dockerfile_has_no_findings() -> None:
    assert check_dockerfile(CLEAN, "Dockerfile") == []


# (rule, failing body, passing body): bodies sit between HEAD and TAIL unless they start with FROM
DOCKERFILE_CASES = [
    ("CFG-001", "FROM alpine:3.19\nUSER 1000\nUSER root\nHEALTHCHECK CMD true\n", "USER root\nRUN id\nUSER app\n"),
    ("CFG-001", "FROM alpine:3.19\nHEALTHCHECK CMD true\n", "FROM alpine:3.19\nUSER 10001:10001\nHEALTHCHECK CMD true\n"),
    ("CFG-002", "ENV DB_PASSWORD=hunter2\n", "ENV DB_PASSWORD_FILE=/run/secrets/db GPG_KEY=A035C8C19219BA82\n"),
    ("CFG-002", "ARG API_TOKEN=abc123\n", "ARG API_TOKEN\n"),
    ("CFG-003", "EXPOSE 22/tcp\n", "EXPOSE 8080/tcp\n"),
    ("CFG-003", "EXPOSE 2375\n", "EXPOSE 2000-2300\n"),
    ("CFG-004", "EXPOSE 70000\n", "EXPOSE 65535\n"),
    ("CFG-005", "ADD https://example.com/app.tar.gz /opt/\n", "ADD --checksum=sha256:00 https://e.com/a.tgz /o/\n"),
    ("CFG-006", "ADD app.py /app/\n", "ADD vendor.tar.gz /app/\n"),
    ("CFG-007", "RUN sudo make install\n", "RUN make install\n"),
    ("CFG-015", "RUN yum install -y vim\n", "RUN yum install -y vim && yum clean all\n"),
    ("CFG-015", "RUN apk add curl\n", "RUN apk add --no-cache curl\n"),
    ("CFG-015", "RUN microdnf install -y x\n", "RUN microdnf install -y x && microdnf clean all\n"),
    ("CFG-015", "RUN zypper install -y x\n", "RUN --mount=type=cache,target=/var/cache zypper install -y x\n"),
    ("CFG-015", "RUN apt-get update && apt-get install -y --no-install-recommends a\n",
     "RUN apt-get update && apt-get install -y --no-install-recommends a && rm -rf /var/lib/apt/lists/*\n"),
    ("CFG-016", "FROM debian:latest\n" + TAIL, "FROM debian:12@sha256:" + "0" * 64 + "\n" + TAIL),
    ("CFG-016", "FROM debian\n" + TAIL, "FROM debian:bookworm\n" + TAIL),
    ("CFG-017", "FROM alpine:3.19\nUSER 1000\n", "FROM alpine:3.19\nUSER 1000\nHEALTHCHECK CMD true\n"),
    ("CFG-018", "RUN curl -fsSL https://get.example.sh | sh\n", "RUN curl -fsSLo /tmp/i.sh https://get.example.sh\n"),
    ("CFG-018", "RUN wget -qO- https://x.io/i | sudo bash\n", "RUN wget -qO /tmp/i https://x.io/i\n"),
    ("CFG-019", "RUN apt-get install -y a && rm -rf /var/lib/apt/lists/*\n",
     "RUN apt-get install -y --no-install-recommends a && rm -rf /var/lib/apt/lists/*\n"),
    ("CFG-020", "RUN chmod -R 777 /app\n", "RUN chmod -R 755 /app\n"),
    ("CFG-021", "RUN apt-get update\n", "RUN apt-get update && apt-get install -y --no-install-recommends a\n"),
    ("CFG-022", "RUN apt-get dist-upgrade -y\n", "RUN apt-get upgrade -y\n"),
    ("CFG-023", "RUN apt-get install --no-install-recommends a\n", "RUN apt-get -qqy install --no-install-recommends a\n"),
    ("CFG-024", "MAINTAINER me@example.com\n", "LABEL org.opencontainers.image.authors=me@example.com\n"),
    ("CFG-025", "CMD a\nCMD b\n", "CMD b\n"),
    ("CFG-026", "ENTRYPOINT a\nENTRYPOINT b\n", "ENTRYPOINT b\n"),
    ("CFG-027", "HEALTHCHECK CMD a\n", "LABEL x=y\n"),  # TAIL adds a second HEALTHCHECK in the failing case
    ("CFG-028", "WORKDIR app\n", "WORKDIR /app\n"),
    ("CFG-029", "RUN cd /app && make\n", "WORKDIR /app\nRUN make\n"),
    ("CFG-030", "FROM alpine:3.19 AS b\nCOPY --from=b /x /y\n" + TAIL, "FROM alpine:3.19 AS b\nCOPY /x /y\n" + TAIL),
    ("CFG-031", "COPY a b dest\n", "COPY a b dest/\n"),
    ("CFG-032", "FROM alpine:3.19 AS x\nFROM alpine:3.19 AS x\n" + TAIL, "FROM alpine:3.19 AS x\nFROM alpine:3.19 AS y\n" + TAIL),
    ("CFG-033", "RUN wget -q http://a/b && curl -O http://a/c\n", "RUN curl -O http://a/b && curl -O http://a/c\n"),
    ("CFG-034", "VOLUME /proc/sys\n", "VOLUME /data\n"),
    ("CFG-035", "WORKDIR /boot/app\n", "WORKDIR /srv/app\n"),
]  # fmt: skip


def _file(body: str) -> str:
    return body if body.startswith("FROM") else HEAD + body + TAIL


@pytest.mark.parametrize(("rule_id", "bad", "good"), DOCKERFILE_CASES, ids=[c[0] for c in DOCKERFILE_CASES])
def test_dockerfile_rule(rule_id: str, bad: str, good: str) -> None:
    assert rule_id in ids(_file(bad))
    assert rule_id not in ids(_file(good))


def test_findings_carry_rule_text_and_line() -> None:
    (finding,) = [
        f for f in check_dockerfile(_file("ENV DB_PASSWORD=hunter2\n"), "x/Dockerfile") if f.id == "CFG-002"
    ]
    assert finding.kind is FindingKind.MISCONFIGURATION and finding.path == "x/Dockerfile"
    assert (
        finding.detail("line") == 2
        and finding.detail("remediation")
        and "CIS-DI-0010" in finding.detail("references")
    )
    assert "hunter2" not in str(finding.to_json()["message"])


def test_every_rule_has_text_and_a_test() -> None:
    tested = {c[0] for c in DOCKERFILE_CASES} | IMAGE_TESTED
    assert set(RULES) <= tested
    for r in RULES.values():
        assert r.title and r.description and r.remediation


# --- built images ----------------------------------------------------------------------------------------


def _image(
    layers: Sequence[LayerSpec], config: ConfigSpec | None = None
) -> tuple[ImageConfig, FileIndex, BuiltImage]:
    image = build_image(layers, config or ConfigSpec(user="1000"))
    cfg = parse_config(image.config.data, image.config.descriptor.digest)
    inputs = [LayerInput(io.BytesIO(b.data), b.descriptor.digest, "gzip") for b in image.layers]
    files = unpack_layers(inputs, ContentPolicy().want_paths(WANTED_PATHS))
    return cfg, files, image


BASE = LayerSpec.from_files({"etc/os-release": "ID=test\n", "bin/busybox": b"\x7fELF"})
PASSWD_OK = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"


def image_ids(
    layers: Sequence[LayerSpec], config: ConfigSpec | None = None, annotations: dict[str, str] | None = None
) -> set[str]:
    cfg, files, _ = _image(layers, config)
    return {f.id for f in check_image(cfg, files, annotations or {})}


IMAGE_CASES: list[tuple[str, list[LayerSpec], list[LayerSpec]]] = [
    ("CFG-008", [LayerSpec.from_files({"usr/bin/sudo": b"x"})], [LayerSpec.from_files({"usr/share/doc/sudo/README": b"x"})]),
    ("CFG-009", [LayerSpec.from_files({"usr/sbin/sshd": b"x"})], [LayerSpec.from_files({"usr/bin/ssh": b"x"})]),
    ("CFG-010", [LayerSpec.from_files({}, symlinks={"usr/bin/apt-get": "apt"})], [LayerSpec.from_files({"usr/lib/apt/methods/http": b"x"})]),
    ("CFG-011", [LayerSpec.from_files({"usr/bin/x86_64-linux-gnu-gcc-12": b"x"})], [LayerSpec.from_files({"usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a": b"x"})]),
    ("CFG-012", [LayerSpec.from_files({"usr/bin/passwd": b"x"}, modes={"usr/bin/passwd": 0o4755})], [LayerSpec.from_files({"usr/bin/passwd": b"x"}, modes={"usr/bin/passwd": 0o755})]),
    ("CFG-013", [LayerSpec((Dir("srv/shared", 0o777),))], [LayerSpec((Dir("tmp", 0o1777),))]),
    ("CFG-013", [LayerSpec((File("etc/app.conf", b"x", 0o666),))], [LayerSpec((File("etc/app.conf", b"x", 0o644),))]),
    ("CFG-014", [LayerSpec.from_files({"var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease": b"x"})],
     [LayerSpec.from_files({"var/lib/apt/lists/lock": b""})]),
    ("CFG-014", [LayerSpec.from_files({"var/cache/apk/APKINDEX.abc.tar.gz": b"x"})], [LayerSpec((Dir("var/cache/apk"),))]),
    ("CFG-036", [LayerSpec.from_files({"etc/shadow": "root:*:19000::::::\nguest::19000::::::\n"})],
     [LayerSpec.from_files({"etc/shadow": "root:*:19000::::::\nguest:!:19000::::::\n"})]),
    ("CFG-037", [LayerSpec.from_files({"etc/passwd": PASSWD_OK + "toor:x:0:0::/root:/bin/sh\n"})],
     [LayerSpec.from_files({"etc/passwd": PASSWD_OK})]),
]  # fmt: skip
IMAGE_TESTED = {c[0] for c in IMAGE_CASES} | {"CFG-001", "CFG-002", "CFG-003", "CFG-017", "CFG-016"}


@pytest.mark.parametrize(("rule_id", "bad", "good"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_image_file_rule(rule_id: str, bad: list[LayerSpec], good: list[LayerSpec]) -> None:
    assert rule_id in image_ids([BASE, *bad])
    assert rule_id not in image_ids([BASE, *good])


def test_file_finding_names_path_and_the_layer_that_added_it() -> None:
    cfg, files, image = _image(
        [BASE, LayerSpec.from_files({"usr/bin/sudo": b"x"}, modes={"usr/bin/sudo": 0o4755})]
    )
    found = {f.id: f for f in check_image(cfg, files)}
    assert found["CFG-008"].path == "usr/bin/sudo" and found["CFG-012"].detail("mode") == "4755"
    assert found["CFG-008"].layer == image.layers[1].descriptor.digest


def test_image_config_rules_fail_and_pass() -> None:
    root = image_ids([BASE], ConfigSpec(user=None))
    assert "CFG-001" in root and "CFG-001" in image_ids([BASE], ConfigSpec(user="0:0"))
    assert "CFG-001" not in image_ids([BASE], ConfigSpec(user="app"))
    env = ("PATH=/bin", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI")
    assert "CFG-002" in image_ids([BASE], ConfigSpec(user="1", env=env))
    assert "CFG-002" not in image_ids(
        [BASE], ConfigSpec(user="1", env=("PATH=/bin", "PYTHON_GPG_KEY=A035C8C1"))
    )
    assert "CFG-003" in image_ids([BASE], ConfigSpec(user="1", exposed_ports=("3389/tcp",)))
    assert "CFG-003" not in image_ids([BASE], ConfigSpec(user="1", exposed_ports=("443/tcp",)))
    assert "CFG-017" in image_ids([BASE])  # the builder writes no Healthcheck
    latest = {"org.opencontainers.image.base.name": "docker.io/library/debian:latest"}
    pinned = {"org.opencontainers.image.base.name": "docker.io/library/debian:12.5"}
    assert "CFG-016" in image_ids([BASE], annotations=latest)
    assert "CFG-016" not in image_ids([BASE], annotations=pinned)


def test_healthcheck_in_config_passes() -> None:
    cfg, files, _ = _image([BASE])
    obj = json.loads(cfg.raw)
    obj["config"]["Healthcheck"] = {"Test": ["CMD-SHELL", "true"]}
    raw = json.dumps(obj).encode()
    with_hc = parse_config(raw, Digest.of(raw))
    assert "CFG-017" not in {f.id for f in check_image(with_hc, files)}


def test_history_rules_on_a_built_image() -> None:
    history = (
        {"created_by": "|1 NPM_TOKEN=npm_abcdef /bin/sh -c npm ci", "empty_layer": True},
        {"created_by": "/bin/sh -c curl -sL https://deb.nodesource.com/setup | bash -", "empty_layer": True},
        {"created_by": "ADD https://example.com/tool /usr/local/bin/tool # buildkit", "empty_layer": True},
        {"created_by": "RUN /bin/sh -c chmod 777 /data # buildkit", "empty_layer": True},
    )
    cfg, files, _ = _image([BASE], ConfigSpec(user="1", extra_history=history))
    found = {f.id: f for f in check_image(cfg, files)}
    assert {"CFG-002", "CFG-018", "CFG-005", "CFG-020"} <= set(found)
    assert found["CFG-002"].detail("history_index") == 1
    assert "npm_abcdef" not in str(found["CFG-002"].to_json())
    clean = ({"created_by": "/bin/sh -c npm ci --omit=dev", "empty_layer": True},)
    cfg2, files2, _ = _image([BASE], ConfigSpec(user="1", extra_history=clean))
    assert not {"CFG-002", "CFG-018", "CFG-005", "CFG-020"} & {f.id for f in check_image(cfg2, files2)}


def test_symlinked_tool_is_found_but_symlink_mode_is_not_world_writable() -> None:
    layer = LayerSpec((Symlink("usr/bin/gcc", "gcc-12"), File("usr/bin/gcc-12", b"x", 0o755)))
    found = image_ids([BASE, layer])
    assert "CFG-011" in found and "CFG-013" not in found
