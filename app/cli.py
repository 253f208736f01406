"""The ``kplay`` command: the playground (no arguments) and Kafka's command-line tools.

Each tool lives in its own module under ``app/commands`` and registers itself on the
typer app through ``register(app)``; this module only wires them together.
"""

from __future__ import annotations

import gc
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
import typer.core
import typer.main

from broker_core.schema_migration import on_migration_progress

from .cluster_profiles import ClusterChoiceProblem, chosen_cluster, resolve_cluster
from .data_location import resolve_data_path
from .migration_progress import MigrationProgressBar
from .listen_address import is_loopback

if TYPE_CHECKING:
    from typer._click import Command  # typer's own click, which its groups are built on

#: Each tool's name -> its module under app.commands (which has ``register(app: typer.Typer) -> None``
#: adding it), in the order ``kplay --help`` lists them. A tool's module is imported only when
#: that tool runs or the help lists them all: ``kplay`` with no arguments opens the playground
#: without importing any (issue 17: the playground opens in < 1 s).
COMMANDS: dict[str, str] = {
    "topics": "topics", "configs": "configs", "console-producer": "console_producer",
    "console-consumer": "console_consumer", "producer-perf-test": "perf", "consumer-perf-test": "perf",
    "feed-perf-test": "perf", "consumer-groups": "consumer_groups", "demo": "demo", "brokers": "brokers",
    "leader-election": "brokers", "schema-registry": "schema_registry", "connect": "connect",
    "generator": "connect", "serve": "serve", "serve-perf-test": "serve", "tui-perf-test": "tui_perf",
    "tui-open-perf-test": "tui_open_perf", "cluster-open-perf-test": "cluster_open_perf",
    "find-perf-test": "find_perf", "fetch-perf-test": "fetch_perf", "fetch-session-perf-test": "fetch_session_perf",
    "delete-perf-test": "delete_perf",
    "metadata-quorum": "metadata_quorum", "transactions": "transactions", "delete-records": "delete_records",
}
#: Modules under app.commands, each with ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))


def tool_commands(module: str) -> dict[str, Command]:
    """The click commands that ``app.commands.<module>`` registers, by name."""
    registry = typer.Typer()
    importlib.import_module(f"app.commands.{module}").register(registry)
    return {info.name or typer.main.get_command_name(info.callback.__name__):  # type: ignore[union-attr]
            typer.main.get_command_from_info(info, pretty_exceptions_short=app.pretty_exceptions_short,
                                             rich_markup_mode=app.rich_markup_mode)
            for info in registry.registered_commands}


class LazyToolGroup(typer.core.TyperGroup):
    """The ``kplay`` group: each tool's module is imported when the tool is named, not at start-up."""

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Command | None:
        module = COMMANDS.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            self.commands.update(tool_commands(module))
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        for name in COMMANDS:
            self.get_command(ctx, name)
        return super().list_commands(ctx)

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in COMMANDS:
            self.list_commands(ctx)  # an unknown name: typer suggests the closest of all the tools
        return super().resolve_command(ctx, args)


def _hide_flag_types() -> None:
    """Show no ``<bool>`` after a plain flag in ``--help`` (typer's rich help prints one; a flag takes no value)."""
    original = typer.core.TyperOption.display_type_rich

    def display_type_rich(self: typer.core.TyperOption, ctx: typer.Context) -> str | None:
        return None if self.is_flag or self.count else original(self, ctx)

    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_hide_flag_types()

app = typer.Typer(
    name="kplay",
    help="A Kafka playground in the terminal.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyToolGroup,
)


@app.callback(invoke_without_command=True)
def playground(ctx: typer.Context,
               data: Optional[Path] = typer.Option(None, "--data", help="Data file (default: $KPLAY_DATA or the user data dir)."),
               cluster: Optional[str] = typer.Option(None, "--cluster", metavar="HOST:PORT|NAME",
                                                     help="Open a real Kafka cluster instead of the playground: "
                                                          "bootstrap servers, or a profile in clusters.toml "
                                                          "(default: $KPLAY_CLUSTER)."),
               serve: bool = typer.Option(False, "--serve", help="Also serve the playground to real Kafka, Schema Registry "
                                          "and Connect clients, as `kplay serve` does, while it is open."),
               host: Optional[str] = typer.Option(None, "--host", metavar="HOST", help="With --serve: the address to "
                                                  "listen on (default 127.0.0.1, this machine only)."),
               port: int = typer.Option(9092, "--port", metavar="PORT", help="With --serve: broker 0's Kafka port; "
                                        "broker N listens on PORT+N (0: any free ports)."),
               schema_registry_port: int = typer.Option(8081, "--schema-registry-port", metavar="PORT",
                                                        help="With --serve: the Schema Registry REST API's port."),
               connect_port: int = typer.Option(8083, "--connect-port", metavar="PORT",
                                                help="With --serve: the Kafka Connect REST API's port."),
               advertised_host: Optional[str] = typer.Option(None, "--advertised-host", metavar="HOST",
                                                             help="With --serve: the host name Metadata gives clients."),
               kafka_only: bool = typer.Option(False, "--kafka-only", help="With --serve: no REST APIs.")) -> None:
    """Open the playground when no tool is named."""
    ctx.obj = {"data": data}
    serve_flags = {"--host": host is not None, "--port": port != 9092, "--schema-registry-port": schema_registry_port != 8081,
                   "--connect-port": connect_port != 8083, "--advertised-host": advertised_host is not None,
                   "--kafka-only": kafka_only}
    misplaced = [flag for flag, given in serve_flags.items() if given]
    if ctx.invoked_subcommand is not None:
        if cluster is not None:
            sys.stderr.write(f"kplay: --cluster goes after the tool's name ('kplay {ctx.invoked_subcommand} "
                             f"--cluster {cluster}')\n")
            raise typer.Exit(2)
        if serve or misplaced:
            where = "--serve" if serve else misplaced[0]
            sys.stderr.write(f"kplay: {where} is an option of the playground itself ('kplay {where}'), "
                             f"not of 'kplay {ctx.invoked_subcommand}'\n")
            raise typer.Exit(2)
        return
    if misplaced and not serve:
        sys.stderr.write(f"kplay: {misplaced[0]} needs --serve (see 'kplay --help')\n")
        raise typer.Exit(2)
    settings = None
    if serve:
        for name, value in (("--port", port), ("--schema-registry-port", schema_registry_port),
                            ("--connect-port", connect_port)):
            if not 0 <= value <= 65535:
                sys.stderr.write(f"kplay: {name} must be between 0 and 65535, not {value}\n")
                raise typer.Exit(2)
        bind = host if host is not None else "127.0.0.1"
        if not is_loopback(bind):
            # Serving beyond this machine needs users (SASL, basic auth): kplay serve --users has them.
            sys.stderr.write(f"kplay: --serve listens on this machine only: to serve on {bind or 'every interface'}, "
                             "run 'kplay serve --host HOST --users FILE' next to the playground\n")
            raise typer.Exit(2)
        from .tui import ServeSettings

        settings = ServeSettings(host=bind, port=port, schema_registry_port=schema_registry_port,
                                 connect_port=connect_port, advertised_host=advertised_host, kafka_only=kafka_only)
    try:
        spec = chosen_cluster(cluster, data_given=data is not None)
        profile = resolve_cluster(spec) if spec is not None else None
    except ClusterChoiceProblem as problem:
        sys.stderr.write(f"kplay: {problem}\n")
        raise typer.Exit(2) from None
    if profile is not None:
        if serve:
            sys.stderr.write("kplay: --serve serves the playground's data file, not a real cluster: "
                             "give --serve or --cluster\n")
            raise typer.Exit(2)
        from .tui import run_cluster  # imported late: the command-line tools need no Textual

        raise typer.Exit(run_cluster(profile))
    # Start-up allocates mostly what lives as long as the app (modules, widgets, styles), and the
    # collector walked it over and over: about 0.2 s of opening the playground on a loaded machine.
    # PlaygroundApp turns collections back on once its screen is up.
    gc.disable()
    try:
        from .tui import run_playground  # imported late: the command-line tools need no Textual

        code = run_playground(resolve_data_path(data), serve=settings)
    finally:
        gc.enable()
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point: a usage error is one line on stderr, never a box or a traceback."""
    on_migration_progress(MigrationProgressBar())
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
