"""``kplay console-consumer``: kafka-console-consumer, records to stdout as they arrive.

    kplay console-consumer --topic orders --from-beginning
    kplay console-consumer --topic orders --group billing --property print.key=true
    kplay console-consumer --topic orders --partition 1 --offset 42 --max-messages 10

Without ``--group`` (and without ``--partition``) it joins a generated group
``console-consumer-NNNNN`` with auto-commit off, as Kafka's tool does, and leaves it (deleted, since
it committed nothing) on exit. It follows the log live until interrupted. Ctrl-C (SIGINT) or SIGTERM stops it cleanly:
a group member leaves its group and commits, and ``Processed a total of N messages`` goes
to stderr, as Kafka's tool prints it. Into a pipe or a file, values are written as raw bytes,
as Kafka's DefaultMessageFormatter writes them; on a terminal, invalid UTF-8 and control
characters are escaped, so a record can never drive the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from typing import Annotated, Any, Optional

import typer

from app.backends import Backend, EmbeddedBackend
from app.backends.interface import RecordConsumer
from broker_core import ConsumerRecord, TopicPartition
from broker_core.consumer import check_consumer_settings
from broker_core.errors import KafkaError, UnknownTopicOrPartition
from broker_core.log import EARLIEST, LATEST
from widgets.safe_text import printable

from .invocation import (BootstrapServerOption, ClusterOption, DataOption, UsageProblem, note_removed_flag,
                         one_line_errors, run_on_backend)
from .message_formatters import (DEFAULT_FORMATTER, KNOWN_FORMATTERS, LEGACY_NAMES, MessageFormatter,
                                 coordinator_formatter)
from .output import print_error, stdout_is_terminal
from .properties import bool_property, parse_properties

#: Longest a poll waits before the loop looks at signals, deadlines and new partitions.
POLL_SLICE_MS = 100
#: How often a consumer of every partition looks for partitions added by ``--alter``.
PARTITION_REFRESH_S = 2.0
CLIENT_ID = "console-consumer"


@dataclass(frozen=True)
class RecordFormat:
    """Kafka's ``DefaultMessageFormatter``: which fields to print and what separates them."""

    print_timestamp: bool = False
    print_key: bool = False
    print_offset: bool = False
    print_partition: bool = False
    print_headers: bool = False
    print_value: bool = True
    key_separator: bytes = b"\t"
    line_separator: bytes = b"\n"
    headers_separator: bytes = b","
    null_literal: bytes = b"null"
    escape_controls: bool = False  # on a terminal: never let record bytes reach it raw

    @classmethod
    def from_properties(cls, properties: dict[str, str], *, escape_controls: bool) -> "RecordFormat":
        """Read the formatter's ``--property`` values (unknown keys are ignored, as in Kafka)."""
        def text(key: str, default: bytes) -> bytes:
            return properties[key].encode() if key in properties else default

        return cls(
            print_timestamp=bool_property(properties, "print.timestamp"),
            print_key=bool_property(properties, "print.key"),
            print_offset=bool_property(properties, "print.offset"),
            print_partition=bool_property(properties, "print.partition"),
            print_headers=bool_property(properties, "print.headers"),
            print_value=bool_property(properties, "print.value", True),
            key_separator=text("key.separator", b"\t"),
            line_separator=text("line.separator", b"\n"),
            headers_separator=text("headers.separator", b","),
            null_literal=text("null.literal", b"null"),
            escape_controls=escape_controls,
        )

    def format(self, record: ConsumerRecord) -> bytes:
        """One record as the console consumer writes it, line separator included."""
        fields: list[bytes] = []
        if self.print_timestamp:
            fields.append(f"{record.timestamp_type}:{record.timestamp}".encode())
        if self.print_partition:
            fields.append(b"Partition:%d" % record.partition)
        if self.print_offset:
            fields.append(b"Offset:%d" % record.offset)
        if self.print_headers:
            if record.headers:
                fields.append(self.headers_separator.join(
                    self._text(name.encode()) + b":" + self._bytes(value) for name, value in record.headers))
            else:
                fields.append(b"NO_HEADERS")
        if self.print_key:
            fields.append(self._bytes(record.key))
        if self.print_value:
            fields.append(self._bytes(record.value))
        # Fields are joined by key.separator and the last one ends with line.separator;
        # with every field switched off Kafka writes nothing at all.
        return self.key_separator.join(fields) + self.line_separator if fields else b""

    def _bytes(self, data: Optional[bytes]) -> bytes:
        if data is None:
            return self.null_literal
        return self._text(data)

    def _text(self, data: bytes) -> bytes:
        # DefaultMessageFormatter writes the bytes as they are; only a terminal gets them escaped.
        if self.escape_controls:
            return printable(data, limit=len(data) * 4 + 4).encode()
        return data


@dataclass(frozen=True)
class ConsumeRequest:
    """What to read and when to stop, after the flags were checked."""

    topic: str
    group: Optional[str]
    partition: Optional[int]
    offset: Optional[int]  # EARLIEST, LATEST or an offset; only with ``partition``
    auto_offset_reset: str
    enable_auto_commit: bool
    client_id: str
    max_messages: Optional[int]
    timeout_ms: Optional[int]
    record_format: MessageFormatter
    consumer_options: dict[str, Any]  # further Consumer keyword arguments from --consumer-property
    generated_group: bool = False  # console-consumer-NNNNN: removed again on exit
    isolation_level: str = "read_uncommitted"


def console_consumer(
    ctx: typer.Context,
    topic: Annotated[Optional[str], typer.Option("--topic", help="The topic to consume from.")] = None,
    from_beginning: Annotated[bool, typer.Option(
        "--from-beginning", help="Without an established offset, start from the earliest record "
                                 "rather than the latest.")] = False,
    group: Annotated[Optional[str], typer.Option("--group", help="The consumer group id of the consumer.")] = None,
    partition: Annotated[Optional[int], typer.Option(
        "--partition", help="The partition to consume from (from its end unless --offset is given).")] = None,
    offset: Annotated[Optional[str], typer.Option(
        "--offset", help="earliest, latest, or a non-negative offset (with --partition).")] = None,
    max_messages: Annotated[Optional[int], typer.Option(
        "--max-messages", help="Exit after this many messages.")] = None,
    timeout_ms: Annotated[Optional[int], typer.Option(
        "--timeout-ms", help="Exit when no message arrives for this many milliseconds.")] = None,
    property_: Annotated[Optional[list[str]], typer.Option(
        "--property", metavar="KEY=VALUE",
        help="Formatter properties: print.key, print.value, print.partition, print.offset, print.timestamp, "
             "print.headers, key.separator, line.separator, headers.separator, null.literal.")] = None,
    formatter: Annotated[str, typer.Option(
        "--formatter", metavar="CLASS", help="The name of a class to use for formatting kafka messages for display: "
        "DefaultMessageFormatter, OffsetsMessageFormatter or GroupMetadataMessageFormatter (for __consumer_offsets), "
        "NoOpMessageFormatter (package org.apache.kafka.tools.consumer).")] = DEFAULT_FORMATTER,
    formatter_property: Annotated[Optional[list[str]], typer.Option(
        "--formatter-property", metavar="KEY=VALUE", help="Same as --property (its newer name).")] = None,
    consumer_property: Annotated[Optional[list[str]], typer.Option(
        "--consumer-property", metavar="KEY=VALUE",
        help="Consumer configs: group.id, client.id, auto.offset.reset, enable.auto.commit.")] = None,
    command_property: Annotated[Optional[list[str]], typer.Option(
        "--command-property", metavar="KEY=VALUE", help="Same as --consumer-property (its newer name).")] = None,
    skip_message_on_error: Annotated[bool, typer.Option(
        "--skip-message-on-error", help="Accepted; kplay's formatter does not fail on a record.")] = False,
    isolation_level: Annotated[Optional[str], typer.Option(
        "--isolation-level", help="read_committed or read_uncommitted (the default): whether records of open "
                                  "or aborted transactions are read.")] = None,
    bootstrap_server: BootstrapServerOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Read records from a topic and write them to standard output (kafka-console-consumer)."""
    if formatter in LEGACY_NAMES:
        note_removed_flag(formatter, LEGACY_NAMES[formatter])
        formatter = LEGACY_NAMES[formatter]
    with one_line_errors():
        request = check_arguments(
            topic=topic, from_beginning=from_beginning, group=group, partition=partition, offset=offset,
            max_messages=max_messages, timeout_ms=timeout_ms,
            formatter=parse_properties([*(property_ or []), *(formatter_property or [])]),
            config=parse_properties([*(consumer_property or []), *(command_property or [])]),
            formatter_class=formatter, isolation_level=isolation_level)
        code = run_on_backend(ctx, data, cluster, lambda backend: consume(backend, request))
    if code:
        raise typer.Exit(code)


def check_arguments(*, topic: Optional[str], from_beginning: bool, group: Optional[str],
                    partition: Optional[int], offset: Optional[str], max_messages: Optional[int],
                    timeout_ms: Optional[int], formatter: dict[str, str],
                    config: dict[str, str], formatter_class: str = DEFAULT_FORMATTER,
                    isolation_level: Optional[str] = None) -> ConsumeRequest:
    """Kafka's ``ConsoleConsumerOptions`` checks, with its wording."""
    if formatter_class not in KNOWN_FORMATTERS:
        raise UsageProblem(f"java.lang.ClassNotFoundException: {formatter_class} (kplay's formatters: "
                           f"{', '.join(name.rsplit('.', 1)[1] for name in KNOWN_FORMATTERS)})")
    if topic is None:
        raise UsageProblem('Missing required argument "[topic]"')
    if partition is not None:
        if from_beginning and offset is not None:
            raise UsageProblem("Options from-beginning and offset cannot be specified together.")
        if partition < 0:
            raise UsageProblem(f"Invalid partition {partition}: partitions are numbered from 0")
    elif offset is not None:
        raise UsageProblem("The partition is required when offset is specified.")
    groups = {g for g in (group, config.get("group.id")) if g is not None}
    if len(groups) > 1:
        raise UsageProblem("The group ids provided in different places (directly using '--group', via "
                           "'--consumer-property', or via '--consumer.config') do not match. Detected group ids: "
                           + ", ".join(f"'{g}'" for g in sorted(groups)))
    chosen_group = groups.pop() if groups else None
    if chosen_group is not None and partition is not None:
        raise UsageProblem("Options group and partition cannot be specified together.")
    reset = config.get("auto.offset.reset")
    if reset is not None and from_beginning and reset != "earliest":
        raise UsageProblem(f"Can't simultaneously specify --from-beginning and 'auto.offset.reset={reset}', "
                           "please remove one option")
    reset = reset or ("earliest" if from_beginning else "latest")
    start: Optional[int] = None
    if partition is not None:
        start = parse_offset(offset) if offset is not None else (EARLIEST if from_beginning else LATEST)
    if max_messages is not None and max_messages < 0:
        max_messages = None  # Kafka: a negative count means no limit
    # Kafka's console consumer without a group makes up a throwaway one (console-consumer-NNNNN)
    # and, unless told otherwise, does not commit to it; with --partition it assigns, joining nothing.
    generated = chosen_group is None and partition is None
    auto_commit = bool_property(config, "enable.auto.commit", chosen_group is not None)
    if generated:
        chosen_group = f"console-consumer-{random.randrange(100000)}"
    elif chosen_group is None:
        auto_commit = False
    isolation = (isolation_level if isolation_level is not None
                 else config.get("isolation.level", "read_uncommitted")).strip().lower()
    try:
        check_consumer_settings(reset, isolation)
    except ValueError as problem:
        raise UsageProblem(str(problem)) from None
    terminal = stdout_is_terminal()
    record_format = coordinator_formatter(formatter_class, escape_controls=terminal) or \
        RecordFormat.from_properties(formatter, escape_controls=terminal)
    return ConsumeRequest(
        topic, chosen_group, partition, start, reset, auto_commit, config.get("client.id", CLIENT_ID),
        max_messages, timeout_ms if timeout_ms is not None and timeout_ms >= 0 else None,
        record_format, consumer_options(config), generated, isolation)


#: Consumer configs kplay's Consumer takes, by Kafka name.
NUMERIC_CONFIGS = {"session.timeout.ms": "session_timeout_ms", "heartbeat.interval.ms": "heartbeat_interval_ms",
                   "max.poll.interval.ms": "max_poll_interval_ms", "max.poll.records": "max_poll_records",
                   "auto.commit.interval.ms": "auto_commit_interval_ms"}


def consumer_options(config: dict[str, str]) -> dict[str, Any]:
    """``--consumer-property`` values for the Consumer (others are accepted and ignored, as Kafka warns)."""
    options: dict[str, Any] = {}
    for key, argument in NUMERIC_CONFIGS.items():
        if key in config:
            try:
                options[argument] = int(config[key].strip())
            except ValueError:
                raise UsageProblem(f"Invalid value {config[key]} for configuration {key}: "
                                   "Not a number of type INT") from None
    if "partition.assignment.strategy" in config:
        options["partition_assignment_strategy"] = config["partition.assignment.strategy"]
    # Kafka 4's KIP-848 protocol: group.protocol=consumer, the broker's assignor by group.remote.assignor.
    if "group.protocol" in config:
        options["group_protocol"] = config["group.protocol"].strip().lower()
    if "group.remote.assignor" in config:
        options["group_remote_assignor"] = config["group.remote.assignor"].strip()
    return options


def parse_offset(text: str) -> int:
    """``--offset``: ``earliest``, ``latest`` or a non-negative number."""
    lowered = text.lower()
    if lowered == "earliest":
        return EARLIEST
    if lowered == "latest":
        return LATEST
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageProblem(f"The provided offset value '{text}' is incorrect. Valid values are "
                           "'earliest', 'latest', or a non-negative long.")
    return value


async def consume(backend: Backend, request: ConsumeRequest) -> int:
    """Print records until a signal, ``--max-messages`` or ``--timeout-ms``; return the exit status."""
    partitions = await backend.partition_count(request.topic)  # unknown topic: one error line
    try:
        consumer = backend.consumer(group_id=request.group, client_id=request.client_id,
                                    auto_offset_reset=request.auto_offset_reset,
                                    enable_auto_commit=request.enable_auto_commit,
                                    isolation_level=request.isolation_level, **request.consumer_options)
    except ValueError as problem:  # a consumer config the client refuses, in Kafka's words
        raise UsageProblem(str(problem)) from None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    processed = 0
    try:
        await start_reading(consumer, request, partitions)
    except BaseException:
        await consumer.close()
        raise
    try:
        processed = await print_records(backend, consumer, request, stop)
    finally:
        try:
            await consumer.close()
            if request.generated_group and request.group is not None and isinstance(backend, EmbeddedBackend):
                await _remove_generated_group(backend, request.group)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            _report_count(processed)
    return 0


async def _remove_generated_group(backend: Backend, group: str) -> None:
    """Delete the throwaway group if it committed nothing (Kafka's offsets cleanup would, minutes later;
    a real cluster's own coordinator does it, so only the playground's file needs this)."""
    if await backend.committed_offsets(group):
        return
    with contextlib.suppress(KafkaError):
        await backend.delete_group(group)


async def start_reading(consumer: RecordConsumer, request: ConsumeRequest, partitions: int) -> None:
    """Assign or subscribe, and fix the starting positions now, before any input arrives."""
    if request.partition is not None:
        tp = TopicPartition(request.topic, request.partition)
        if request.partition >= partitions:
            raise UnknownTopicOrPartition(
                f"Partition {request.partition} of topic '{request.topic}' does not exist")
        consumer.assign([tp])
        if request.offset == EARLIEST:
            await consumer.seek_to_beginning(tp)
        elif request.offset == LATEST:
            await consumer.seek_to_end(tp)
        else:
            assert request.offset is not None
            consumer.seek(tp, request.offset)
        return
    if request.group is not None:
        consumer.subscribe([request.topic])
        return
    consumer.assign([TopicPartition(request.topic, p) for p in range(partitions)])
    # Resolve "latest" at start-up: a record produced after the consumer started is shown
    # even if it arrives before the first fetch.
    for tp in sorted(consumer.assignment()):
        await consumer.position(tp)


async def print_records(backend: Backend, consumer: RecordConsumer, request: ConsumeRequest,
                        stop: asyncio.Event) -> int:
    """The consume loop; returns how many records were printed."""
    out = sys.stdout.buffer
    fmt = request.record_format
    processed = 0
    idle_since = time.monotonic()
    next_refresh = idle_since + PARTITION_REFRESH_S
    standalone_all = request.group is None and request.partition is None
    poll_limit = consumer.max_poll_records
    while not stop.is_set() and (request.max_messages is None or processed < request.max_messages):
        slice_ms = POLL_SLICE_MS
        if request.timeout_ms is not None:
            left = request.timeout_ms - (time.monotonic() - idle_since) * 1000
            if left <= 0:
                print_error("ERROR Error processing message, terminating consumer process: TimeoutException")
                break
            slice_ms = max(1, min(slice_ms, int(left)))
        if request.max_messages is not None:
            # Never fetch past --max-messages: a group member commits what it fetched.
            consumer.max_poll_records = max(1, min(poll_limit, request.max_messages - processed))
        records = await consumer.poll(timeout_ms=slice_ms)
        if records:
            try:
                out.write(b"".join(fmt.format(record) for record in records))
                out.flush()
            except BrokenPipeError:
                _silence_stdout()
                print_error("Unable to write to standard out, closing consumer.")
                processed += len(records)
                break
            processed += len(records)
            idle_since = time.monotonic()
        if standalone_all and time.monotonic() >= next_refresh:
            next_refresh = time.monotonic() + PARTITION_REFRESH_S
            await _follow_new_partitions(backend, consumer, request.topic)
    return processed


async def _follow_new_partitions(backend: Backend, consumer: RecordConsumer, topic: str) -> None:
    count = await backend.partition_count(topic)
    if count > len(consumer.assignment()):
        consumer.assign([TopicPartition(topic, p) for p in range(count)])


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _report_count(processed: int) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"Processed a total of {processed} messages\n")
        sys.stderr.flush()


def register(app: typer.Typer) -> None:
    """Add ``kplay console-consumer`` to the app."""
    app.command("console-consumer")(console_consumer)
