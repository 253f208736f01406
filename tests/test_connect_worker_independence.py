"""Each connector starts on its own (issue 18 item 7): one stuck on its database holds up no other."""

from __future__ import annotations

import asyncio
import socket


from broker_core import Cluster
from broker_core.connect import ConnectWorker, DataGenerator
from test_connect_support import Database, connector_state, source_config, sqlite_db, topic_ids, wait_until , worker  # noqa: F401


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


async def test_a_connector_waiting_on_its_database_holds_up_no_other_and_deletes_at_once(
        worker: ConnectWorker, cluster: Cluster, sqlite_db: Database) -> None:
    # Ten minutes between connection attempts: its start waits that long on an unreachable database.
    stuck = source_config("stuck", f"jdbc:postgresql://127.0.0.1:{closed_port()}/db?user=u",
                          **{"connection.attempts": "3", "connection.backoff.ms": "600000"})
    await worker.create_connector(stuck)
    await wait_until(lambda: "stuck" in worker.connectors_run_here(), "the worker to take the stuck connector")
    generator = DataGenerator(sqlite_db.url, "iris_data")
    try:
        await asyncio.to_thread(generator.insert, 3)
    finally:
        generator.close()
    await worker.create_connector(source_config("healthy", sqlite_db.url))
    await wait_until(lambda: _ids_are(cluster, [1, 2, 3]), "the healthy connector to copy its rows")
    assert await connector_state(worker, "healthy") == ("RUNNING", ("RUNNING",))
    await worker.delete_connector("stuck")
    await wait_until(lambda: "stuck" not in worker.connectors_run_here(), "the deleted connector to stop",
                     timeout=5)


async def _ids_are(cluster: Cluster, ids: list[int]) -> bool:
    try:
        return await topic_ids(cluster, "db-iris_data") == ids
    except Exception:
        return False
