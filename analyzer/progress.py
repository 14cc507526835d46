"""A progress bar that appears only once a pass has taken more than a second."""
from __future__ import annotations

import time

DELAY_S = 1.0


class LazyProgress:
    """Call it with the bytes read so far; shows a bar on a terminal after DELAY_S."""

    def __init__(self, console, total: int, label: str = "reading trace"):
        self.console = console
        self.total = max(1, int(total or 0))
        self.label = label
        self.t0 = time.monotonic()
        self._bar = None
        self._task = None

    def __call__(self, position: int) -> None:
        if self._bar is None:
            if not self.console.is_terminal or time.monotonic() - self.t0 < DELAY_S:
                return
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TimeRemainingColumn)

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 DownloadColumn(), TimeRemainingColumn(),
                                 console=self.console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        self._bar.update(self._task, completed=min(position, self.total))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def reporting(source, bar):
    """Make `source.batches()` tell `bar` how far it has read, for the commands whose pass
    (inspect, export) takes no progress callback of its own."""
    batches = source.batches

    def counted():
        for batch in batches():
            yield batch
            bar(source.position())

    source.batches = counted
    return source
