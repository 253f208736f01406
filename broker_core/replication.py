"""Followers copying from leaders: replica progress, the ISR and the high watermark.

Records are stored once per partition; a replica is only its progress through them,
its log end offset (LEO). A follower "fetches" by moving its LEO toward the leader's.

By default followers keep up at once (an append moves every live follower in the same
transaction). The playground knob ``playground.replication.delay.ms`` makes them lag:
a follower copies a batch only once that long has passed since the leader appended it,
so lag, ISR shrinks and the classic acks=1 loss become visible. Time is the cluster's
injectable clock, and the work is done lazily by ``ReplicaFetcher.run_once()``, which
any process may run (the TUI in a background task, a producer waiting for acks=all);
a write that needs current replica state (an append, a broker stop) catches followers
up to "now" first, so the result never depends on who ran the step when.

Kafka's rules, as in ``Partition.maybeShrinkIsr`` / ``maybeExpandIsr``:

- a follower is caught up when its LEO equals the leader's; otherwise it was last
  caught up just before the leader appended the first batch it lacks. One that has not
  been caught up for more than ``replica.lag.time.max.ms`` leaves the ISR;
- a live follower whose LEO reaches the high watermark (re)joins the ISR;
- high watermark = min LEO over the ISR, and it never moves back except by truncation.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from .clock import Clock
from .config import effective_config
from .errors import StorageClosed
from .storage import Storage, record_change

#: Cluster setting (meta key): how long a follower waits before copying a batch.
REPLICATION_DELAY_KEY = "playground.replication.delay.ms"
#: Cluster setting (meta key), Kafka's broker config of the same name.
REPLICA_LAG_TIME_MAX_KEY = "replica.lag.time.max.ms"
DEFAULT_REPLICATION_DELAY_MS = 0
DEFAULT_REPLICA_LAG_TIME_MAX_MS = 30_000


@dataclass(frozen=True)
class ReplicationSettings:
    """The cluster's replication settings, stored in the data file."""

    replication_delay_ms: int = DEFAULT_REPLICATION_DELAY_MS
    replica_lag_time_max_ms: int = DEFAULT_REPLICA_LAG_TIME_MAX_MS


async def read_settings(conn: aiosqlite.Connection) -> ReplicationSettings:
    """The replication settings as the data file has them (defaults where unset)."""
    rows = dict(await conn.execute_fetchall(
        "SELECT key, value FROM meta WHERE key IN (?, ?)", (REPLICATION_DELAY_KEY, REPLICA_LAG_TIME_MAX_KEY)))
    return ReplicationSettings(
        int(rows.get(REPLICATION_DELAY_KEY, DEFAULT_REPLICATION_DELAY_MS)),
        int(rows.get(REPLICA_LAG_TIME_MAX_KEY, DEFAULT_REPLICA_LAG_TIME_MAX_MS)))


async def write_setting(conn: aiosqlite.Connection, key: str, value: int) -> None:
    """Store one cluster setting inside the caller's write transaction."""
    await conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))


@dataclass
class Replica:
    """One replica of a partition as the controller and the fetcher see it."""

    broker_id: int
    position: int
    log_end_offset: int
    in_isr: bool
    caught_up_at: int
    diverged_at: int
    alive: bool


@dataclass
class PartitionState:
    """A partition with its replicas, loaded for a change inside one write transaction.

    Methods change it in memory; ``save_partition`` writes it back. ``pending`` holds the
    (base offset, append time) of batches followers may not have copied yet.
    """

    topic_id: int
    topic: str
    partition: int
    config: dict[str, Any]
    leader: int
    leader_epoch: int
    log_start_offset: int
    log_end_offset: int
    high_watermark: int
    replicas: list[Replica] = field(default_factory=list)
    pending: list[tuple[int, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``topic-partition``, as Kafka prints a TopicPartition."""
        return f"{self.topic}-{self.partition}"

    def replica(self, broker_id: int) -> Replica | None:
        """The replica on ``broker_id`` (None if the broker holds none)."""
        for replica in self.replicas:
            if replica.broker_id == broker_id:
                return replica
        return None

    def isr(self) -> list[int]:
        """The in-sync replicas, leader first and then in replica order (as Kafka lists them)."""
        ids = [r.broker_id for r in self.replicas if r.in_isr]
        if self.leader in ids:
            ids.remove(self.leader)
            ids.insert(0, self.leader)
        return ids

    def raise_high_watermark(self) -> bool:
        """Move the high watermark up to the smallest LEO in the ISR; True if it moved."""
        in_sync = [r.log_end_offset for r in self.replicas if r.in_isr]
        if self.leader < 0 or not in_sync:
            return False
        candidate = min(min(in_sync), self.log_end_offset)
        if candidate > self.high_watermark:
            self.high_watermark = candidate
            return True
        return False


@dataclass
class FollowerStep:
    """What one catch-up step changed in one partition."""

    progressed: bool = False
    high_watermark_moved: bool = False
    isr_changes: list[str] = field(default_factory=list)  # one reason per ISR change

    @property
    def changed(self) -> bool:
        """Whether anything at all changed."""
        return self.progressed or self.high_watermark_moved or bool(self.isr_changes)


def catch_up(state: PartitionState, now: int, settings: ReplicationSettings) -> FollowerStep:
    """Advance live followers to what they could have fetched by ``now``; shrink and expand the ISR.

    Pure bookkeeping on ``state`` (nothing is written). Offline partitions are left alone.
    """
    step = FollowerStep()
    leader = state.replica(state.leader)
    if state.leader < 0 or (leader is not None and not leader.alive):
        return step  # offline, or led by a stopped broker no controller could replace
    leader_end = state.log_end_offset
    delay = settings.replication_delay_ms
    young = [base for base, at in state.pending if at > now - delay] if delay > 0 else []
    reachable = min([leader_end, *young])
    for replica in state.replicas:
        if replica.broker_id == state.leader:
            replica.log_end_offset, replica.caught_up_at = leader_end, now
            continue
        if not replica.alive:
            continue
        if replica.log_end_offset < reachable:
            replica.log_end_offset = reachable
            step.progressed = True
        if replica.log_end_offset >= leader_end:
            replica.caught_up_at = now
        else:
            # It was caught up until the leader appended the first batch it still lacks.
            missing = [at for base, at in state.pending if base >= replica.log_end_offset]
            if missing:
                replica.caught_up_at = max(replica.caught_up_at, min(missing))
    lag_max = settings.replica_lag_time_max_ms
    for replica in state.replicas:
        if (replica.in_isr and replica.broker_id != state.leader and replica.log_end_offset < leader_end
                and now - replica.caught_up_at > lag_max):
            replica.in_isr = False
            step.isr_changes.append(
                f"broker {replica.broker_id} was not caught up for more than "
                f"replica.lag.time.max.ms={lag_max}")
    step.high_watermark_moved = state.raise_high_watermark()
    for replica in state.replicas:
        if replica.alive and not replica.in_isr and replica.log_end_offset >= state.high_watermark:
            replica.in_isr = True
            step.isr_changes.append(f"broker {replica.broker_id} caught up")
    if state.raise_high_watermark():
        step.high_watermark_moved = True
    return step


# -- loading and saving ----------------------------------------------------------------

async def load_partitions(conn: aiosqlite.Connection, condition: str = "1",
                          params: tuple[Any, ...] = ()) -> list[PartitionState]:
    """Partitions matching ``condition`` (SQL over ``partitions p``), with replicas and pending batches."""
    rows = await conn.execute_fetchall(
        "SELECT p.topic_id, t.name, t.config, p.partition, p.leader, p.leader_epoch, p.log_start_offset,"
        " p.log_end_offset, p.high_watermark FROM partitions p JOIN topics t ON t.id=p.topic_id"
        f" WHERE {condition} ORDER BY p.topic_id, p.partition", params)
    states: dict[tuple[int, int], PartitionState] = {}
    configs: dict[str, dict[str, Any]] = {}
    for topic_id, name, config, partition, leader, epoch, start, leo, hw in rows:
        if config not in configs:
            configs[config] = effective_config(json.loads(config))
        states[(topic_id, partition)] = PartitionState(
            topic_id, name, partition, configs[config], leader, epoch, start, leo, hw)
    if not states:
        return []
    # The leader's row is not written by appends (log.py): its log end offset is the partition's,
    # and it was caught up when it last appended.
    replicas = await conn.execute_fetchall(
        "SELECT r.topic_id, r.partition, r.broker_id, r.position,"
        " CASE WHEN r.broker_id=p.leader THEN p.log_end_offset ELSE r.log_end_offset END, r.in_isr,"
        " CASE WHEN r.broker_id=p.leader THEN max(r.caught_up_at, p.appended_at) ELSE r.caught_up_at END,"
        " r.diverged_at, coalesce(b.alive, 0) FROM replicas r"
        " JOIN partitions p ON p.topic_id=r.topic_id AND p.partition=r.partition"
        f" LEFT JOIN brokers b ON b.id=r.broker_id WHERE {condition} ORDER BY r.position", params)
    for topic_id, partition, broker, position, leo, in_isr, caught_up, diverged, alive in replicas:
        state = states.get((topic_id, partition))
        if state is not None:
            state.replicas.append(Replica(broker, position, leo, bool(in_isr), caught_up, diverged, bool(alive)))
    pending = await conn.execute_fetchall(
        "SELECT q.topic_id, q.partition, q.base_offset, q.appended_at FROM pending_replication q"
        " JOIN partitions p ON p.topic_id=q.topic_id AND p.partition=q.partition"
        f" WHERE {condition} ORDER BY q.base_offset", params)
    for topic_id, partition, base, at in pending:
        state = states.get((topic_id, partition))
        if state is not None:
            state.pending.append((base, at))
    return list(states.values())


async def save_partition(conn: aiosqlite.Connection, state: PartitionState) -> None:
    """Write ``state``'s leader, offsets and replica progress back inside the caller's transaction."""
    await conn.execute(
        "UPDATE partitions SET leader=?, leader_epoch=?, log_start_offset=?, log_end_offset=?, high_watermark=?"
        " WHERE topic_id=? AND partition=?",
        (state.leader, state.leader_epoch, state.log_start_offset, state.log_end_offset, state.high_watermark,
         state.topic_id, state.partition))
    await conn.executemany(
        "UPDATE replicas SET log_end_offset=?, in_isr=?, caught_up_at=?, diverged_at=?"
        " WHERE topic_id=? AND partition=? AND broker_id=?",
        [(r.log_end_offset, int(r.in_isr), r.caught_up_at, r.diverged_at, state.topic_id, state.partition,
          r.broker_id) for r in state.replicas])


async def record_follower_step(conn: aiosqlite.Connection, now: int, state: PartitionState,
                               step: FollowerStep, *, progress_event: bool = True) -> None:
    """Narrate a catch-up step on the change feed: ISR changes, then replica progress."""
    for reason in step.isr_changes:
        await record_change(conn, now, "isr_changed", {
            "topic": state.topic, "partition": state.partition, "isr": state.isr(),
            "high_watermark": state.high_watermark, "reason": reason})
    if progress_event and (step.progressed or step.high_watermark_moved):
        await record_change(conn, now, "replica_progress", {
            "topic": state.topic, "partition": state.partition, "high_watermark": state.high_watermark})


async def prune_pending(conn: aiosqlite.Connection, now: int, settings: ReplicationSettings) -> None:
    """Forget batches every follower may copy by now (they no longer hold anyone back)."""
    await conn.execute("DELETE FROM pending_replication WHERE appended_at <= ?",
                       (now - settings.replication_delay_ms,))


async def catch_up_all(conn: aiosqlite.Connection, now: int, settings: ReplicationSettings,
                       condition: str = "1", params: tuple[Any, ...] = ()) -> list[PartitionState]:
    """Run a catch-up step on every online partition matching ``condition``, save and narrate it.

    Returns the partitions that changed.
    """
    changed = []
    for state in await load_partitions(conn, f"p.leader >= 0 AND ({condition})", params):
        step = catch_up(state, now, settings)
        if step.changed:
            await save_partition(conn, state)
            await record_follower_step(conn, now, state, step)
            changed.append(state)
    await prune_pending(conn, now, settings)
    return changed


#: Online partitions where a live follower is behind its leader or out of the ISR.
NEEDS_FOLLOWER_WORK = (
    "p.leader >= 0 AND EXISTS (SELECT 1 FROM replicas r JOIN brokers b ON b.id=r.broker_id"
    " WHERE r.topic_id=p.topic_id AND r.partition=p.partition AND b.alive=1 AND r.broker_id<>p.leader"
    " AND (r.log_end_offset<p.log_end_offset OR r.in_isr=0))")


class ReplicaFetcher:
    """Kafka's replica fetcher threads, as one step any process can run.

    ``run_once()`` moves every live follower as far as the replication delay allows by
    now and applies the ISR rules; it only opens a write transaction when something
    changes, so calling it often is cheap. ``run()`` repeats it, for a background task.
    """

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def run_once(self) -> bool:
        """One replication step at the clock's current time; True if anything changed."""
        now = self._clock.now_ms()
        async with self._storage.snapshot() as conn:
            settings = await read_settings(conn)
            states = await load_partitions(conn, NEEDS_FOLLOWER_WORK)
        # Decide on a throwaway copy first: most calls find nothing due and write nothing.
        if not any(catch_up(state, now, settings).changed for state in states):
            return False
        async with self._storage.write() as conn:
            settings = await read_settings(conn)
            changed = await catch_up_all(conn, now, settings, NEEDS_FOLLOWER_WORK)
        return bool(changed)

    async def run(self, interval_s: float = 0.1) -> None:
        """Run a step every ``interval_s`` seconds until cancelled."""
        while True:
            try:
                await self.run_once()
            except sqlite3.OperationalError:
                pass
            except StorageClosed:
                return  # the cluster closed under us (an app tearing down): nothing left to do
            await asyncio.sleep(interval_s)
