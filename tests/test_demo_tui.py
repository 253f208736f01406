"""Lessons played in the playground (``kplay demo NAME``): the narration pane, its keys, the
lesson's consumers as views, and errors shown inline."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.commands.demo import open_scenario_cluster
from app.scenarios.library import builtin_scenarios
from app.scenarios.playback import INSTANT, Playback
from app.scenarios.script import Scenario, parse
from app.tui import PlaygroundApp
from test_tui_app_support import screen_text, wait_until
from widgets.adopted_consumer_view import AdoptedConsumerView
from widgets.consumer_deck import ConsumerDeck
from widgets.narration import NarrationPane

SIZE = (160, 45)
#: A played lesson runs its steps for real (groups rebalance, consumers poll): allow for a busy machine.
LESSON_DEADLINE_S = 120.0


def _last_narration(scenario: Scenario) -> str:
    return [s.args["text"] for s in scenario.steps if s.verb == "say"][-1]


async def _ended(pilot, pane: NarrationPane) -> None:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: pane.state in ("finished", "failed"), "the lesson's end", LESSON_DEADLINE_S)


@pytest.mark.parametrize("builtin", builtin_scenarios(), ids=lambda b: b.name)
async def test_each_builtin_lesson_plays_through_in_the_tui(builtin, tmp_path: Path):
    scenario = builtin.parse()
    cluster, _, _ = await open_scenario_cluster(scenario, tmp_path / "lesson.db")
    try:
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=Playback(INSTANT))
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(NarrationPane)
            await _ended(pilot, pane)
            assert pane.error is None
            assert pane.state == "finished" and pane.outcome == "every expectation held", pane.text
            assert pane.narration == _last_narration(scenario)
            assert pane.steps_done == len(scenario.steps)
            await pilot.pause()
            # The narration is on screen, not only in the widget.
            assert _last_narration(scenario)[:60] in screen_text(pilot).replace("\n", " ") or \
                _last_narration(scenario)[:40] in screen_text(pilot)
    finally:
        await cluster.close()


STEPPING = """title: Stepping
seed: 1

say One.
create-topic steps partitions=1 replication=1
say Two.
produce steps value="a"
say Three.
produce steps value="b"
say Four.
expect records steps == 2
say Five.
"""


async def test_space_pauses_n_runs_exactly_one_step_and_plus_minus_change_the_speed(data_path: Path):
    scenario = parse(STEPPING, "stepping.kplay")
    cluster, _, _ = await open_scenario_cluster(scenario, data_path)
    try:
        playback = Playback(1.0)
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=playback)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(NarrationPane)
            await pilot.press("space")
            await wait_until(pilot, lambda: playback.holding, "the lesson holding before a step")
            assert pane.state == "holding" and "paused" in pane.text
            held_at = pane.steps_done

            await pilot.press("n")
            await wait_until(pilot, lambda: pane.steps_done == held_at + 1 and playback.holding,
                             "one step, then holding again")
            assert pane.steps_done == held_at + 1
            assert pane.state == "holding"

            await pilot.press("plus")
            assert playback.speed == 2.0 and "speed 2x" in pane.text
            await pilot.press("minus", "minus", "minus")
            assert playback.speed == 0.25 and "speed 0.25x" in pane.text
            await pilot.press(*["minus"] * 2)
            assert playback.speed == 0.25  # the slowest
            await pilot.press(*["plus"] * 7)
            assert playback.speed == 8.0 and "speed 8x" in pane.text  # the fastest

            await pilot.press("space")
            await _ended(pilot, pane)
            assert pane.state == "finished" and pane.narration == "Five."
            assert pane.steps_done == len(scenario.steps)
    finally:
        await cluster.close()


async def test_lesson_keys_are_in_the_footer_and_n_makes_topics_again_after_the_lesson(data_path: Path):
    scenario = parse(STEPPING, "stepping.kplay")
    cluster, _, _ = await open_scenario_cluster(scenario, data_path)
    try:
        playback = Playback(INSTANT, paused=True)
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=playback)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(NarrationPane)
            await wait_until(pilot, lambda: playback.holding, "the lesson holding before its first step")
            footer = screen_text(pilot).splitlines()[-1]
            for words in ("Pause/resume", "Step", "Faster", "Slower"):
                assert words in footer
            assert "New topic" not in footer
            await pilot.press("space")
            await _ended(pilot, pane)
            await pilot.pause()
            footer = screen_text(pilot).splitlines()[-1]
            assert "New topic" in footer and "Pause/resume" not in footer
    finally:
        await cluster.close()


async def test_lesson_actions_are_in_the_command_palette_and_the_help_screen(data_path: Path):
    from app.commands_palette import bound_actions, help_sections, palette_actions

    scenario = parse(STEPPING, "stepping.kplay")
    cluster, _, _ = await open_scenario_cluster(scenario, data_path)
    try:
        playback = Playback(1.0, paused=True)
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=playback)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            offered = {(a.description, a.keys) for a in palette_actions(app.screen)}
            assert {("Pause/resume", "space"), ("Step", "n"), ("Faster", "+"), ("Slower", "-")} <= offered
            listed = {a.binding.id for _, actions in help_sections(bound_actions(app.screen)) for a in actions}
            assert {"lesson.pause", "lesson.step", "lesson.faster", "lesson.slower"} <= listed
            # Running one from the palette does what the key does.
            await pilot.press("colon")
            await pilot.press(*"faster")
            await pilot.press("enter")
            await wait_until(pilot, lambda: playback.speed == 2.0, "the lesson at 2x")
            assert "speed 2x" in app.screen.query_one(NarrationPane).text
    finally:
        await cluster.close()


CONSUMING = """title: Consuming
seed: 1

create-topic watched partitions=2 replication=1
consumer watcher topic=watched from=earliest
produce watched count=6 keys=a,b,c value="v{i}"
wait read watcher == 6
say Six records read.
stop-consumer watcher
say Done.
"""


async def test_a_lesson_consumer_appears_as_a_view_and_goes_when_it_stops(data_path: Path):
    scenario = parse(CONSUMING, "consuming.kplay")
    cluster, _, _ = await open_scenario_cluster(scenario, data_path)
    try:
        playback = Playback(INSTANT, paused=True)
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=playback)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(NarrationPane)
            deck = app.screen.query_one(ConsumerDeck)
            for _ in range(5):  # up to the narration after the wait
                await wait_until(pilot, lambda: playback.holding, "the lesson holding")
                playback.step()
                await pilot.pause()
            await wait_until(pilot, lambda: playback.holding and pane.narration == "Six records read.",
                             "the narration after the wait")
            views = [v for v in deck.views if isinstance(v, AdoptedConsumerView)]
            assert [v.label for v in views] == ["watcher"]
            view = views[0]
            await wait_until(pilot, lambda: view.consumed == 6 and len(view.window.records) == 6,
                             "the six records in the view")
            shown = view.text
            assert "v0" in shown and "v5" in shown and "6 consumed" in shown
            # Positions as the lesson's consumer knows them: both partitions read to their end.
            await wait_until(pilot, lambda: view.text.count("left 0") == 2, "both partitions read to the end")

            playback.step()  # stop-consumer watcher
            await wait_until(pilot, lambda: not deck.views, "the view taken away")
            await wait_until(pilot, lambda: playback.holding, "the lesson holding")
            # The lesson's consumer was stopped by the lesson, not by the view: it left cleanly.
            playback.resume()
            await _ended(pilot, pane)
            assert pane.outcome == "every expectation held"
    finally:
        await cluster.close()


FAILING = """title: Failing
seed: 1

say This lesson reads a topic that does not exist.
consumer lost topic=nowhere
say Never shown.
"""


async def test_a_failing_step_shows_its_file_and_line_in_the_pane_without_a_traceback(data_path: Path):
    scenario = parse(FAILING, "failing.kplay")
    cluster, _, _ = await open_scenario_cluster(scenario, data_path)
    try:
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=Playback(INSTANT))
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(NarrationPane)
            await _ended(pilot, pane)
            assert pane.state == "failed"
            assert pane.error is not None and pane.error.startswith("failing.kplay:5: consumer failed:")
            assert "UnknownTopicOrPartition" in pane.error
            assert "stopped at line 5" in pane.text
            await pilot.pause()
            text = screen_text(pilot)
            assert "failing.kplay:5:" in text and "Traceback" not in text
            assert app.is_running  # the playground stays open
    finally:
        await cluster.close()


async def test_failed_expectations_show_in_the_pane_and_the_lesson_goes_on(data_path: Path):
    scenario = parse("""title: Wrong
create-topic t partitions=1 replication=1
expect partitions t == 2
say Still here.
""", "wrong.kplay")
    cluster, _, _ = await open_scenario_cluster(scenario, data_path)
    try:
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=Playback(INSTANT))
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(NarrationPane)
            await _ended(pilot, pane)
            assert pane.state == "finished" and pane.narration == "Still here."
            assert pane.outcome == "1 expectation did not hold"
            assert "wrong.kplay:3: expected partitions t == 2, got 1" in pane.text
    finally:
        await cluster.close()


async def test_a_lesson_needs_a_manual_clock(data_path: Path):
    from broker_core import Cluster
    from broker_core.clock import SystemClock

    cluster = await Cluster.open(data_path, clock=SystemClock())
    try:
        app = PlaygroundApp(cluster, keymap={}, demo=parse(STEPPING, "stepping.kplay"), playback=Playback(INSTANT))
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(NarrationPane)
            await _ended(pilot, pane)
            assert pane.state == "failed" and "manual clock" in (pane.error or "")
    finally:
        await cluster.close()


async def test_quitting_in_the_middle_of_a_lesson_ends_it_cleanly(data_path: Path):
    scenario = parse(CONSUMING, "consuming.kplay")
    cluster, _, _ = await open_scenario_cluster(scenario, data_path)
    try:
        playback = Playback(INSTANT, paused=True)
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=playback)
        async with app.run_test(size=SIZE) as pilot:
            deck = app.screen.query_one(ConsumerDeck)
            for _ in range(2):  # create-topic, consumer watcher
                await wait_until(pilot, lambda: playback.holding, "the lesson holding")
                playback.step()
            await wait_until(pilot, lambda: playback.holding and len(deck.views) == 1, "the lesson's consumer")
            await pilot.press("q")
        # Leaving ran the lesson's clean-up (its consumer stopped, its view taken away) without an error.
        assert app.return_code in (0, None)
        assert not deck.views
    finally:
        await cluster.close()


async def test_the_welcome_panel_does_not_offer_n_for_a_new_topic_during_a_lesson(data_path: Path):
    scenario = parse(STEPPING, "stepping.kplay")
    cluster, _, _ = await open_scenario_cluster(scenario, data_path)
    try:
        playback = Playback(INSTANT, paused=True)
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=playback)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: playback.holding, "the lesson holding before its first step")
            await pilot.pause(0.3)  # the topic list has reported the empty cluster by now
            assert "Welcome to kplay" not in screen_text(pilot)
            assert "create a topic" not in screen_text(pilot)
    finally:
        await cluster.close()


async def test_the_transactions_lesson_shows_markers_in_its_consumer_views(tmp_path: Path):
    """At the lesson's key moment its readers (adopted views) show the COMMIT and ABORT markers
    they stepped over, and only the read_uncommitted one shows the aborted totals."""
    from app.scenarios.library import load_scenario
    from app.screenshots import key_moment, play_to_key_moment

    scenario = load_scenario("transactions")
    moment = key_moment("transactions", scenario)
    cluster, _, _ = await open_scenario_cluster(scenario, tmp_path / "lesson.db")
    try:
        playback = Playback(INSTANT, paused=True)
        app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=playback)
        async with app.run_test(size=SIZE) as pilot:
            await play_to_key_moment(pilot, playback, app.screen.query_one(NarrationPane), "transactions", moment,
                                     LESSON_DEADLINE_S)
            views = {v.label: v for v in app.screen.query(AdoptedConsumerView)}
            committed, uncommitted = views["committed-reader"], views["uncommitted-reader"]
            await wait_until(pilot, lambda: "0:6 ABORT marker" in committed.text
                             and "0:6 ABORT marker" in uncommitted.text, "the ABORT marker in both readers")
            assert "0:3 COMMIT marker" in committed.text
            assert "wrong total" in uncommitted.text and "wrong total" not in committed.text
    finally:
        await cluster.close()
