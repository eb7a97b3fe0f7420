"""Where people-facing output goes: documents to stdout or a file, everything else to stderr."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click

from imagetrust.errors import LocalInputError


@dataclass(frozen=True)
class Console:
    verbose: int
    quiet: bool
    color: bool
    stderr_is_tty: bool

    @classmethod
    def from_environment(cls, *, verbose: int, quiet: bool) -> Console:
        tty = sys.stderr.isatty()
        color = tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        return cls(verbose=verbose, quiet=quiet, color=color, stderr_is_tty=tty)

    def info(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True, color=self.color)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            click.echo(message, err=True, color=self.color)

    def warn(self, message: str) -> None:
        if not self.quiet:
            click.echo(f"imagetrust: warning: {message}", err=True, color=self.color)


def default_format() -> str:
    """``text`` is the default everywhere; scripts ask for ``--format json`` explicitly."""
    return "text"


def write_document(text: str, output: Path | None) -> None:
    """Write a document to stdout, or atomically to ``output`` (a reader never sees half a file)."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    directory = output.parent if str(output.parent) else Path()
    if output.is_dir():
        raise LocalInputError(f"--output {output}: is a directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{output.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(output)
    except OSError as e:
        raise LocalInputError(f"--output {output}: cannot write ({e.strerror or e})") from e
