"""``ProducerBox``: type a record and send it, or send a burst of N to watch partitioning.

Fields: topic, key (empty = null key), value, partition (``auto`` lets Kafka's default
partitioner choose), acks (0, 1, all), headers (``name=value`` pairs separated by commas;
a name alone is a header with a null value). Enter in a field sends one record; the result
line shows where it landed (partition and offset) and the acks it used, or Kafka's error (RecordTooLarge,
NotEnoughReplicas, an unknown partition, ...). Enter in the N field, or ``ctrl+n``,
sends a burst of N records with keys taken round-robin from a small set (same key, same
partition, every time), random keys, or no keys (sticky batches), and reports how many
landed on each partition.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Input, Label, Select, Static

from broker_core.errors import KafkaError
from broker_core.records import Headers, RecordMetadata

from .cluster_source import ClusterSource
from .safe_text import printable

CSS_FILE = Path(__file__).with_suffix(".tcss")

ACKS_CHOICES: tuple[tuple[str, str], ...] = (("acks all", "all"), ("acks 1", "1"), ("acks 0", "0"))
KEY_MODES: tuple[tuple[str, str], ...] = (
    ("round-robin keys", "round-robin"), ("random keys", "random"), ("no keys", "none"))
#: Distinct keys a round-robin burst cycles through.
ROUND_ROBIN_KEYS = 10
#: The largest burst one action sends.
MAX_BURST = 1_000_000
#: Records in flight at once during a burst (bounds memory for a million-record burst).
BURST_CHUNK = 5_000


class ProducerBox(Vertical, can_focus=True):
    """Sends records to a topic from the keyboard and shows each result inline.

    ``topic`` (a reactive) fills the topic field; the person may still type another. The box
    itself takes the focus first (its focus key, Escape from a field): Enter or Tab goes into the fields.
    """

    BINDINGS: list[BindingType] = [
        Binding("enter", "edit_value", "Type a record", id="producer-box.edit"),
        Binding("ctrl+n", "send_burst", "Send N", id="producer-box.send-burst"),
    ]

    topic: reactive[str | None] = reactive(None)

    def __init__(self, source: ClusterSource, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.source = source
        self._producers: dict[str, Any] = {}
        self.last_result: list[RecordMetadata] | KafkaError | str | None = None
        #: Records per partition of the last burst.
        self.burst_spread: dict[int, int] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="producer-row"):
            yield Label("topic", classes="producer-label")
            yield Input(placeholder="topic", id="producer-topic", compact=True)
            yield Label("key", classes="producer-label")
            yield Input(placeholder="null", id="producer-key", compact=True)
            yield Label("value", classes="producer-label")
            yield Input(placeholder="value, then Enter", id="producer-value", compact=True)
        with Horizontal(classes="producer-row"):
            yield Label("partition", classes="producer-label")
            yield Input(placeholder="auto", id="producer-partition", compact=True)
            yield Select(ACKS_CHOICES, value="all", allow_blank=False, id="producer-acks", compact=True)
            yield Label("headers", classes="producer-label")
            yield Input(placeholder="name=value, …", id="producer-headers", compact=True)
            yield Label("send N", classes="producer-label")
            yield Input(value="100", id="producer-count", type="integer", compact=True)
            yield Select(KEY_MODES, value="round-robin", allow_blank=False, id="producer-key-mode",
                         compact=True)
        yield Static(id="producer-result", markup=False)

    def action_edit_value(self) -> None:
        """Go into the value field (Enter there sends the record)."""
        self.query_one("#producer-value", Input).focus()

    def watch_topic(self, topic: str | None) -> None:
        if self.is_mounted:
            self.query_one("#producer-topic", Input).value = topic or ""

    def on_mount(self) -> None:
        self.query_one("#producer-topic", Input).value = self.topic or ""

    async def on_unmount(self) -> None:
        for producer in self._producers.values():
            await producer.close()
        self._producers.clear()

    # -- reading the fields -------------------------------------------------------------
    def _field(self, name: str) -> str:
        return self.query_one(f"#producer-{name}", Input).value

    def _target(self) -> tuple[str, int | None, str]:
        """Topic, partition and acks from the fields; ValueError names a bad field."""
        topic = self._field("topic").strip()
        if not topic:
            raise ValueError("Choose a topic first (type its name in the topic field).")
        raw = self._field("partition").strip().lower()
        partition: int | None = None
        if raw not in ("", "auto"):
            if not raw.isdigit():
                raise ValueError(f"Partition must be a number (0, 1, ...) or auto, not {printable(raw, 20)!r}.")
            partition = int(raw)
        acks = str(self.query_one("#producer-acks", Select).value)
        return topic, partition, acks

    def _producer(self, acks: str) -> Any:
        if acks not in self._producers:
            self._producers[acks] = self.source.producer(acks=acks, client_id="kplay-tui-producer")
        return self._producers[acks]

    # -- sending ------------------------------------------------------------------------
    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "producer-count":
            self.action_send_burst()
        else:
            self.action_send()

    def action_send(self) -> None:
        """Send the typed record and show where it landed (or why not)."""
        try:
            topic, partition, acks = self._target()
        except ValueError as error:
            self._show_error(str(error))
            return
        try:
            headers = parse_headers(self._field("headers"))
        except ValueError as error:
            self._show_error(str(error))
            return
        key_text = self._field("key")
        key = key_text.encode() if key_text else None
        value = self._field("value").encode()
        self._send_one(topic, key, value, partition, acks, headers)

    @work(group="producer-box-send")
    async def _send_one(self, topic: str, key: bytes | None, value: bytes, partition: int | None,
                        acks: str, headers: Headers = ()) -> None:
        try:
            future = await self._producer(acks).send(topic, value, key, partition=partition, headers=headers)
            await self._producer(acks).flush()
            metadata = await future
        except KafkaError as error:
            self.last_result = error
            self._show_kafka_error(error)
            return
        self.last_result = [metadata]
        text = Text("✓ ", style="bold green")
        text.append(f"{printable(metadata.topic, 60)}-{metadata.partition}", "bold")
        if metadata.offset >= 0:
            text.append(f" @ offset {metadata.offset:,}")
        else:
            text.append("  (no offset is reported back)")
        text.append(f"   acks {acks}", "bold")
        text.append(f"   key {printable(key, 30)}", "dim")
        if headers:
            text.append(f"   {len(headers)} header{'s' if len(headers) != 1 else ''}", "dim")
        self._show(text)

    def action_send_burst(self) -> None:
        """Send N records with round-robin, random or no keys; report the spread over partitions."""
        try:
            topic, partition, acks = self._target()
            raw = self._field("count").strip()
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_BURST:
                raise ValueError(f"N must be a whole number from 1 to {MAX_BURST:,}.")
            count = int(raw)
        except ValueError as error:
            self._show_error(str(error))
            return
        mode = str(self.query_one("#producer-key-mode", Select).value)
        self._send_burst(topic, count, partition, acks, mode, self._field("value") or "message")

    @work(exclusive=True, group="producer-box-burst")
    async def _send_burst(self, topic: str, count: int, partition: int | None, acks: str, mode: str,
                          value: str) -> None:
        try:
            producer = self._producer(acks)
        except KafkaError as error:  # a read-only cluster refuses before anything is sent
            self.last_result = error
            self._show_kafka_error(error)
            return
        spread: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        first_error: KafkaError | None = None
        landed: list[RecordMetadata] = []
        started = time.perf_counter()
        rng = random.Random()
        try:
            for chunk_start in range(0, count, BURST_CHUNK):
                futures = []
                for i in range(chunk_start, min(count, chunk_start + BURST_CHUNK)):
                    if mode == "round-robin":
                        key: bytes | None = f"key-{i % ROUND_ROBIN_KEYS}".encode()
                    elif mode == "random":
                        key = f"{rng.getrandbits(32):08x}".encode()
                    else:
                        key = None
                    futures.append(await producer.send(topic, f"{value} #{i}".encode(), key, partition=partition))
                await producer.flush()
                for future in futures:
                    try:
                        metadata = future.result()
                    except KafkaError as error:
                        errors[f"{error.name} ({error.code})"] += 1
                        first_error = first_error or error
                        continue
                    spread[metadata.partition] += 1
                    if len(landed) < 100:
                        landed.append(metadata)
                if chunk_start + BURST_CHUNK < count:
                    self._show(Text(f"sending… {chunk_start + BURST_CHUNK:,} / {count:,}", style="dim"))
        except KafkaError as error:  # unknown topic or partition: nothing was queued
            self.last_result = error
            self._show_kafka_error(error)
            return
        elapsed = time.perf_counter() - started
        sent = sum(spread.values())
        text = Text("✓ " if not errors else "✗ ", style="bold green" if not errors else "bold red")
        text.append(f"{sent:,} of {count:,} records to {printable(topic, 60)} in {elapsed:.2f} s"
                    f" (acks {acks}, {'keys ' + mode if mode != 'none' else 'no keys'}) →")
        for number in sorted(spread):
            text.append(f"  p{number}: ", "bold")
            text.append(f"{spread[number]:,}")
        if first_error is not None:
            text.append(f"   {sum(errors.values()):,} failed: ", "bold red")
            text.append(printable(f"{first_error.name} ({first_error.code}): {first_error}", 200), "red")
            self.last_result = first_error
        else:
            self.last_result = landed
        self.burst_spread = dict(spread)
        self._show(text)

    # -- the result line ----------------------------------------------------------------
    def _show(self, text: Text) -> None:
        if not self.is_attached:
            return  # an answer that came after the screen closed (a send to a vanished cluster times out late)
        self.query_one("#producer-result", Static).update(text)

    def _show_error(self, message: str) -> None:
        self.last_result = message
        text = Text("✗ ", style="bold red")
        text.append(printable(message, 300), "red")
        self._show(text)

    def _show_kafka_error(self, error: KafkaError) -> None:
        text = Text("✗ ", style="bold red")
        text.append(f"{error.name} ({error.code})", "bold red")
        text.append(": ")
        text.append(printable(str(error), 300), "red")
        self._show(text)

    @property
    def result_text(self) -> str:
        """The result line as shown (plain text)."""
        renderable = self.query_one("#producer-result", Static).content
        return renderable.plain if isinstance(renderable, Text) else str(renderable)


def parse_headers(text: str) -> Headers:
    """``trace=abc, source=web`` as record headers; a name without ``=`` has a null value.

    ValueError names the problem (an empty name). Names may repeat, as Kafka allows.
    """
    headers: list[tuple[str, bytes | None]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not name:
            raise ValueError(f"A header needs a name before '=': {printable(part.strip(), 40)!r}.")
        headers.append((name, value.strip().encode() if sep else None))
    return tuple(headers)  # type: ignore[return-value]
