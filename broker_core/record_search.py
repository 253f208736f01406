"""Finding records: by offset, by timestamp (Kafka's offsets-for-times), by key, by text or regex.

Kafka itself has no search: a person reads a topic with a consumer and filters. The
playground keeps the log in SQLite, so ``RecordSearch`` scans it where it lives, in
chunks of offsets, each chunk one query on the database's reader thread:

- by key: records whose key equals the bytes given;
- by text: records whose key, value or headers contain the bytes given (SQLite's ``instr``
  over the stored batches, so only batches holding the text are decoded in Python);
- by regex: a Python regular expression over key, value and headers decoded as UTF-8
  (invalid bytes as ``\\xNN``), run on rows read a chunk at a time.

``scan`` yields after every chunk with how many offsets it has covered, so a caller can show
progress and cancel between chunks (cancelling the task that iterates it is enough).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import AsyncIterator, Literal, Sequence

import aiosqlite

from .errors import InvalidRequest, OffsetOutOfRange, UnknownTopicOrPartition
from .log import PartitionLogs
from .record_batch import RecordBatch
from .records import ConsumerRecord, Headers
from .storage import Storage

SearchMode = Literal["key", "text", "regex"]
SEARCH_MODES: tuple[SearchMode, ...] = ("key", "text", "regex")
SEARCH_FIELDS = ("key", "value", "headers")
#: Offsets one query covers (a chunk is one round trip to the database thread).
CHUNK_OFFSETS = 50_000
#: Offsets per chunk for a regex, whose rows are all read into Python.
REGEX_CHUNK_OFFSETS = 5_000
#: Matches kept by default; the scan stops once it has this many.
DEFAULT_LIMIT = 1_000


@dataclass(frozen=True)
class SearchQuery:
    """What to look for: ``mode`` key, text or regex; ``pattern`` as typed; ``fields`` to look in."""

    mode: SearchMode
    pattern: str
    fields: frozenset[str] = frozenset(SEARCH_FIELDS)

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise InvalidRequest(f"Unknown search mode '{self.mode}' (expected key, text or regex)")
        if self.mode != "key" and not self.pattern:
            raise InvalidRequest("Type something to search for")
        unknown = set(self.fields) - set(SEARCH_FIELDS)
        if unknown or not self.fields:
            raise InvalidRequest("Search in at least one of key, value and headers")
        if self.mode == "regex":
            self.compiled()

    def compiled(self) -> re.Pattern[str]:
        """The regex (InvalidRequest naming the problem when it does not compile)."""
        try:
            return re.compile(self.pattern)
        except re.error as error:
            raise InvalidRequest(f"Not a regular expression: {error}") from None


@dataclass(frozen=True, slots=True)
class SearchMatch:
    """A record found: where it is, and its key and value (the record view reads it whole)."""

    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass
class SearchProgress:
    """Where a scan stands: offsets covered of the total, and the matches so far."""

    scanned: int = 0
    total: int = 0
    matches: list[SearchMatch] = field(default_factory=list)
    #: True once the scan stopped at its limit of matches.
    limited: bool = False
    done: bool = False


class RecordSearch:
    """Finds records in a partition or a topic of the data file."""

    def __init__(self, storage: Storage, logs: PartitionLogs) -> None:
        self._storage = storage
        self._logs = logs

    async def partition_ranges(self, topic: str, partitions: Sequence[int] | None = None) -> dict[int, tuple[int, int]]:
        """Partition -> (log start offset, high watermark), for ``partitions`` or all of them."""
        row = await self._storage.fetchone("SELECT id, partitions FROM topics WHERE name=?", (topic,))
        if row is None:
            raise UnknownTopicOrPartition(f"Topic '{topic}' does not exist")
        topic_id, count = row
        wanted = list(range(count)) if partitions is None else list(partitions)
        for p in wanted:
            if not 0 <= p < count:
                raise UnknownTopicOrPartition(f"Partition {p} of topic '{topic}' does not exist")
        rows = await self._storage.fetchall(
            "SELECT partition, log_start_offset, high_watermark FROM partitions WHERE topic_id=?", (topic_id,))
        ranges = {p: (start, hw) for p, start, hw in rows}
        return {p: ranges[p] for p in wanted}

    async def record_at(self, topic: str, partition: int, offset: int) -> ConsumerRecord:
        """The record at ``offset``; OffsetOutOfRange saying where the log is when it has none."""
        start, hw = (await self.partition_ranges(topic, [partition]))[partition]
        if offset >= hw:
            last = "the log is empty" if hw <= start else f"the last record is at {hw - 1:,}"
            raise OffsetOutOfRange(f"Offset {offset:,} is past the end of {topic}-{partition}: {last}"
                                   f" (high watermark {hw:,})")
        if offset < start:
            raise OffsetOutOfRange(f"Offset {offset:,} is before the log start of {topic}-{partition}"
                                   f" ({start:,}): retention or a deletion removed it")
        result = await self._logs.read(topic, partition, offset, max_records=1)
        if not result.records or result.records[0].offset != offset:
            raise OffsetOutOfRange(f"Offset {offset:,} of {topic}-{partition} was removed by compaction")
        return result.records[0]

    async def offsets_for_times(self, topic: str, timestamp: int,
                                partitions: Sequence[int] | None = None) -> dict[int, int | None]:
        """Kafka's ``offsetsForTimes``: per partition, the first offset whose timestamp is at
        least ``timestamp`` (ListOffsets with a timestamp), None when every record is older."""
        if timestamp < 0:
            raise InvalidRequest(f"A timestamp is milliseconds since 1970, not {timestamp}")
        ranges = await self.partition_ranges(topic, partitions)
        return {p: await self._logs.list_offset(topic, p, timestamp) for p in ranges}

    async def scan(self, topic: str, query: SearchQuery, partitions: Sequence[int] | None = None, *,
                   limit: int = DEFAULT_LIMIT, chunk: int | None = None) -> AsyncIterator[SearchProgress]:
        """Scan ``partitions`` (all of ``topic``'s by default) in chunks, yielding progress after each."""
        row = await self._storage.fetchone("SELECT id FROM topics WHERE name=?", (topic,))
        if row is None:
            raise UnknownTopicOrPartition(f"Topic '{topic}' does not exist")
        topic_id = row[0]
        ranges = await self.partition_ranges(topic, partitions)
        progress = SearchProgress(total=sum(max(0, hw - start) for start, hw in ranges.values()))
        step = chunk or (REGEX_CHUNK_OFFSETS if query.mode == "regex" else CHUNK_OFFSETS)
        needle = query.pattern.encode()
        regex = query.compiled() if query.mode == "regex" else None
        for partition, (start, hw) in ranges.items():
            for low in range(start, hw, step):
                high = min(hw, low + step)
                rows = await self._storage.read_in_one_hop(
                    lambda conn, lo=low, hi=high, p=partition: _chunk(conn, topic_id, p, lo, hi, query, needle))
                for offset, timestamp, key, value, headers in rows:
                    if regex is not None and not _regex_matches(regex, query.fields, key, value, headers):
                        continue
                    if query.mode == "text" and not _text_matches(needle, query.fields, key, value, headers):
                        continue
                    progress.matches.append(SearchMatch(partition, offset, timestamp, key, value))
                    if len(progress.matches) >= limit:
                        break
                progress.scanned += high - low
                if len(progress.matches) >= limit:
                    progress.limited = True
                    progress.done = True
                    yield progress
                    return
                yield progress
        progress.done = True
        yield progress


async def _chunk(conn: aiosqlite.Connection, topic_id: int, partition: int, low: int, high: int,
                 query: SearchQuery, needle: bytes) -> list:
    """The records of one chunk worth looking at: for text, only batches whose bytes contain
    the text are decoded (SQLite's ``instr`` on uncompressed batches); a key is compared as
    each record is decoded."""
    sql = ("SELECT data FROM batches WHERE topic_id=? AND partition=? AND base_offset>=coalesce("
           "(SELECT max(base_offset) FROM batches WHERE topic_id=? AND partition=? AND base_offset<=?), ?)"
           " AND base_offset<?")
    params: list = [topic_id, partition, topic_id, partition, low, low, high]
    if query.mode == "text":
        # Compressed batches (codec bits set) cannot be pre-filtered; headers' names and values
        # are stored as they are, so one instr covers every field.
        sql += " AND (attributes & 7 != 0 OR instr(data, ?) > 0)"
        params.append(needle)
    found = []
    key_wanted = None if query.mode != "key" or query.pattern == "null" else needle
    for (data,) in await conn.execute_fetchall(sql + " ORDER BY base_offset", params):
        for record in RecordBatch(data).records(from_offset=low):
            if record.offset >= high:
                break
            if query.mode == "key" and record.key != key_wanted:
                continue
            found.append(tuple(record))
    return found


def _text_matches(needle: bytes, fields: frozenset[str], key: bytes | None, value: bytes | None,
                  headers: Headers) -> bool:
    if "key" in fields and key is not None and needle in key:
        return True
    if "value" in fields and value is not None and needle in value:
        return True
    if "headers" in fields and headers:
        return any(needle in name.encode() or (data is not None and needle in data) for name, data in headers)
    return False


def _as_text(data: bytes | None) -> str:
    return "" if data is None else bytes(data).decode("utf-8", errors="backslashreplace")


def _regex_matches(regex: re.Pattern[str], fields: frozenset[str], key: bytes | None, value: bytes | None,
                   headers: Headers) -> bool:
    if "key" in fields and key is not None and regex.search(_as_text(key)):
        return True
    if "value" in fields and value is not None and regex.search(_as_text(value)):
        return True
    if "headers" in fields and headers:
        return any(regex.search(name) or (data is not None and regex.search(_as_text(data)))
                   for name, data in headers)
    return False
