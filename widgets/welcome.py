"""The welcome panel: what to try first on an empty cluster, with the keys for each step."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Mapping

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from broker_core import Cluster

from .safe_text import printable

#: This widget's stylesheet, for the screen's CSS_PATH.
CSS_FILE = Path(__file__).with_suffix(".tcss")


class WelcomePanel(Static):
    """Shown while the cluster has no topic, so a first-time user is never left guessing.

    ``keys`` maps the steps "new_topic", "help", "explain" and "palette" to the keys that
    trigger them now (after the user's remapping), as the screen knows them.
    """

    def __init__(self, cluster: Cluster, keys: Mapping[str, str], *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(self.message(cluster, keys), id=id, classes=classes)
        self.cluster = cluster

    @staticmethod
    def message(cluster: Cluster, keys: Mapping[str, str]) -> RenderableType:
        """The panel's content for ``cluster`` with ``keys``."""
        data = shlex.quote(str(cluster.path))
        steps = Table.grid(padding=(0, 1))
        steps.add_column(justify="right", no_wrap=True)
        steps.add_column()
        for key, what in (
            (keys.get("new_topic", "n"), "create a topic (try 3 partitions, replication factor 2),"),
            ("", "then type a value in the producer box and press enter"),
            (keys.get("explain", "i"), "explain the pane you are in: a partition, the ISR, lag..."),
            (keys.get("help", "?"), "list every key"),
            (keys.get("palette", ":"), "find any action by name"),
        ):
            steps.add_row(Text(f" {key} ", style="bold reverse") if key else Text(""), Text(what))
        commands = Table.grid(padding=(0, 0, 0, 2))
        commands.add_column(overflow="fold")
        for line in (f"kplay --data {data} console-producer --topic orders",
                     f"kplay --data {data} console-consumer --topic orders --from-beginning"):
            commands.add_row(Text(printable(line, 300), style="italic"))
        return Group(
            Text("Welcome to kplay, a Kafka playground. No topic yet; try:", style="bold"),
            Text(""),
            steps,
            Text(""),
            Text.assemble("Lessons: ", ("kplay demo", "italic"), " lists them, ",
                          ("kplay demo first-steps", "italic"), " plays the first."),
            Text(""),
            Text("From a second terminal, produce and watch it arrive:"),
            commands,
        )
