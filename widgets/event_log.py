"""The event log: what the broker core reports, told in plain words, one line per event.

Record appends are summarised (at most one line per second) because thousands arrive per
second; everything else gets its own line. The log keeps a bounded number of lines and
writes each batch of events with one ``Log.write_lines`` call (PERF.md).

``EventLogHandler`` routes Python log records (the Kafka listeners', uvicorn's, asyncio's)
here too, so nothing writes to the terminal the TUI draws on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Log

from broker_core.errors import KafkaError
from broker_core.events import (BrokerStateChanged, ControllerChanged, Event, GroupRebalanced,
                                GroupStateChanged, IsrChanged, LeaderElected, LogCompacted,
                                LogTruncated, OffsetsCommitted, PartitionsAdded, RecordsAppended,
                                Resync, SegmentDeleted, TopicAltered, TopicCreated, TopicDeleted,
                                UnknownEvent)

from .cluster_source import ClusterSource, clock_ms
from .member_ids import shorten_member_ids
from .safe_text import printable

#: This widget's stylesheet, for the screen's CSS_PATH.
CSS_FILE = Path(__file__).with_suffix(".tcss")
#: Shortest pause between two redraws: a burst of events is drawn once per frame.
FRAME_S = 1 / 30

#: Lines kept; older ones scroll away.
MAX_LINES = 2000
#: Record appends are summed and told at most this often.
RECORDS_SUMMARY_INTERVAL_S = 1.0
#: Longest name (group, member, topic) quoted in a line.
NAME_LIMIT = 60


def _name(value: object) -> str:
    # Group and member ids are any string a client chose: never let one draw markup or escapes.
    return printable(str(value), NAME_LIMIT)


def _member(value: object) -> str:
    # A member id's UUID would fill the line: the client id and 8 hex digits tell members apart.
    return _name(shorten_member_ids(str(value)))


def _partitions(pairs: list[list]) -> str:
    return ", ".join(f"{_name(t)}-{p}" for t, p, *_ in pairs) or "nothing"


def _isr(isr: list[int]) -> str:
    return "[" + ",".join(str(b) for b in isr) + "]"


def narrate(ev: Event) -> str | None:
    """One plain sentence for ``ev``; None for events that are summarised or not told."""
    if isinstance(ev, TopicCreated):
        return (f"Topic {_name(ev.topic)} created: {ev.partitions} partition{'s' if ev.partitions != 1 else ''}, "
                f"replication factor {ev.replication_factor}")
    if isinstance(ev, TopicDeleted):
        return f"Topic {_name(ev.topic)} deleted, with all its records"
    if isinstance(ev, PartitionsAdded):
        return f"Topic {_name(ev.topic)} now has {ev.partitions} partitions"
    if isinstance(ev, TopicAltered):
        settings = ", ".join(f"{_name(k)}={_name(v)}" for k, v in sorted(ev.config.items())) or "defaults"
        return f"Topic {_name(ev.topic)} config is now: {settings}"
    if isinstance(ev, GroupRebalanced):
        members = len(ev.assignment)
        owned = "; ".join(f"{_member(member)} gets {_partitions(parts)}"
                          for member, parts in sorted(ev.assignment.items()))
        generation = f"generation {ev.generation}, " if ev.generation >= 0 else ""  # -1: a client cannot see it
        return (f"Group {_name(ev.group)} rebalanced: {generation}"
                f"{members} member{'s' if members != 1 else ''} ({_name(ev.protocol) or 'no assignor'})"
                + (f": {owned}" if owned else ""))
    if isinstance(ev, GroupStateChanged):
        reason = f" ({_member(ev.reason)})" if ev.reason else ""
        return f"Group {_name(ev.group)} is now {_name(ev.state)}{reason}"
    if isinstance(ev, OffsetsCommitted):
        shown = ", ".join(f"{_name(t)}-{p} at {o}" for t, p, o, *_ in ev.offsets[:4])
        more = f" and {len(ev.offsets) - 4} more" if len(ev.offsets) > 4 else ""
        return f"Group {_name(ev.group)} committed {shown}{more}"
    if isinstance(ev, SegmentDeleted):
        why = f" ({_name(ev.reason)})" if ev.reason else ""
        return (f"Retention deleted segment {ev.base_offset}..{ev.next_offset - 1} of "
                f"{_name(ev.topic)}-{ev.partition}{why}: log now starts at {ev.log_start_offset}")
    if isinstance(ev, LogCompacted):
        return f"Compaction removed {ev.removed} superseded records from {_name(ev.topic)}-{ev.partition}"
    if isinstance(ev, BrokerStateChanged):
        return f"Broker {ev.broker} {'started' if ev.alive else 'stopped'}"
    if isinstance(ev, ControllerChanged):
        if ev.controller < 0:
            return f"No broker is alive to be the controller (epoch {ev.epoch})"
        was = f"was broker {ev.previous}, " if ev.previous >= 0 and ev.previous != ev.controller else ""
        return f"Broker {ev.controller} is now the controller ({was}epoch {ev.epoch})"
    if isinstance(ev, LeaderElected):
        where = f"Partition {_name(ev.topic)}-{ev.partition}"
        if ev.leader < 0:
            return f"{where} is offline: no in-sync replica is alive to lead it"
        previous = "none" if ev.previous < 0 else str(ev.previous)
        why = f" ({_name(ev.reason)})" if ev.reason else ""
        return f"{where}: leader {previous} -> {ev.leader}, epoch {ev.leader_epoch}, ISR {_isr(ev.isr)}{why}"
    if isinstance(ev, IsrChanged):
        why = f" ({_name(ev.reason)})" if ev.reason else ""
        return (f"Partition {_name(ev.topic)}-{ev.partition}: ISR now {_isr(ev.isr)}, "
                f"high watermark {ev.high_watermark}{why}")
    if isinstance(ev, LogTruncated):
        records = f"{ev.removed} record{'s' if ev.removed != 1 else ''}"
        if ev.broker >= 0:
            return (f"Broker {ev.broker}'s replica of {_name(ev.topic)}-{ev.partition} truncated its diverged "
                    f"log at offset {ev.end_offset} ({records} the new leader never had)")
        return (f"Partition {_name(ev.topic)}-{ev.partition} truncated at offset {ev.end_offset}: "
                f"{records} that were never replicated are gone")
    if ev.kind == "cluster_connection":  # a real cluster's connection (app.backends.ClusterConnection)
        if getattr(ev, "connected", True):
            return "Connected to the cluster again"
        return f"Lost the cluster: {_name(getattr(ev, 'reason', '') or 'no answer')}"
    if isinstance(ev, Resync):
        return f"Missed some events ({_name(ev.reason)}); views re-read the data file"
    if isinstance(ev, UnknownEvent):
        return f"Unknown event {_name(ev.name)} (written by a newer kplay?)"
    return None


class EventLog(Log):
    """Narrates the change feed: topics, groups, brokers, leaders, retention, in plain words."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False, id="event-log.down"),
        Binding("k", "scroll_up", "Up", show=False, id="event-log.up"),
        Binding("g", "scroll_home", "Oldest", show=False, id="event-log.first"),
        Binding("G", "scroll_end", "Newest", show=False, id="event-log.last"),
        Binding("c", "clear_log", "Clear log", id="event-log.clear"),
    ]

    def __init__(self, source: ClusterSource, *, max_lines: int = MAX_LINES, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(max_lines=max_lines, id=id, classes=classes)
        self.source = source
        self._pending_records: dict[str, int] = {}
        self._last_summary = 0.0
        self._summary_timer: Timer | None = None
        self._end_offsets: dict[tuple[str, int], int] = {}

    def on_mount(self) -> None:
        self.border_title = "Events"
        self.run_worker(self._follow_feed(), name="event-log-feed", group="event-log", exclusive=True)

    async def _follow_feed(self) -> None:
        sub = await self.source.subscribe()
        try:
            # Subscribed first, so an append between this read and the loop is still counted.
            try:
                described = await self.source.describe_topics()
            except KafkaError:
                described = []  # a real cluster out of reach: counting starts from its first events
            for topic in described:
                for p in topic.partitions:
                    self._end_offsets.setdefault((topic.name, p.partition), p.log_end_offset)
            while True:
                first = await sub.get()
                self.tell([first, *sub.get_nowait()])
                await asyncio.sleep(FRAME_S)  # let the next events gather: one write per frame
        finally:
            sub.close()

    def tell(self, events: list[Event]) -> None:
        """Write the lines for one batch of events (one ``write_lines`` call)."""
        lines: list[str] = []
        for ev in events:
            if isinstance(ev, RecordsAppended):
                key = (ev.topic, ev.partition)
                before = self._end_offsets.get(key, 0)
                self._end_offsets[key] = max(before, ev.end_offset)
                added = max(0, ev.end_offset - before)
                if added:
                    self._pending_records[ev.topic] = self._pending_records.get(ev.topic, 0) + added
                continue
            if isinstance(ev, (TopicDeleted, TopicCreated)):
                # A new topic of the same name starts again at offset 0.
                self._end_offsets = {k: v for k, v in self._end_offsets.items() if k[0] != ev.topic}
            elif isinstance(ev, LogTruncated):
                self._end_offsets[(ev.topic, ev.partition)] = ev.end_offset
            line = narrate(ev)
            if line is not None:
                lines.append(f"{self._time(ev.at)}  {line}")
        if lines:
            self.write_lines(lines)
        if self._pending_records:
            self._schedule_summary()

    def note(self, text: str) -> None:
        """Write one line that did not come from the feed (a lesson's narration, say), stamped now."""
        self.notes([text])

    def notes(self, texts: list[str]) -> None:
        """Write several such lines at once (one ``write_lines`` call), stamped now."""
        stamp = self._time(clock_ms(self.source))
        self.write_lines([f"{stamp}  {printable(text, 1000)}" for text in texts])

    def _schedule_summary(self) -> None:
        due = self._last_summary + RECORDS_SUMMARY_INTERVAL_S - time.monotonic()
        if due <= 0:
            self._write_summary()
        elif self._summary_timer is None:
            self._summary_timer = self.set_timer(due, self._write_summary, name="event-log-summary")

    def _write_summary(self) -> None:
        self._summary_timer = None
        if not self._pending_records:
            return
        parts = ", ".join(f"{count:,} to {_name(topic)}" for topic, count in sorted(self._pending_records.items()))
        self._pending_records.clear()
        self._last_summary = time.monotonic()
        self.write_line(f"{self._time(clock_ms(self.source))}  Records appended: {parts}")

    @staticmethod
    def _time(at_ms: int) -> str:
        return time.strftime("%H:%M:%S", time.localtime(at_ms / 1000))

    def action_clear_log(self) -> None:
        """Clear the lines shown (this forgets nothing in the cluster)."""
        self.clear()


class EventLogHandler(logging.Handler):
    """A ``logging.Handler`` that writes records to an ``EventLog``, one line each.

    Records may come from any thread (a database call run with ``asyncio.to_thread``);
    they are gathered and written on the app's event loop, at most ``MAX_PENDING`` lines
    per write (a flood of records is counted, not drawn line by line).
    """

    #: Lines gathered between two writes at most; the rest are counted as dropped.
    MAX_PENDING = 200

    def __init__(self, log: EventLog, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.log = log
        self._loop = asyncio.get_running_loop()
        self._pending: list[str] = []
        self._dropped = 0
        self._lock_pending = threading.Lock()
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        """Queue one line for the event log: where it comes from, the message, the error's last line."""
        try:
            line = one_line(record)
        except Exception:  # noqa: BLE001 - logging must never raise into the code that logs
            self.handleError(record)
            return
        with self._lock_pending:
            if len(self._pending) < self.MAX_PENDING:
                self._pending.append(line)
            else:
                self._dropped += 1
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._flush)
        except RuntimeError:  # the loop has closed: the app is gone
            pass

    def _flush(self) -> None:
        with self._lock_pending:
            lines, self._pending = self._pending, []
            dropped, self._dropped = self._dropped, 0
            self._scheduled = False
        if dropped:
            lines.append(f"(and {dropped:,} more log records)")
        if lines and self.log.is_mounted:
            self.log.notes(lines)


def one_line(record: logging.LogRecord) -> str:
    """A log record as one line: ``uvicorn.error: message: ValueError: reason``."""
    source = "kplay serve" if record.name.startswith("kplay.serve") else record.name
    text = f"{source}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        text += f": {type(error).__name__}: {error}"
    if record.levelno >= logging.WARNING:
        text = f"{record.levelname.lower()}: {text}"
    return " ".join(text.split())
