"""The ``kplay`` command: the playground (no arguments) and Kafka's command-line tools.

Each tool lives in its own module under ``app/commands`` and registers itself on the
typer app through ``register(app)``; this module only wires them together.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Optional

import typer

from broker_core.storage import default_data_path

#: Modules under app.commands, each with ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = ("topics", "console_producer", "console_consumer", "perf", "consumer_groups", "demo", "brokers", "schema_registry", "connect", "serve", "tui_perf")

app = typer.Typer(
    name="kplay",
    help="A Kafka playground in the terminal.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def resolve_data_path(data: Optional[Path]) -> Path:
    """The data file: ``--data``, else ``KPLAY_DATA``, else the user's data directory."""
    return data.expanduser() if data is not None else default_data_path()


@app.callback(invoke_without_command=True)
def playground(ctx: typer.Context,
               data: Optional[Path] = typer.Option(None, "--data", help="Data file (default: $KPLAY_DATA or the user data dir).")) -> None:
    """Open the playground when no tool is named."""
    ctx.obj = {"data": data}
    if ctx.invoked_subcommand is None:
        from .tui import run_playground  # imported late: the command-line tools need no Textual

        raise typer.Exit(run_playground(resolve_data_path(data)))


for _module in COMMAND_MODULES:
    importlib.import_module(f"app.commands.{_module}").register(app)


def main() -> None:
    """Console-script entry point: a usage error is one line on stderr, never a box or a traceback."""
    try:
        code = app(prog_name="kplay", standalone_mode=False)
    except typer.TyperException as error:  # typer's own usage errors: unknown flag, bad integer, ...
        where = getattr(getattr(error, "ctx", None), "command_path", "kplay")
        sys.stderr.write(f"{where}: {error.format_message()} (see '{where} --help')\n")
        code = getattr(error, "exit_code", 2)
    except typer.Abort:
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
