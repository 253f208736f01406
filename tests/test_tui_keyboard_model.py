"""The keyboard model: a field never traps the keys, a dropdown never quits, quitting asks when
consumers would be lost, help names every key where it works, a clashing remap is reported."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from app.screens.confirm_quit import ConfirmQuitScreen
from app.screens.help import HelpScreen
from app.screens.main import MainScreen
from app.screens.topic_form import TopicFormScreen
from app.tui import PlaygroundApp
from test_tui_app_support import wait_until
from widgets.consumer_deck import ConsumerDeck
from widgets.producer_box import ProducerBox
from widgets.topic_list import TopicList

SIZE = (120, 40)


async def started(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query_one(TopicList).loaded
                     and app.screen.query_one(TopicList).selected is not None, "main screen with a topic")


@pytest.fixture
async def with_topic(cluster):
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    return cluster


async def test_escape_leaves_a_field_and_the_pane_keys_work_again(with_topic):
    app = PlaygroundApp(with_topic, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        app.screen.query_one("#producer-value", Input).focus()
        await pilot.press("h", "i", "escape")
        box = app.screen.query_one(ProducerBox)
        await wait_until(pilot, lambda: app.focused is box, "focus on the producer pane")
        assert app.screen.query_one("#producer-value", Input).value == "hi"
        await pilot.press("1")  # a focus key, no longer typed into the field
        topics = app.screen.query_one(TopicList)
        await wait_until(pilot, lambda: app.focused is not None and topics in app.focused.ancestors_with_self,
                         "focus on the topics pane")
        assert app.screen.query_one("#producer-value", Input).value == "hi"


async def test_pressing_a_pane_key_twice_keeps_the_fields_text(with_topic):
    app = PlaygroundApp(with_topic, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("3", "3")
        await pilot.pause()
        assert app.screen.query_one("#producer-topic", Input).value == "orders"
        assert app.screen.query_one("#producer-value", Input).value == ""


async def test_letters_on_a_dropdown_never_reach_the_global_keys(with_topic):
    app = PlaygroundApp(with_topic, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        acks = app.screen.query_one("#producer-acks", Select)
        acks.focus()
        await pilot.pause()
        await pilot.press("q", "n", "i", "question_mark")  # on the closed dropdown
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, MainScreen) and app.focused is acks
        await pilot.press("enter")
        await wait_until(pilot, lambda: acks.expanded, "the dropdown open")
        await pilot.press("q", "n", "question_mark")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, MainScreen)
        assert not isinstance(app.screen, (TopicFormScreen, HelpScreen))
        assert acks.expanded


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quitting_with_live_consumers_asks_first(with_topic, key):
    app = PlaygroundApp(with_topic, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        deck = app.screen.query_one(ConsumerDeck)
        await deck.add_consumer("orders")
        await wait_until(pilot, lambda: len(deck.views) == 1, "a consumer view")
        deck.focus()
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen), "the quit question")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "back on the main screen")
        assert app.is_running and len(deck.views) == 1
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen), "the quit question again")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")


async def test_ctrl_c_quits_at_once_without_consumers(with_topic):
    app = PlaygroundApp(with_topic, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")


async def test_help_lists_consumer_view_and_lesson_keys_in_their_context(with_topic):
    app = PlaygroundApp(with_topic, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help open")
        panes = {action.binding.id: pane for pane, actions in app.screen.sections for action in actions}
        for binding_id in ("consumer-view.pause", "consumer-view.seek-beginning", "consumer-view.seek-end",
                           "consumer-view.commit"):
            assert panes[binding_id].startswith("Consumer view")
        assert panes["lesson.step"].endswith("in a lesson")
        assert panes["topic.new"] == "Main screen"


async def test_a_remap_onto_a_key_in_use_is_reported_and_not_applied(with_topic):
    app = PlaygroundApp(with_topic, keymap={"help": "q"})
    notes: list[str] = []
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        notes = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("help" in n and "q" in n and "Quit" in n for n in notes), notes
        await pilot.press("q")  # still quits: the clashing remap was not applied
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")
