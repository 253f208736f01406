"""``CompletedFetch``: records fetched for one partition that ``poll()`` has not returned yet.

As Kafka's consumer does (its ``CompletedFetch``, drained by ``FetchCollector``), a fetch
reads whole record batches and ``poll()`` hands their records out ``max.poll.records`` at a
time: a batch is read and decoded once, however many polls it takes to return it. The
records are used only while the consumer's position is where they continue from; a seek
elsewhere or a lost partition leaves them unused, as in Kafka.
"""

from __future__ import annotations

from .records import ConsumerRecord, FetchResult, TransactionMark


class CompletedFetch:
    """One partition's fetched records, returned in order from ``position``."""

    __slots__ = ("records", "stream", "index", "position", "next_offset", "marks")

    def __init__(self, result: FetchResult, position: int) -> None:
        #: The records fetched, and how many of them were returned already; or the stream
        #: that decodes them as they are taken.
        self.records = result.records
        self.stream = result.stream
        self.index = 0
        #: The offset the next record returned continues from: the consumer's position while
        #: these records are still the ones to return.
        self.position = position
        #: Where the consumer reads on once every record was returned (past skipped markers).
        self.next_offset = result.next_offset
        #: Transaction marks not yet passed on (they are released as the position passes them).
        self.marks = list(result.transaction_marks)

    @property
    def drained(self) -> bool:
        """Whether every record was returned (for a stream: known once a take found no more)."""
        if self.stream is not None:
            return self.stream.exhausted
        return self.index >= len(self.records)

    def take(self, most: int) -> tuple[list[ConsumerRecord], list[TransactionMark], int | None]:
        """Up to ``most`` records, the transaction marks passed with them, and the position
        after them (None when there is nothing to move past)."""
        if self.stream is not None:
            taken = self.stream.take(most)
            position = self.stream.next_offset
        else:
            start = self.index
            end = min(start + most, len(self.records))
            taken = self.records[start:end]
            self.index = end
            if end >= len(self.records):
                position = self.next_offset if self.next_offset is not None else (
                    taken[-1].offset + 1 if taken else None)
            else:
                position = taken[-1].offset + 1
        if self.drained:
            marks, self.marks = self.marks, []
        elif position is not None:
            marks = [mark for mark in self.marks if mark.offset < position]
            if marks:
                self.marks = [mark for mark in self.marks if mark.offset >= position]
        else:
            marks = []
        if position is not None:
            self.position = position
        return taken, marks, position


__all__ = ["CompletedFetch"]
