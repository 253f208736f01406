"""What an append needs to know of its partition before it writes, read in one statement.

The leader and its epoch, the log's start and end, the active segment, the replication delay
and each replica's broker, ISR membership and liveness. An append on the event loop's own
connection keeps this between appends (``DirectConnection.kept``) while no other connection
commits, and moves the log end and the segment itself as it appends: a one-record append then
reads nothing before it writes.
"""

from __future__ import annotations

from typing import Any

from .replication import REPLICATION_DELAY_KEY

#: One row per replica: the partition's leader, offsets and leader epoch, the replication delay,
#: the active segment (base offset, size, created at), and each replica's broker, whether it is
#: in the ISR and whether its broker runs.
_APPEND_STATE = (
    "SELECT p.leader, p.log_start_offset, p.log_end_offset, p.leader_epoch, (SELECT value FROM meta WHERE key=?1),"
    " s.base_offset, p.active_segment_bytes, s.created_at, r.broker_id, r.in_isr, b.alive"
    " FROM partitions p, (SELECT base_offset, created_at FROM segments WHERE topic_id=?2 AND partition=?3"
    " ORDER BY base_offset DESC LIMIT 1) s JOIN replicas r ON r.topic_id=p.topic_id AND r.partition=p.partition"
    " JOIN brokers b ON b.id=r.broker_id WHERE p.topic_id=?2 AND p.partition=?3")


class PartitionAppendState:
    """A partition as an append sees it (see the module's docstring)."""

    __slots__ = ("leader", "log_start_offset", "log_end_offset", "leader_epoch", "replication_delay_ms",
                 "segment_base_offset", "segment_bytes", "segment_created_at", "leader_alive", "isr_size",
                 "isr_alive", "out_of_sync_alive", "followers")

    def __init__(self, rows: list[Any]) -> None:
        (self.leader, self.log_start_offset, self.log_end_offset, self.leader_epoch, delay,
         self.segment_base_offset, self.segment_bytes, self.segment_created_at) = rows[0][:8]
        self.replication_delay_ms = int(delay or 0)
        leader = self.leader
        isr_size = isr_alive = out_of_sync_alive = followers = 0
        leader_alive = False
        for *_, broker, in_isr, alive in rows:
            if broker == leader:
                leader_alive = bool(alive)
            if in_isr:
                isr_size += 1
                if alive:
                    isr_alive += 1
                    followers += broker != leader
            elif alive:
                out_of_sync_alive += 1
        self.leader_alive = leader_alive
        self.isr_size = isr_size
        self.isr_alive = isr_alive
        self.out_of_sync_alive = out_of_sync_alive
        #: Live in-sync followers: each copies an append at once on the fast path.
        self.followers = followers

    @property
    def followers_lag(self) -> bool:
        """Whether followers may be behind (a replication delay, a dead ISR member or a live
        replica out of the ISR): the append must bring them and the ISR up to now first."""
        return self.replication_delay_ms > 0 or self.out_of_sync_alive > 0 or self.isr_alive < self.isr_size

    def appended(self, new_log_end_offset: int, batch_bytes: int) -> None:
        """The append this state was read for stored ``batch_bytes`` up to ``new_log_end_offset``."""
        self.log_end_offset = new_log_end_offset
        self.segment_bytes += batch_bytes

    def must_roll(self, incoming: int, now_ms: int, config: dict[str, Any]) -> bool:
        """Whether the active segment rolls before a batch of ``incoming`` bytes: Kafka rolls when
        the batch would overflow segment.bytes or the segment is segment.ms old; an empty
        segment never rolls."""
        size = self.segment_bytes
        return size > 0 and (size + incoming > config["segment.bytes"]
                             or now_ms - self.segment_created_at >= config["segment.ms"])

    def rolled(self, base_offset: int, now_ms: int) -> None:
        """A new (empty) active segment starts at ``base_offset``."""
        self.segment_base_offset = base_offset
        self.segment_bytes = 0
        self.segment_created_at = now_ms


async def read_append_state(conn: Any, topic_id: int, partition: int) -> PartitionAppendState:
    """The partition's state as an append needs it, read in one statement (and kept on ``conn``
    when it keeps state, under ``(topic_id, partition)``: see the module's docstring)."""
    state = PartitionAppendState(
        await conn.execute_fetchall(_APPEND_STATE, (REPLICATION_DELAY_KEY, topic_id, partition)))
    kept = getattr(conn, "kept", None)
    if kept is not None:
        kept[(topic_id, partition)] = state
    return state


def forget_append_state(conn: Any, topic_id: int, partition: int) -> None:
    """Stop keeping the partition's state on ``conn``: this transaction changed it otherwise
    than an append moves it (its followers or ISR), or an append to it failed part-way."""
    kept = getattr(conn, "kept", None)
    if kept is not None:
        kept.pop((topic_id, partition), None)
