"""Admin from the TUI: each form driven from the keyboard, with Kafka's validation inline."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable, Input, Select

from app.screens.admin_form import AdminForm
from app.screens.delete_group_form import DeleteGroupForm
from app.screens.delete_records_form import DeleteRecordsForm
from app.screens.leader_election_form import LeaderElectionForm
from app.screens.offset_reset_form import OffsetResetForm
from app.screens.partitions_form import AddPartitionsForm
from app.screens.topic_configs_form import TopicConfigsForm
from broker_core import Cluster, TopicPartition
from broker_core.delete_records import delete_records
from broker_core.errors import OffsetOutOfRange, PolicyViolation
from broker_core.offset_reset import plan_offset_reset
from broker_core.records import ProducerRecord
from tui_widget_harness import screen_text, wait_for


class FormApp(App):
    """Opens one form and records what it dismissed with."""

    def __init__(self, form: Screen) -> None:
        super().__init__()
        self.form = form
        self.results: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.form, self.results.append)


def flat(app: App) -> str:
    """The screen as one line of words (wrapped lines and borders removed)."""
    return " ".join(screen_text(app).replace("│", " ").replace("┃", " ").replace("█", " ").split())


async def orders(cluster: Cluster, partitions: int = 2, records: int = 10, **config) -> None:
    await cluster.topics.create_topic("orders", partitions=partitions, replication_factor=2, config=config or None)
    for p in range(partitions):
        await cluster.logs.append("orders", p, [ProducerRecord(b"k", f"v{i}".encode()) for i in range(records)],
                                  acks=1)


async def type_in(pilot, form: AdminForm, field_id: str, text: str) -> None:
    field = form.query_one(f"#{field_id}", Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)


async def test_core_delete_records_moves_the_log_start_as_kafka_does(cluster: Cluster) -> None:
    await orders(cluster)
    assert await delete_records(cluster.storage, cluster.clock, "orders", {0: 4}) == {0: 4}
    result = await cluster.logs.read("orders", 0, 4)
    assert result.log_start_offset == 4 and result.records[0].value == b"v4"
    assert await delete_records(cluster.storage, cluster.clock, "orders", {0: 2}) == {0: 4}  # never backwards
    assert await delete_records(cluster.storage, cluster.clock, "orders", {1: -1}) == {1: 10}  # the high watermark
    with pytest.raises(OffsetOutOfRange, match="larger than the high watermark 10"):
        await delete_records(cluster.storage, cluster.clock, "orders", {0: 11})
    await cluster.topics.create_topic("compacted", config={"cleanup.policy": "compact"})
    with pytest.raises(PolicyViolation):
        await delete_records(cluster.storage, cluster.clock, "compacted", {0: 0})


async def test_core_offset_reset_plan_clamps_like_the_tool(cluster: Cluster) -> None:
    await orders(cluster)
    await cluster.groups.reset_offsets("billing", {TopicPartition("orders", 0): 3})
    plan = await plan_offset_reset(cluster.groups, cluster.logs, "billing", "orders", "shift-by", 20, [0])
    assert [(r.current, r.new) for r in plan] == [(3, 10)] and "higher than latest offset" in plan[0].note
    with pytest.raises(Exception, match="no current committed offset"):
        await plan_offset_reset(cluster.groups, cluster.logs, "billing", "orders", "shift-by", 1)
    plan = await plan_offset_reset(cluster.groups, cluster.logs, "billing", "orders", "to-earliest")
    assert [r.new for r in plan] == [0, 0]


async def test_add_partitions_form_checks_as_you_type(cluster: Cluster) -> None:
    await orders(cluster)
    app = FormApp(AddPartitionsForm(cluster, "orders", 2))
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.screen
        await type_in(pilot, form, "partitions", "1")
        await wait_for(pilot, lambda: "INVALID_PARTITIONS" in flat(app), "the inline error")
        await type_in(pilot, form, "partitions", "5")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.results, "the form closed")
        assert (await cluster.topics.describe_topic("orders")).partition_count == 5
        assert app.results == ["orders now has 5 partitions."]


async def test_topic_configs_form_lists_every_config_and_sets_and_deletes_overrides(cluster: Cluster) -> None:
    await orders(cluster, **{"retention.ms": 60000})
    app = FormApp(TopicConfigsForm(cluster, "orders"))
    async with app.run_test(size=(120, 40)) as pilot:
        form = app.screen
        table = form.query_one("#configs", DataTable)
        await wait_for(pilot, lambda: table.row_count > 20, "every config")
        names = [str(key.value) for key in table.rows]
        assert "min.insync.replicas" in names and "segment.bytes" in names
        assert table.get_row("retention.ms")[2] == "override" and table.get_row("segment.ms")[2] == "default"
        table.move_cursor(row=names.index("min.insync.replicas"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.editing == "min.insync.replicas", "the editor")
        await type_in(pilot, form, "config-value", "0")
        await wait_for(pilot, lambda: "Value must be at least 1" in flat(app), "the inline ConfigDef error")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "INVALID_CONFIG" in form.error_text, "the refusal")
        await type_in(pilot, form, "config-value", "2")
        await pilot.press("enter")
        await wait_for(pilot, lambda: str(table.get_row("min.insync.replicas")[1]) == "2", "the new value")
        assert (await cluster.topics.describe_topic("orders")).config["min.insync.replicas"] == 2
        # ctrl+d takes retention.ms back to its default.
        table.focus()
        table.move_cursor(row=names.index("retention.ms"))
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: table.get_row("retention.ms")[2] == "default", "the default again")
        assert "retention.ms" not in (await cluster.topics.describe_topic("orders")).config


async def test_leader_election_form_says_what_happened(cluster: Cluster) -> None:
    await orders(cluster)
    app = FormApp(LeaderElectionForm(cluster, "orders", 2))
    async with app.run_test(size=(80, 24)) as pilot:
        # Leaders are already the preferred replicas: nothing to elect, said inline.
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "ELECTION_NOT_NEEDED" in app.screen.error_text, "the inline answer")
        first = (await cluster.topics.describe_topic("orders")).partitions[0]
        preferred = first.replicas[0]
        await cluster.controller.stop_broker(preferred)
        await cluster.controller.start_broker(preferred)
        while await cluster.controller.fetcher.run_once():
            pass  # the restarted replica catches up and rejoins the ISR
        moved = (await cluster.topics.describe_topic("orders")).partitions[0]
        assert moved.leader != preferred and preferred in moved.isr
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.results, "the election")
        assert app.results[0].startswith("Successfully completed leader election (PREFERRED) for partitions orders-0")
        assert (await cluster.topics.describe_topic("orders")).partitions[0].leader == preferred


async def test_offset_reset_form_shows_the_dry_run_then_executes(cluster: Cluster) -> None:
    await orders(cluster)
    await cluster.groups.reset_offsets("billing", {TopicPartition("orders", 0): 3, TopicPartition("orders", 1): 5})
    app = FormApp(OffsetResetForm(cluster, "billing", "orders"))
    async with app.run_test(size=(100, 30)) as pilot:
        form = app.screen
        form.query_one("#scenario", Select).value = "shift-by"
        await type_in(pilot, form, "value", "-2")
        await pilot.press("enter")
        table = form.query_one("#plan", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, "the NEW-OFFSET table")
        assert [table.get_row_at(i)[2:] for i in range(2)] == [["0", "3", "1"], ["1", "5", "3"]]
        assert (await cluster.groups.fetch_offsets("billing"))[TopicPartition("orders", 0)] == 3  # dry run
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.results, "the reset")
        offsets = await cluster.groups.fetch_offsets("billing")
        assert (offsets[TopicPartition("orders", 0)], offsets[TopicPartition("orders", 1)]) == (1, 3)


async def test_delete_group_form_refuses_an_unknown_group_then_deletes(cluster: Cluster) -> None:
    await orders(cluster)
    await cluster.groups.reset_offsets("billing", {TopicPartition("orders", 0): 3})
    app = FormApp(DeleteGroupForm(cluster, "nobody"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: "GROUP_ID_NOT_FOUND" in app.screen.error_text, "the refusal")
        await type_in(pilot, app.screen, "group", "billing")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.results, "the deletion")
        assert [g.group_id for g in await cluster.groups.list_groups()] == []


async def test_delete_records_form_explains_then_moves_the_log_start(cluster: Cluster) -> None:
    await orders(cluster)
    partitions = list((await cluster.topics.describe_topic("orders")).partitions)
    app = FormApp(DeleteRecordsForm(cluster, "orders", partitions, 1))
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.screen
        await type_in(pilot, form, "offset", "99")
        await wait_for(pilot, lambda: "larger than the high watermark" in flat(app), "the inline error")
        await type_in(pilot, form, "offset", "6")
        await wait_for(pilot, lambda: "Deletes offsets 0–5" in flat(app), "what it will do")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.results, "the deletion")
        assert (await cluster.logs.read("orders", 1, 6)).log_start_offset == 6
        assert (await cluster.logs.read("orders", 0, 0)).log_start_offset == 0


async def test_admin_menu_palette_and_min_insync_replicas_at_creation(cluster: Cluster) -> None:
    from app.screens.admin_menu import AdminCommands, AdminMenuScreen
    from app.screens.topic_form import TopicFormScreen
    from app.tui import PlaygroundApp
    from widgets.partition_view import PartitionView

    await orders(cluster)
    app = PlaygroundApp(cluster, keymap={}, connect=False, freeze_gc=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(PartitionView))
                       and len(app.screen.query_one(PartitionView).partitions) == 2, "the main screen")
        main = app.screen
        # Every form is in the command palette.
        hits = [hit.text async for hit in AdminCommands(main).discover()]
        assert {"Admin: Topic configs", "Admin: Add partitions", "Admin: Leader election",
                "Admin: Reset group offsets", "Admin: Delete group", "Admin: Delete records"} <= set(map(str, hits))
        # A opens the menu; Enter on an entry opens its form with the selected topic.
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, AdminMenuScreen), "the admin menu")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AddPartitionsForm), "the add-partitions form")
        await type_in(pilot, app.screen, "partitions", "3")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is main, "back on the main screen")
        assert (await cluster.topics.describe_topic("orders")).partition_count == 3
        # The topic form takes min.insync.replicas and warns when it exceeds the replication factor.
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, TopicFormScreen), "the topic form")
        form = app.screen
        await pilot.press(*"safe")
        form.query_one("#replication-factor", Input).value = "2"
        form.query_one("#min-insync-replicas", Input).value = "3"
        await wait_for(pilot, lambda: "every acks=all write will fail" in flat(app), "the warning")
        form.query_one("#min-insync-replicas", Input).value = "0"
        await wait_for(pilot, lambda: "Value must be at least 1" in flat(app), "the inline error")
        form.query_one("#min-insync-replicas", Input).value = "2"
        form.query_one("#name", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is main, "the topic created")
        assert (await cluster.topics.describe_topic("safe")).config["min.insync.replicas"] == 2
