"""A small Dockerfile parser: enough structure for configuration checks, not a build engine.

It understands parser directives (``# escape=``), comments, line continuations, heredocs (``<<EOF``),
``--flag=value`` options, JSON and shell forms, stages with aliases and ``ARG``/``ENV`` expansion of
``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:+alt}`` where Docker expands them.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

# instructions whose arguments Docker expands with ARG/ENV values (RUN/CMD/ENTRYPOINT are left to the shell)
_EXPANDED = {
    "ADD",
    "COPY",
    "ENV",
    "EXPOSE",
    "FROM",
    "LABEL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
    "ARG",
}
_FLAGGED = {"ADD", "COPY", "FROM", "RUN", "HEALTHCHECK"}
_JSONABLE = {"RUN", "CMD", "ENTRYPOINT", "ADD", "COPY", "VOLUME", "SHELL", "HEALTHCHECK"}
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
KEYWORDS = frozenset(
    [
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    ]
)


@dataclass(frozen=True)
class Instruction:
    """One instruction; ``args`` are words after flags (or the single shell command for shell forms)."""

    keyword: str
    value: str  # the argument text as written (continuations joined, flags included)
    args: tuple[str, ...]
    flags: tuple[tuple[str, str], ...] = ()
    json_form: bool = False
    line: int = 0
    heredocs: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()  # from image history: ``|2 A=1 B=2 /bin/sh -c ...``

    def flag(self, name: str) -> str | None:
        return dict(self.flags).get(name)

    @property
    def command(self) -> str:
        """The command text of RUN/CMD/ENTRYPOINT in either form, with any heredoc bodies."""
        text = " ".join(self.args)
        return "\n".join([text, *self.heredocs]) if self.heredocs else text


@dataclass(frozen=True)
class Stage:
    index: int
    base: str  # expanded image reference (or an earlier stage's alias, or ``scratch``)
    alias: str | None
    line: int
    instructions: tuple[Instruction, ...] = ()


@dataclass(frozen=True)
class Dockerfile:
    path: str
    stages: tuple[Stage, ...]
    global_args: tuple[Instruction, ...] = field(default=())

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None


def expand(text: str, variables: dict[str, str]) -> str:
    """Docker's word expansion subset: unknown variables become empty, as Docker does."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value = variables.get(name)
        op, word = m.group(2), m.group(3) or ""
        if op == "-":
            return value if value else word
        if op == "+":
            return word if value else ""
        return value or ""

    return _VAR.sub(sub, text)


def _logical_lines(text: str) -> list[tuple[int, str, list[str]]]:
    """Join continuations and collect heredoc bodies: (first line number, text, heredoc bodies)."""
    lines = text.replace("\r\n", "\n").split("\n")
    escape = "\\"
    # parser directives: leading ``# key=value`` comments
    for raw in lines:
        m = re.match(r"^\s*#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$", raw)
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("`", "\\"):
            escape = m.group(2)
    out: list[tuple[int, str, list[str]]] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        start = i + 1
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts: list[str] = []
        current = raw
        while True:
            stripped = current.rstrip()
            if stripped.endswith(escape):
                parts.append(stripped[: -len(escape)])
                # skip comment and empty lines inside a continuation, as Docker does
                while i < len(lines) and (lines[i].lstrip().startswith("#") or not lines[i].strip()):
                    i += 1
                if i >= len(lines):
                    break
                current = lines[i]
                i += 1
                continue
            parts.append(current)
            break
        logical = " ".join(p.strip() for p in parts if p.strip())
        bodies: list[str] = []
        for m in _HEREDOC.finditer(
            logical if logical.split(None, 1)[0].upper() in ("RUN", "COPY", "ADD") else ""
        ):
            strip_tabs, terminator = m.group(1) == "-", m.group(3)
            body: list[str] = []
            while i < len(lines):
                candidate = lines[i].lstrip("\t") if strip_tabs else lines[i]
                i += 1
                if candidate == terminator:
                    break
                body.append(candidate)
            bodies.append("\n".join(body))
        out.append((start, logical, bodies))
    return out


def _split_words(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


def _take_flags(rest: str) -> tuple[list[tuple[str, str]], str]:
    flags: list[tuple[str, str]] = []
    while True:
        m = re.match(r"^--([A-Za-z][A-Za-z0-9-]*)(?:=(\"[^\"]*\"|\S*))?\s*", rest)
        if not m:
            return flags, rest
        flags.append((m.group(1).lower(), (m.group(2) or "").strip('"')))
        rest = rest[m.end() :]


def parse_instruction(
    text: str, line: int = 0, heredocs: tuple[str, ...] = (), variables: dict[str, str] | None = None
) -> Instruction | None:
    """One logical line to an instruction, or None when it names no instruction."""
    head, _, rest = text.strip().partition(" ")
    keyword = head.upper()
    if keyword not in KEYWORDS:
        return None
    rest = rest.strip()
    value = rest
    flags: list[tuple[str, str]] = []
    if keyword in _FLAGGED:
        flags, rest = _take_flags(rest)
    if keyword in _EXPANDED and variables is not None and keyword != "ENV":
        rest = expand(rest, variables)
    json_form = False
    args: list[str]
    if keyword in _JSONABLE and rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            args, json_form = parsed, True
    if not json_form:
        if keyword in ("RUN", "CMD", "ENTRYPOINT", "MAINTAINER"):
            args = [rest] if rest else []
        elif keyword == "HEALTHCHECK":
            args = rest.split(None, 1)
        elif keyword == "ENV" and variables is not None:
            args = [expand(w, variables) for w in _split_words(rest)]
        else:
            args = _split_words(rest)
    return Instruction(keyword, value, tuple(args), tuple(flags), json_form, line, heredocs)


def env_pairs(ins: Instruction) -> list[tuple[str, str]]:
    """``ENV``/``ARG``/``LABEL`` as (name, value) pairs; the legacy ``ENV NAME value`` form included."""
    words = list(ins.args)
    if ins.keyword == "ENV" and words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    pairs: list[tuple[str, str]] = []
    for word in words:
        name, eq, val = word.partition("=")
        pairs.append((name, val if eq else ""))
    return pairs


def parse_dockerfile(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Stages with their instructions; instructions before the first FROM may only be ARG (kept global)."""
    global_vars: dict[str, str] = {}
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    stage_head: tuple[int, str, str | None, int] | None = None
    variables: dict[str, str] = {}

    def close() -> None:
        if stage_head is not None:
            idx, base, alias, line = stage_head
            stages.append(Stage(idx, base, alias, line, tuple(current)))

    for line, logical, bodies in _logical_lines(text):
        head = logical.split(None, 1)[0].upper()
        if head == "FROM":
            ins = parse_instruction(logical, line, tuple(bodies), global_vars)
            if ins is None:
                continue
            close()
            words = list(ins.args)
            base = words[0] if words else ""
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stage_head = (len(stages), base, alias, line)
            current = [ins]
            variables = {}
            continue
        ins = parse_instruction(logical, line, tuple(bodies), variables if stage_head else global_vars)
        if ins is None:
            continue
        if ins.keyword in ("ARG", "ENV"):
            for name, val in env_pairs(ins):
                if stage_head is None:
                    global_vars[name] = val
                elif ins.keyword == "ARG" and not val and name in global_vars:
                    variables[name] = global_vars[name]  # re-declared global ARG takes its value
                else:
                    variables[name] = val
        if stage_head is None:
            global_args.append(ins)
        else:
            current.append(ins)
    close()
    return Dockerfile(path, tuple(stages), tuple(global_args))


__all__ = [
    "KEYWORDS",
    "Dockerfile",
    "Instruction",
    "Stage",
    "env_pairs",
    "expand",
    "parse_dockerfile",
    "parse_instruction",
]
