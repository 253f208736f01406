"""The cluster a lesson plays on: a fresh scratch file (or ``--data``) on the lesson's manual clock.

Shared by ``kplay demo`` (headless), the playground's lesson mode and the screenshots, so none of
them imports another's module.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional

from broker_core import Cluster, ManualClock

from .script import Scenario

#: Scenario clocks start here (2026-01-01T00:00:00Z) so transcripts are the same every run.
SCENARIO_EPOCH_MS = 1_767_225_600_000


async def open_scenario_cluster(scenario: Scenario, data: Optional[Path]) -> tuple[Cluster, ManualClock, Path]:
    """A cluster for a scenario: a fresh file with the scenario's brokers, on a manual clock."""
    clock = ManualClock(SCENARIO_EPOCH_MS)
    path = data or Path(tempfile.mkdtemp(prefix="kplay-demo-")) / "demo.db"
    cluster = await Cluster.open(path, clock=clock, brokers=scenario.brokers, controllers=scenario.controllers)
    return cluster, clock, path


def discard_scratch(path: Path, data: Optional[Path]) -> None:
    """Remove the temporary data file a scenario played on (a ``--data`` file is kept)."""
    if data is None:
        shutil.rmtree(path.parent, ignore_errors=True)
