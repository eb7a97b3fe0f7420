"""A progress bar on standard error for long audits, shown only to a person at a terminal."""

from __future__ import annotations

import sys
import threading
from types import TracebackType

from imagetrust.cli.console import Console


class AuditProgressBar:
    """``AuditProgress`` drawn with rich on stderr; a no-op unless stderr is a terminal and not --quiet."""

    def __init__(self, console: Console | None) -> None:
        self._enabled = bool(console and console.stderr_is_tty and not console.quiet)
        self._lock = threading.Lock()
        self._tasks: dict[str, object] = {}
        self._progress: object | None = None
        if self._enabled:
            from rich.console import Console as RichConsole
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            assert console is not None
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=RichConsole(file=sys.stderr, no_color=not console.color),
                transient=True,
            )

    @property
    def active(self) -> AuditProgressBar | None:
        """Itself when it draws, else None, so the pipeline skips progress work entirely."""
        return self if self._progress is not None else None

    def __enter__(self) -> AuditProgressBar:
        if self._progress is not None:
            self._progress.start()  # type: ignore[attr-defined]
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()  # type: ignore[attr-defined]

    def start(self, label: str, total_bytes: int) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._tasks[label] = self._progress.add_task(  # type: ignore[attr-defined]
                f"{label}: reading layers", total=total_bytes
            )

    def advance(self, label: str, n: int) -> None:
        if self._progress is not None and label in self._tasks:
            self._progress.update(self._tasks[label], advance=n)  # type: ignore[attr-defined]

    def step(self, label: str, text: str) -> None:
        if self._progress is not None and label in self._tasks:
            self._progress.update(self._tasks[label], description=f"{label}: {text}")  # type: ignore[attr-defined]

    def finish(self, label: str) -> None:
        if self._progress is not None and label in self._tasks:
            task = self._tasks.pop(label)
            self._progress.update(task, completed=1, total=1, visible=False)  # type: ignore[attr-defined]
