"""Each topic's partition offsets as of the data file's last commit, for ListOffsets.

librdkafka starting a consumer from the beginning sends one ListOffsets per partition: on
a 10,000-partition topic, 10,000 requests, each a round trip to the database thread. Here a
topic's log start offsets, high watermarks and last stable offsets are read in one query and
kept, tagged with ``ChangeFeed.committed_version()`` (``PRAGMA data_version`` on the feed's
own connection, read on the event loop without a thread hop). It moves on any commit by any
process sharing the data file, and a snapshot is used only while it has not moved: an answer
is never older than the last commit.

A whole-topic read costs about as much as a single-partition lookup per ~50 partitions, so
under constant writes (the version moving between requests) a large topic is read whole
only once enough requests missed to pay for it; a miss otherwise goes the usual way.
"""

from __future__ import annotations

import asyncio

from broker_core import Cluster
from broker_core.log import PartitionOffsets

#: About how many partitions' offsets one whole-topic read fetches for the cost of one
#: single-partition lookup (a round trip to the database thread): 2 µs a row against ~100 µs.
ROWS_PER_LOOKUP = 50


class OffsetsSnapshots:
    """Topics' partition offsets, kept while nothing is committed to the data file."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._snapshots: dict[str, tuple[int, dict[int, PartitionOffsets]]] = {}
        self._misses: dict[str, int] = {}
        self._loading: dict[str, tuple[int, asyncio.Future[dict[int, PartitionOffsets]]]] = {}

    async def of(self, topic: str, partitions: int) -> dict[int, PartitionOffsets] | None:
        """``topic``'s offsets by partition as of the last commit, or None when the caller must
        look them up itself (the feed cannot say what changed, or a whole-topic read would not
        pay for itself yet). ``partitions`` is the topic's partition count (what a read costs)."""
        version = self._cluster.feed.committed_version()
        if version < 0:
            return None
        kept = self._snapshots.get(topic)
        if kept is not None and kept[0] == version:
            return kept[1]
        misses = self._misses.get(topic, 0) + 1
        if kept is not None and misses * ROWS_PER_LOOKUP < partitions:
            self._misses[topic] = misses
            return None
        self._misses[topic] = 0
        # One read for every request that asks meanwhile at this version (a consumer's start
        # sends one ListOffsets per broker at once).
        loading = self._loading.get(topic)
        if loading is None or loading[0] != version:
            loading = self._loading[topic] = (version, asyncio.ensure_future(self._read(topic, version)))
        return await asyncio.shield(loading[1])

    async def _read(self, topic: str, version: int) -> dict[int, PartitionOffsets]:
        try:
            found = await self._cluster.logs.partition_offsets([topic])
        finally:
            if self._loading.get(topic, (None,))[0] == version:
                del self._loading[topic]
        offsets = {partition: state for (_, partition), state in found.items()}
        # Tagged with the version read before the query: a commit in between moves it again,
        # and this snapshot (perhaps newer than its tag) is then not used.
        self._snapshots[topic] = (version, offsets)
        return offsets
