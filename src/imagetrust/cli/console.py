"""Where people-facing output goes: documents to stdout or a file, everything else to stderr."""

from __future__ import annotations

import os
import sys
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


def configure_logging(verbose: int) -> None:
    """Library diagnostics (the blob cache's warnings, debug logs with -vv) on stderr.

    Called with -v, and by commands that use the cache (the only code of ours that logs); a first call
    wins.  Not at start-up: importing ``logging`` costs a cold keyed verify several milliseconds.
    """
    import logging

    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="imagetrust: %(message)s")


def default_format() -> str:
    """``text`` is the default everywhere; scripts ask for ``--format json`` explicitly."""
    return "text"


def write_document(text: str, output: Path | None) -> None:
    """Write a document to stdout, or to ``output``.

    A regular file (or a new one) is replaced atomically, so a reader never sees half a document and a
    failed run leaves the previous file intact; a symlink is followed, not replaced.  Anything else that
    exists (``/dev/null``, a FIFO, a terminal) is written in place: renaming over it would destroy it.
    """
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    if output.is_dir():
        raise LocalInputError(f"--output {output}: is a directory")
    try:
        if output.exists() and not output.is_file():
            with output.open("w", encoding="utf-8") as handle:
                handle.write(text)
            return
        target = output.resolve() if output.is_symlink() else output
        directory = target.parent if str(target.parent) else Path()
        import tempfile  # only when writing a file: start-up of a plain run stays small

        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise LocalInputError(f"--output {output}: cannot write ({e.strerror or e})") from e
