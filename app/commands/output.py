"""How the command-line tools print: Kafka's plain text in pipes, rich tables on a terminal.

Every tool writes its results through this module, so the rules hold everywhere: when
stdout is not a terminal the output is exactly what Kafka's tool prints (tabs, padded
columns, nothing else), so it pipes into ``grep``, ``cut`` and ``awk``; on a terminal a
table may be drawn with rich. Record contents are untrusted: on a terminal they are
escaped so that a value can never move the cursor or retitle the window.
Errors are always one line on stderr.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from broker_core.errors import InvalidConfig, KafkaError, StorageError, TopicAlreadyExists

#: What Kafka prints for a missing column value (``ConsumerGroupCommand.MISSING_COLUMN_VALUE``).
MISSING = "-"


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (rich output allowed) rather than a pipe or a file."""
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def print_error(message: str) -> None:
    """Write ``message`` to stderr as exactly one line."""
    line = " ".join(str(message).split("\n")).rstrip()
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # nobody is listening on stderr; the exit code still tells


def java_exception_name(error: KafkaError) -> str:
    """The simple name of the exception Kafka's Java client raises for ``error``.

    ``RecordTooLarge`` is ``RecordTooLargeException`` there; a learner who sees it here
    recognises it later in a real client's log.
    """
    if isinstance(error, TopicAlreadyExists):
        return "TopicExistsException"
    if isinstance(error, InvalidConfig):
        return "InvalidConfigurationException"
    if isinstance(error, StorageError):
        return "KafkaStorageException"
    return f"{type(error).__name__}Exception"


def print_lines(lines: Sequence[str]) -> None:
    """Write ``lines`` to stdout, each ended by a newline, and flush."""
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def kafka_table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A table as Kafka's tools print it (ToolsUtils.prettyPrintTable): each cell padded to its
    column's width and followed by a tab, headers first."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    return ["".join(str(cell).ljust(width) + "\t" for cell, width in zip(row, widths)) for row in [headers, *rows]]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None) -> None:
    """Draw a table on the terminal with rich (only call this when stdout is a terminal).

    Cells are shown as text, never as rich markup, since names and ids come from users.
    Columns are never cut: a table wider than the terminal is drawn at its full width.
    """
    import shutil

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    gap = 2
    widths = [max([len(str(header)), *(len(str(row[i])) for row in rows)]) for i, header in enumerate(headers)]
    needed = sum(widths) + gap * (len(widths) - 1)
    table = Table(title=title, title_justify="left", header_style="bold cyan", box=None, pad_edge=False,
                  padding=(0, gap, 0, 0), collapse_padding=True)
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    width = max(shutil.get_terminal_size().columns, needed + gap)
    Console(highlight=False, width=width).print(table)


def print_heading(text: str) -> None:
    """A bold line on the terminal (only call this when stdout is a terminal); tabs become gaps."""
    from rich.console import Console
    from rich.text import Text

    Console(highlight=False).print(Text(text.replace("\t", "  "), style="bold"), soft_wrap=True)
