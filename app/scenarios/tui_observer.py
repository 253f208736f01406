"""A scenario played in the playground: the runner's reports shown on the main screen.

``TuiScenarioObserver`` is the runner's ``ScenarioObserver`` for the TUI: steps, narration
and results go to the narration pane (and, as a record of the lesson, to the event log),
the lesson's consumers appear as views in the consumer deck, the topic a step works on is
selected (so the partitions pane shows it), and the runner's pacing
waits under the ``Playback`` controls. ``play_lesson`` runs a whole lesson that way and
turns any error into a line in the narration pane, never a traceback.
"""

from __future__ import annotations

from typing import Callable, Sequence

from broker_core import Cluster, Consumer, ManualClock
from broker_core.errors import KafkaError
from broker_core.records import ConsumerRecord
from widgets.consumer_deck import ConsumerDeck
from widgets.event_log import EventLog
from widgets.narration import LessonStep, NarrationPane
from widgets.topic_list import TopicList

from .playback import Playback, PlayedRunner
from .runner import RunResult, ScenarioConsumer, ScenarioRunner
from .script import Scenario, ScenarioError, Step


def lesson_steps(scenario: Scenario) -> list[LessonStep]:
    """The scenario's steps as the narration pane lists them (narration marked with »)."""
    return [LessonStep(step.line, "» " + step.args["text"] if step.verb == "say" else step.text)
            for step in scenario.steps]


class TuiScenarioObserver:
    """Shows a running scenario on the main screen (implements ``ScenarioObserver``).

    ``runner`` must be set to the runner reporting here before it runs: the consumer
    views read what its poll loops have read.
    """

    def __init__(self, pane: NarrationPane, deck: ConsumerDeck, log: EventLog | None,
                 playback: Playback, topics: TopicList | None = None) -> None:
        self.pane = pane
        self.deck = deck
        self.log = log
        self.topics = topics
        self.playback = playback
        self.runner: ScenarioRunner | None = None
        #: The step running now (None before the first).
        self.current_step: Step | None = None

    def note(self, text: str) -> None:
        """Write ``text`` to the event log, the lesson's running record."""
        if self.log is not None and self.log.is_mounted:
            self.log.note(text)

    def step_started(self, step: Step, at_ms: int) -> None:
        """Mark the step in the list, select the topic it works on; log it as written."""
        self.current_step = step
        self.pane.start_step(step.line)
        topic = step.args.get("name") if step.verb in ("create-topic", "alter-topic") else \
            step.args.get("topic") if step.verb == "produce" else None
        if topic and self.topics is not None and self.topics.is_mounted:
            self.topics.select_when_shown(topic)
        if step.verb != "say":
            self.note(f"lesson {at_ms / 1000:.1f}s: {step.text}")

    def step_done(self, step: Step) -> None:
        """Tick the step off once it finished."""
        self.pane.step_done(step.line)

    def narrate(self, step: Step, text: str) -> None:
        """Show the narration in the pane, and log it."""
        self.pane.narrate(text)
        self.note(f"» {text}")

    def report(self, step: Step, line: str) -> None:
        """Show one result line under the narration, and log it."""
        self.pane.report(step.line, line)
        self.note(f"  {line}")

    async def consumer_started(self, name: str, consumer: Consumer) -> None:
        """Show the lesson's new consumer as a view in the consumer deck."""
        entry = self.runner.consumers.get(name) if self.runner is not None else None
        if entry is None or not self.deck.is_attached:  # the app is closing
            return
        try:
            await self.deck.adopt(name, consumer, _records_of(entry))
        except ValueError as error:  # the deck is full: the lesson goes on without the view
            self.pane.report(self.current_step.line if self.current_step else 0, str(error))

    async def consumer_stopped(self, name: str) -> None:
        """Take the stopped consumer's view away."""
        await self.deck.release(name)

    async def pace(self, seconds: float) -> None:
        """Wait for the viewer, scaled by the playback speed (a ``pause`` step in full)."""
        explicit = self.current_step is not None and self.current_step.verb == "pause"
        await self.playback.pace(seconds, capped=not explicit)


def _records_of(entry: ScenarioConsumer) -> Callable[[], tuple[int, Sequence[ConsumerRecord]]]:
    return lambda: (entry.read, entry.records)


async def play_lesson(cluster: Cluster, scenario: Scenario, playback: Playback, pane: NarrationPane,
                      deck: ConsumerDeck, log: EventLog | None = None,
                      topics: TopicList | None = None) -> RunResult | None:
    """Play ``scenario`` on ``cluster`` (on a ``ManualClock``) under ``playback``; the result,
    or None when the lesson stopped on an error (shown in ``pane``)."""
    clock = cluster.clock
    if not isinstance(clock, ManualClock):
        pane.fail(f"{scenario.source}: a lesson plays on a cluster with a manual clock "
                  "(kplay demo opens one); this cluster runs on real time.")
        return None
    observer = TuiScenarioObserver(pane, deck, log, playback, topics)
    runner = PlayedRunner(cluster, clock, scenario, observer, playback, observer.step_done)
    observer.runner = runner
    try:
        result = await runner.run()
    except ScenarioError as error:
        pane.fail(str(error), error.line)
        observer.note(f"lesson stopped: {error}")
        return None
    except (KafkaError, OSError, ValueError, LookupError) as error:
        # Not the scenario's fault (a full disk, a closed cluster): still one line, no traceback.
        line = observer.current_step.line if observer.current_step else 0
        pane.fail(f"{scenario.source}:{line}: the lesson stopped: {type(error).__name__}: {error}", line)
        return None
    pane.finish(result.passed, result.failures)
    return result
