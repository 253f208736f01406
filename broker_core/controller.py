"""The controller: which brokers are up, which one is the active controller, who leads each partition.

Kafka 4.x is KRaft only: a quorum of controllers (``quorum.py``) holds the metadata log,
and the active controller (the Raft leader, elected by a majority of the voters) watches
the brokers and moves partition leadership when one dies. Here brokers are rows in the
data file and every change of membership is one write transaction, so all processes
sharing the file see the cluster move at once:

- a stopped broker's replicas leave the ISR; the partitions it led elect the first live
  in-sync replica in replica order (the preferred replica first) and bump the leader
  epoch. With no in-sync replica alive the partition goes offline (leader -1), unless
  the topic has ``unclean.leader.election.enable=true``: then the first live replica
  leads, and the records it never had are truncated (later writes reuse the offsets);
- a started broker truncates a log that diverged from its leader's, catches up and
  rejoins the ISR; an offline partition it can lead gets a leader again;
- the brokers are combined nodes (``process.roles=broker,controller``): the first three
  are the quorum's voters. While a majority of them is alive one is the active
  controller (when it stops another is elected, with a higher epoch). With no majority
  there is no active controller, and nothing above happens: a stopped broker keeps its
  leaderships and ISR places (its partitions are unavailable), a started one cannot
  register, no election or topic change can run. When a majority is back, the new
  active controller fences the stopped brokers and registers the running ones.

Kafka stops a broker gracefully by moving its leaders away first (controlled shutdown);
here stopping is a crash, the case in which unreplicated acks=1 records are lost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Iterable, Literal

import aiosqlite

from .background_task import BackgroundTask
from .clock import Clock
from .errors import (BrokerNotAvailable, ElectionNotNeeded, EligibleLeadersNotAvailable, InvalidConfig,
                     InvalidRequest, KafkaError, PreferredLeaderNotAvailable, RequestTimedOut,
                     UnknownTopicOrPartition)
from .log import truncate_log
from .quorum import (QuorumStatus, majority, note_voter_stopped, read_status, require_active_controller)
from .quorum import voters as quorum_voters
from .records import TopicPartition
from .replication import (REPLICA_LAG_TIME_MAX_KEY, REPLICATION_DELAY_KEY, PartitionState, Replica,
                          ReplicaFetcher, ReplicationSettings, catch_up, catch_up_all, load_partitions,
                          read_settings, record_follower_step, save_partition, write_setting)
from .storage import Storage, record_change

logger = logging.getLogger(__name__)
ElectionType = Literal["preferred", "unclean"]
NO_LEADER = -1


@dataclass(frozen=True)
class BrokerInfo:
    """One broker: its id, whether it is up, whether it is the controller, and how many leaders it hosts."""

    broker_id: int
    alive: bool
    is_controller: bool
    leader_count: int
    #: Whether it is also a controller quorum voter (a combined broker+controller node).
    is_voter: bool = False


@dataclass(frozen=True)
class LeaderChange:
    """One partition's leadership change (``leader`` -1: the partition went offline)."""

    topic: str
    partition: int
    previous: int
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    reason: str
    truncated_to: int = -1  # the log's new end when records were lost, else -1
    removed: int = 0

    def __str__(self) -> str:
        def broker(b: int) -> str:
            return "none" if b < 0 else str(b)
        text = (f"partition {self.topic}-{self.partition}: leader {broker(self.previous)} -> "
                f"{broker(self.leader)}, epoch {self.leader_epoch}, ISR [{','.join(map(str, self.isr))}]")
        if self.removed:
            text += f"; {self.removed} record(s) from offset {self.truncated_to} on were lost"
        return text


@dataclass(frozen=True)
class BrokerChange:
    """What stopping or starting a broker did."""

    broker_id: int
    alive: bool
    changed: bool  # False when the broker already was in that state
    controller: int
    previous_controller: int
    elections: tuple[LeaderChange, ...] = ()
    #: Why nothing else happened: the quorum had no active controller ("" when it had one).
    no_quorum: str = ""

    def lines(self) -> list[str]:
        """The change told in a few lines, for a terminal or an event log."""
        state = "started" if self.alive else "stopped"
        if not self.changed:
            return [f"Broker {self.broker_id} is already {'running' if self.alive else 'stopped'}."]
        lines = [f"Broker {self.broker_id} {state}."]
        if self.controller != self.previous_controller:
            lines.append("Active controller: " + (f"node {self.controller}" if self.controller >= 0 else
                                                  "none (no majority of the controller quorum is alive)")
                         + (f" (was node {self.previous_controller})" if self.previous_controller >= 0 else ""))
        lines.extend(str(change) for change in self.elections)
        if self.no_quorum:
            lines.append(self.no_quorum)
        return lines


class Controller:
    """Cluster membership and partition leadership.

    ``stop_broker`` / ``start_broker`` change a broker's state with every consequence
    (ISR, elections, controller failover) in one transaction; ``elect_leaders`` is
    Kafka's leader-election tool; ``fetcher`` is the replication step the TUI runs in
    the background when followers lag (``set_replication_delay``).
    """

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock
        self.fetcher = ReplicaFetcher(storage, clock)

    async def brokers(self) -> list[BrokerInfo]:
        """Every broker with its state and the number of partitions it leads."""
        async with self._storage.snapshot() as conn:
            controller = int((await (await conn.execute(
                "SELECT value FROM meta WHERE key='controller_id'")).fetchone())[0])
            rows = await conn.execute_fetchall(
                "SELECT b.id, b.alive, (SELECT count(*) FROM partitions p WHERE p.leader=b.id)"
                " FROM brokers b ORDER BY b.id")
        async with self._storage.snapshot() as conn:
            voters = (await quorum_voters(conn))[0]
        return [BrokerInfo(bid, bool(alive), bid == controller, leaders, bid in voters)
                for bid, alive, leaders in rows]

    async def quorum(self) -> QuorumStatus:
        """The KRaft controller quorum: voters, active controller, metadata log offsets."""
        async with self._storage.snapshot() as conn:
            return await read_status(conn, self._clock.now_ms())

    async def controller_id(self) -> int:
        """The controller's broker id (-1 while every broker is stopped)."""
        row = await self._storage.fetchone("SELECT value FROM meta WHERE key='controller_id'")
        return int(row[0]) if row else NO_LEADER

    # -- broker membership ---------------------------------------------------------------
    async def stop_broker(self, broker_id: int) -> BrokerChange:
        """Stop (crash) a broker: its replicas leave the ISR, its partitions elect new leaders.

        Raises BrokerNotAvailable for an id the cluster does not have.
        """
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            alive = await _broker_alive(conn, broker_id)
            controller = await _controller(conn)
            if not alive:
                return BrokerChange(broker_id, False, False, controller[0], controller[0])
            settings = await read_settings(conn)
            states = await load_partitions(conn, _HOSTS_REPLICA, (broker_id,))
            # Replication is lazy: first let followers copy what they could have by now.
            for state in states:
                step = catch_up(state, now, settings)
                if step.changed:
                    await record_follower_step(conn, now, state, step)
            await conn.execute("UPDATE brokers SET alive=0, changed_at=? WHERE id=?", (now, broker_id))
            await note_voter_stopped(conn, broker_id, now)
            # Raft first: if the active controller stopped, the voters left elect another.
            new_controller = await _elect_controller(conn, now)
            await record_change(conn, now, "broker_state", {"broker": broker_id, "alive": False})
            if new_controller < 0:
                for state in states:
                    await save_partition(conn, state)  # what followers copied before it stopped
                return BrokerChange(broker_id, False, True, new_controller, controller[0],
                                    no_quorum=await _no_quorum_note(conn, f"broker {broker_id} keeps its "
                                                                    "leaderships and ISR places"))
            elections = await _fence(conn, now, broker_id, states)
        return BrokerChange(broker_id, False, True, new_controller, controller[0], tuple(elections))

    async def start_broker(self, broker_id: int) -> BrokerChange:
        """Start a stopped broker: its replicas truncate diverged logs, catch up and rejoin the ISR.

        Offline partitions it can lead get a leader again. With no active controller it
        runs but cannot register; when its start gives the quorum a majority again, the new
        active controller fences every stopped broker and registers every running one.
        Raises BrokerNotAvailable for an id the cluster does not have.
        """
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            alive = await _broker_alive(conn, broker_id)
            controller = await _controller(conn)
            if alive:
                return BrokerChange(broker_id, True, False, controller[0], controller[0])
            await conn.execute("UPDATE brokers SET alive=1, changed_at=? WHERE id=?", (now, broker_id))
            new_controller = await _elect_controller(conn, now)
            await record_change(conn, now, "broker_state", {"broker": broker_id, "alive": True})
            if new_controller < 0:
                return BrokerChange(broker_id, True, True, new_controller, controller[0],
                                    no_quorum=await _no_quorum_note(conn, f"broker {broker_id} runs but "
                                                                    "cannot register with it"))
            elections: list[LeaderChange] = []
            if controller[0] < 0:
                # The quorum is back: the new active controller catches up with what happened without one.
                for stopped in [r[0] for r in await conn.execute_fetchall("SELECT id FROM brokers WHERE alive=0")]:
                    elections.extend(await _fence(conn, now, stopped))
                running = [r[0] for r in await conn.execute_fetchall("SELECT id FROM brokers WHERE alive=1")]
            else:
                running = [broker_id]
            for node in running:
                elections.extend(await _register(conn, now, node))
        return BrokerChange(broker_id, True, True, new_controller, controller[0], tuple(elections))

    # -- leader elections ----------------------------------------------------------------
    async def elect_leaders(self, election_type: ElectionType = "preferred",
                            partitions: Iterable[TopicPartition | tuple[str, int]] | None = None,
                            ) -> dict[TopicPartition, KafkaError | None]:
        """Kafka's ``Admin.electLeaders``: the outcome per partition (None: a new leader was elected).

        ``preferred`` moves leadership back to the first replica when it is alive and in
        the ISR (ElectionNotNeeded if it already leads, PreferredLeaderNotAvailable if it
        cannot); ``unclean`` gives an offline partition a leader even from outside the ISR
        (ElectionNotNeeded if it has one, EligibleLeadersNotAvailable if no replica is
        alive). ``partitions`` None means every partition, and then, as in Kafka, the
        partitions that needed no election are left out of the result.
        """
        if election_type not in ("preferred", "unclean"):
            raise InvalidRequest(f"Unknown election type {election_type} (expected preferred or unclean)")
        now = self._clock.now_ms()
        results: dict[TopicPartition, KafkaError | None] = {}
        async with self._storage.write() as conn:
            await require_active_controller(conn, "elect leaders")
            settings = await read_settings(conn)
            if partitions is None:
                states = {TopicPartition(s.topic, s.partition): s for s in await load_partitions(conn)}
                wanted = list(states)
            else:
                wanted = [TopicPartition(*tp) for tp in partitions]
                states = {}
                for tp in wanted:
                    found = await load_partitions(
                        conn, "p.topic_id=(SELECT id FROM topics WHERE name=?) AND p.partition=?", tuple(tp))
                    if found:
                        states[tp] = found[0]
            for tp in wanted:
                state = states.get(tp)
                if state is None:
                    exists = await conn.execute_fetchall("SELECT 1 FROM topics WHERE name=?", (tp.topic,))
                    results[tp] = UnknownTopicOrPartition(
                        f"No such partition as {tp}" if exists else f"No such topic as {tp.topic}")
                    continue
                step = catch_up(state, now, settings)
                if step.changed:
                    await record_follower_step(conn, now, state, step)
                results[tp] = await _run_election(conn, now, state, election_type)
                if results[tp] is None:
                    await record_follower_step(conn, now, state, catch_up(state, now, settings))
                await save_partition(conn, state)
        if partitions is None:
            results = {tp: error for tp, error in results.items() if not isinstance(error, ElectionNotNeeded)}
        return results

    async def imbalanced_partitions(self) -> list[TopicPartition]:
        """Partitions whose preferred replica is running and in the ISR but does not lead."""
        rows = await self._storage.fetchall(
            "SELECT t.name, p.partition FROM partitions p JOIN topics t ON t.id=p.topic_id"
            " JOIN replicas r ON r.topic_id=p.topic_id AND r.partition=p.partition AND r.position=0"
            " JOIN brokers b ON b.id=r.broker_id"
            " WHERE p.leader<>r.broker_id AND r.in_isr=1 AND b.alive=1 ORDER BY t.name, p.partition")
        return [TopicPartition(name, partition) for name, partition in rows]

    async def elect_preferred_leaders(self, partitions: Iterable[TopicPartition | tuple[str, int]] | None = None,
                                      ) -> dict[TopicPartition, KafkaError | None]:
        """``elect_leaders("preferred", partitions)``."""
        return await self.elect_leaders("preferred", partitions)

    # -- replication settings ------------------------------------------------------------
    async def replication_settings(self) -> ReplicationSettings:
        """The cluster's replication delay and ``replica.lag.time.max.ms``."""
        async with self._storage.snapshot() as conn:
            return await read_settings(conn)

    async def set_replication_delay(self, delay_ms: int) -> None:
        """Make followers copy each batch ``delay_ms`` after their leader appended it (0: at once)."""
        await self._set(REPLICATION_DELAY_KEY, delay_ms)

    async def set_replica_lag_time_max(self, lag_ms: int) -> None:
        """Set ``replica.lag.time.max.ms``: how long a follower may lag before it leaves the ISR."""
        await self._set(REPLICA_LAG_TIME_MAX_KEY, lag_ms)

    async def _set(self, key: str, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidConfig(f"Invalid value {value} for configuration {key}: Value must be at least 0")
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            await write_setting(conn, key, value)
            # A shorter delay lets followers copy at once; a shorter lag limit may shrink ISRs.
            await catch_up_all(conn, now, await read_settings(conn))


#: Partitions (``p``) with a replica on the broker given as the parameter.
_HOSTS_REPLICA = ("EXISTS (SELECT 1 FROM replicas x WHERE x.topic_id=p.topic_id AND x.partition=p.partition"
                  " AND x.broker_id=?)")


async def _broker_alive(conn: aiosqlite.Connection, broker_id: int) -> bool:
    row = await (await conn.execute("SELECT alive FROM brokers WHERE id=?", (broker_id,))).fetchone()
    if row is None:
        ids = [r[0] for r in await conn.execute_fetchall("SELECT id FROM brokers ORDER BY id")]
        raise BrokerNotAvailable(
            f"Broker {broker_id} does not exist (the cluster's brokers are {', '.join(map(str, ids))})")
    return bool(row[0])


async def _controller(conn: aiosqlite.Connection) -> tuple[int, int]:
    rows = dict(await conn.execute_fetchall(
        "SELECT key, value FROM meta WHERE key IN ('controller_id', 'controller_epoch')"))
    return int(rows.get("controller_id", NO_LEADER)), int(rows.get("controller_epoch", 0))


async def _fence(conn: aiosqlite.Connection, now: int, broker_id: int,
                 states: list[PartitionState] | None = None) -> list[LeaderChange]:
    """The active controller fences a stopped broker: its replicas leave the ISR, its
    partitions elect new leaders. Idempotent (a broker fenced already changes nothing)."""
    if states is None:
        states = await load_partitions(conn, _HOSTS_REPLICA, (broker_id,))
    elections = []
    for state in states:
        gone = state.replica(broker_id)
        assert gone is not None
        gone.alive = False
        if state.leader == broker_id:
            elections.append(await _replace_leader(conn, now, state, broker_id))
        elif gone.in_isr and state.leader >= 0:
            gone.in_isr = False
            state.raise_high_watermark()
            await record_change(conn, now, "isr_changed", {
                "topic": state.topic, "partition": state.partition, "isr": state.isr(),
                "high_watermark": state.high_watermark, "reason": f"broker {broker_id} stopped"})
        await save_partition(conn, state)
    return elections


async def _register(conn: aiosqlite.Connection, now: int, broker_id: int) -> list[LeaderChange]:
    """A running broker registers with the active controller: its replicas truncate what
    diverged, catch up and rejoin the ISR; offline partitions it can lead get a leader."""
    settings = await read_settings(conn)
    elections = []
    for state in await load_partitions(conn, _HOSTS_REPLICA, (broker_id,)):
        back = state.replica(broker_id)
        assert back is not None
        await _truncate_diverged(conn, now, state, back)
        if state.leader < 0:
            change = await _recover_offline(conn, now, state, back)
            if change is not None:
                elections.append(change)
        step = catch_up(state, now, settings)
        await record_follower_step(conn, now, state, step)
        await save_partition(conn, state)
    return elections


async def _no_quorum_note(conn: aiosqlite.Connection, consequence: str) -> str:
    voters, alive, _ = await quorum_voters(conn)
    return (f"No active controller: {len(alive)} of {len(voters)} controller quorum voters "
            f"alive, a majority of {majority(voters)} is needed; {consequence}, and no leader election or "
            "topic change can run until a majority is back.")


async def _elect_controller(conn: aiosqlite.Connection, now: int) -> int:
    """Raft's election: keep a live active controller while a majority of voters is alive,
    or elect the lowest live voter; none without a majority."""
    current, epoch = await _controller(conn)
    voters, live, _ = await quorum_voters(conn)
    alive = [v for v in voters if v in live]
    if len(alive) < majority(voters):
        new = NO_LEADER
    elif current in alive:
        return current
    else:
        new = alive[0]
    if new == current:
        return current
    if new >= 0:
        epoch += 1  # a new controller fences the old one with a higher epoch
    await conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                           [("controller_id", str(new)), ("controller_epoch", str(epoch))])
    await record_change(conn, now, "controller_changed", {"controller": new, "epoch": epoch, "previous": current})
    return new


async def _replace_leader(conn: aiosqlite.Connection, now: int, state: PartitionState,
                          stopped: int) -> LeaderChange:
    """The leader's broker stopped: Kafka's offline-partition leader election."""
    in_sync = [r for r in state.replicas if r.alive and r.in_isr]
    if in_sync:
        gone = state.replica(stopped)
        assert gone is not None
        gone.in_isr = False
        return await _elect(conn, now, state, in_sync[0], unclean=False,
                            reason=f"leader broker {stopped} stopped")
    live = [r for r in state.replicas if r.alive]
    if live and state.config["unclean.leader.election.enable"]:
        return await _elect(conn, now, state, live[0], unclean=True,
                            reason=f"leader broker {stopped} stopped and no in-sync replica is alive: "
                                   "unclean election (unclean.leader.election.enable=true)")
    # No one may lead: the ISR keeps its last member, the one a clean election will wait for.
    state.leader = NO_LEADER
    state.leader_epoch += 1
    reason = f"leader broker {stopped} stopped and no in-sync replica is alive: partition offline"
    await _record_election(conn, now, state, stopped, reason)
    return LeaderChange(state.topic, state.partition, stopped, NO_LEADER, state.leader_epoch,
                        tuple(state.isr()), reason)


async def _recover_offline(conn: aiosqlite.Connection, now: int, state: PartitionState,
                           back: Replica) -> LeaderChange | None:
    """A replica of an offline partition came back: elect it if it may lead."""
    if back.in_isr:
        return await _elect(conn, now, state, back, unclean=False,
                            reason=f"broker {back.broker_id} started: it is the last in-sync replica")
    if state.config["unclean.leader.election.enable"]:
        return await _elect(conn, now, state, back, unclean=True,
                            reason=f"broker {back.broker_id} started while no in-sync replica is alive: "
                                   "unclean election (unclean.leader.election.enable=true)")
    return None


async def _run_election(conn: aiosqlite.Connection, now: int, state: PartitionState,
                        election_type: ElectionType) -> KafkaError | None:
    """One partition's requested election (``ReplicationControlManager.electLeader``)."""
    valid = [r for r in state.replicas if r.alive and r.in_isr]
    if election_type == "preferred":
        preferred = state.replicas[0]
        if state.leader == preferred.broker_id:
            return ElectionNotNeeded(f"Leader election not needed for topic partition {state.name}: "
                                     f"its preferred leader {preferred.broker_id} already leads.")
        current_ok = any(r.broker_id == state.leader for r in valid)
        if preferred in valid:
            choice = preferred
        elif not current_ok and valid:
            choice = valid[0]
        else:
            why = "is stopped" if not preferred.alive else "is not in the ISR"
            return PreferredLeaderNotAvailable(
                f"The preferred leader was not available: broker {preferred.broker_id} {why} "
                f"(partition {state.name})")
        await _elect(conn, now, state, choice, unclean=False, reason="preferred leader election")
        return None
    if state.leader >= 0:
        return ElectionNotNeeded(f"Leader election not needed for topic partition {state.name}: "
                                 f"broker {state.leader} leads it.")
    live = [r for r in state.replicas if r.alive]
    if not live:
        return EligibleLeadersNotAvailable(
            f"Eligible topic partition leaders are not available: no replica of {state.name} is alive")
    choice = valid[0] if valid else live[0]
    await _elect(conn, now, state, choice, unclean=not valid, reason="unclean leader election requested")
    return None


async def _truncate_diverged(conn: aiosqlite.Connection, now: int, state: PartitionState, back: Replica) -> None:
    """A restarting replica drops what the current log does not have (Kafka truncates to the
    leader epoch's end offset); records are stored once, so this is bookkeeping."""
    back.alive = True
    valid = min(back.log_end_offset, state.log_end_offset)
    if back.diverged_at >= 0:
        valid = min(valid, back.diverged_at)
    back.diverged_at = -1
    if valid < back.log_end_offset:
        await record_change(conn, now, "log_truncated", {
            "topic": state.topic, "partition": state.partition, "end_offset": valid,
            "removed": back.log_end_offset - valid, "broker": back.broker_id})
        back.log_end_offset = valid


async def _elect(conn: aiosqlite.Connection, now: int, state: PartitionState, new_leader: Replica, *,
                 unclean: bool, reason: str) -> LeaderChange:
    """Make ``new_leader`` the leader: bump the epoch, and cut the log to what it has.

    The new leader's log is the truth: records above its log end offset are deleted
    (acknowledged acks=1 records among them are lost), live followers truncate to it,
    stopped replicas that had more remember where they diverged. An unclean leader's ISR
    is itself alone.
    """
    previous = state.leader
    state.leader = new_leader.broker_id
    state.leader_epoch += 1
    if unclean:
        for replica in state.replicas:
            replica.in_isr = replica is new_leader
    new_leader.in_isr = True
    new_end = min(new_leader.log_end_offset, state.log_end_offset)
    removed = state.log_end_offset - new_end
    if removed > 0:
        await truncate_log(conn, state.topic_id, state.partition, new_end, now)
        state.log_end_offset = new_end
        state.log_start_offset = min(state.log_start_offset, new_end)
        state.pending = [(base, at) for base, at in state.pending if base < new_end]
        await record_change(conn, now, "log_truncated", {
            "topic": state.topic, "partition": state.partition, "end_offset": new_end,
            "removed": removed, "broker": -1})
    state.high_watermark = min(state.high_watermark, new_end)
    for replica in state.replicas:
        if replica.log_end_offset > new_end:
            if replica.alive:
                replica.log_end_offset = new_end
            else:
                replica.diverged_at = new_end if replica.diverged_at < 0 else min(replica.diverged_at, new_end)
    new_leader.caught_up_at = now
    state.raise_high_watermark()
    await _record_election(conn, now, state, previous, reason)
    return LeaderChange(state.topic, state.partition, previous, state.leader, state.leader_epoch,
                        tuple(state.isr()), reason, new_end if removed > 0 else -1, max(0, removed))


async def _record_election(conn: aiosqlite.Connection, now: int, state: PartitionState, previous: int,
                           reason: str) -> None:
    await record_change(conn, now, "leader_elected", {
        "topic": state.topic, "partition": state.partition, "leader": state.leader, "previous": previous,
        "leader_epoch": state.leader_epoch, "isr": state.isr(), "reason": reason})


#: Kafka's ``auto.leader.rebalance.enable`` and ``leader.imbalance.check.interval.seconds`` defaults.
AUTO_LEADER_REBALANCE_ENABLE = True
LEADER_IMBALANCE_CHECK_INTERVAL_S = 300
#: KRaft's QuorumController moves at most this many leaders per check (maxElectionsPerImbalance).
MAX_ELECTIONS_PER_IMBALANCE = 1000


class AutoLeaderRebalancer:
    """``auto.leader.rebalance.enable``: the active controller moves leadership back to
    preferred replicas every ``leader.imbalance.check.interval.seconds``.

    As KRaft's ``QuorumController.maybeBalancePartitionLeaders`` does, every partition
    whose preferred replica (the first listed) is alive and in the ISR but does not lead
    gets a preferred election, at most ``MAX_ELECTIONS_PER_IMBALANCE`` per check.
    (``leader.imbalance.per.broker.percentage``, 10 by default, is read only by the old
    ZooKeeper-mode controller; KRaft's balances whatever is imbalanced.) Checks are due on
    the cluster's clock, so a test or lesson that advances a ``ManualClock`` by five
    minutes sees the check run; ``start()`` looks every ``poll_s`` real seconds.
    """

    def __init__(self, controller: Controller, clock: Clock, *, enabled: bool = AUTO_LEADER_REBALANCE_ENABLE,
                 check_interval_s: int = LEADER_IMBALANCE_CHECK_INTERVAL_S) -> None:
        if check_interval_s < 1:
            raise InvalidConfig(f"Invalid value {check_interval_s} for configuration "
                                "leader.imbalance.check.interval.seconds: Value must be at least 1")
        self._controller = controller
        self._clock = clock
        self.enabled = enabled
        self.check_interval_ms = check_interval_s * 1000
        self._next_check = clock.now_ms() + self.check_interval_ms
        self._background = BackgroundTask("kplay-auto-leader-rebalance")

    async def tick(self) -> dict[TopicPartition, KafkaError | None]:
        """Run the check if it is due on the clock; the elections it ran (empty if none)."""
        now = self._clock.now_ms()
        if not self.enabled or now < self._next_check:
            return {}
        self._next_check = now + self.check_interval_ms
        imbalanced = await self._controller.imbalanced_partitions()
        if not imbalanced:
            return {}
        try:
            results = await self._controller.elect_leaders("preferred", imbalanced[:MAX_ELECTIONS_PER_IMBALANCE])
        except RequestTimedOut:
            return {}  # no active controller: nobody balances
        return {tp: error for tp, error in results.items() if error is None}

    async def start(self, poll_s: float = 1.0) -> None:
        """Check every ``poll_s`` seconds of real time whether a balance is due (idempotent)."""
        self._background.start(lambda: self._run(poll_s))

    def cancel(self) -> None:
        """Cancel the background task without waiting for it to end."""
        self._background.cancel()

    async def stop(self) -> None:
        """Stop checking."""
        await self._background.stop()

    async def _run(self, poll_s: float) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:  # a busy file must not end the task
                logger.warning("auto leader rebalance failed: %s", exc)
            await asyncio.sleep(poll_s)
