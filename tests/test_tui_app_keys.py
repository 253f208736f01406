"""Keys: the help screen, "explain", the command palette and remapping from keys.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette

from app.commands_palette import PlaygroundCommands, palette_actions
from app.keymap import KeymapError, load_keymap, parse_keymap
from app.screens.explain import ExplainScreen
from app.screens.help import HelpScreen
from app.screens.topic_form import TopicFormScreen
from app.tui import PlaygroundApp, known_binding_ids
from test_tui_app_support import wait_until, widget_text
from widgets.topic_list import TopicList

SIZE = (160, 45)


async def started(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.screen.query(TopicList) and app.screen.query_one(TopicList).loaded,
                     "main screen loaded")


def flat(text: str) -> str:
    return " ".join(text.split())


async def test_help_lists_every_pane_binding_with_current_keys(cluster):
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    app = PlaygroundApp(cluster, keymap={"topic.new": "c"})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help open")
        listed = {(action.keys, action.description, action.binding.id)
                  for _, actions in app.screen.sections for action in actions}
        # Keys of this screen (remapped "New topic" shows its new key) and of the other panes.
        for expected in [("c", "New topic", "topic.new"), ("i", "Explain", "explain"),
                         ("d", "Delete topic", "topic-list.delete"), ("q", "Quit", "quit"),
                         ("x", "Stop broker", "brokers.stop")]:
            assert expected in listed
        ids = {binding_id for _, _, binding_id in listed}
        assert {"consumer-deck.add", "producer-box.send-burst", "partition-view.open"} <= ids
        shown = flat(widget_text(app.screen.query_one("#help")))
        assert "New topic topic.new" in shown
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")


@pytest.mark.parametrize(("pane_key", "concept"), [
    ("1", "Replication factor"),   # topics
    ("2", "High watermark"),       # partitions
    ("6", "Controller"),           # brokers
    ("7", "Change feed"),          # events
])
async def test_explain_tells_the_concept_of_the_focused_pane(cluster, pane_key, concept):
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=2)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await wait_until(pilot, lambda: app.screen.query_one("#partitions").display, "partitions shown")
        await pilot.press(pane_key, "i")
        await wait_until(pilot, lambda: isinstance(app.screen, ExplainScreen), "explanation open")
        text = flat(widget_text(app.screen.query_one("#explain")))
        assert concept in text
        # Two or three sentences per concept, not a wall of text.
        for c in app.screen.concepts:
            assert 2 <= c.text.count(". ") + 1 <= 4, c.title
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExplainScreen), "explanation closed")


async def test_palette_lists_actions_of_every_pane(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        titles = {f"{a.pane}: {a.description}" for a in palette_actions(app.screen)}
        for expected in ("Main screen: New topic", "Main screen: Explain", "Topics: Delete topic",
                         "Brokers: Stop broker", "Brokers: Start broker", "Everywhere: Help",
                         "Consumers: Add consumer", "Producer: Send N", "Main screen: Focus brokers"):
            assert expected in titles
        assert PlaygroundCommands in app.COMMANDS


async def test_palette_runs_new_topic_by_name(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("colon")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette open")
        await pilot.press(*"new topic")
        palette = app.screen
        await wait_until(pilot, lambda: palette.query_one("CommandList").option_count > 0, "matches listed")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TopicFormScreen), "topic form opened")


async def test_keys_toml_remaps_and_bad_file_keeps_defaults(cluster, tmp_path: Path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\n"topic.new" = "c"\n"explain" = ["f2", "e"]\n')
    app = PlaygroundApp(cluster, keymap_path=keys)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, ExplainScreen), "f2 explains")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExplainScreen), "closed")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, TopicFormScreen), "c opens the form")

    keys.write_text("[keys\n")
    app = PlaygroundApp(cluster, keymap_path=keys)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert any("not valid TOML" in n.message for n in app._notifications)  # noqa: SLF001
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TopicFormScreen), "default n still works")


async def test_unknown_binding_id_is_reported(cluster, tmp_path: Path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\n"topic.nwe" = "c"\n')
    app = PlaygroundApp(cluster, keymap_path=keys)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert any("'topic.nwe'" in n.message for n in app._notifications)  # noqa: SLF001


def test_every_binding_has_an_id_users_can_remap():
    ids = known_binding_ids()
    assert {"topic.new", "explain", "help", "quit", "topic-list.delete", "brokers.stop"} <= ids


def test_parse_keymap_accepts_strings_and_lists():
    assert parse_keymap('[keys]\n"help" = "f1"\n"quit" = ["ctrl+q", " x "]\n') == {
        "help": "f1", "quit": "ctrl+q,x"}


@pytest.mark.parametrize(("text", "problem"), [
    ("[keys\n", "not valid TOML"),
    ('[keys]\n"help" = 3\n', "must be a non-empty string"),
    ('[keys]\n"help" = ""\n', "must be a non-empty string"),
    ('keys = "x"\n', "[keys] must be a table"),
    ('[bindings]\n"help" = "x"\n', "unknown section 'bindings'"),
])
def test_parse_keymap_refuses_bad_files_in_one_line(text, problem):
    with pytest.raises(KeymapError) as refused:
        parse_keymap(text, "keys.toml")
    message = str(refused.value)
    assert problem in message and message.startswith("keys.toml: ") and "\n" not in message


def test_missing_keys_file_means_no_remapping(tmp_path: Path):
    assert load_keymap(tmp_path / "absent.toml") == {}
