"""The SchemaPane widget through Textual's Pilot: live subjects and versions, schemas drawn safely."""

from __future__ import annotations

import json

from textual.app import App, ComposeResult

from broker_core import Cluster
from tui_widget_harness import screen_styles_have_link, screen_text, wait_for
from widgets import schema_pane
from widgets.schema_pane import SchemaPane, SubjectTree

USER_V1 = json.dumps({"type": "record", "name": "User", "fields": [{"name": "id", "type": "int"}]})
USER_V2 = json.dumps({"type": "record", "name": "User", "fields": [
    {"name": "id", "type": "int"}, {"name": "email", "type": "string", "default": "[bold red]x[/]"}]})


class SchemaApp(App):
    """The schema pane alone, as the main screen will hold it."""

    CSS_PATH = [schema_pane.CSS_FILE]

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.selected: list[SchemaPane.VersionSelected] = []

    def compose(self) -> ComposeResult:
        yield SchemaPane(self.cluster)

    def on_schema_pane_version_selected(self, message: SchemaPane.VersionSelected) -> None:
        self.selected.append(message)


async def test_subjects_and_versions_appear_live_and_the_schema_is_drawn(cluster: Cluster) -> None:
    app = SchemaApp(cluster)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: "No schemas yet" in screen_text(app), "the empty hint")
        await cluster.schemas.register_schema("users-value", USER_V1)
        await wait_for(pilot, lambda: "users-value  v1" in screen_text(app), "the new subject")
        assert "global BACKWARD" in screen_text(app)

        # Registered elsewhere (another Cluster is another connection, like another process).
        async with await Cluster.open(cluster.path) as other:
            await other.schemas.register_schema("users-value", USER_V2)
            await other.schemas.set_compatibility("FULL", "users-value")
            await other.schemas.register_schema("orders-key", '"string"')
        await wait_for(pilot, lambda: "users-value  v2  FULL" in screen_text(app), "the second version")
        assert "orders-key  v1" in screen_text(app)

        tree = app.query_one(SubjectTree)
        tree.focus()
        await pilot.press("g", "j")  # users-value (orders-key comes first)
        await wait_for(pilot, lambda: '"email"' in screen_text(app), "the latest schema of users-value")
        # A default that looks like markup is drawn as the text it is.
        assert "[bold red]x[/]" in screen_text(app) and not screen_styles_have_link(app)
        await pilot.press("l", "j")  # open the subject: v2 (newest first) then v1
        await wait_for(pilot, lambda: "v2  id 2  latest" in screen_text(app), "the versions")
        await pilot.press("j", "enter")
        await wait_for(pilot, lambda: bool(app.selected), "the selection message")
        assert (app.selected[-1].subject, app.selected[-1].version, app.selected[-1].schema_id) == ("users-value", 1, 1)
        await wait_for(pilot, lambda: '"email"' not in screen_text(app) and "v1  id 1" in screen_text(app),
                       "the first version's schema")


async def test_deleted_versions_disappear_and_can_be_shown(cluster: Cluster) -> None:
    await cluster.schemas.register_schema("users-value", USER_V1)
    await cluster.schemas.register_schema("users-value", USER_V2)
    app = SchemaApp(cluster)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: "users-value  v2" in screen_text(app), "the subject")
        await cluster.schemas.delete_version("users-value", 2)
        await wait_for(pilot, lambda: "users-value  v1" in screen_text(app), "the latest live version")
        await cluster.schemas.delete_subject("users-value")
        await wait_for(pilot, lambda: "No schemas yet" in screen_text(app), "the empty pane")
        app.query_one(SubjectTree).focus()
        await pilot.press("D")
        await wait_for(pilot, lambda: "users-value  v2" in screen_text(app), "the deleted versions shown")


async def test_subject_names_never_draw_escapes(cluster: Cluster) -> None:
    # The registry refuses control characters in subjects; markup-like names are legal and drawn as text.
    await cluster.schemas.register_schema("[link=http://e]y[/link]-value", USER_V1)
    app = SchemaApp(cluster)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: "[link=http://e]y[/link]-value" in screen_text(app), "the literal name")
        assert not screen_styles_have_link(app)
