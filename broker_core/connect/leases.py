"""Which worker runs which connector: leases in the data file, renewed by heartbeats.

Kafka Connect's workers share connectors through a group rebalance; kplay's workers (in
any number of processes on one data file) claim each connector with a lease instead: a
row naming the owner and when its lease runs out. The owner renews it every heartbeat;
a worker that stops heartbeating (killed, frozen) loses its connectors once the session
timeout has passed on the cluster's clock, and another worker takes them over. Claims
are ``BEGIN IMMEDIATE`` transactions, so two workers never both hold one connector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from ..cluster import Cluster

LEASES_DDL = """CREATE TABLE IF NOT EXISTS connect_leases(
    connector TEXT PRIMARY KEY,
    worker_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID"""


@dataclass(frozen=True)
class Lease:
    """A connector's owner, until when, and how many times it changed hands (its generation)."""

    connector: str
    worker_id: str
    expires_at: int
    generation: int

    def live(self, now_ms: int) -> bool:
        """Whether the owner still holds it."""
        return now_ms < self.expires_at


class ConnectorLeases:
    """Claims, renews and releases connector leases for one worker."""

    def __init__(self, cluster: "Cluster", worker_id: str, session_timeout_ms: int) -> None:
        self._cluster = cluster
        self.worker_id = worker_id
        self.session_timeout_ms = session_timeout_ms
        self._table_ready = False

    async def _ensure_table(self) -> None:
        if not self._table_ready:
            async with self._cluster.storage.write() as conn:
                await conn.execute(LEASES_DDL)
            self._table_ready = True

    async def claim(self, connector: str) -> int | None:
        """Take (or keep) ``connector`` if nobody else holds a live lease; its generation, else None."""
        await self._ensure_table()
        now = self._cluster.clock.now_ms()
        async with self._cluster.storage.write() as conn:
            row = await (await conn.execute(
                "SELECT worker_id, expires_at, generation FROM connect_leases WHERE connector=?",
                (connector,))).fetchone()
            if row is not None and row[0] != self.worker_id and now < row[1]:
                return None
            generation = 0 if row is None else row[2] + (row[0] != self.worker_id)
            await conn.execute(
                "INSERT INTO connect_leases(connector, worker_id, expires_at, generation) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(connector) DO UPDATE SET worker_id=excluded.worker_id,"
                " expires_at=excluded.expires_at, generation=excluded.generation",
                (connector, self.worker_id, now + self.session_timeout_ms, generation))
        return generation

    async def renew(self, connectors: Iterable[str]) -> set[str]:
        """Extend this worker's leases; returns the connectors it still holds."""
        names = list(connectors)
        if not names:
            return set()
        await self._ensure_table()
        now = self._cluster.clock.now_ms()
        held = set()
        async with self._cluster.storage.write() as conn:
            for name in names:
                cursor = await conn.execute(
                    "UPDATE connect_leases SET expires_at=? WHERE connector=? AND worker_id=? AND expires_at>?",
                    (now + self.session_timeout_ms, name, self.worker_id, now))
                if cursor.rowcount:
                    held.add(name)
        return held

    async def release(self, connectors: Iterable[str]) -> None:
        """Give connectors up at once (a clean stop), so another worker need not wait."""
        names = list(connectors)
        if not names:
            return
        await self._ensure_table()
        async with self._cluster.storage.write() as conn:
            await conn.executemany("DELETE FROM connect_leases WHERE connector=? AND worker_id=?",
                                   [(name, self.worker_id) for name in names])

    async def holds(self, connector: str) -> bool:
        """Whether this worker holds a live lease on ``connector`` now (checked before each write)."""
        lease = (await leases(self._cluster)).get(connector)
        return lease is not None and lease.worker_id == self.worker_id and lease.live(self._cluster.clock.now_ms())


async def leases(cluster: "Cluster") -> dict[str, Lease]:
    """Every connector's lease (live or lapsed), read without writing."""
    exists = await cluster.storage.fetchone(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='connect_leases'")
    if exists is None:
        return {}
    rows = await cluster.storage.fetchall("SELECT connector, worker_id, expires_at, generation FROM connect_leases")
    return {row[0]: Lease(row[0], row[1], row[2], row[3]) for row in rows}
