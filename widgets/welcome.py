"""The welcome panel: what to try first on an empty cluster, with the keys for each step."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from .safe_text import printable

#: This widget's stylesheet, for the screen's CSS_PATH.
CSS_FILE = Path(__file__).with_suffix(".tcss")


class WelcomePanel(Static):
    """Shown while the cluster has no topic, so a first-time user is never left guessing.

    ``keys`` maps the steps "new_topic", "help", "explain" and "palette" to the keys that
    trigger them now (after the user's remapping), as the screen knows them.
    """

    def __init__(self, where: str, keys: Mapping[str, str], *, playground: bool = True, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(self.message(where, keys, playground=playground), id=id, classes=classes)

    @staticmethod
    def message(where: str, keys: Mapping[str, str], *, playground: bool = True) -> RenderableType:
        """The panel's content with ``keys``: ``where`` is the option that names the cluster to the
        command-line tools (``--data PATH`` or ``--cluster NAME``); lessons only on the ``playground``."""
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
        for line in (f"kplay {where} console-producer --topic orders",
                     f"kplay {where} console-consumer --topic orders --from-beginning"):
            commands.add_row(Text(printable(line, 300), style="italic"))
        lessons = [Text.assemble("Lessons: ", ("kplay demo", "italic"), " lists them, ",
                                 ("kplay demo first-steps", "italic"), " plays the first."), Text("")]
        return Group(
            Text("Welcome to kplay, a Kafka playground. No topic yet; try:" if playground
                 else "This cluster has no topic yet; try:", style="bold"),
            Text(""),
            steps,
            Text(""),
            *(lessons if playground else []),
            Text("From a second terminal, produce and watch it arrive:"),
            commands,
        )
