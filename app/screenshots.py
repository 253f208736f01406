"""Regenerate the README's screenshots: ``python -m app.screenshots DIR`` (``make screenshots``).

Drives the playground with Textual's Pilot at 160 x 45 on a fresh data file and a manual
clock, and saves SVGs of the main screen with traffic, the topic creation form, and a
consumer group rebalancing as a second member joins.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from textual.pilot import Pilot

from broker_core import Cluster, ManualClock, Producer
from widgets.consumer_deck import ConsumerDeck
from widgets.topic_list import TopicList

from .screens.topic_form import TopicFormScreen
from .tui import PlaygroundApp

SIZE = (160, 45)
#: The screenshots' clock starts here (2026-01-01T00:00:00Z) so they look the same every run.
EPOCH_MS = 1_767_225_600_000
#: Longest wait for the screen to show what a step expects.
DEADLINE_S = 15.0


async def _until(pilot: Pilot, condition: Callable[[], object], what: str) -> None:
    end = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > end:
            raise RuntimeError(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause(0.2)  # one more frame for everything that follows the same events


async def _produce(cluster: Cluster, topic: str, count: int, keys: int, first: int = 0) -> None:
    async with Producer(cluster, acks="all") as producer:
        for i in range(first, first + count):
            await producer.send(topic, f"order {i}: {{\"amount\": {i * 7 % 100}}}".encode(),
                                key=f"customer-{i % keys}".encode())


async def _traffic(cluster: Cluster, clock: ManualClock) -> None:
    """Twelve seconds of uneven traffic, so the rates and sparklines have a shape."""
    sent = 0
    for second in range(12):
        burst = (3, 5, 8, 6, 2, 9, 12, 7, 4, 10, 6, 3)[second]
        await _produce(cluster, "orders", burst, keys=8, first=sent)
        sent += burst
        if second % 3 == 0:
            await _produce(cluster, "payments", 2, keys=4, first=second)
        clock.advance(1000)


async def take(directory: Path) -> list[Path]:
    """Save the screenshots into ``directory``; return their paths."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="kplay-screenshots-") as scratch:
        # A relative path, so the screenshots show "playground.db" rather than a temporary folder.
        os.chdir(scratch)
        clock = ManualClock(EPOCH_MS)
        cluster = await Cluster.open(Path("playground.db"), clock=clock)
        try:
            await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
            await cluster.topics.create_topic("payments", partitions=2, replication_factor=3)
            app = PlaygroundApp(cluster, keymap={})
            async with app.run_test(size=SIZE) as pilot:
                topics = app.screen.query_one(TopicList)
                await _until(pilot, lambda: topics.table.row_count == 2, "the topic list")
                await _traffic(cluster, clock)
                topics.select("orders")
                deck = app.screen.query_one(ConsumerDeck)
                first = await deck.add_consumer("orders", group="billing", label="billing #1")
                await _until(pilot, lambda: first.consumer is not None and first.consumer.generation >= 1,
                             "the first group member")
                await _produce(cluster, "orders", 9, keys=8)
                await pilot.pause(0.5)
                saved.append(_save(app, directory, "main-screen.svg"))

                second = await deck.add_consumer("orders", group="billing", label="billing #2")
                await _until(pilot, lambda: second.consumer is not None and second.consumer.generation >= 2
                             and len(second.consumer.assignment()) > 0, "the rebalance")
                await _produce(cluster, "orders", 6, keys=8)
                await pilot.pause(0.5)
                saved.append(_save(app, directory, "rebalance.svg"))

                topics.table.focus()
                await pilot.press("n")
                await _until(pilot, lambda: isinstance(app.screen, TopicFormScreen), "the topic form")
                await pilot.press(*"shipments", "tab", "backspace", "6")
                await pilot.pause(0.3)
                saved.append(_save(app, directory, "topic-creation.svg"))
        finally:
            await cluster.close()
            os.chdir(home)
    return saved


def _save(app: PlaygroundApp, directory: Path, name: str) -> Path:
    path = directory / name
    app.save_screenshot(filename=name, path=str(directory))
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m app.screenshots DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m app.screenshots DIR", file=sys.stderr)
        return 2
    for path in asyncio.run(take(Path(args[0]))):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
