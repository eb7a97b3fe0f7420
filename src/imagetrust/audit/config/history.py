"""Image history ``created_by`` strings read back as instructions, so Dockerfile rules apply to built images.

Classic builders write ``/bin/sh -c #(nop)  ENV A=b`` for metadata and ``/bin/sh -c cmd`` (prefixed by
``|N A=1 ...`` when build args were in scope) for RUN; BuildKit writes the instruction itself with a
``# buildkit`` suffix.  Anything else is read as the command of a RUN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from imagetrust.audit.config.dockerfile import KEYWORDS, Instruction, parse_instruction
from imagetrust.oci.manifest import ImageConfig

_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_SHELL = re.compile(r"^(?:/bin/(?:ba)?sh|sh) -c\s+")
_ARGS_PREFIX = re.compile(r"^\|(\d+)\s+")


@dataclass(frozen=True)
class HistoryInstruction:
    """An instruction with its history position and the index of the layer it made (None if empty)."""

    instruction: Instruction
    history_index: int
    layer_index: int | None


def build_args(text: str) -> tuple[list[tuple[str, str]], str]:
    """Strip ``|N A=1 B=2`` from a RUN's text and return the pairs (values may not contain spaces)."""
    m = _ARGS_PREFIX.match(text)
    if not m:
        return [], text
    count = int(m.group(1))
    rest = text[m.end() :]
    pairs: list[tuple[str, str]] = []
    for _ in range(count):
        word, _, rest = rest.partition(" ")
        name, _, val = word.partition("=")
        pairs.append((name, val))
    return pairs, rest.lstrip()


def read_created_by(text: str) -> Instruction | None:
    text = text.strip()
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    nop = _NOP.match(text)
    if nop:
        return parse_instruction(text[nop.end() :])
    head = text.split(None, 1)[0] if text else ""
    if head.upper() in KEYWORDS and head.upper() != "RUN":
        return parse_instruction(text)
    if head == "RUN":
        text = text[3:].lstrip()
    args, text = build_args(text)
    shell = _SHELL.match(text)
    if shell:
        text = text[shell.end() :]
    if not text:
        return None
    return replace(Instruction("RUN", text, (text,)), build_args=tuple(args))


def history_instructions(config: ImageConfig) -> list[HistoryInstruction]:
    out: list[HistoryInstruction] = []
    layer = 0
    for i, entry in enumerate(config.history):
        layer_index = None if entry.empty_layer else layer
        if not entry.empty_layer:
            layer += 1
        if not entry.created_by:
            continue
        ins = read_created_by(entry.created_by)
        if ins is not None:
            out.append(HistoryInstruction(replace(ins, line=i), i, layer_index))
    return out


__all__ = ["HistoryInstruction", "build_args", "history_instructions", "read_created_by"]
