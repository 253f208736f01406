"""``PlaygroundApp``: the Textual app of the playground, and ``run_playground`` that opens it.

    kplay                       # the default data file, created on first run
    kplay --data demo.db        # another one
    kplay --serve               # and real clients, Schema Registry and Connect clients on localhost
    kplay --cluster HOST:PORT   # the same screen on a real Kafka cluster (or a profile NAME)

The app takes an open ``Cluster`` (tests, scenario players), a data path and a clock, or an open
``Backend`` of a real cluster (``kplay --cluster``: the panes run on it; what only the simulation
has is left out, and each such key says why),
starts the change feed, applies the user's key remapping and shows the main screen; ``C``
switches to the pipeline screen (connectors and schemas). It runs a Kafka Connect worker
(``PlaygroundConnect``), so connectors created from another terminal run here, and with
``serve`` the Kafka listeners and the REST APIs of ``kplay serve`` in the same process;
their log records go to the event log, never to the terminal the TUI draws on.
``run_demo`` plays a lesson (``kplay demo NAME``) in it, with the narration pane on top.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Select

from broker_core import Cluster
from broker_core.clock import Clock
from broker_core.errors import KafkaError

from widgets.adopted_consumer_view import AdoptedConsumerView
from widgets.consumer_view import ConsumerView
from widgets.event_log import EventLog, EventLogHandler

from .backends import Backend, EmbeddedBackend
from .cluster_profiles import ClusterProfile
from .commands_palette import PlaygroundCommands, absent_actions, bound_actions, help_sections
from .keymap import DeclaredBinding, KeymapError, default_keymap_path, load_keymap, remap_clashes
from .playground_connect import PlaygroundConnect
from .scenarios.playback import Playback
from .scenarios.script import Scenario
from .screens.confirm_quit import ConfirmQuitScreen
from .screens.help import HelpScreen
from .screens.main import MainScreen

#: How long after the main screen is up the garbage collector stays off, when kplay started with it off
#: (``app.cli``): the panes' first reads and frames, which allocate mostly what lives as long as the app.
START_UP_S = 1.5
#: Loggers whose records the event log shows from INFO up (the rest from WARNING up).
INFO_LOGGERS = ("kplay.serve",)


@dataclass(frozen=True)
class ServeSettings:
    """Where ``kplay --serve`` listens: the flags of ``kplay serve`` (port 0: any free port)."""

    host: str = "127.0.0.1"
    port: int = 9092
    schema_registry_port: int = 8081
    connect_port: int = 8083
    advertised_host: str | None = None
    #: Only Kafka's protocol: no Schema Registry or Connect REST API.
    kafka_only: bool = False


class PlaygroundApp(App[None]):
    """The playground: one open cluster, shown live on the main screen.

    Pass an open ``cluster`` (the caller closes it), or a ``data_path`` (and optionally a
    ``clock``) for the app to open and close itself, or a real cluster's ``backend`` (the app
    closes it; the panes run on it, with no simulation, lessons, Connect worker or servers). ``keymap`` (binding id -> keys)
    overrides reading ``keymap_path`` (default: ``$KPLAY_KEYS`` or the user's config dir).
    With ``replicate`` (the default) the app runs the replica fetcher, so lagging
    followers catch up while it is open. ``demo`` plays a scenario (a lesson) on the
    cluster, which must then use a ``ManualClock``, under ``playback`` (its pause, step and
    speed controls; default: playing at 1x). ``connect`` runs a Connect worker in the app
    (not during a lesson, which runs its own). ``serve`` starts ``kplay serve``'s listeners
    and REST APIs with the app and stops them with it; if they cannot start, the app exits
    at once with ``failure`` saying why. ``freeze_gc`` moves everything alive once the main
    screen is up out of the garbage collector's reach (``gc.freeze()``): full collections
    then scan only newer objects, which cut their pauses under load from 85-240 ms to ~30 ms.
    """

    TITLE = "kplay"
    COMMANDS = App.COMMANDS | {PlaygroundCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        # As the footer's "q Quit" says, also from inside a field (Textual's default only hints at ctrl+q).
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True, id="quit.ctrl-c"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("colon", "command_palette", "Commands", id="command-palette"),
    ]

    def __init__(self, cluster: Cluster | None = None, *, data_path: Path | str | None = None,
                 clock: Clock | None = None, keymap: dict[str, str] | None = None,
                 keymap_path: Path | None = None, replicate: bool = True,
                 demo: Scenario | None = None, playback: Playback | None = None, connect: bool = True,
                 serve: ServeSettings | None = None, freeze_gc: bool = True,
                 backend: Backend | None = None) -> None:
        super().__init__()
        #: A real cluster's backend (``kplay --cluster``), else None; the app closes it when it ends.
        self.remote = backend
        self._replicate = replicate
        self._connect_wanted = connect and demo is None
        self._serve = serve
        self._freeze_gc = freeze_gc
        #: The playground's Connect worker (None during a lesson, or with ``connect=False``).
        self.connect: PlaygroundConnect | None = None
        #: The running ``kplay --serve`` servers (``app.serve.servers.RunningServers``), if any.
        self.servers: Any = None
        #: Why the app could not start (a port in use, say), for the caller to print.
        self.failure: str | None = None
        self._log_handler: logging.Handler | None = None
        self._log_levels: dict[str, int] = {}
        self._frozen = False
        self._clashes: dict[str, str] = {}
        self._demo = demo
        self._playback = playback
        if cluster is None and data_path is None and backend is None:
            raise ValueError("PlaygroundApp needs an open cluster, a data path or a backend")
        self.cluster: Cluster | None = cluster
        self._owns_cluster = cluster is None and backend is None
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
        if self.remote is not None:
            await self._show_remote(self.remote)
            return
        if self.cluster is None:
            assert self._data_path is not None
            self.cluster = await Cluster.open(self._data_path, clock=self._clock)
        await self.cluster.start_feed()
        if self._demo is None:
            # Retention and compaction run live, as in a broker (a lesson runs its own cleaner on its clock).
            await self.cluster.start_broker_tasks()
        if self._replicate:
            # Followers copy from leaders in the background, as Kafka's replica fetchers do.
            self.run_worker(self.cluster.controller.fetcher.run(), name="replica-fetcher",
                            group="replication", exclusive=True)
        if self._connect_wanted:
            self.connect = PlaygroundConnect(self.cluster, base_dir=None)
        if self._serve is not None and not await self._start_servers(self._serve):
            return
        self.set_keymap(self._usable_keymap())
        main = MainScreen(EmbeddedBackend(self.cluster), lesson=self._demo, playback=self._playback,
                          serving=self.servers.lines() if self.servers is not None else None)
        await self.push_screen(main)
        self._route_logging(main.query_one(EventLog))
        if self.servers is not None:
            main.query_one(EventLog).notes([f"kplay --serve: {line}" for line in self.servers.lines()])
        if self.connect is not None:
            self.run_worker(self.connect.run(), name="connect-worker", group="connect", exclusive=True,
                            exit_on_error=False)
        if gc.isenabled():
            self._settle_gc()
        else:
            # kplay starts with collections off (app.cli): the panes' first reads and frames run
            # without them, then start-up's own garbage is collected once.
            self.set_timer(START_UP_S, self._settle_gc, name="start-up-gc")
        self._tell_keymap_problems()

    def _settle_gc(self) -> None:
        """Collections on again (after start-up), and everything alive then frozen out of their reach."""
        if not gc.isenabled():
            gc.collect()  # what start-up left: not frozen with the rest
            gc.enable()
        if self._freeze_gc and not self._frozen:
            # Everything alive now lives as long as the app: keep full collections from rescanning it.
            gc.freeze()
            self._frozen = True

    async def _show_remote(self, backend: Backend) -> None:
        """The main screen on a real cluster: no simulation to run, no Connect worker, no servers."""
        self.set_keymap(self._usable_keymap())
        main = MainScreen(backend)
        await self.push_screen(main)
        self._route_logging(main.query_one(EventLog))
        self._tell_keymap_problems()

    def _usable_keymap(self) -> dict[str, str]:
        """The user's keymap without remappings that clash (each is told once the screen is up)."""
        self._clashes = remap_clashes(self.keymap, declared_bindings())
        for binding_id in self._clashes:
            del self.keymap[binding_id]
        return self.keymap

    def _tell_keymap_problems(self) -> None:
        if self._keymap_error:
            self.notify(f"{self._keymap_error}; using the default keys", severity="error",
                        timeout=10, markup=False)
        for reason in self._clashes.values():
            self.notify(f"keys.toml: {reason}", severity="warning", timeout=10, markup=False)
        self._warn_unknown_binding_ids()

    async def _start_servers(self, settings: ServeSettings) -> bool:
        """Start ``kplay serve``'s listeners and REST APIs; on failure set ``failure`` and exit."""
        assert self.cluster is not None
        from .serve.servers import start_servers  # late: Kafka's protocol classes only when serving

        worker = None
        if self.connect is not None and not settings.kafka_only:
            worker = await self.connect.make_worker()
        try:
            self.servers = await start_servers(
                self.cluster, host=settings.host, port=settings.port,
                schema_registry_port=settings.schema_registry_port, connect_port=settings.connect_port,
                advertised_host=settings.advertised_host, rest=not settings.kafka_only, worker=worker,
                replicate=not self._replicate)
        except (OSError, RuntimeError, TimeoutError) as error:
            # An OSError from the servers names the service and address in its strerror.
            self.failure = (error.strerror if isinstance(error, OSError) and error.strerror else str(error)) \
                or type(error).__name__
            self.exit(return_code=1)
            return False
        return True

    def _route_logging(self, log: EventLog) -> None:
        """Send log records to the event log: the terminal belongs to the TUI while it runs."""
        self._log_handler = EventLogHandler(log)
        root = logging.getLogger()
        root.addHandler(self._log_handler)
        for name in INFO_LOGGERS:
            logger = logging.getLogger(name)
            self._log_levels[name] = logger.level
            logger.setLevel(logging.INFO)

    def _unroute_logging(self) -> None:
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels.clear()

    async def on_unmount(self) -> None:
        if self.remote is not None:
            self._unroute_logging()
            await self.remote.close()
            return
        try:
            if self.servers is not None:
                await self.servers.stop()
                self.servers = None
            if self.connect is not None:
                await self.connect.stop()
        finally:
            self._unroute_logging()
            if self.cluster is not None and not self._owns_cluster:
                # The caller's cluster outlives the app, its broker tasks do not. Cancelled without
                # waiting: awaiting here would let other workers run against a half-removed screen.
                self.cluster.cancel_broker_tasks()
            if self._frozen:
                gc.unfreeze()  # a test run opens many apps in one process: let their objects go
                self._frozen = False
            if self._owns_cluster and self.cluster is not None:
                await self.cluster.close()

    def _warn_unknown_binding_ids(self) -> None:
        unknown = sorted(set(self.keymap) - known_binding_ids())
        if unknown:
            # The pipeline screen is imported when first shown (Kafka Connect loads SQLAlchemy):
            # its bindings' ids are known only once it is.
            from .screens import pipeline  # noqa: F401

            unknown = sorted(set(self.keymap) - known_binding_ids())
        if unknown:
            self.notify(f"keys.toml: no binding has the id {', '.join(repr(u) for u in unknown)} "
                        "(press ? to see the ids)", severity="warning", timeout=10, markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """On a dropdown (open or not) letters choose, never reach the app's keys (q there must not
        quit); ctrl+c always quits."""
        if on_dropdown(self) and action in ("quit", "help"):
            return False
        return True

    async def action_interrupt(self) -> None:
        """Ctrl+C: quit, as q does (asking first while consumer views run), from anywhere."""
        await self.action_quit()

    async def action_quit(self) -> None:
        """Quit; with consumer views running, ask first (their consumers close)."""
        if any(isinstance(screen, ConfirmQuitScreen) for screen in self.screen_stack):
            return
        # A lesson's consumers (adopted views) are the lesson's: it ends with the app either way.
        views = [view for screen in self.screen_stack for view in screen.query(ConsumerView)
                 if not isinstance(view, AdoptedConsumerView)]
        if not views:
            self.exit()
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.exit()

        await self.push_screen(ConfirmQuitScreen(len(views), sum(1 for v in views if v.group)), answered)

    def action_help(self) -> None:
        """Show every key of the screen, grouped by pane."""
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen
        actions = [*bound_actions(screen, self.keymap), *absent_actions(screen, self.keymap)]
        self.push_screen(HelpScreen(help_sections(actions), self.keymap_path))


def on_dropdown(app: App) -> bool:
    """Whether the focus is on a Select or in its open list of choices."""
    focused = app.focused
    return focused is not None and any(isinstance(node, Select) for node in focused.ancestors_with_self)


def declared_bindings() -> list[DeclaredBinding]:
    """Every binding with an id declared by the playground's app, screens and widgets."""
    found = [DeclaredBinding(b.id, b.action, b.description, tuple(b.key.split(",")), "app", "PlaygroundApp")
             for b in PlaygroundApp.BINDINGS if isinstance(b, Binding) and b.id]
    pending: list[type] = [Widget]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in ("app", "widgets"):
            scope = "screen" if issubclass(cls, Screen) else "widget"
            found.extend(DeclaredBinding(b.id, b.action, b.description, tuple(b.key.split(",")), scope, cls.__name__)
                         for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding) and b.id)
    return found


def known_binding_ids() -> set[str]:
    """The ids of every binding declared by the playground's screens and widgets."""
    return {d.binding_id for d in declared_bindings()}


def run_demo(scenario: Scenario, data: Path | None) -> None:
    """Play ``scenario`` in the playground (``kplay demo NAME``) on ``data`` or a fresh file."""
    from .scenarios.lesson_cluster import discard_scratch, open_scenario_cluster

    async def play() -> None:
        cluster, _, path = await open_scenario_cluster(scenario, data)
        try:
            await PlaygroundApp(cluster, demo=scenario).run_async()
        finally:
            await cluster.close()
            discard_scratch(path, data)

    asyncio.run(play())


def run_cluster(profile: ClusterProfile, *, keymap_path: Path | None = None) -> int:
    """Open the playground's screen on the real cluster ``profile`` names (``kplay --cluster``); the exit code.

    A cluster that cannot be reached at start is one line on stderr and exit status 1; once open,
    losing it is a line on screen, and the screen follows it again when it comes back.
    """
    from .cluster_profiles import ClusterChoiceProblem, open_profile

    async def look() -> int:
        try:
            backend = await open_profile(profile)
        except (ClusterChoiceProblem, KafkaError) as problem:
            print(f"kplay: {problem}", file=sys.stderr)  # it names the cluster and the cause
            return 1
        app = PlaygroundApp(backend=backend, keymap_path=keymap_path)
        try:
            await app.run_async()
        finally:
            await backend.close()  # the app closed it unless it never started (closing is idempotent)
        return app.return_code or 0

    return asyncio.run(look())


def run_playground(data_path: Path, *, keymap_path: Path | None = None, serve: ServeSettings | None = None) -> int:
    """Open the playground on ``data_path`` (created as a 3-broker cluster if new); the exit code.

    ``serve``: also serve it to real clients (``kplay --serve``), as ``kplay serve`` does.
    """
    async def play() -> int:
        try:
            cluster = await Cluster.open(data_path)
        except KafkaError as error:
            print(f"kplay: {data_path}: {error}", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"kplay: {data_path}: {error.strerror or error}", file=sys.stderr)
            return 1
        app = PlaygroundApp(cluster, keymap_path=keymap_path, serve=serve)
        try:
            await app.run_async()
        finally:
            await cluster.close()
        if app.failure:
            print(f"kplay: {app.failure}", file=sys.stderr)
            return 1
        return app.return_code or 0

    return asyncio.run(play())
