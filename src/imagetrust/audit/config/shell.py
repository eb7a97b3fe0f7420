"""Just enough shell reading to see which commands a RUN runs: split on operators, then into words."""

from __future__ import annotations

import re
import shlex

_OPERATORS = re.compile(r"&&|\|\||;|\n|(?<!\|)\|(?!\|)|&")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def simple_commands(command: str) -> list[list[str]]:
    """Each simple command's words, leading ``VAR=value`` assignments and wrappers dropped."""
    out: list[list[str]] = []
    for part in _OPERATORS.split(command):
        part = part.strip().strip("()").strip()
        if not part:
            continue
        try:
            words = shlex.split(part, comments=False, posix=True)
        except ValueError:
            words = part.split()
        while words and (_ASSIGNMENT.match(words[0]) or words[0] in ("set", "exec", "time", "nohup", "env")):
            if words[0] == "set":
                words = []
                break
            words = words[1:]
        if words:
            out.append(words)
    return out


def program(words: list[str]) -> str:
    return words[0].rsplit("/", 1)[-1] if words else ""


def subcommand(words: list[str]) -> str | None:
    """The first non-option word after the program (``install`` in ``apt-get -y install x``)."""
    skip_value = {"-o", "-c", "-t", "--option", "--config-file", "--target-release", "-X", "--repository"}
    i = 1
    while i < len(words):
        w = words[i]
        if w in skip_value:
            i += 2
            continue
        if not w.startswith("-"):
            return w
        i += 1
    return None


def has_short_flag(words: list[str], letter: str, *long: str) -> bool:
    for w in words[1:]:
        if w in long:
            return True
        if w.startswith("-") and not w.startswith("--") and letter in w[1:]:
            return True
    return False


__all__ = ["has_short_flag", "program", "simple_commands", "subcommand"]
