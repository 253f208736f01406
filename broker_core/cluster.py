"""``Cluster``: one open data file, the entry point to the broker core.

    async with await Cluster.open("playground.db") as cluster:
        await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
        async with Producer(cluster) as producer:
            await producer.send_and_wait("orders", b"hello", key=b"k1")
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from .clock import Clock, SystemClock
from .controller import AutoLeaderRebalancer, Controller
from . import quorum
from .events import ChangeFeed, bound_change_feed
from .groups import GroupCoordinator
from .log import PartitionLogs
from .retention import LogCleaner
from .schema_registry import SchemaRegistry
from .storage import Storage
from .topics import TopicAdmin
from .transaction_markers import TransactionMarkerWriter
from .transactions import TransactionCoordinator


class Cluster:
    """A kplay cluster: the data file opened by this process, with its services.

    ``topics`` administers topics, ``logs`` appends and reads records, ``controller``
    stops and starts brokers and elects leaders, ``groups`` coordinates consumer groups
    and their offsets, ``transactions`` coordinates transactional producers, ``feed`` publishes every change (started on first use),
    ``cleaner`` applies retention and compaction (``run_once()``, or ``start()`` it), and
    ``schemas`` is the Schema Registry. Kafka Connect lives in ``broker_core.connect``.
    """

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock
        self.path = storage.path
        self.topics = TopicAdmin(storage, clock)
        self.logs = PartitionLogs(storage, clock)
        self.controller = Controller(storage, clock)
        self.feed = ChangeFeed(storage.path, appended=storage.appended)
        self.groups = GroupCoordinator(storage, clock, self.feed)
        self.transactions = TransactionCoordinator(storage, clock, self.groups)
        self.transactions.set_markers(TransactionMarkerWriter(self.logs))
        self.cleaner = LogCleaner(storage, clock)
        self.leader_rebalancer = AutoLeaderRebalancer(self.controller, clock)
        self.schemas = SchemaRegistry(storage, clock)
        storage.after_commit.append(self.feed.wake)

    @classmethod
    async def open(cls, path: Path | str, *, clock: Clock | None = None, brokers: int = 3,
                   controllers: str = quorum.COMBINED) -> "Cluster":
        """Open the data file at ``path``, creating a cluster of ``brokers`` brokers if it is new.

        ``controllers`` (for a new file): ``combined``, the brokers are also the controller
        quorum's voters (the playground's default), or ``dedicated``, three controller-only nodes.
        """
        clock = clock or SystemClock()
        storage = await Storage.open(path, brokers=brokers, now_ms=clock.now_ms())
        try:
            await bound_change_feed(storage)
            await quorum.ensure_installed(storage, controllers)
        except BaseException:
            await storage.close()
            raise
        return cls(storage, clock)

    @property
    def cluster_id(self) -> str:
        """The cluster's id, fixed when the data file was created."""
        return self.storage.cluster_id

    async def start_feed(self) -> ChangeFeed:
        """Start the change feed (idempotent) and return it."""
        await self.feed.start()
        return self.feed

    async def start_broker_tasks(self) -> None:
        """Start what a running broker does in the background: the log cleaner (retention and
        compaction every ``log.retention.check.interval.ms``) and the automatic leader rebalance
        (``auto.leader.rebalance.enable``, every ``leader.imbalance.check.interval.seconds``), and the
        transaction coordinator's abort of timed-out transactions. Every front that runs brokers
        calls this: the TUI, ``kplay serve``, a Connect worker. Idempotent; ``close`` stops them."""
        await self.cleaner.start()
        await self.leader_rebalancer.start()
        await self.transactions.start()

    def cancel_broker_tasks(self) -> None:
        """Cancel what ``start_broker_tasks`` started, without waiting for it to end."""
        self.cleaner.cancel()
        self.leader_rebalancer.cancel()
        self.transactions.cancel()

    async def stop_broker_tasks(self) -> None:
        """Stop what ``start_broker_tasks`` started (``close`` does it too)."""
        await self.cleaner.stop()
        await self.leader_rebalancer.stop()
        await self.transactions.stop()

    async def close(self) -> None:
        """Stop the feed and the broker tasks, and close the data file."""
        await self.stop_broker_tasks()
        await self.feed.stop()
        await self.storage.close()

    async def __aenter__(self) -> "Cluster":
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
