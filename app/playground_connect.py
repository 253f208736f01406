"""``PlaygroundConnect``: the Kafka Connect worker that runs inside the playground.

While the TUI is open, connectors created anywhere on its data file (``kplay connect
--create`` in another terminal, ``curl`` against ``kplay --serve``'s Connect API) run in
the playground's process, so the connectors pane shows them moving rows.

A Connect worker creates Connect's three internal topics when it starts, as Kafka
Connect does. An empty playground should stay empty (its welcome panel is for people who
have not made a topic yet), so the worker starts only once ``connect-configs`` exists,
which the first connector's creation makes. ``broker_core.connect`` loads SQLAlchemy, so
it is imported only when a worker is needed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from broker_core import Cluster
from broker_core.errors import KafkaError
from broker_core.events import TopicCreated

if TYPE_CHECKING:
    from broker_core.connect import ConnectWorker

#: How long after a failed start (a busy data file, say) the worker tries again.
RETRY_S = 5.0
#: Connect's config topic (``broker_core.connect.internal_topics.CONFIG_TOPIC``; named here so
#: waiting for it needs no SQLAlchemy).
CONFIG_TOPIC = "connect-configs"


class PlaygroundConnect:
    """The playground's Connect worker: made on demand, started once connectors exist.

    ``base_dir``: the directory ``jdbc:sqlite:`` files are confined to (None: the worker's
    default, beside the data file or ``$KPLAY_JDBC_SQLITE_DIR``).
    """

    def __init__(self, cluster: Cluster, *, base_dir: Path | None = None) -> None:
        self.cluster = cluster
        self.base_dir = base_dir
        self._worker: ConnectWorker | None = None
        #: Why the worker is not running, for the pipeline screen ("" while it runs).
        self.state = "waiting for the first connector"

    @property
    def worker(self) -> ConnectWorker | None:
        """The worker, once made (``make_worker``)."""
        return self._worker

    @property
    def running(self) -> bool:
        """Whether the worker runs connectors now."""
        return self._worker is not None and self._worker.running

    async def make_worker(self) -> ConnectWorker:
        """The worker, made (not started) on first call: the REST API needs it before it runs."""
        if self._worker is None:
            # SQLAlchemy and the JDBC connectors take a noticeable moment to import: off the event loop.
            module = await asyncio.to_thread(__import__, "broker_core.connect", fromlist=["ConnectWorker"])
            if self._worker is None:
                self._worker = module.ConnectWorker(self.cluster, base_dir=self.base_dir)
        return self._worker

    async def run(self) -> None:
        """Wait until Connect's config topic exists, then start the worker (it runs until ``stop``)."""
        sub = self.cluster.feed.subscribe("topic_created", "resync")
        try:
            while not await self._config_topic_exists():
                first = await sub.get()
                batch = [first, *sub.get_nowait()]
                if not any(not isinstance(event, TopicCreated) or event.topic == CONFIG_TOPIC for event in batch):
                    continue
        finally:
            sub.close()
        worker = await self.make_worker()
        while True:
            self.state = "starting"
            try:
                await worker.start()
            except (KafkaError, OSError, sqlite3.Error) as error:
                # Never the end of the app: say why, and try again.
                self.state = f"could not start ({error}); trying again in {RETRY_S:.0f} s"
                await asyncio.sleep(RETRY_S)
                continue
            self.state = ""
            return

    async def _config_topic_exists(self) -> bool:
        try:
            return CONFIG_TOPIC in await self.cluster.topics.list_topics()
        except KafkaError:
            return False

    def describe(self) -> str:
        """One line on the worker for the pipeline screen."""
        if self.running:
            assert self._worker is not None
            here = self._worker.connectors_run_here()
            return (f"Connect worker {self._worker.worker_id} runs "
                    + (", ".join(here) if here else "no connector yet (another worker may hold them)"))
        return f"Connect worker: {self.state}"

    async def stop(self) -> None:
        """Stop the worker's connectors (status UNASSIGNED) and give up their leases."""
        self.state = "stopped"
        if self._worker is not None:
            await self._worker.stop()
