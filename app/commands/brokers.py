"""``kplay brokers`` and ``kplay leader-election``: make brokers fail and leaders move.

    kplay brokers --list
    kplay brokers --stop 1
    kplay brokers --start 1
    kplay brokers --replication-delay-ms 2000
    kplay leader-election --election-type preferred --all-topic-partitions
    kplay leader-election --election-type unclean --topic orders --partition 0

Kafka has no tool that stops a broker (one kills the process); ``brokers`` is kplay's.
``leader-election`` is Kafka's kafka-leader-election, with its flags, output and words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from broker_core.errors import ElectionNotNeeded, KafkaError
from broker_core.records import TopicPartition

from app.backends import Backend, Capability, EmbeddedBackend, Unsupported

from .invocation import (BootstrapServerOption, ClusterOption, CommandConfigOption, DataOption, UsageProblem,
                         YesOption, confirm_destructive_on_topics, one_line_errors, run_on_backend)
from .output import java_exception_name, print_lines, print_table, stdout_is_terminal

BROKER_ACTIONS = ("list", "stop", "start", "replication-delay-ms", "replica-lag-time-max-ms")
ELECTION_TARGETS = ("topic", "all-topic-partitions", "path-to-json-file")


class ElectionFailed(KafkaError):
    """Some partitions could not get the leader asked for (kafka-leader-election's exit status 1)."""


def brokers(
    ctx: typer.Context,
    list_: Annotated[bool, typer.Option("--list", help="List the brokers: state, controller, leaders.")] = False,
    stop: Annotated[Optional[int], typer.Option(
        "--stop", metavar="ID", help="Stop (crash) a broker: its partitions elect new leaders.")] = None,
    start: Annotated[Optional[int], typer.Option(
        "--start", metavar="ID", help="Start a stopped broker: it catches up and rejoins the ISR.")] = None,
    replication_delay_ms: Annotated[Optional[int], typer.Option(
        "--replication-delay-ms", metavar="MS",
        help="Playground knob: followers copy each batch MS after their leader appended it (0: at once). "
             "The playground advances followers in the background; without it they move when "
             "something is produced or a broker changes.")] = None,
    replica_lag_time_max_ms: Annotated[Optional[int], typer.Option(
        "--replica-lag-time-max-ms", metavar="MS",
        help="Kafka's replica.lag.time.max.ms: how long a follower may lag before it leaves the ISR.")] = None,
    bootstrap_server: BootstrapServerOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
) -> None:
    """List, stop and start the cluster's brokers; set how followers replicate (kplay's own tool)."""
    given = {"list": list_, "stop": stop is not None, "start": start is not None,
             "replication-delay-ms": replication_delay_ms is not None,
             "replica-lag-time-max-ms": replica_lag_time_max_ms is not None}
    with one_line_errors("Error: "):
        chosen = [name for name in BROKER_ACTIONS if given[name]]
        if len(chosen) != 1:
            raise UsageProblem("Command must include exactly one action: "
                               + ", ".join(f"--{name}" for name in BROKER_ACTIONS[:-1])
                               + f" or --{BROKER_ACTIONS[-1]}")
        action = chosen[0]
        value = {"stop": stop, "start": start, "replication-delay-ms": replication_delay_ms,
                 "replica-lag-time-max-ms": replica_lag_time_max_ms}.get(action)
        run_on_backend(ctx, data, cluster, lambda backend: execute_brokers(backend, action, value))


async def execute_brokers(backend: Backend, action: str, value: Optional[int]) -> None:
    """Run one ``kplay brokers`` action and print its outcome (only ``--list`` on a real cluster)."""
    if action == "list":
        await list_brokers(backend)
        return
    if not isinstance(backend, EmbeddedBackend):
        raise Unsupported(f"--{action}: {backend.unsupported_reason(Capability.BROKER_CONTROL)}")
    controller = backend.cluster.controller
    if action == "stop":
        assert value is not None
        print_lines((await controller.stop_broker(value)).lines())
    elif action == "start":
        assert value is not None
        print_lines((await controller.start_broker(value)).lines())
    elif action == "replication-delay-ms":
        assert value is not None
        await controller.set_replication_delay(value)
        print_lines([f"Replication delay set to {value} ms: followers copy each batch {value} ms after "
                     "their leader appended it." if value else
                     "Replication delay set to 0 ms: followers copy every batch at once."])
    else:
        assert value is not None
        await controller.set_replica_lag_time_max(value)
        print_lines([f"replica.lag.time.max.ms set to {value}: a follower that is not caught up for "
                     f"longer leaves the ISR."])


async def list_brokers(backend: Backend) -> None:
    """``--list``: one row per broker (padded columns in a pipe, a table on a terminal).

    On a real cluster the rows are what Metadata tells a client (live brokers, the controller id
    it reports); the KRaft quorum and the replication knobs are the playground's only.
    """
    headers = ["BROKER", "STATE", "CONTROLLER", "LEADERS", "ROLES"]
    rows = [[str(b.broker_id), "running" if b.alive else "stopped", "yes" if b.is_controller else "no",
             str(b.leader_count), "broker,controller" if b.is_voter else "broker"]
            for b in await backend.brokers()]
    cluster = backend.cluster if isinstance(backend, EmbeddedBackend) else None
    quorum = ((await cluster.controller.quorum()).summary() if cluster is not None else
              "KRaft quorum: not visible to a client (confluent-kafka's AdminClient has no DescribeQuorum call)")
    if stdout_is_terminal():
        print_table(headers, rows)
        if cluster is None:
            print_lines([quorum])
            return
        settings = await cluster.controller.replication_settings()
        print_lines([quorum, f"Replication delay: {settings.replication_delay_ms} ms   "
                     f"replica.lag.time.max.ms: {settings.replica_lag_time_max_ms}"])
        return
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    print_lines(["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                 for row in [headers, *rows]] + [quorum])


def leader_election(
    ctx: typer.Context,
    election_type: Annotated[Optional[str], typer.Option(
        "--election-type", metavar="TYPE",
        help='"preferred" moves leadership back to the first replica; "unclean" gives a partition '
             "without a leader one from outside the ISR.")] = None,
    topic: Annotated[Optional[str], typer.Option(
        "--topic", help="Topic of the partition to elect a leader for (with --partition).")] = None,
    partition: Annotated[Optional[int], typer.Option(
        "--partition", help="Partition id to elect a leader for (with --topic).")] = None,
    all_topic_partitions: Annotated[bool, typer.Option(
        "--all-topic-partitions", help="Elect on every partition the election type applies to.")] = False,
    path_to_json_file: Annotated[Optional[Path], typer.Option(
        "--path-to-json-file", metavar="FILE",
        help='A JSON file: {"partitions": [{"topic": "foo", "partition": 1}]}.')] = None,
    bootstrap_server: BootstrapServerOption = None,
    command_config: CommandConfigOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
    yes: YesOption = False,
) -> None:
    """Elect partition leaders: preferred replicas or unclean ones (kafka-leader-election)."""
    with one_line_errors():
        kind = check_election_arguments(election_type, topic, partition, all_topic_partitions, path_to_json_file)
        partitions: Optional[list[TopicPartition]] = None
        if path_to_json_file is not None:
            partitions = read_election_file(path_to_json_file)
        elif topic is not None:
            assert partition is not None
            partitions = [TopicPartition(topic, partition)]
        run_on_backend(ctx, data, cluster, lambda backend: execute_election(backend, kind, partitions, yes=yes))


def check_election_arguments(election_type: Optional[str], topic: Optional[str], partition: Optional[int],
                             all_topic_partitions: bool, path_to_json_file: Optional[Path]) -> str:
    """``LeaderElectionCommandOptions.validate``: refuse what Kafka's tool refuses, in its words."""
    if election_type is None:
        raise UsageProblem("Missing required option(s): election-type")
    kind = election_type.strip().lower()
    if kind not in ("preferred", "unclean"):
        raise UsageProblem(f"Invalid election type '{election_type}': must be one of preferred, unclean")
    targets = [topic is not None, all_topic_partitions, path_to_json_file is not None]
    if sum(targets) != 1:
        raise UsageProblem("One and only one of the following options is required: " + ", ".join(ELECTION_TARGETS))
    if topic is not None and partition is None:
        raise UsageProblem("Missing required option(s): partition")
    if topic is None and partition is not None:
        raise UsageProblem("Option partition is only allowed if topic is used")
    return kind


def read_election_file(path: Path) -> list[TopicPartition]:
    """The partitions of a ``--path-to-json-file`` file, checked as Kafka checks them."""
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UsageProblem(f"Error: {path} is not valid JSON ({error})") from None
    if not document:
        raise UsageProblem("Replica election data is empty")
    if not isinstance(document, dict) or "partitions" not in document:
        raise UsageProblem('Replica election data is missing "partitions" field')
    partitions = []
    for entry in document["partitions"] if isinstance(document["partitions"], list) else [None]:
        if (not isinstance(entry, dict) or not isinstance(entry.get("topic"), str)
                or not isinstance(entry.get("partition"), int) or isinstance(entry.get("partition"), bool)):
            raise UsageProblem('Replica election data must list {"topic": "<name>", "partition": <id>} objects')
        partitions.append(TopicPartition(entry["topic"], entry["partition"]))
    duplicates = sorted({str(tp) for tp in partitions if partitions.count(tp) > 1})
    if duplicates:
        raise UsageProblem(f"Replica election data contains duplicate partitions: {','.join(duplicates)}")
    return partitions


async def execute_election(backend: Backend, kind: str, partitions: Optional[list[TopicPartition]], *,
                           yes: bool = False) -> None:
    """Elect, then print Kafka's three kinds of lines; fail (status 1) if any partition failed.

    An unclean election can lose committed records, so on a real cluster it asks for the topic's name
    typed back (the cluster's name when the election spans several topics or all of them).
    """
    if kind == "unclean":
        backend.check_writable("elect unclean leaders")
        confirm_destructive_on_topics(backend, "elect unclean leaders (records may be lost)",
                                      None if partitions is None else [tp.topic for tp in partitions], yes=yes)
    results = await backend.elect_leaders(kind, partitions)
    label = kind.upper()
    succeeded = sorted((tp for tp, error in results.items() if error is None), key=_order)
    not_needed = sorted((tp for tp, error in results.items() if isinstance(error, ElectionNotNeeded)), key=_order)
    failed = sorted(((tp, error) for tp, error in results.items()
                     if error is not None and not isinstance(error, ElectionNotNeeded)), key=lambda x: _order(x[0]))
    lines = []
    if succeeded:
        lines.append(f"Successfully completed leader election ({label}) for partitions "
                     + ", ".join(map(str, succeeded)))
    if not_needed:
        lines.append("Valid replica already elected for partitions " + ", ".join(map(str, not_needed)))
    for tp, error in failed:
        assert error is not None
        lines.append(f"Error completing leader election ({label}) for partition: {tp}: "
                     f"{java_exception_name(error)}: {error}")
    if not results and stdout_is_terminal():
        lines.append("No partition needed a leader election.")
    print_lines(lines)
    if failed:
        raise ElectionFailed(f"{len(failed)} replica(s) could not be elected")


def _order(tp: TopicPartition) -> tuple[str, int]:
    return tp.topic, tp.partition


def register(app: typer.Typer) -> None:
    """Add ``kplay brokers`` and ``kplay leader-election`` to the app."""
    app.command("brokers")(brokers)
    app.command("leader-election")(leader_election)
