"""``kplay topics``: kafka-topics, with its flags, its output and its error wording.

    kplay topics --create --topic orders --partitions 3 --replication-factor 2
    kplay topics --describe --topic orders
    kplay topics --alter --topic orders --partitions 6
    kplay topics --list
    kplay topics --delete --topic orders

``--describe`` prints Kafka 4.x's tab-separated lines (a ``Topic:`` header per topic and one
row per partition), on a terminal too: a learner sees what Kafka prints. Failures while the
command runs go to stdout behind ``Error while executing topic command : ``, as Kafka's do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Annotated, Any, Optional

import typer

from app.backends import Backend
from broker_core.config import value_text
from broker_core.coordinator_records import INTERNAL_TOPICS
from broker_core.errors import TopicAlreadyExists
from broker_core.topics import PartitionDescription, TopicDescription

from .invocation import (BootstrapServerOption, ClusterOption, CommandConfigOption, DataOption, UsageProblem,
                         YesOption, ZookeeperOption, confirm_destructive, note_removed_flag, one_line_errors,
                         run_on_backend)
from .output import print_lines

#: What kafka-topics puts before an error the cluster returned.
ERROR_PREFIX = "Error while executing topic command : "
ACTIONS = ("list", "describe", "create", "alter", "delete")
#: Kafka's topic-level defaults when --partitions or --replication-factor is left out
#: (the broker's num.partitions and default.replication.factor).
DEFAULT_PARTITIONS = 1
DEFAULT_REPLICATION_FACTOR = 1
MAX_REPLICATION_FACTOR = 32767  # Short.MAX_VALUE: the wire format's limit
COLLISION_WARNING = ("WARNING: Due to limitations in metric names, topics with a period ('.') or "
                     "underscore ('_') could collide. To avoid issues it is best to use either, but not both.")


@dataclass(frozen=True)
class TopicCommand:
    """One ``kplay topics`` invocation, after its flags were checked."""

    action: str
    topic: Optional[str]
    partitions: Optional[int]
    replication_factor: Optional[int]
    configs: list[str]  # the --config arguments, parsed when the topic is created (as Kafka does)
    if_exists: bool
    if_not_exists: bool
    reports: frozenset[str]  # under-replicated, unavailable, under-min-isr, at-min-isr
    topics_with_overrides: bool
    exclude_internal: bool = False
    yes: bool = False  # --yes: a real cluster's topics are deleted without their names typed back


def topics(
    ctx: typer.Context,
    create: Annotated[bool, typer.Option("--create", help="Create a new topic.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List all available topics.")] = False,
    describe: Annotated[bool, typer.Option("--describe", help="List details for the given topics.")] = False,
    alter: Annotated[bool, typer.Option("--alter", help="Alter the number of partitions.")] = False,
    delete: Annotated[bool, typer.Option("--delete", help="Delete a topic.")] = False,
    topic: Annotated[Optional[str], typer.Option(
        "--topic", help="The topic to create, alter, describe or delete (a regular expression "
                        "except with --create).")] = None,
    partitions: Annotated[Optional[int], typer.Option(
        "--partitions", help="Number of partitions for the topic being created or altered.")] = None,
    replication_factor: Annotated[Optional[int], typer.Option(
        "--replication-factor", help="Replication factor of the topic being created.")] = None,
    config: Annotated[Optional[list[str]], typer.Option(
        "--config", metavar="NAME=VALUE", help="A topic config override for the topic being created.")] = None,
    if_exists: Annotated[bool, typer.Option(
        "--if-exists", help="With --alter, --delete or --describe: act only if the topic exists.")] = False,
    if_not_exists: Annotated[bool, typer.Option(
        "--if-not-exists", help="With --create: do not fail if the topic already exists.")] = False,
    under_replicated: Annotated[bool, typer.Option(
        "--under-replicated-partitions", help="With --describe: only under-replicated partitions.")] = False,
    unavailable: Annotated[bool, typer.Option(
        "--unavailable-partitions", help="With --describe: only partitions without an available leader.")] = False,
    under_min_isr: Annotated[bool, typer.Option(
        "--under-min-isr-partitions", help="With --describe: only partitions whose ISR is below min.insync.replicas.")] = False,
    at_min_isr: Annotated[bool, typer.Option(
        "--at-min-isr-partitions", help="With --describe: only partitions whose ISR equals min.insync.replicas.")] = False,
    topics_with_overrides: Annotated[bool, typer.Option(
        "--topics-with-overrides", help="With --describe: only topics that override a config.")] = False,
    exclude_internal: Annotated[bool, typer.Option(
        "--exclude-internal", help="Exclude internal topics (__consumer_offsets) when listing or describing "
                                   "all topics.")] = False,
    bootstrap_server: BootstrapServerOption = None,
    command_config: CommandConfigOption = None,
    zookeeper: ZookeeperOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
    yes: YesOption = False,
) -> None:
    """Create, delete, describe, or change a topic (kafka-topics)."""
    if zookeeper is not None:
        note_removed_flag("--zookeeper", "--bootstrap-server")
    flags = {"create": create, "list": list_, "describe": describe, "alter": alter, "delete": delete}
    reports = {"under-replicated-partitions": under_replicated, "unavailable-partitions": unavailable,
               "under-min-isr-partitions": under_min_isr, "at-min-isr-partitions": at_min_isr}
    with one_line_errors():  # kafka-topics' option checks: stderr
        command = check_arguments(
            flags, topic=topic, partitions=partitions, replication_factor=replication_factor,
            config=config or [], if_exists=if_exists, if_not_exists=if_not_exists,
            reports=frozenset(name for name, given in reports.items() if given),
            topics_with_overrides=topics_with_overrides)
        command = replace(command, exclude_internal=exclude_internal, yes=yes)
    # Everything that fails while the command runs: stdout, behind kafka-topics' prefix.
    with one_line_errors(ERROR_PREFIX, on_stdout=True):
        run_on_backend(ctx, data, cluster, lambda backend: execute(backend, command))


def check_arguments(flags: dict[str, bool], *, topic: Optional[str], partitions: Optional[int],
                    replication_factor: Optional[int], config: list[str], if_exists: bool,
                    if_not_exists: bool, reports: frozenset[str], topics_with_overrides: bool) -> TopicCommand:
    """Kafka's ``TopicCommandOptions.checkArgs``: refuse what kafka-topics refuses, in its words."""
    chosen = [name for name in ACTIONS if flags[name]]
    if len(chosen) != 1:
        raise UsageProblem("Command must include exactly one action: --list, --describe, --create, --alter or --delete")
    action = chosen[0]
    if action not in ("list", "describe") and topic is None:
        raise UsageProblem('Missing required argument "[topic]"')
    if action == "alter" and config:
        raise UsageProblem('Option "[config]" can\'t be used with option "[alter]" '
                           "(To alter topic configurations, the kafka-configs tool can be used.)")
    if action == "alter" and partitions is None:
        raise UsageProblem('Missing required argument "[partitions]"')
    allowed = {
        "config": (bool(config), ("create", "alter")),
        "partitions": (partitions is not None, ("create", "alter")),
        "replication-factor": (replication_factor is not None, ("create",)),
        "if-exists": (if_exists, ("alter", "delete", "describe")),
        "if-not-exists": (if_not_exists, ("create",)),
        "topics-with-overrides": (topics_with_overrides, ("describe",)),
        **{name: (True, ("describe",)) for name in sorted(reports)},
    }
    for option, (given, actions) in allowed.items():
        if given and action not in actions:
            raise UsageProblem(f'Option "[{option}]" can\'t be used with option "[{action}]"')
    if reports and topics_with_overrides:
        raise UsageProblem(f'Option "[{sorted(reports)[0]}]" can\'t be used with option "[topics-with-overrides]"')
    return TopicCommand(action, topic, partitions, replication_factor, list(config),
                        if_exists, if_not_exists, reports, topics_with_overrides)


def parse_topic_configs(arguments: list[str]) -> dict[str, str]:
    """``--config k=v`` arguments as kafka-topics reads them (``key = value`` with spaces allowed)."""
    configs: dict[str, str] = {}
    for argument in arguments:
        parts = re.split(r"\s*=\s*", argument)
        if len(parts) != 2:
            raise UsageProblem('requirement failed: Invalid topic config: all configs to be added must be '
                               'in the format "key=val".')
        configs[parts[0].strip()] = parts[1].strip()
    return configs


async def execute(backend: Backend, command: TopicCommand) -> None:
    """Carry out the checked command against the cluster and print what kafka-topics prints."""
    if command.action == "create":
        await create(backend, command)
        return
    names = matching_topics(await backend.list_topics(), command.topic)
    if command.exclude_internal:
        names = [name for name in names if name not in INTERNAL_TOPICS]
    if command.action == "list":
        print_lines(["\n".join(names)])  # println of the joined names: a blank line when there are none
        return
    if command.topic is not None and not names and not command.if_exists:
        raise UsageProblem(f"Topic '{command.topic}' does not exist as expected")
    if command.action == "describe":
        await describe(backend, names, command)
    elif command.action == "alter":
        assert command.partitions is not None
        for name in names:
            await backend.create_partitions(name, command.partitions)
    elif command.action == "delete":
        for name in names:
            backend.check_writable(f"delete topic '{name}'")
            confirm_destructive(backend, f"delete topic '{name}' and its records", name, yes=command.yes)
            await backend.delete_topic(name)


async def create(backend: Backend, command: TopicCommand) -> None:
    """``--create``: validate as kafka-topics does, then ask the cluster."""
    name = command.topic
    assert name is not None
    if "." in name or "_" in name:
        print_lines([COLLISION_WARNING])
    rf = DEFAULT_REPLICATION_FACTOR if command.replication_factor is None else command.replication_factor
    count = DEFAULT_PARTITIONS if command.partitions is None else command.partitions
    if not 1 <= rf <= MAX_REPLICATION_FACTOR:
        raise UsageProblem(f"The replication factor must be between 1 and {MAX_REPLICATION_FACTOR} inclusive")
    if count < 1:
        raise UsageProblem("The partitions must be greater than 0")
    configs = parse_topic_configs(command.configs)
    try:
        await backend.create_topic(name, count, rf, configs)
    except TopicAlreadyExists:
        if command.if_not_exists:
            return
        raise
    print_lines([f"Created topic {name}."])


def matching_topics(names: list[str], pattern: Optional[str]) -> list[str]:
    """The topics ``--topic`` selects: Kafka treats it as a regular expression (commas mean "or")."""
    if pattern is None:
        return names
    try:
        regex = re.compile(pattern.strip().strip("'\"").replace(",", "|"))
    except re.error:
        return [name for name in names if name == pattern]
    return [name for name in names if regex.fullmatch(name)]


async def describe(backend: Backend, names: list[str], command: TopicCommand) -> None:
    """``--describe``: a header line per topic and a line per partition, as kafka-topics prints."""
    if not names:
        return
    descriptions = await backend.describe_topics(names)
    live = {broker.broker_id for broker in await backend.brokers() if broker.alive}
    lines: list[str] = []
    for description in descriptions:
        min_isr = int(description.effective_config()["min.insync.replicas"])
        shown = [p for p in description.partitions
                 if not command.reports or any(_reported(report, p, live, min_isr) for report in command.reports)]
        show_header = not command.reports and (not command.topics_with_overrides or description.config)
        show_partitions = not command.topics_with_overrides
        if show_header:
            lines.append(topic_header(description))
        if show_partitions:
            lines.extend(partition_line(description.name, p) for p in shown)
    print_lines(lines)


def topic_header(description: TopicDescription) -> str:
    """``Topic: T<TAB>TopicId: ...<TAB>PartitionCount: N<TAB>ReplicationFactor: R<TAB>Configs: k=v,...``"""
    configs = ",".join(f"{key}={_config_value(value)}" for key, value in sorted(description.config.items()))
    return (f"Topic: {description.name}\tTopicId: {description.topic_id}"
            f"\tPartitionCount: {description.partition_count}"
            f"\tReplicationFactor: {description.replication_factor}\tConfigs: {configs}")


def partition_line(topic: str, partition: PartitionDescription) -> str:
    """``<TAB>Topic: T<TAB>Partition: p<TAB>Leader: b<TAB>Replicas: a,b<TAB>Isr: a,b<TAB>Elr: <TAB>LastKnownElr: ``

    Kafka 4.x prints the eligible leader replicas (KIP-966) after the ISR; with ELR off, as by
    default, both lists are empty.
    """
    return (f"\tTopic: {topic}\tPartition: {partition.partition}\tLeader: {_leader(partition)}"
            f"\tReplicas: {_ids(partition.replicas)}\tIsr: {_ids(partition.isr)}\tElr: \tLastKnownElr: ")


def _reported(report: str, partition: PartitionDescription, live: set[int], min_isr: int) -> bool:
    if report == "under-replicated-partitions":
        return len(partition.isr) < len(partition.replicas)
    if report == "unavailable-partitions":
        return partition.leader < 0 or partition.leader not in live
    if report == "under-min-isr-partitions":
        return partition.leader < 0 or len(partition.isr) < min_isr
    return len(partition.isr) == min_isr  # at-min-isr-partitions


def _leader(partition: PartitionDescription) -> str:
    return "none" if partition.leader < 0 else str(partition.leader)


def _ids(brokers: tuple[int, ...]) -> str:
    return ",".join(str(b) for b in brokers)


def _config_value(value: Any) -> str:
    return value_text(value)


def register(app: typer.Typer) -> None:
    """Add ``kplay topics`` to the app."""
    app.command("topics")(topics)
