"""``kplay console-producer``: kafka-console-producer, one record per line of stdin.

    kplay console-producer --topic orders
    kplay console-producer --topic orders --property parse.key=true --property key.separator=:
    seq 100000 | kplay console-producer --topic numbers

Lines go through the backend's producer (broker_core's ``Producer`` on the playground,
librdkafka's with ``--cluster``), so piped input is batched as Kafka's producer batches it
(``batch.size``, ``linger.ms``): a few transactions carry thousands of records.
Stdin is read in large chunks, never line by line, because per-line Python overhead is what
limits a pipe. A record the cluster refuses (RecordTooLarge, NotEnoughReplicas, ...) prints
Kafka's error line on stderr and the others still go; the exit status is then 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import sys
from collections import deque
from dataclasses import dataclass
from typing import Annotated, AsyncIterator, Optional

import typer

from app.backends import Backend
from app.backends.interface import RecordProducer
from broker_core.errors import KafkaError
from broker_core.log import parse_acks

from .invocation import (BootstrapServerOption, BrokerListOption, ClusterOption, DataOption, UsageProblem,
                         note_removed_flag, one_line_errors, run_on_backend)
from .output import java_exception_name, print_error
from .properties import bool_property, parse_properties

#: How much of stdin one read takes: a pipe delivers whatever is there, up to this.
READ_CHUNK = 1 << 20
#: Lines sent between two yields to the event loop, so SQLite works while Python parses.
YIELD_EVERY = 2000
#: Records sent but not yet acknowledged before reading waits for the oldest. The producer's
#: buffer.memory counts record bytes, but a queued record costs a few hundred bytes of Python
#: objects, so without this bound a long pipe would hold the whole input in memory.
MAX_UNACKNOWLEDGED = 50_000
#: kafka-console-producer's defaults: --timeout (linger.ms) 1000, --batch-size 16384, acks -1.
DEFAULT_LINGER_MS = 1000
DEFAULT_BATCH_SIZE = 16_384
DEFAULT_BUFFER_MEMORY = 32 * 1024 * 1024


@dataclass(frozen=True)
class LineFormat:
    """How a line becomes a record: Kafka's ``LineMessageReader`` properties."""

    parse_key: bool = False
    key_separator: bytes = b"\t"
    parse_headers: bool = False
    headers_delimiter: bytes = b"\t"
    headers_separator: bytes = b","
    headers_key_separator: bytes = b":"
    null_marker: Optional[bytes] = None
    ignore_error: bool = False

    @classmethod
    def from_properties(cls, properties: dict[str, str]) -> "LineFormat":
        """Read ``--property`` values, refusing the combinations Kafka refuses."""
        fmt = cls(
            parse_key=bool_property(properties, "parse.key"),
            key_separator=properties.get("key.separator", "\t").encode(),
            parse_headers=bool_property(properties, "parse.headers"),
            headers_delimiter=properties.get("headers.delimiter", "\t").encode(),
            headers_separator=properties.get("headers.separator", ",").encode(),
            headers_key_separator=properties.get("headers.key.separator", ":").encode(),
            null_marker=properties["null.marker"].encode() if "null.marker" in properties else None,
            ignore_error=bool_property(properties, "ignore.error"),
        )
        pairs = [("headers.delimiter", fmt.headers_delimiter, "headers.separator", fmt.headers_separator),
                 ("headers.delimiter", fmt.headers_delimiter, "headers.key.separator", fmt.headers_key_separator),
                 ("headers.separator", fmt.headers_separator, "headers.key.separator", fmt.headers_key_separator)]
        if fmt.null_marker is not None:
            pairs += [("null.marker", fmt.null_marker, "key.separator", fmt.key_separator),
                      ("null.marker", fmt.null_marker, "headers.separator", fmt.headers_separator),
                      ("null.marker", fmt.null_marker, "headers.delimiter", fmt.headers_delimiter),
                      ("null.marker", fmt.null_marker, "headers.key.separator", fmt.headers_key_separator)]
        for name, value, other, other_value in pairs:
            if value == other_value:
                raise UsageProblem(f"{name} and {other} may not be equal")
        if not fmt.key_separator and fmt.parse_key:
            raise UsageProblem("key.separator may not be empty")
        return fmt

    @property
    def plain(self) -> bool:
        """Each line is just a value: the fast path."""
        return not (self.parse_key or self.parse_headers or self.null_marker is not None)

    def parse(self, line: bytes, number: int) -> tuple[Optional[bytes], Optional[bytes], list[tuple[str, bytes]]]:
        """``line`` as (key, value, headers); raises ValueError with Kafka's text if it does not parse."""
        rest = line
        headers: list[tuple[str, bytes]] = []
        if self.parse_headers:
            raw, found = self._split(rest, self.headers_delimiter, "headers delimiter", line, number)
            if found:
                rest = rest[len(raw) + len(self.headers_delimiter):]
                if raw != self.null_marker:
                    headers = self._headers(raw, number)
        key: Optional[bytes] = None
        if self.parse_key:
            raw, found = self._split(rest, self.key_separator, "key separator", line, number)
            if found:
                rest = rest[len(raw) + len(self.key_separator):]
                key = raw
        value: Optional[bytes] = rest
        if self.null_marker is not None:
            key = None if key == self.null_marker else key
            value = None if value == self.null_marker else value
        return key, value, headers

    def _split(self, text: bytes, separator: bytes, name: str, line: bytes,
               number: int) -> tuple[bytes, bool]:
        index = text.find(separator)
        if index < 0:
            if self.ignore_error:
                return b"", False
            shown = line.decode("utf-8", "backslashreplace")
            raise ValueError(f"No {name} found on line number {number}: '{shown}'")
        return text[:index], True

    def _headers(self, raw: bytes, number: int) -> list[tuple[str, bytes]]:
        headers = []
        for pair in raw.split(self.headers_separator):
            name, sep, value = pair.partition(self.headers_key_separator)
            if not sep and not self.ignore_error:
                shown = pair.decode("utf-8", "backslashreplace")
                raise ValueError(f"No header key separator found in pair '{shown}' on line number {number}")
            if name == self.null_marker:
                raise ValueError(f"Header keys should not be equal to the null marker "
                                 f"'{self.null_marker.decode()}' as they can't be null")
            headers.append((name.decode("utf-8", "replace"), None if value == self.null_marker else value))
        return headers  # type: ignore[return-value]  # a null.marker header value is None, as in Kafka


@dataclass(frozen=True)
class ProducerSettings:
    """The producer configuration the console producer runs with."""

    acks: str
    linger_ms: float
    batch_size: int
    buffer_memory: int
    client_id: str
    sync: bool


def console_producer(
    ctx: typer.Context,
    topic: Annotated[Optional[str], typer.Option("--topic", help="REQUIRED: The topic to produce messages to.")] = None,
    property_: Annotated[Optional[list[str]], typer.Option(
        "--property", metavar="KEY=VALUE",
        help="Line reader properties: parse.key, key.separator (default TAB), parse.headers, "
             "headers.delimiter, headers.separator, headers.key.separator, null.marker, ignore.error.")] = None,
    producer_property: Annotated[Optional[list[str]], typer.Option(
        "--producer-property", metavar="KEY=VALUE",
        help="Producer configs: acks, linger.ms, batch.size, buffer.memory, client.id.")] = None,
    request_required_acks: Annotated[Optional[str], typer.Option(
        "--request-required-acks", help="The required acks of the producer requests (default -1).")] = None,
    timeout: Annotated[Optional[int], typer.Option(
        "--timeout", metavar="MS", help="linger.ms: how long a batch may wait to fill (default 1000).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", help="batch.size in bytes (default 16384).")] = None,
    max_memory_bytes: Annotated[Optional[int], typer.Option(
        "--max-memory-bytes", help="buffer.memory in bytes (default 33554432).")] = None,
    sync: Annotated[bool, typer.Option("--sync", help="Send each record and wait for it before the next.")] = False,
    compression_codec: Annotated[Optional[str], typer.Option(
        "--compression-codec", help="Accepted; kplay stores records uncompressed.")] = None,
    bootstrap_server: BootstrapServerOption = None,
    broker_list: BrokerListOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Read lines from standard input and publish each as a record (kafka-console-producer)."""
    if broker_list is not None:
        note_removed_flag("--broker-list", "--bootstrap-server")
    with one_line_errors():
        if topic is None:
            raise UsageProblem('Missing required argument "[topic]"')
        line_format = LineFormat.from_properties(parse_properties(property_))
        settings = producer_settings(parse_properties(producer_property), request_required_acks,
                                     timeout, batch_size, max_memory_bytes, sync)
        failed = run_on_backend(ctx, data, cluster, lambda backend: produce_stdin(backend, topic, line_format, settings))
    if failed:
        raise typer.Exit(1)


def producer_settings(config: dict[str, str], request_required_acks: Optional[str], timeout: Optional[int],
                      batch_size: Optional[int], max_memory_bytes: Optional[int], sync: bool) -> ProducerSettings:
    """Merge flags over ``--producer-property`` values as Kafka does (an explicit flag wins)."""
    def number(key: str, flag: Optional[int], default: int) -> int:
        if flag is not None:
            return flag
        raw = config.get(key)
        if raw is None:
            return default
        try:
            return int(raw.strip())
        except ValueError:
            raise UsageProblem(f"Invalid value {raw} for configuration {key}: Not a number of type "
                               f"{'LONG' if key != 'batch.size' else 'INT'}") from None

    acks = request_required_acks if request_required_acks is not None else config.get("acks", "-1")
    try:
        parse_acks(acks.strip())
    except KafkaError:
        raise UsageProblem(f"Invalid value {acks} for configuration acks: "
                           "String must be one of: all, -1, 0, 1") from None
    linger = number("linger.ms", timeout, DEFAULT_LINGER_MS)
    size = number("batch.size", batch_size, DEFAULT_BATCH_SIZE)
    memory = number("buffer.memory", max_memory_bytes, DEFAULT_BUFFER_MEMORY)
    for key, value in (("linger.ms", linger), ("batch.size", size), ("buffer.memory", memory)):
        if value < 0:
            raise UsageProblem(f"Invalid value {value} for configuration {key}: Value must be at least 0")
    return ProducerSettings(acks.strip(), linger, size, memory,
                            config.get("client.id", "console-producer"), sync)


async def produce_stdin(backend: Backend, topic: str, line_format: LineFormat,
                        settings: ProducerSettings) -> int:
    """Send every line of stdin to ``topic``; return how many records failed."""
    await backend.partition_count(topic)  # an unknown topic is one error line, before any input
    interactive = os.isatty(0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    producer = backend.producer(acks=settings.acks, linger_ms=settings.linger_ms, batch_size=settings.batch_size,
                                buffer_memory=settings.buffer_memory, client_id=settings.client_id)
    sender = RecordSender(producer, topic, line_format, settings.sync)
    rejected: Optional[LineRejected] = None
    try:
        if interactive:
            _prompt()
        async for lines in stdin_lines(stop):
            try:
                await sender.send_lines(lines)
            except LineRejected as error:
                rejected = error
                break
            if interactive:
                _prompt()
        await producer.flush()
    finally:
        await producer.close()
        sender.report_done()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if rejected is not None:
        # The first line of the stack trace Kafka's tool prints for it.
        print_error(f"org.apache.kafka.common.KafkaException: {rejected}")
        return sender.failed + 1
    return sender.failed


class LineRejected(Exception):
    """A line the reader cannot parse: kafka-console-producer stops there (the lines before are sent)."""


class RecordSender:
    """Turns lines into sends and reports each failed record, in order, as Kafka's callback does."""

    def __init__(self, producer: RecordProducer, topic: str, line_format: LineFormat, sync: bool) -> None:
        self._producer = producer
        self._topic = topic
        self._format = line_format
        self._sync = sync
        self._line_number = 0
        # (future, key, value) of records not yet known to be acknowledged.
        self._pending: deque[tuple[asyncio.Future, Optional[bytes], Optional[bytes]]] = deque()
        self.failed = 0

    async def send_lines(self, lines: list[bytes]) -> None:
        """Send one record per line."""
        send, topic, pending = self._producer.send, self._topic, self._pending
        if self._format.plain and not self._sync:
            # The fast path for ``seq 100000 | kplay console-producer``: nothing to parse.
            for start in range(0, len(lines), YIELD_EVERY):
                for value in lines[start:start + YIELD_EVERY]:
                    try:
                        pending.append((await send(topic, value), None, value))
                    except KafkaError as error:
                        self._report(error, None, value)
                # Let the sender hand full batches to the database thread while we go on.
                await asyncio.sleep(0)
                await self._bound_unacknowledged()
            self._line_number += len(lines)
        else:
            for line in lines:
                self._line_number += 1
                try:
                    key, value, headers = self._format.parse(line, self._line_number)
                except ValueError as problem:
                    # Kafka's LineMessageReader throws, and the producer stops at this line.
                    self.report_done()
                    raise LineRejected(str(problem)) from None
                try:
                    pending.append((await send(topic, value, key, headers=headers), key, value))
                except KafkaError as error:
                    self._report(error, key, value)
                if self._sync:
                    await self._producer.flush()
                elif len(pending) > MAX_UNACKNOWLEDGED:
                    await self._bound_unacknowledged()
        self.report_done()

    async def _bound_unacknowledged(self) -> None:
        self.report_done()
        while len(self._pending) > MAX_UNACKNOWLEDGED:
            await asyncio.wait([self._pending[0][0]])
            self.report_done()

    def report_done(self) -> None:
        """Print the error of every finished send at the head of the queue."""
        pending = self._pending
        while pending and pending[0][0].done():
            future, key, value = pending.popleft()
            error = future.exception()
            if error is not None:
                self._report(error, key, value)

    def _report(self, error: BaseException, key: Optional[bytes], value: Optional[bytes]) -> None:
        self.failed += 1
        name = java_exception_name(error) if isinstance(error, KafkaError) else type(error).__name__
        key_text = "null" if key is None else f"{len(key)} bytes"
        value_text = "null" if value is None else f"{len(value)} bytes"
        print_error(f"ERROR Error when sending message to topic {self._topic} with key: {key_text}, "
                    f"value: {value_text} with error: {name}: {error}")


async def stdin_lines(stop: asyncio.Event) -> AsyncIterator[list[bytes]]:
    """Complete lines of stdin, as many as one read delivers, until end of input or ``stop``.

    Line ends are ``\\n`` or ``\\r\\n`` (Java's ``readLine``); a last line without one counts.
    """
    leftover = b""
    async for chunk in _stdin_chunks(stop):
        lines = (leftover + chunk).split(b"\n")
        leftover = lines.pop()
        if lines:
            yield [line[:-1] if line.endswith(b"\r") else line for line in lines]
    if leftover:
        yield [leftover[:-1] if leftover.endswith(b"\r") else leftover]


async def _stdin_chunks(stop: asyncio.Event) -> AsyncIterator[bytes]:
    fd = sys.stdin.fileno()
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        # A file is always readable at once; blocking reads cost nothing here.
        while not stop.is_set():
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                return
            yield chunk
            await asyncio.sleep(0)
        return
    # A pipe or a terminal may wait for the writer: read it through the event loop so the
    # producer's linger timer keeps running while no input comes.
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_CHUNK)
    was_blocking = os.get_blocking(fd)
    stdin = os.fdopen(os.dup(fd), "rb", buffering=0)
    try:
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    except (OSError, ValueError):
        stdin.close()
        while not stop.is_set():  # e.g. /dev/null, which epoll cannot watch
            chunk = await asyncio.to_thread(os.read, fd, READ_CHUNK)
            if not chunk:
                return
            yield chunk
        return
    try:
        while not stop.is_set():
            read = asyncio.ensure_future(reader.read(READ_CHUNK))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not read.done():
                read.cancel()
                return
            chunk = read.result()
            if not chunk:
                return
            yield chunk
    finally:
        transport.close()
        # The descriptor is shared with the shell: leave it blocking as we found it.
        with contextlib.suppress(OSError):
            os.set_blocking(fd, was_blocking)


def _prompt() -> None:
    sys.stdout.write(">")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add ``kplay console-producer`` to the app."""
    app.command("console-producer")(console_producer)
