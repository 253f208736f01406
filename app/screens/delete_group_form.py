"""Delete a consumer group and its committed offsets (``kafka-consumer-groups --delete``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input

from broker_core import Cluster

from .admin_form import AdminForm


class DeleteGroupForm(AdminForm):
    """Delete the group typed (only an Empty group can be deleted, as in Kafka)."""

    TITLE_TEXT = "Delete a consumer group"
    HINT = "enter deletes · escape cancels"

    def __init__(self, cluster: Cluster, group: str = "") -> None:
        super().__init__(cluster)
        self.group = group

    def compose_fields(self) -> ComposeResult:
        yield from self.field_row("Group", Input(self.group, placeholder="group id", id="group"), "group",
                                  "Its committed offsets go with it. A group with members cannot be deleted.")

    def on_mount(self) -> None:
        self.query_one("#group", Input).focus()

    async def submit(self) -> str:
        group = self.value("group").strip()
        if not group:
            raise ValueError("Type the group id.")
        await self.cluster.groups.delete_group(group)
        return f"Deletion of requested consumer groups ('{group}') was successful."
