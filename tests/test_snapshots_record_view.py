"""SVG snapshots of the record view at 80x24 and 120x40 (``pytest --snapshot-update`` to accept changes)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from textual.app import App

from app.backends import EmbeddedBackend
from app.screens.record_view import RecordViewScreen
from broker_core import Cluster, ManualClock
from broker_core.records import ProducerRecord
from test_tui_app_support import wait_until

EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ORDER = (b'{"order_id": 1042, "customer": "alice", "items": [{"sku": "tea-01", "qty": 2}, '
         b'{"sku": "cup-07", "qty": 1}], "total": 18.5, "note": "[bold]gift[/] \\u001b[31m"}')


class RecordViewApp(App):
    """The record view of orders-0 at offset 0, over a data file filled before."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.cluster: Cluster | None = None

    async def on_mount(self) -> None:
        self.cluster = await Cluster.open(self.path, clock=ManualClock(EPOCH_MS))
        await self.push_screen(RecordViewScreen(EmbeddedBackend(self.cluster), "orders", 0, 0))

    async def on_unmount(self) -> None:
        if self.cluster is not None:
            await self.cluster.close()


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    async def fill() -> None:
        async with await Cluster.open(tmp_path / "c.db", clock=ManualClock(EPOCH_MS)) as cluster:
            await cluster.topics.create_topic("orders", partitions=1)
            await cluster.logs.append("orders", 0, [ProducerRecord(
                b"customer-alice", ORDER, (("trace-id", b"7f3a9c"), ("source", b"web\x1b[2J")),
                timestamp=EPOCH_MS + 1234)], acks=1)

    asyncio.run(fill())
    return tmp_path / "c.db"


async def _shown(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, RecordViewScreen) and app.screen.record is not None,
                     "the record")
    frames: list[str] = []
    deadline = time.monotonic() + 10
    while len(frames) < 3 or len(set(frames[-3:])) > 1:
        if time.monotonic() > deadline:
            raise AssertionError("the screen kept changing")
        await pilot.pause(0.05)
        frames.append(app.export_screenshot())


def test_record_view_80x24(snap_compare, filled):
    assert snap_compare(RecordViewApp(filled), terminal_size=(80, 24), run_before=_shown)


def test_record_view_120x40(snap_compare, filled):
    assert snap_compare(RecordViewApp(filled), terminal_size=(120, 40), run_before=_shown)
