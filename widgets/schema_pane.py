"""``SchemaPane``: the Schema Registry's subjects and versions, live, and the selected schema.

A tree of subjects (each with its latest version and its own compatibility level, if it
has one) whose branches are the versions with their global ids; under it the schema of
the version under the cursor. It rereads the registry after each batch of registry
events from the change feed, so a schema registered by another terminal (``kplay
schema-registry --register``, a producer's serializer, a connector) appears at once.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, NamedTuple

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from broker_core import Cluster
from broker_core.errors import KafkaError
from broker_core.schema_registry import SubjectSummary

from .safe_text import printable

#: This widget's stylesheet, for the screen's CSS_PATH.
CSS_FILE = Path(__file__).with_suffix(".tcss")
#: Registry events that change what the pane shows.
FEED_KINDS = ("schema_registered", "schema_deleted", "compatibility_changed", "resync")
#: Shortest pause between two rereads: a burst of registrations is drawn once per frame.
FRAME_S = 1 / 30
#: Subjects listed at most (the rest are counted).
MAX_SUBJECTS = 500
#: Lines of a schema drawn at most.
MAX_SCHEMA_LINES = 400
#: Longest subject name or schema line drawn.
LINE_LIMIT = 200
EMPTY_HINT = ("No schemas yet. Register one with `kplay schema-registry --register SUBJECT FILE.avsc`, "
              "or produce with an Avro serializer: its subject is <topic>-value.")


class VersionRef(NamedTuple):
    """What a version node of the tree stands for."""

    subject: str
    version: int
    schema_id: int


class SubjectTree(Tree[str | VersionRef]):
    """The subjects-and-versions tree, with vim-style movement."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="schema-pane.down"),
        Binding("k", "cursor_up", "Up", show=False, id="schema-pane.up"),
        Binding("g", "scroll_home", "First", show=False, id="schema-pane.first"),
        Binding("G", "scroll_end", "Last", show=False, id="schema-pane.last"),
        Binding("l", "expand_subject", "Versions", show=False, id="schema-pane.expand"),
        Binding("h", "cursor_parent", "Subject", show=False, id="schema-pane.subject"),
    ]

    def action_expand_subject(self) -> None:
        """Open the subject under the cursor to show its versions."""
        node = self.cursor_node
        if node is not None and node.allow_expand:
            node.expand()


class SchemaPane(Vertical):
    """The Schema Registry: subjects, their versions and ids, and the schema under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("D", "toggle_deleted", "Show deleted", id="schema-pane.toggle-deleted"),
    ]

    @dataclass
    class VersionSelected(Message):
        """A version was chosen (Enter) in the schema pane."""

        subject: str
        version: int
        schema_id: int

    def __init__(self, cluster: Cluster, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.cluster = cluster
        self.subjects: list[SubjectSummary] = []
        self.global_level = ""
        self.show_deleted = False
        self.shown: VersionRef | None = None  # the version whose schema is drawn

    def compose(self) -> ComposeResult:
        tree = SubjectTree("Schema Registry", id="schema-pane-tree")
        tree.show_root = False
        tree.auto_expand = True
        yield tree
        with VerticalScroll(id="schema-pane-detail"):
            yield Static(Text(EMPTY_HINT, style="italic"), id="schema-pane-schema", markup=False)

    def on_mount(self) -> None:
        self.border_title = "Schemas"
        self._follow_feed()

    @work(group="schema-pane-feed")
    async def _follow_feed(self) -> None:
        """Read the registry once, then again after each batch of registry events."""
        await self.cluster.start_feed()
        sub = self.cluster.feed.subscribe(*FEED_KINDS)
        try:
            await self.reload()
            while True:
                await sub.get()
                sub.get_nowait()  # the whole batch is one reread
                await self.reload()
                await asyncio.sleep(FRAME_S)
        finally:
            sub.close()

    async def reload(self) -> None:
        """Reread subjects, versions and levels; rebuild the tree only if they changed."""
        registry = self.cluster.schemas
        try:
            subjects = await registry.describe_subjects(deleted=self.show_deleted, limit=MAX_SUBJECTS + 1)
            global_level = await registry.get_compatibility()
        except KafkaError:
            return
        if subjects == self.subjects and global_level == self.global_level:
            return
        self.subjects, self.global_level = subjects, global_level
        self.border_subtitle = f"global {global_level}"
        self._rebuild_tree()
        listed = {VersionRef(s.subject, v, i) for s in subjects for v, i in s.versions}
        if self.shown is not None and self.shown in listed:
            self._show_schema(self.shown)  # its level or deleted mark may have changed
        elif subjects and subjects[0].latest is not None:
            # Until a version is chosen, the first subject's latest schema: something to read at once.
            self._show_schema(VersionRef(subjects[0].subject, *subjects[0].latest))
        else:
            self.shown = None
            self._detail().update(Text(EMPTY_HINT if not subjects else "Move to a version to see its schema.",
                                       style="italic"))

    def _rebuild_tree(self) -> None:
        tree = self.query_one(SubjectTree)
        expanded = {node.data for node in tree.root.children if node.is_expanded}
        cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        tree.clear()
        target: TreeNode[str | VersionRef] | None = None
        for summary in self.subjects[:MAX_SUBJECTS]:
            node = tree.root.add(_subject_label(summary), summary.subject,
                                 expand=summary.subject in expanded)
            if cursor == summary.subject:
                target = node
            for version, schema_id in reversed(summary.versions):  # newest first
                ref = VersionRef(summary.subject, version, schema_id)
                leaf = node.add_leaf(_version_label(ref, version == summary.versions[-1][0]), ref)
                if cursor == ref:
                    target = leaf
        if len(self.subjects) > MAX_SUBJECTS:
            tree.root.add_leaf(Text(f"+ more subjects (showing the first {MAX_SUBJECTS})", style="dim"))
        if target is not None:
            self.call_after_refresh(tree.move_cursor, target)

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        data = event.node.data
        if isinstance(data, VersionRef):
            self._show_schema(data)
        elif isinstance(data, str):
            summary = next((s for s in self.subjects if s.subject == data), None)
            if summary is not None and summary.latest is not None:
                self._show_schema(VersionRef(data, *summary.latest))

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected) -> None:
        data = event.node.data
        if isinstance(data, VersionRef):
            self.post_message(self.VersionSelected(data.subject, data.version, data.schema_id))

    @work(group="schema-pane-detail", exclusive=True)
    async def _show_schema(self, ref: VersionRef) -> None:
        """Draw one version's schema under the tree."""
        self.shown = ref
        try:
            found = await self.cluster.schemas.get_version(ref.subject, ref.version, deleted=True)
            level = await self.cluster.schemas.effective_compatibility(ref.subject)
        except KafkaError as error:
            self._detail().update(Text(printable(str(error), LINE_LIMIT), style="italic"))
            return
        heading = Text(no_wrap=True, overflow="ellipsis")
        heading.append(printable(found.subject, LINE_LIMIT), "bold")
        heading.append(f"  v{found.version}", "bold cyan")
        heading.append(f"  id {found.schema_id}", "cyan")
        heading.append(f"  {level}", "dim")
        if found.deleted:
            heading.append("  deleted", "bold red")
        lines = json.dumps(json.loads(found.schema), indent=2, ensure_ascii=False).splitlines()
        body = Text("\n".join(printable(line, LINE_LIMIT) for line in lines[:MAX_SCHEMA_LINES]))
        parts: list[Text] = [heading, body]
        if len(lines) > MAX_SCHEMA_LINES:
            parts.append(Text(f"… {len(lines) - MAX_SCHEMA_LINES} more lines", style="dim"))
        self._detail().update(Group(*parts))

    def action_toggle_deleted(self) -> None:
        """Show or hide soft-deleted versions and subjects."""
        self.show_deleted = not self.show_deleted
        self.run_worker(self.reload(), group="schema-pane-reload", exclusive=True)

    def _detail(self) -> Static:
        return self.query_one("#schema-pane-schema", Static)


def _subject_label(summary: SubjectSummary) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(printable(summary.subject, LINE_LIMIT), "bold")
    if summary.latest is not None:
        label.append(f"  v{summary.latest[0]}", "cyan")
    if summary.level is not None:
        label.append(f"  {summary.level}", "yellow")
    return label


def _version_label(ref: VersionRef, latest: bool) -> Text:
    label = Text(no_wrap=True)
    label.append(f"v{ref.version}", "bold" if latest else "")
    label.append(f"  id {ref.schema_id}", "dim")
    if latest:
        label.append("  latest", "green")
    return label
