"""``PlaygroundApp``: the Textual app of the playground, and ``run_playground`` that opens it.

    kplay                       # the default data file, created on first run
    kplay --data demo.db        # another one

The app takes an open ``Cluster`` (tests, scenario players) or a data path and a clock,
starts the change feed, applies the user's key remapping and shows the main screen.
``run_demo`` plays a lesson (``kplay demo NAME``) in it, with the narration pane on top.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.widget import Widget

from broker_core import Cluster
from broker_core.clock import Clock
from broker_core.errors import KafkaError

from .commands_palette import PlaygroundCommands, bound_actions, help_sections
from .keymap import KeymapError, default_keymap_path, load_keymap
from .scenarios.playback import Playback
from .scenarios.script import Scenario
from .screens.help import HelpScreen
from .screens.main import MainScreen


class PlaygroundApp(App[None]):
    """The playground: one open cluster, shown live on the main screen.

    Pass an open ``cluster`` (the caller closes it), or a ``data_path`` (and optionally a
    ``clock``) for the app to open and close itself. ``keymap`` (binding id -> keys)
    overrides reading ``keymap_path`` (default: ``$KPLAY_KEYS`` or the user's config dir).
    With ``replicate`` (the default) the app runs the replica fetcher, so lagging
    followers catch up while it is open. ``demo`` plays a scenario (a lesson) on the
    cluster, which must then use a ``ManualClock``, under ``playback`` (its pause, step and
    speed controls; default: playing at 1x).
    """

    TITLE = "kplay"
    COMMANDS = App.COMMANDS | {PlaygroundCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("colon", "command_palette", "Commands", id="command-palette"),
    ]

    def __init__(self, cluster: Cluster | None = None, *, data_path: Path | str | None = None,
                 clock: Clock | None = None, keymap: dict[str, str] | None = None,
                 keymap_path: Path | None = None, replicate: bool = True,
                 demo: Scenario | None = None, playback: Playback | None = None) -> None:
        super().__init__()
        self._replicate = replicate
        self._demo = demo
        self._playback = playback
        if cluster is None and data_path is None:
            raise ValueError("PlaygroundApp needs an open cluster or a data path")
        self.cluster: Cluster | None = cluster
        self._owns_cluster = cluster is None
        self._data_path = Path(data_path) if data_path is not None else None
        self._clock = clock
        self.keymap_path = keymap_path if keymap is None else None
        self.keymap: dict[str, str] = {}
        self._keymap_error: str | None = None
        if keymap is not None:
            self.keymap = dict(keymap)
        else:
            try:
                self.keymap = load_keymap(keymap_path or default_keymap_path())
                self.keymap_path = keymap_path or default_keymap_path()
            except KeymapError as error:
                self._keymap_error = str(error)

    async def on_mount(self) -> None:
        if self.cluster is None:
            assert self._data_path is not None
            self.cluster = await Cluster.open(self._data_path, clock=self._clock)
        await self.cluster.start_feed()
        if self._replicate:
            # Followers copy from leaders in the background, as Kafka's replica fetchers do.
            self.run_worker(self.cluster.controller.fetcher.run(), name="replica-fetcher",
                            group="replication", exclusive=True)
        self.set_keymap(self.keymap)
        await self.push_screen(MainScreen(self.cluster, lesson=self._demo, playback=self._playback))
        if self._keymap_error:
            self.notify(f"{self._keymap_error}; using the default keys", severity="error",
                        timeout=10, markup=False)
        self._warn_unknown_binding_ids()

    async def on_unmount(self) -> None:
        if self._owns_cluster and self.cluster is not None:
            await self.cluster.close()

    def _warn_unknown_binding_ids(self) -> None:
        known = known_binding_ids()
        unknown = sorted(set(self.keymap) - known)
        if unknown:
            self.notify(f"keys.toml: no binding has the id {', '.join(repr(u) for u in unknown)} "
                        "(press ? to see the ids)", severity="warning", timeout=10, markup=False)

    def action_help(self) -> None:
        """Show every key of the screen, grouped by pane."""
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen
        self.push_screen(HelpScreen(help_sections(bound_actions(screen, self.keymap)), self.keymap_path))


def known_binding_ids() -> set[str]:
    """The ids of every binding declared by the playground's screens and widgets."""
    ids = {b.id for b in PlaygroundApp.BINDINGS if isinstance(b, Binding) and b.id}
    pending: list[type] = [Widget]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in ("app", "widgets"):
            ids |= {b.id for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding) and b.id}
    return ids


def run_demo(scenario: Scenario, data: Path | None) -> None:
    """Play ``scenario`` in the playground (``kplay demo NAME``) on ``data`` or a fresh file."""
    from .commands.demo import discard_scratch, open_scenario_cluster

    async def play() -> None:
        cluster, _, path = await open_scenario_cluster(scenario, data)
        try:
            await PlaygroundApp(cluster, demo=scenario).run_async()
        finally:
            await cluster.close()
            discard_scratch(path, data)

    asyncio.run(play())


def run_playground(data_path: Path, *, keymap_path: Path | None = None) -> int:
    """Open the playground on ``data_path`` (created as a 3-broker cluster if new); the exit code."""
    async def play() -> int:
        try:
            cluster = await Cluster.open(data_path)
        except KafkaError as error:
            print(f"kplay: {data_path}: {error}", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"kplay: {data_path}: {error.strerror or error}", file=sys.stderr)
            return 1
        try:
            await PlaygroundApp(cluster, keymap_path=keymap_path).run_async()
        finally:
            await cluster.close()
        return 0

    return asyncio.run(play())
