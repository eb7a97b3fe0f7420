"""Image references: Docker normalisation, rejections, offline transports, and round-trip properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from imagetrust.errors import InvalidReference
from imagetrust.oci.digest import Digest
from imagetrust.oci.reference import (
    DirRef,
    DockerArchiveRef,
    OciArchiveRef,
    OciLayoutRef,
    RegistryRef,
    parse_registry_ref,
    parse_source,
)

HEX = "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
DIGEST = Digest("sha256", HEX)


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("alpine", "docker.io", "library/alpine", "latest", None),
        ("alpine:3.20", "docker.io", "library/alpine", "3.20", None),
        (f"alpine@sha256:{HEX}", "docker.io", "library/alpine", None, DIGEST),
        (f"alpine:3.20@sha256:{HEX}", "docker.io", "library/alpine", "3.20", DIGEST),
        ("user/repo", "docker.io", "user/repo", "latest", None),
        ("user/repo:v1", "docker.io", "user/repo", "v1", None),
        ("docker.io/alpine", "docker.io", "library/alpine", "latest", None),
        ("docker.io/library/alpine", "docker.io", "library/alpine", "latest", None),
        ("index.docker.io/x", "docker.io", "library/x", "latest", None),
        ("registry-1.docker.io/user/x", "docker.io", "user/x", "latest", None),
        ("docker://alpine", "docker.io", "library/alpine", "latest", None),
        ("localhost/x", "localhost", "x", "latest", None),
        ("localhost:5000/x", "localhost:5000", "x", "latest", None),
        ("localhost:5000/x:dev", "localhost:5000", "x", "dev", None),
        (f"host.tld/a/b:tag@sha256:{HEX}", "host.tld", "a/b", "tag", DIGEST),
        ("127.0.0.1:5000/repo", "127.0.0.1:5000", "repo", "latest", None),
        ("[::1]:5000/repo", "[::1]:5000", "repo", "latest", None),
        ("[::1]/repo:t", "[::1]", "repo", "t", None),
        ("ghcr.io/org/team/app:1.0", "ghcr.io", "org/team/app", "1.0", None),
        ("quay.io/a/b-c__d.e_f:T_a-g.1", "quay.io", "a/b-c__d.e_f", "T_a-g.1", None),
        ("a--b/c", "docker.io", "a--b/c", "latest", None),
        ("localhost:5000", "docker.io", "library/localhost", "5000", None),  # Docker reads a tag here
        ("My-Host.Example:443/x", "My-Host.Example:443", "x", "latest", None),
    ],
)
def test_normalisation(
    text: str, registry: str, repository: str, tag: str | None, digest: Digest | None
) -> None:
    ref = parse_registry_ref(text)
    assert ref == RegistryRef(registry, repository, tag, digest)
    assert parse_source(text) == ref
    assert parse_registry_ref(str(ref)) == ref


def test_derived_names() -> None:
    hub = parse_registry_ref("alpine")
    assert hub.api_host == "registry-1.docker.io"
    assert hub.name == "docker.io/library/alpine"
    assert str(hub) == "docker.io/library/alpine:latest"
    assert parse_registry_ref("[::1]:5000/r").hostname == "::1"
    assert parse_registry_ref("localhost:5000/r").hostname == "localhost"
    assert parse_registry_ref("example.com/r").hostname == "example.com"
    assert parse_registry_ref("example.com/r").api_host == "example.com"
    pinned = hub.with_digest(DIGEST)
    assert str(pinned) == f"docker.io/library/alpine:latest@sha256:{HEX}"
    assert pinned.with_tag("edge") == RegistryRef("docker.io", "library/alpine", "edge", None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " alpine",
        "alpine ",
        "Alpine",  # upper-case repository
        "user/Repo",
        "example.com/Repo",
        "alpine:",  # empty tag
        "alpine:-x",  # tag must not start with '-'
        "alpine:.x",
        "alpine:" + "t" * 129,  # tag too long
        "alpine:ta/g",
        "alpine:t@g",
        "alpine@",
        "alpine@sha256:",
        "alpine@sha256:" + HEX[:-1],  # bad digest length
        "alpine@sha256:" + HEX.upper(),
        "alpine@md5:" + "a" * 32,
        f"alpine@sha256:{HEX}@sha256:{HEX}",
        "a//b",
        "a/",
        "/a",
        "a..b",
        "a_-b",
        "-a",
        "a-",
        "example.com/",
        "localhost:5000/",
        "bad_host.com/x",  # '_' is not allowed in a host
        "-bad.com/x",
        "[::1/x",
        "foo\n:latest",  # a newline must not hide at the end of a component
        "example.com\n/x",
        "x/y\n",
        "alpine:latest\n",
        "a/b\x00c",
        "x" * 2049,  # whole reference over-long
        "r/" + "x" * 254,  # repository over 255 characters
        "alpine:lat est",
        "héllo",
    ],
)
def test_rejections(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_registry_ref(text)


def test_repository_length_boundary() -> None:
    assert parse_registry_ref("r/" + "x" * 253).repository == "r/" + "x" * 253
    assert len(parse_registry_ref("x" * 247).repository) == 255  # library/ + 247
    with pytest.raises(InvalidReference):
        parse_registry_ref("x" * 248)


def test_error_names_the_input() -> None:
    with pytest.raises(InvalidReference, match="'User/x'") as info:
        parse_registry_ref("User/x")
    assert "\n" not in info.value.diagnostics()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oci:/srv/layout", OciLayoutRef(Path("/srv/layout"), None)),
        ("oci:/srv/layout:v1", OciLayoutRef(Path("/srv/layout"), "v1")),
        ("oci:relative/dir:latest", OciLayoutRef(Path("relative/dir"), "latest")),
        ("oci:./a:b/c", OciLayoutRef(Path("./a"), "b/c")),  # split at the first ':' like skopeo
        ("docker-archive:save.tar:app:v1", DockerArchiveRef(Path("save.tar"), "app:v1")),
        ("docker-archive:save.tar:@1", DockerArchiveRef(Path("save.tar"), "@1")),
        (f"oci:/l:sha256-{HEX}.sig", OciLayoutRef(Path("/l"), f"sha256-{HEX}.sig")),
        ("oci-archive:/tmp/img.tar", OciArchiveRef(Path("/tmp/img.tar"), None)),
        ("oci-archive:/tmp/img.tar:v2", OciArchiveRef(Path("/tmp/img.tar"), "v2")),
        ("docker-archive:save.tar", DockerArchiveRef(Path("save.tar"), None)),
        ("docker-archive:save.tar:app", DockerArchiveRef(Path("save.tar"), "app")),
        ("dir:/rootfs", DirRef(Path("/rootfs"))),
        ("dir:/root:fs", DirRef(Path("/root:fs"))),  # dir: has no tag part
    ],
)
def test_parse_source_transports(text: str, expected: object) -> None:
    assert parse_source(text) == expected
    assert parse_source(str(expected)) == expected


@pytest.mark.parametrize(
    "text",
    ["", "oci:", "dir:", "oci-archive:", "docker-archive:", "oci:/x:bad tag", "oci:/x:tag\n", "oci:/x:-t"],
)
def test_parse_source_rejections(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_source(text)


def test_unknown_transport_is_read_as_a_registry_reference() -> None:
    with pytest.raises(InvalidReference):
        parse_source("ftp://host/x")
    assert parse_source("docker://alpine") == parse_registry_ref("alpine")


# --- properties -------------------------------------------------------------------------------------------

alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
separator = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def components(draw: st.DrawFn) -> str:
    parts = draw(st.lists(alnum, min_size=1, max_size=3))
    text = parts[0]
    for part in parts[1:]:
        text += draw(separator) + part
    return text


hosts = st.one_of(
    st.just("localhost"),
    st.builds(lambda a, b: f"{a}.{b}", alnum, st.sampled_from(["com", "io", "example", "test"])),
    st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", *[st.integers(0, 255)] * 4),
    st.just("[::1]"),
    st.just("[fe80::1:2]"),
)
ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
digests = st.binary(min_size=1, max_size=16).map(Digest.of)


@st.composite
def registry_refs(draw: st.DrawFn) -> str:
    text = ""
    path = draw(st.lists(components(), min_size=1, max_size=3))
    if draw(st.booleans()):
        text = draw(hosts) + draw(ports) + "/"
    elif "." in path[0] or path[0] == "localhost":
        path.insert(0, "x")  # Docker would read that first component as a registry host
    text += "/".join(path)
    if draw(st.booleans()):
        text += ":" + draw(tags)
    if draw(st.booleans()):
        text += "@" + str(draw(digests))
    return text


@given(registry_refs())
@example("alpine")
@example("[::1]:5000/repo:v1")
def test_round_trip(text: str) -> None:
    ref = parse_registry_ref(text)
    again = parse_registry_ref(str(ref))
    assert again == ref
    assert str(again) == str(ref)
    assert ref.tag is not None or ref.digest is not None
    if "@" in text:
        assert ref.digest == Digest.parse(text.rpartition("@")[2])


@given(st.text(max_size=300))
@example("foo\n:latest")
@example("a" * 3000)
def test_arbitrary_text_raises_only_invalid_reference(text: str) -> None:
    try:
        ref = parse_source(text)
    except InvalidReference:
        return
    if isinstance(ref, RegistryRef):
        # What is accepted has no whitespace or control characters: URLs and headers are built from it.
        assert all(c.isprintable() and not c.isspace() for c in str(ref))
        assert parse_registry_ref(str(ref)) == ref


@given(st.text(alphabet="abcAB019:/@._-[]", max_size=60))
def test_reference_alphabet_soup(text: str) -> None:
    try:
        ref = parse_registry_ref(text)
    except InvalidReference:
        return
    assert ref.repository == ref.repository.lower()
    assert parse_registry_ref(str(ref)) == ref
