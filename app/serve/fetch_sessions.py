"""Incremental fetch sessions (KIP-227), as Kafka's ``FetchSession.scala`` keeps them.

A consumer's first Fetch (session epoch 0) names every partition it wants: a *full* fetch.
The broker answers every partition and, when its cache has room, a new session id. From
then on each Fetch carries that id and the next epoch, and names only the partitions added
or whose fetch position, max bytes or leader epoch changed, plus the ones to forget; the
broker remembers the rest. Its response carries only the partitions with something new:
records, a moved high watermark or log start offset, or an error. A consumer assigned
thousands of partitions, few with data, thus sends and receives a few partitions a fetch.

Epoch -1 (FINAL) closes the session named and answers without one (a *sessionless* fetch,
as every Fetch before v7 is). An unknown session id is FETCH_SESSION_ID_NOT_FOUND, an epoch
other than the one expected INVALID_FETCH_SESSION_EPOCH (a duplicate or a lost response),
and a session used once with topic ids (v13+) and once with names FETCH_SESSION_TOPIC_ID_ERROR;
the client then starts over with a full fetch.

Each broker keeps up to ``max.incremental.fetch.session.cache.slots`` sessions (Kafka's
default 1,000; Kafka splits them over 8 shards, here they are one). When full, a new session
takes the slot of one unused for ``min.incremental.fetch.session.eviction.ms`` (2 minutes),
else of the smallest session older than that if the new one is larger, else it is not
created and the consumer goes on with full fetches.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Hashable, Iterable

#: The session id of a fetch without a session (and of a response that created none).
INVALID_SESSION_ID = 0
#: A client's epoch to create (or recreate) a session: a full fetch.
INITIAL_EPOCH = 0
#: A client's epoch to close the session named and fetch without one.
FINAL_EPOCH = -1
#: Epochs wrap from here back to 1.
MAX_EPOCH = 2**31 - 1
#: Kafka's ``max.incremental.fetch.session.cache.slots`` default.
DEFAULT_CACHE_SLOTS = 1000
#: Kafka's ``MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`` (not configurable there either).
EVICTION_MS = 120_000
#: The first Fetch version with sessions; below it every fetch is sessionless.
SESSION_VERSION = 7
#: The first Fetch version that names topics by id: a session is kept by one or the other.
TOPIC_ID_VERSION = 13


class SessionError(int, Enum):
    """The top-level errors of a Fetch whose session cannot be used (Kafka's codes)."""

    FETCH_SESSION_ID_NOT_FOUND = 70
    INVALID_FETCH_SESSION_EPOCH = 71
    FETCH_SESSION_TOPIC_ID_ERROR = 106


def next_epoch(epoch: int) -> int:
    """The epoch after ``epoch`` (Kafka's ``FetchMetadata.nextEpoch``)."""
    if epoch < 0:
        return FINAL_EPOCH
    return 1 if epoch == MAX_EPOCH else epoch + 1


#: How a session knows a partition: (topic id, partition) from v13, (topic name, partition) before.
PartitionKey = tuple[Hashable, int]


@dataclass(slots=True)
class CachedPartition:
    """What a session remembers of one partition: the client's last request for it, and the
    high watermark and log start offset last sent (Kafka's ``CachedPartition``)."""

    #: None for a topic id no topic has (answered UNKNOWN_TOPIC_ID until one has it).
    topic: str | None
    topic_id: Any
    partition: int
    fetch_offset: int
    max_bytes: int
    leader_epoch: int
    #: -1 until answered, and after an error: the next answer is then always sent.
    high_watermark: int = -1
    log_start_offset: int = -1

    def update_request(self, fetch_offset: int, max_bytes: int, leader_epoch: int) -> None:
        """The client sent this partition again: its position, max bytes or epoch changed."""
        self.fetch_offset, self.max_bytes, self.leader_epoch = fetch_offset, max_bytes, leader_epoch

    def must_respond(self, records_size: int, high_watermark: int, log_start_offset: int, error: int) -> bool:
        """Whether an incremental response includes this partition's answer, remembering what
        it sends (Kafka's ``maybeUpdateResponseData``): records, a changed high watermark or
        log start offset, or an error (after which the high watermark is forgotten, so that the
        partition is sent again once the error is gone)."""
        respond = records_size > 0
        if self.high_watermark != high_watermark:
            respond = True
            self.high_watermark = high_watermark
        if self.log_start_offset != log_start_offset:
            respond = True
            self.log_start_offset = log_start_offset
        if error:
            self.high_watermark = -1
            respond = True
        return respond


@dataclass(eq=False)
class FetchSession:
    """One consumer's session with one broker: its partitions, in the order they are read."""

    id: int
    uses_topic_ids: bool
    created_ms: int
    last_used_ms: int
    #: The epoch the next request must carry.
    epoch: int
    #: Insertion-ordered: a partition that returned records moves to the end, so that the
    #: others come first next time (Kafka's fairness among a session's partitions).
    partitions: dict[PartitionKey, CachedPartition] = field(default_factory=dict)
    #: Partitions to read even when nothing was committed since the last read: errors, and
    #: those with data the last response had no room for.
    pending: set[PartitionKey] = field(default_factory=set)
    #: The ``PartitionChangeLog`` number this session last took changes up to (-1: none), and
    #: the leadership view's generation then: partitions changed since, plus ``pending`` and
    #: requested ones, are all that can answer something new.
    change_number: int = -1
    leadership_generation: int = -1
    #: Topic key by topic name (v13+ sessions keep partitions by topic id), built when needed.
    _topic_keys: dict[str, Hashable] | None = field(default=None, repr=False)

    def update(self, wanted: Iterable[CachedPartition], forgotten: Iterable[PartitionKey]) -> list[PartitionKey]:
        """Apply an incremental request: partitions added or changed, and forgotten; return
        the keys of the partitions it named."""
        named = []
        for part in wanted:
            key = (part.topic_id if self.uses_topic_ids else part.topic, part.partition)
            cached = self.partitions.get(key)
            if cached is None:
                self.partitions[key] = part
                self._topic_keys = None
            else:
                cached.update_request(part.fetch_offset, part.max_bytes, part.leader_epoch)
            named.append(key)
        for key in forgotten:
            self.partitions.pop(key, None)
            self.pending.discard(key)
            self._topic_keys = None
        return named

    def key_of(self, topic: str, partition: int) -> PartitionKey | None:
        """This session's key of a partition named by topic name, None if it does not hold it."""
        if not self.uses_topic_ids:
            key: PartitionKey = (topic, partition)
        else:
            if self._topic_keys is None:
                self._topic_keys = {part.topic: topic_key for (topic_key, _), part in self.partitions.items()
                                    if part.topic is not None}
            if topic not in self._topic_keys:
                return None
            key = (self._topic_keys[topic], partition)
        return key if key in self.partitions else None

    def moved_to_end(self, key: PartitionKey) -> None:
        """Read this partition after the others next time (it has just returned records)."""
        self.partitions[key] = self.partitions.pop(key)


def monotonic_ms() -> int:
    """Milliseconds from a clock that never goes back (sessions age by it)."""
    return int(time.monotonic() * 1000)


class FetchSessionCache:
    """One broker's fetch sessions, at most ``max_entries`` (Kafka's ``FetchSessionCacheShard``)."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_SLOTS, eviction_ms: int = EVICTION_MS,
                 clock: Callable[[], int] = monotonic_ms) -> None:
        self.max_entries = max_entries
        self.eviction_ms = eviction_ms
        self._clock = clock
        self._sessions: dict[int, FetchSession] = {}
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: int) -> FetchSession | None:
        """The session with this id, if it is still cached."""
        return self._sessions.get(session_id)

    def remove(self, session_id: int) -> FetchSession | None:
        """Drop a session (closed by its client, emptied, or evicted)."""
        return self._sessions.pop(session_id, None)

    def touch(self, session: FetchSession) -> None:
        """The session was just used: it is not stale."""
        session.last_used_ms = self._clock()

    def create(self, uses_topic_ids: bool, partitions: dict[PartitionKey, CachedPartition]) -> FetchSession | None:
        """A new session holding ``partitions``, or None when the cache is full and no session
        may be evicted for it (``maybeCreateSession``)."""
        now = self._clock()
        if len(self._sessions) >= self.max_entries and not self._try_evict(len(partitions), now):
            return None
        session_id = INVALID_SESSION_ID
        while session_id == INVALID_SESSION_ID or session_id in self._sessions:
            session_id = random.randint(1, MAX_EPOCH)
        session = FetchSession(session_id, uses_topic_ids, now, now, next_epoch(INITIAL_EPOCH), partitions)
        self._sessions[session_id] = session
        return session

    def _try_evict(self, size: int, now: int) -> bool:
        # Kafka's tryEvict: the least recently used session if it is stale; else, among sessions
        # older than the eviction time, the smallest (then lowest id) if the new one is larger.
        if not self._sessions:
            return False
        oldest = min(self._sessions.values(), key=lambda s: (s.last_used_ms, s.id))
        if now - oldest.last_used_ms > self.eviction_ms:
            victim = oldest
        else:
            # Kafka files a session as evictable when it is touched after the eviction time.
            settled = [s for s in self._sessions.values() if s.last_used_ms - s.created_ms > self.eviction_ms]
            if not settled:
                return False
            victim = min(settled, key=lambda s: (len(s.partitions), s.id))
            if (size, 0) < (len(victim.partitions), victim.id):
                return False
        del self._sessions[victim.id]
        self.evictions += 1
        return True


class FetchSessionCaches:
    """Every broker's ``FetchSessionCache``: a session belongs to the broker that created it."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_SLOTS, eviction_ms: int = EVICTION_MS,
                 clock: Callable[[], int] = monotonic_ms) -> None:
        self._settings = (max_entries, eviction_ms, clock)
        self._caches: dict[int, FetchSessionCache] = {}

    def of(self, broker_id: int) -> FetchSessionCache:
        """Broker ``broker_id``'s cache."""
        cache = self._caches.get(broker_id)
        if cache is None:
            cache = self._caches[broker_id] = FetchSessionCache(*self._settings)
        return cache

    def drop(self, broker_id: int) -> None:
        """Forget a broker's sessions (it stopped: Kafka's cache lives in the broker's memory)."""
        self._caches.pop(broker_id, None)
