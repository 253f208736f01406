"""``RecordChosen``: a view asks for one record to be opened whole (the record view)."""

from __future__ import annotations

from textual.message import Message


class RecordChosen(Message):
    """Open ``topic``-``partition`` at ``offset`` in the record view (posted on Enter)."""

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        super().__init__()
        self.topic = topic
        self.partition = partition
        self.offset = offset
