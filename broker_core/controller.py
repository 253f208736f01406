"""The controller: brokers, which of them is up, and which one is the controller.

In Kafka, the controller (ZooKeeper-elected, or the KRaft quorum) watches brokers and
moves partition leadership when one dies. Here the brokers are rows in the data file.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock
from .storage import Storage


@dataclass(frozen=True)
class BrokerInfo:
    """One broker: its id, whether it is up, whether it is the controller, and how many leaders it hosts."""

    broker_id: int
    alive: bool
    is_controller: bool
    leader_count: int


class Controller:
    """Cluster membership: lists brokers (later also stops, starts and elects leaders)."""

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def brokers(self) -> list[BrokerInfo]:
        """Every broker with its state and the number of partitions it leads."""
        async with self._storage.snapshot() as conn:
            controller = int((await (await conn.execute(
                "SELECT value FROM meta WHERE key='controller_id'")).fetchone())[0])
            rows = await conn.execute_fetchall(
                "SELECT b.id, b.alive, (SELECT count(*) FROM partitions p WHERE p.leader=b.id)"
                " FROM brokers b ORDER BY b.id")
        return [BrokerInfo(bid, bool(alive), bid == controller, leaders) for bid, alive, leaders in rows]
