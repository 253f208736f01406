"""What the CLI shows while a data file of an older schema is migrated as it opens.

The core migrates in one transaction and reports its progress (``broker_core.schema_migration``);
here that becomes one line on stderr saying what is happening, and for a big file a rich
progress bar (when stderr is a terminal), so a long first open is never a silent wait.
"""

from __future__ import annotations

import sys
from typing import Any

#: Below this many records the migration takes well under a second: the line alone says it.
PROGRESS_BAR_MIN_RECORDS = 50_000


class MigrationProgressBar:
    """Told (path, records done, records in all) by the core's schema migration."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def __call__(self, path: str, done: int, total: int) -> None:
        if done == 0:
            self._start(path, total)
        elif self._progress is not None:
            self._progress.update(self._task, completed=done)
        if done >= total:
            self._finish()

    def _start(self, path: str, total: int) -> None:
        sys.stderr.write(f"kplay: {path} stores one row per record (schema version 1); moving its {total} "
                         "records to record batches (version 2), once, in one transaction\n")
        sys.stderr.flush()
        if total < PROGRESS_BAR_MIN_RECORDS or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("migrating records"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("migrating", total=total)

    def _finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
