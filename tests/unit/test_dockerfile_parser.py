"""The Dockerfile parser: continuations, comments, heredocs, JSON/shell forms, flags, ARG/ENV expansion."""

from __future__ import annotations

from imagetrust.audit.config.dockerfile import env_pairs, expand, parse_dockerfile
from imagetrust.audit.config.history import read_created_by


def test_continuations_comments_and_json_forms() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM alpine:3.19 AS base\n"
        "RUN apk add \\\n"
        "# a comment inside the continuation\n"
        "    curl \\\n"
        "    git\n"
        'CMD ["sh", "-c", "echo hi"]\n'
        "ENTRYPOINT run.sh --port 80\n"
    )
    df = parse_dockerfile(text, "Dockerfile")
    (stage,) = df.stages
    assert stage.base == "alpine:3.19" and stage.alias == "base"
    run = stage.instructions[1]
    assert run.keyword == "RUN" and run.command == "apk add curl git" and run.line == 3
    cmd = stage.instructions[2]
    assert cmd.json_form and cmd.args == ("sh", "-c", "echo hi")
    assert not stage.instructions[3].json_form and stage.instructions[3].args == ("run.sh --port 80",)


def test_heredoc_body_is_part_of_the_command() -> None:
    df = parse_dockerfile("FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y x\nEOF\nUSER 1000\n")
    run = df.stages[0].instructions[1]
    assert "apt-get install -y x" in run.command
    assert [i.keyword for i in df.stages[0].instructions] == ["FROM", "RUN", "USER"]


def test_arg_expansion_in_from_and_env() -> None:
    text = (
        "ARG TAG=3.19\nARG IMG\nFROM alpine:${TAG} AS a\nARG TAG\n"
        "ENV DIR=/srv/$TAG X=${MISSING:-dflt}\nWORKDIR $DIR\n"
    )
    df = parse_dockerfile(text)
    stage = df.stages[0]
    assert stage.base == "alpine:3.19"
    env = stage.instructions[2]
    assert env_pairs(env) == [("DIR", "/srv/3.19"), ("X", "dflt")]
    assert stage.instructions[3].args == ("/srv/3.19",)
    assert expand("${A:+set}-$B", {"A": "1"}) == "set-"


def test_flags_and_escape_directive() -> None:
    df = parse_dockerfile("# escape=`\nFROM x:1\nCOPY --from=build --chown=1:1 a `\n   b /dst/\n")
    copy = df.stages[0].instructions[1]
    assert copy.flag("from") == "build" and copy.flag("chown") == "1:1"
    assert copy.args == ("a", "b", "/dst/")


def test_legacy_env_form() -> None:
    df = parse_dockerfile("FROM x:1\nENV NAME some value\n")
    assert env_pairs(df.stages[0].instructions[1]) == [("NAME", "some value")]


def test_history_created_by_forms() -> None:
    nop = read_created_by("/bin/sh -c #(nop)  ENV NGINX_VERSION=1.17.0")
    assert nop is not None and nop.keyword == "ENV" and env_pairs(nop) == [("NGINX_VERSION", "1.17.0")]
    run = read_created_by("|2 TOKEN=abc OTHER=1 /bin/sh -c make install")
    assert run is not None and run.keyword == "RUN" and run.command == "make install"
    assert run.build_args == (("TOKEN", "abc"), ("OTHER", "1"))
    bk = read_created_by("RUN /bin/sh -c apt-get update # buildkit")
    assert bk is not None and bk.command == "apt-get update"
    add = read_created_by("ADD https://example.com/x.sh /x.sh # buildkit")
    assert add is not None and add.keyword == "ADD" and add.args == ("https://example.com/x.sh", "/x.sh")
