"""``kplay connect`` and ``kplay generator``: Kafka Connect's REST calls as flags, and the data generator.

    kplay connect --create source_connector.json     # POST /connectors
    kplay connect --list                             # GET /connectors
    kplay connect --status jdbc-source               # GET /connectors/jdbc-source/status
    kplay connect --config jdbc-source               # GET /connectors/jdbc-source/config
    kplay connect --pause / --resume / --delete jdbc-source
    kplay connect --restart jdbc-source [--include-tasks] [--only-failed]
    kplay connect --worker                           # run a Connect worker until Ctrl-C
    kplay generator --table iris_data --rate 1/s --db jdbc:sqlite:source.db [--count N]

Answers are the JSON bodies Kafka Connect's REST API returns (what the tutorial's
``curl`` prints): compact when piped, indented on a terminal. A connector file may be the
REST body (``{"name": ..., "config": {...}}``) or a flat config with ``name`` in it.
Connectors run in a worker: ``kplay connect --worker`` in another terminal, or the
playground; the other flags only read and write the cluster's Connect topics.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from app.backends import Backend, EmbeddedBackend
from app.backends.connect_client import RemoteConnect
from broker_core import Cluster
from broker_core.events import RecordsAppended, Resync

if TYPE_CHECKING:  # the Connect modules load SQLAlchemy: only the commands that run them import them
    from broker_core.connect import ConnectWorker, DataGenerator

from .invocation import (ClusterOption, DataOption, UsageProblem, YesOption, confirm_destructive, data_path,
                         one_line_errors, run_on_backend)
from .output import print_lines, stdout_is_terminal

ACTIONS = ("create", "list", "status", "config", "pause", "resume", "restart", "delete", "worker")
#: Worker settings ``--property`` accepts (Kafka Connect's worker config names).
WORKER_PROPERTIES = ("session.timeout.ms", "heartbeat.interval.ms", "worker.id")


def connect(
    ctx: typer.Context,
    create: Annotated[Optional[Path], typer.Option("--create", metavar="FILE.json",
                                                   help="Create a connector from a JSON file (POST /connectors).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the connectors (GET /connectors).")] = False,
    status: Annotated[Optional[str], typer.Option("--status", metavar="NAME",
                                                  help="A connector's and its tasks' states.")] = None,
    config: Annotated[Optional[str], typer.Option("--config", metavar="NAME", help="A connector's config.")] = None,
    pause: Annotated[Optional[str], typer.Option("--pause", metavar="NAME", help="Pause a connector.")] = None,
    resume: Annotated[Optional[str], typer.Option("--resume", metavar="NAME", help="Resume a connector.")] = None,
    restart: Annotated[Optional[str], typer.Option("--restart", metavar="NAME", help="Restart a connector.")] = None,
    delete: Annotated[Optional[str], typer.Option("--delete", metavar="NAME", help="Delete a connector.")] = None,
    worker: Annotated[bool, typer.Option("--worker", help="Run a Connect worker until Ctrl-C.")] = False,
    include_tasks: Annotated[bool, typer.Option("--include-tasks",
                                                help="With --restart: restart the tasks too.")] = False,
    only_failed: Annotated[bool, typer.Option("--only-failed",
                                              help="With --restart: only what has FAILED.")] = False,
    property_: Annotated[Optional[list[str]], typer.Option(
        "--property", metavar="KEY=VALUE",
        help="With --worker: session.timeout.ms, heartbeat.interval.ms or worker.id.")] = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
    yes: YesOption = False,
) -> None:
    """Create, inspect and control connectors, or run a Connect worker (Kafka Connect's REST API; with
    --cluster, the profile's connect.url)."""
    chosen = {"create": create is not None, "list": list_, "status": status is not None,
              "config": config is not None, "pause": pause is not None, "resume": resume is not None,
              "restart": restart is not None, "delete": delete is not None, "worker": worker}
    with one_line_errors("Error: "):
        actions = [name for name in ACTIONS if chosen[name]]
        if len(actions) != 1:
            raise UsageProblem("Command must include exactly one action: --create, --list, --status, --config, "
                               "--pause, --resume, --restart, --delete or --worker")
        action = actions[0]
        if (include_tasks or only_failed) and action != "restart":
            raise UsageProblem('Options "--include-tasks" and "--only-failed" go with "--restart"')
        if property_ and action != "worker":
            raise UsageProblem('Option "--property" goes with "--worker"')
        settings = _worker_properties(property_ or [])
        body = _read_connector_file(create) if create is not None else None
        name = status or config or pause or resume or restart or delete

        async def tool(backend: Backend) -> int:
            if isinstance(backend, EmbeddedBackend):
                from broker_core.connect import ConnectWorker

                connect_worker: "ConnectWorker | RemoteConnect" = ConnectWorker(backend.cluster, **settings)
                if action == "worker":
                    return await run_worker(backend.cluster, connect_worker)
            elif action == "worker":
                raise UsageProblem("--worker runs a Connect worker on the playground's file; a real cluster's "
                                   "connectors run in its own Connect workers (give the profile a connect.url)")
            else:
                connect_worker = backend.connect()  # type: ignore[assignment]
                if action != "status" and action != "config" and action != "list":
                    backend.check_writable(f"change connectors ({action})")
                if action == "delete":
                    assert name is not None
                    confirm_destructive(backend, f"delete connector '{name}'", name, yes=yes)
            return await execute(connect_worker, action, name, body, include_tasks, only_failed)

        code = run_on_backend(ctx, data, cluster, tool)
    raise typer.Exit(code)


def _worker_properties(items: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in WORKER_PROPERTIES:
            raise UsageProblem(f"Invalid worker property '{item}' (expected KEY=VALUE with KEY one of "
                               f"{', '.join(WORKER_PROPERTIES)})")
        if key == "worker.id":
            settings["worker_id"] = value.strip()
            continue
        try:
            number = int(value)
        except ValueError:
            raise UsageProblem(f"Invalid value {value} for configuration {key}: Not a number of type INT") from None
        settings["session_timeout_ms" if key == "session.timeout.ms" else "heartbeat_interval_ms"] = number
    if settings.get("heartbeat_interval_ms", 0) >= settings.get("session_timeout_ms", 10_000) \
            and "heartbeat_interval_ms" in settings:
        raise UsageProblem("heartbeat.interval.ms must be lower than session.timeout.ms")
    return settings


def _read_connector_file(path: Path) -> tuple[dict[str, Any], Optional[str]]:
    """The connector config in a JSON file: the REST body form or a flat config."""
    try:
        parsed = json.loads(path.expanduser().read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageProblem(f"Error: cannot read {path}: {error.strerror or error}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise UsageProblem(f"Error: {path} is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise UsageProblem(f"Error: {path} must hold a JSON object (a connector config)")
    if "config" in parsed and isinstance(parsed["config"], dict):
        name = parsed.get("name")
        return parsed["config"], (str(name) if name is not None else None)
    return parsed, None


async def execute(worker: "ConnectWorker | RemoteConnect", action: str, name: Optional[str],
                  body: Optional[tuple[dict[str, Any], Optional[str]]], include_tasks: bool, only_failed: bool) -> int:
    """Carry out one REST-like action and print its answer."""
    if action == "create":
        assert body is not None
        config, named = body
        info = await worker.create_connector(config, named)
        _print_json(info.to_json())
    elif action == "list":
        _print_json(await worker.list_connectors())
    elif action == "status":
        assert name is not None
        _print_json((await worker.connector_status(name)).to_json())
    elif action == "config":
        assert name is not None
        _print_json(await worker.connector_config(name))
    elif action == "pause":
        assert name is not None
        await worker.pause_connector(name)
        print_lines([f"Connector {name} paused."])
    elif action == "resume":
        assert name is not None
        await worker.resume_connector(name)
        print_lines([f"Connector {name} resumed."])
    elif action == "restart":
        assert name is not None
        await worker.restart_connector(name, include_tasks=include_tasks, only_failed=only_failed)
        print_lines([f"Restart of connector {name} requested."])
    elif action == "delete":
        assert name is not None
        await worker.delete_connector(name)
        print_lines([f"Connector {name} deleted."])
    return 0


def _print_json(value: Any) -> None:
    if stdout_is_terminal():
        print_lines(json.dumps(value, indent=2).splitlines())
    else:
        print_lines([json.dumps(value, separators=(",", ":"))])


async def run_worker(cluster: Cluster, worker: ConnectWorker) -> int:
    """Run ``worker`` until SIGINT or SIGTERM, printing every status it or another worker reports."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    from broker_core.connect.internal_topics import STATUS_TOPIC, CompactedTopic

    statuses = CompactedTopic(cluster, STATUS_TOPIC)
    try:
        await cluster.start_broker_tasks()  # the worker's process runs a broker's cleaner too
        await worker.start()
        print_lines([f"{_now()} INFO Worker {worker.worker_id} started on {cluster.path}"])
        await statuses.ensure()
        positions = {p: (await statuses.read_partition(p))[1] for p in range(statuses.partitions)}
        events = cluster.feed.subscribe("records", "resync")
        try:
            while not stop.is_set():
                waiter = asyncio.ensure_future(events.get())
                stopper = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                for pending in (waiter, stopper):
                    if pending not in done:
                        pending.cancel()
                if waiter not in done:
                    break
                batch = [waiter.result(), *events.get_nowait()]
                if any(isinstance(e, Resync) or (isinstance(e, RecordsAppended) and e.topic == STATUS_TOPIC)
                       for e in batch):
                    for partition in range(statuses.partitions):
                        records, positions[partition] = await statuses.read_partition(partition, positions[partition])
                        print_lines([_status_line(r.key, r.value) for r in records])
        finally:
            events.close()
    finally:
        await worker.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        print_lines([f"{_now()} INFO Worker {worker.worker_id} stopped"])
    return 0


def _status_line(key: Optional[bytes], value: Optional[bytes]) -> str:
    """One log line for a status record, in the spirit of Connect's log."""
    what = (key or b"").decode("utf-8", errors="backslashreplace").removeprefix("status-")
    if value is None:
        return f"{_now()} INFO {what} removed"
    data = json.loads(value)
    line = f"{_now()} INFO {what} is {data.get('state')} on worker {data.get('worker_id')}"
    trace = data.get("trace")
    if trace:
        line += f": {str(trace).splitlines()[0]}"
    return line


def _now() -> str:
    return datetime.now().strftime("[%Y-%m-%d %H:%M:%S,%f")[:-3] + "]"


def generator(
    ctx: typer.Context,
    table: Annotated[str, typer.Option("--table", help="Source table (created if missing).")] = "iris_data",
    rate: Annotated[str, typer.Option("--rate", help="Rows per second or minute, e.g. 1/s or 600/m.")] = "1/s",
    db: Annotated[str, typer.Option("--db", metavar="URL",
                                    help="jdbc:sqlite:PATH, jdbc:postgresql://host:port/db, or a file path.")] = "",
    count: Annotated[Optional[int], typer.Option("--count", help="Stop after this many rows.")] = None,
    user: Annotated[str, typer.Option("--user", help="Database user.")] = "",
    password: Annotated[str, typer.Option("--password", help="Database password.")] = "",
) -> None:
    """Insert Fisher's iris data into a source table at a steady rate, until Ctrl-C or --count."""
    with one_line_errors("Error: "):
        if not db:
            raise UsageProblem('Missing required option "--db" (e.g. --db jdbc:sqlite:source.db)')
        if count is not None and count < 1:
            raise UsageProblem("--count must be at least 1")
        try:
            from broker_core.connect import DataGenerator
            from broker_core.connect.databases import ConnectionUrlError
            from broker_core.connect.generator import parse_rate
            from broker_core.connect.sqlite_files import sqlite_directory

            per_second = parse_rate(rate)
            # Relative paths in the connectors' directory, so `--db jdbc:sqlite:source.db` is the
            # file they read; absolute ones anywhere (the user runs this tool, not a REST client).
            source = DataGenerator(db, table, user=user, password=password,
                                   base_dir=sqlite_directory(data_path(ctx, None)), confine=False)
        except (ValueError, ConnectionUrlError) as problem:
            raise UsageProblem(f"Error: {problem}") from None
        try:
            asyncio.run(_generate(source, per_second, count, rate))
        except Exception as error:  # the database refused (unreachable, bad table): one line
            if isinstance(error, (UsageProblem, OSError)):
                raise
            raise UsageProblem(f"Error: {type(error).__name__}: {' '.join(str(error).split())}") from None
        finally:
            source.close()
    raise typer.Exit(0)


async def _generate(source: DataGenerator, per_second: float, count: Optional[int], rate: str) -> int:
    loop = asyncio.get_running_loop()
    terminal = stdout_is_terminal()
    started = time.monotonic()
    runner = asyncio.ensure_future(source.run(per_second, count, lambda gen: _progress(gen, started, terminal)))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runner.cancel)
    try:
        await runner
    except asyncio.CancelledError:
        pass
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if terminal:
        sys.stdout.write("\n")
    print_lines([f"Inserted {source.inserted} rows into {source.table_name} (last id {source.last_id}) at {rate}."])
    return source.inserted


def _progress(source: DataGenerator, started: float, terminal: bool) -> None:
    """The live progress line on a terminal (rewritten in place); nothing in a pipe."""
    if not terminal:
        return
    elapsed = max(time.monotonic() - started, 1e-9)
    sys.stdout.write(f"\r{source.inserted} rows inserted into {source.table_name}, last id {source.last_id}, "
                     f"{source.inserted / elapsed:.1f} rows/s   ")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add ``kplay connect`` and ``kplay generator`` to the app."""
    app.command("connect")(connect)
    app.command("generator")(generator)
