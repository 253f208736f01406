"""The per-partition transaction index: the last stable offset and the aborted transactions a
Fetch returns, and what a read_committed consumer keeps of a log with interleaved producers."""

from __future__ import annotations

from broker_core import Cluster
from broker_core import transaction_index as index
from broker_core.transaction_index import AbortedTransaction, visible_to_read_committed

TOPIC = 1


async def test_lso_follows_the_earliest_undecided_transaction(cluster: Cluster) -> None:
    async with cluster.storage.write() as conn:
        await index.ensure_tables(conn)
        assert await index.last_stable_offset(conn, TOPIC, 0, 10) == 10  # no transaction: the HW
        await index.note_transactional_batch(conn, TOPIC, 0, 7, 3)
        await index.note_transactional_batch(conn, TOPIC, 0, 7, 5)  # same transaction: still from 3
        await index.note_transactional_batch(conn, TOPIC, 0, 8, 6)
        assert await index.last_stable_offset(conn, TOPIC, 0, 10) == 3
        assert await index.last_stable_offset(conn, TOPIC, 1, 10) == 10  # another partition
        # Producer 7 commits with a marker at 11, above the HW: still undecided for consumers.
        assert await index.note_marker(conn, TOPIC, 0, 7, 11, True, 10) is None
        assert await index.last_stable_offset(conn, TOPIC, 0, 10) == 3
        # Once the HW passes the marker, producer 8's transaction holds the LSO.
        assert await index.last_stable_offset(conn, TOPIC, 0, 12) == 6
        aborted = await index.note_marker(conn, TOPIC, 0, 8, 12, False, 13)
        assert aborted == AbortedTransaction(8, 6, 12)
        assert await index.last_stable_offset(conn, TOPIC, 0, 13) == 13
        # Producer 7's next transaction starts afresh.
        await index.note_transactional_batch(conn, TOPIC, 0, 7, 13)
        assert await index.last_stable_offset(conn, TOPIC, 0, 14) == 13


async def test_aborted_transactions_a_fetch_lists(cluster: Cluster) -> None:
    async with cluster.storage.write() as conn:
        await index.ensure_tables(conn)
        for producer, first, marker in ((1, 0, 4), (2, 10, 20), (3, 30, 31)):
            await index.note_transactional_batch(conn, TOPIC, 0, producer, first)
            await index.note_marker(conn, TOPIC, 0, producer, marker, False, marker + 1)
        listed = await index.aborted_between(conn, TOPIC, 0, 5, 30)
        assert listed == [AbortedTransaction(2, 10, 20)]  # ended before 5, or started at 30
        assert await index.aborted_between(conn, TOPIC, 0, 4, 31) == [
            AbortedTransaction(1, 0, 4), AbortedTransaction(2, 10, 20), AbortedTransaction(3, 30, 31)]
        # Truncation and retention drop entries as Kafka's txnindex does.
        await index.truncate(conn, TOPIC, 0, 25)
        await index.forget_below(conn, TOPIC, 0, 5)
        assert await index.aborted_between(conn, TOPIC, 0, 0, 100) == [AbortedTransaction(2, 10, 20)]


def test_read_committed_drops_aborted_batches_until_their_marker() -> None:
    # offsets: 0 p1 txn, 1 p2 txn, 2 p1 txn, 3 p9 plain, 4 p1 ABORT, 5 p2 COMMIT, 6 p1 txn (a new one)
    batches = [(0, 1, True, False), (1, 2, True, False), (2, 1, True, False), (3, 9, False, False),
               (4, 1, True, True), (5, 2, True, True), (6, 1, True, False)]
    kept = visible_to_read_committed(batches, [AbortedTransaction(1, 0, 4)])
    assert kept == [False, True, False, True, False, False, True]
