"""Shared fixtures: a fresh data file per test, opened with a manual clock."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from broker_core import Cluster, ManualClock


@pytest.fixture
def data_path(tmp_path: Path) -> Path:
    """Path of a data file that does not exist yet."""
    return tmp_path / "cluster.db"


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test advances it."""
    return ManualClock()


@pytest.fixture
async def cluster(data_path: Path, clock: ManualClock) -> AsyncIterator[Cluster]:
    """A new 3-broker cluster on a fresh data file."""
    opened = await Cluster.open(data_path, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def dedicated_cluster(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Cluster]:
    """A new 3-broker cluster whose controller quorum runs on 3 controller-only nodes, so
    stopping brokers never costs it its majority (as in production clusters)."""
    opened = await Cluster.open(tmp_path / "dedicated.db", clock=clock, controllers="dedicated")
    try:
        yield opened
    finally:
        await opened.close()
