"""SVG snapshots of the main screen on a real cluster (``kplay --cluster``) at 80x24, 120x40 and 200x50.

The cluster is ``kplay serve`` on free ports over a data file filled before (the same topics and
records as the playground's snapshots); the profile is named, so no port number is drawn.
``pytest --snapshot-update`` accepts changes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import pytest

from app.backends.kafka_client import KafkaClientBackend
from app.tui import PlaygroundApp
from test_serve_support import ServedCluster
from test_snapshots import SIZES, _fill, _strips_ready, fixed_place  # noqa: F401


@pytest.fixture(scope="module")
def filled_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCluster]:
    """``kplay serve`` over orders (3 partitions, 30 records) and payments (2 partitions, 5 records)."""
    path = Path(tmp_path_factory.mktemp("snapshot-cluster")) / "cluster.db"
    asyncio.run(_fill(path))
    served = ServedCluster(path).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.mark.parametrize("size", SIZES)
def test_remote_cluster_main_screen(snap_compare, fixed_place, filled_cluster, size):  # noqa: F811
    backend = KafkaClientBackend({"bootstrap.servers": filled_cluster.bootstrap}, name="staging",
                                 poll_interval_s=0.2)
    assert snap_compare(PlaygroundApp(backend=backend, keymap={}), terminal_size=size, run_before=_strips_ready)
