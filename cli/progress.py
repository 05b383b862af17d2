"""Progress of long jobs: a rich progress bar on a terminal, structured log lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

log = structlog.get_logger("pointclub.progress")
LOG_EVERY_SECONDS = 2.0


class JobProgress:
    def __init__(self, description: str, *, terminal: bool | None = None) -> None:
        self._description = description
        self._terminal = sys.stderr.isatty() if terminal is None else terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_log = 0.0
        self._done = 0
        self._total = 0

    def __enter__(self) -> JobProgress:
        if self._terminal:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=None)
        return self

    def update(self, done: int, total: int) -> None:
        self._done, self._total = done, total
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=total)
            return
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = now
            log.info("job.progress", job=self._description, done=done, total=total)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
        elif kind is None:
            log.info("job.progress", job=self._description, done=self._done, total=self._total)
