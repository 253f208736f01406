"""Creating and deleting topics from the keyboard, with the core's validation shown inline."""

from __future__ import annotations

from textual.widgets import Input, Select

from app.screens.confirm_delete import ConfirmDeleteScreen
from app.screens.topic_form import TopicFormScreen
from app.tui import PlaygroundApp
from test_tui_app_support import wait_until, widget_text
from widgets.topic_list import TopicList

SIZE = (160, 45)


async def open_form(pilot) -> TopicFormScreen:
    app = pilot.app
    await wait_until(pilot, lambda: app.screen.query(TopicList) and app.screen.query_one(TopicList).loaded,
                     "topic list loaded")
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(app.screen, TopicFormScreen), "topic form open")
    return app.screen


def error_text(form: TopicFormScreen, field_id: str) -> str:
    """The error under a field as a person reads it (wrapped lines joined)."""
    return " ".join(widget_text(form.query_one(f"#{field_id}-error")).split())


async def replace(pilot, form: TopicFormScreen, field_id: str, text: str) -> None:
    """Focus a field, clear it and type ``text`` key by key, as a person would."""
    field = form.query_one(f"#{field_id}", Input)
    field.focus()
    await pilot.pause()
    field.action_select_all()
    await pilot.press("backspace")
    if text:
        await pilot.press(*text)
    await pilot.pause()


async def test_create_topic_from_the_keyboard(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"payments")
        await replace(pilot, form, "partitions", "4")
        await replace(pilot, form, "replication-factor", "3")
        await replace(pilot, form, "retention-ms", "60000")
        assert "1 minute" in error_text(form, "retention-ms")
        form.query_one("#cleanup-policy", Select).value = "compact"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, TopicFormScreen), "form closed")
        topic = await cluster.topics.describe_topic("payments")
        assert (topic.partition_count, topic.replication_factor) == (4, 3)
        assert topic.config == {"retention.ms": 60000, "cleanup.policy": "compact"}
        topics = app.screen.query_one(TopicList)
        await wait_until(pilot, lambda: topics.selected == "payments", "new topic selected in the list")


async def test_invalid_name_shows_kafkas_error_inline_as_you_type(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"bad name")
        assert "contains a character other than ASCII alphanumerics" in error_text(form, "name")
        assert form.query_one("#name", Input).has_class("-invalid")
        # Enter refuses and creates nothing.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TopicFormScreen)
        assert await cluster.topics.list_topics() == []
        # Fixing the name clears the error as it is typed.
        await replace(pilot, form, "name", "good-name")
        assert error_text(form, "name").strip() == ""
        assert not form.query_one("#name", Input).has_class("-invalid")


async def test_numbers_are_checked_by_the_core_rules(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await replace(pilot, form, "partitions", "0")
        assert "Number of partitions must be larger than 0." in error_text(form, "partitions")
        await replace(pilot, form, "replication-factor", "4")
        assert "Replication factor: 4 larger than available brokers: 3." in error_text(form, "replication-factor")
        await replace(pilot, form, "retention-ms", "-5")
        assert "Invalid value -5 for configuration retention.ms" in error_text(form, "retention-ms")
        await replace(pilot, form, "name", "fine")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TopicFormScreen)
        assert await cluster.topics.list_topics() == []


async def test_duplicate_name_is_refused_inline_by_the_core(cluster):
    await cluster.topics.create_topic("orders", partitions=1, replication_factor=1)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"orders", "enter")
        await wait_until(pilot, lambda: "already exists" in error_text(form, "name"), "duplicate refused")
        assert "TOPIC_ALREADY_EXISTS: Topic 'orders' already exists." in error_text(form, "name")
        assert isinstance(app.screen, TopicFormScreen)
        assert (await cluster.topics.describe_topic("orders")).partition_count == 1


async def test_escape_cancels_without_creating(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await open_form(pilot)
        await pilot.press(*"never", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TopicFormScreen), "form closed")
        assert await cluster.topics.list_topics() == []


async def test_delete_asks_first_and_n_keeps_the_topic(cluster):
    await cluster.topics.create_topic("keep", partitions=1, replication_factor=1)
    await cluster.topics.create_topic("drop", partitions=1, replication_factor=1)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        topics = app.screen.query_one(TopicList)
        await wait_until(pilot, lambda: topics.table.row_count == 2, "two topics listed")
        assert topics.selected == "drop"  # alphabetical: drop, keep
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeleteScreen), "confirmation asked")
        assert "Delete topic drop?" in widget_text(app.screen.query_one("#confirm-delete-text"))
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDeleteScreen), "confirmation closed")
        assert await cluster.topics.list_topics() == ["drop", "keep"]
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeleteScreen), "confirmation asked")
        await pilot.press("y")
        await wait_until(pilot, lambda: list(topics.rows) == ["keep"], "drop gone from the list")
        assert await cluster.topics.list_topics() == ["keep"]
        # The table redraws at most a few times a second: the selection follows on that redraw.
        await wait_until(pilot, lambda: topics.selected == "keep", "the selection moved to keep")
