"""The KRaft controller quorum: its voters, the active controller, the metadata log.

Kafka 4.x runs without ZooKeeper: a quorum of controllers holds the cluster's metadata in
a Raft log (``__cluster_metadata``). One voter is the active controller (the Raft leader,
elected by a majority of the voters for a leader epoch); every metadata change — a topic
created or deleted, partitions added, a config altered, a partition's leader or ISR
changed, a broker registered or fenced — is a record appended to the metadata log, and
is committed (below the high watermark) once a majority of voters has it.

In the playground the first three brokers (all of them in the usual 3-broker cluster)
are combined nodes, ``process.roles=broker,controller``: each is a broker and a voter. A
stopped broker is a stopped voter. A cluster made with dedicated controllers (as
production clusters and the lessons about brokers failing run) has three controller-only
nodes, ``process.roles=controller``, ids 3000-3002, that stopping brokers never touches;
its brokers are the metadata log's observers. With a majority of voters alive there is an active
controller; without one there is none, and nothing that needs the controller happens:
no leader elections, no ISR changes, no topic changes (``NoActiveController``), no broker
registration; partitions whose leader is still running keep serving produce and fetch.

The active controller and its epoch live in ``meta`` (``controller_id``,
``controller_epoch``), the metadata log's end offset in ``metadata_offset`` (a trigger on
the change feed advances it with every metadata change, whoever writes), and each
voter's log end offset and fetch times in ``quorum_voters`` (JSON).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

import aiosqlite

from .errors import RequestTimedOut
from .storage import Storage

#: How many brokers are also controllers (voters), at most: Kafka's usual 3-voter quorum.
MAX_VOTERS = 3
#: The node ids of dedicated controllers (``process.roles=controller``).
DEDICATED_CONTROLLER_IDS = (3000, 3001, 3002)
COMBINED, DEDICATED = "combined", "dedicated"
#: Change-feed kinds that are metadata records (they advance the metadata log).
METADATA_KINDS = ("topic_created", "topic_deleted", "partitions_added", "topic_altered", "leader_elected",
                  "isr_changed", "broker_state", "controller_changed")
#: The trigger that advances the metadata log's end offset with every metadata change.
METADATA_OFFSET_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS metadata_log_append AFTER INSERT ON changes"
    f" WHEN NEW.kind IN ({', '.join(repr(k) for k in METADATA_KINDS)})"
    " BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'metadata_offset'; END")


class NoActiveController(RequestTimedOut):
    """The controller quorum has no majority alive, so there is no active controller."""


@dataclass(frozen=True)
class VoterState:
    """One voter's replication of the metadata log (a row of ``describe --replication``)."""

    node_id: int
    directory_id: str
    log_end_offset: int
    last_fetch_timestamp: int
    last_caught_up_timestamp: int
    alive: bool


@dataclass(frozen=True)
class QuorumStatus:
    """The quorum as ``kafka-metadata-quorum describe --status`` tells it."""

    cluster_id: str
    leader_id: int  # -1: no active controller
    leader_epoch: int
    high_watermark: int
    voters: tuple[VoterState, ...]
    observers: tuple[VoterState, ...]

    @property
    def majority(self) -> int:
        """How many voters must be alive for the quorum to have a leader."""
        return len(self.voters) // 2 + 1

    @property
    def live_voters(self) -> int:
        """Voters running now."""
        return sum(v.alive for v in self.voters)

    @property
    def has_leader(self) -> bool:
        """Whether there is an active controller."""
        return self.leader_id >= 0

    def summary(self) -> str:
        """One line for a pane's title or a CLI footer."""
        if not self.has_leader:
            return (f"KRaft quorum: no active controller ({self.live_voters} of {len(self.voters)} voters alive, "
                    f"{self.majority} needed)")
        return (f"KRaft quorum: controller {self.leader_id} (epoch {self.leader_epoch}), "
                f"{self.live_voters}/{len(self.voters)} voters alive, metadata offset {self.high_watermark}")


def voter_ids(broker_ids: list[int]) -> list[int]:
    """The voters: the lowest-numbered brokers, up to ``MAX_VOTERS`` (combined nodes)."""
    return sorted(broker_ids)[:MAX_VOTERS]


def majority(voters: list[int]) -> int:
    """Raft's majority of ``voters``."""
    return len(voters) // 2 + 1


def directory_id(cluster_id: str, node_id: int) -> str:
    """A node's metadata log directory id (KIP-853), stable for the data file."""
    digest = hashlib.sha256(f"{cluster_id}/{node_id}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def install(conn: aiosqlite.Connection, controllers: str = COMBINED) -> None:
    """Add the metadata log's offset, the trigger advancing it and the quorum's kind
    (``controllers``: combined or dedicated), inside a write."""
    if controllers not in (COMBINED, DEDICATED):
        raise ValueError(f"controllers must be {COMBINED} or {DEDICATED}, not {controllers}")
    await conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('metadata_offset', "
                       "(SELECT count(*) FROM changes))")
    await conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('controller_quorum', ?)", (controllers,))
    if controllers == DEDICATED:
        await conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                               [("controller_id", str(DEDICATED_CONTROLLER_IDS[0])), ("controller_epoch", "1")])
    await conn.execute(METADATA_OFFSET_TRIGGER)


async def voters(conn: aiosqlite.Connection) -> tuple[list[int], set[int], list[int]]:
    """The voters, those of them alive, and the running brokers that are observers."""
    row = await (await conn.execute("SELECT value FROM meta WHERE key='controller_quorum'")).fetchone()
    brokers = {bid: bool(alive) for bid, alive in await conn.execute_fetchall("SELECT id, alive FROM brokers")}
    running = sorted(b for b, up in brokers.items() if up)
    if row is not None and row[0] == DEDICATED:
        return list(DEDICATED_CONTROLLER_IDS), set(DEDICATED_CONTROLLER_IDS), running
    ids = voter_ids(list(brokers))
    return ids, {v for v in ids if brokers[v]}, [b for b in running if b not in ids]


async def ensure_installed(storage: Storage, controllers: str = COMBINED) -> None:
    """``install`` once per data file (a read finds it there on every later open); the
    quorum's kind is fixed then, by the first opener."""
    found = await storage.fetchone("SELECT 1 FROM sqlite_master WHERE type='trigger' AND name='metadata_log_append'")
    if found is None:
        async with storage.write() as conn:
            await install(conn, controllers)


async def _meta(conn: aiosqlite.Connection) -> dict[str, str]:
    return dict(await conn.execute_fetchall(
        "SELECT key, value FROM meta WHERE key IN ('controller_id', 'controller_epoch', 'metadata_offset',"
        " 'quorum_voters', 'cluster_id')"))


async def read_status(conn: aiosqlite.Connection, now: int) -> QuorumStatus:
    """The quorum as it stands, read inside the caller's transaction."""
    meta = await _meta(conn)
    ids, alive, observers = await voters(conn)
    offset = int(meta.get("metadata_offset", "0"))
    stored = json.loads(meta.get("quorum_voters", "{}"))
    cluster_id = meta.get("cluster_id", "")

    def state(node: int, up: bool) -> VoterState:
        if up:
            return VoterState(node, directory_id(cluster_id, node), offset, now, now, True)
        last = stored.get(str(node), {})
        return VoterState(node, directory_id(cluster_id, node), int(last.get("log_end_offset", 0)),
                          int(last.get("last_fetch", -1)), int(last.get("last_caught_up", -1)), False)

    return QuorumStatus(cluster_id, int(meta.get("controller_id", "-1")), int(meta.get("controller_epoch", "0")),
                        offset, tuple(state(v, v in alive) for v in ids), tuple(state(b, True) for b in observers))


async def note_voter_stopped(conn: aiosqlite.Connection, node: int, now: int) -> None:
    """Remember where a stopping voter's metadata log ends (it stops fetching now)."""
    meta = await _meta(conn)
    stored = json.loads(meta.get("quorum_voters", "{}"))
    stored[str(node)] = {"log_end_offset": int(meta.get("metadata_offset", "0")), "last_fetch": now,
                         "last_caught_up": now}
    await conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('quorum_voters', ?)", (json.dumps(stored),))


async def require_active_controller(conn: aiosqlite.Connection, what: str) -> int:
    """The active controller's id; raises ``NoActiveController`` (Kafka's request timeout,
    as a client sees it) when the quorum has no majority alive."""
    row = await (await conn.execute("SELECT value FROM meta WHERE key='controller_id'")).fetchone()
    controller = int(row[0]) if row else -1
    if controller >= 0:
        return controller
    ids, alive, _ = await voters(conn)
    raise NoActiveController(
        f"Timed out waiting for the active controller to {what}: the KRaft controller quorum has no leader "
        f"({len(alive)} of {len(ids)} voters alive, a majority of {majority(ids)} is needed)")
