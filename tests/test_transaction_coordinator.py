"""The transaction coordinator in the core: transactional ids, epochs and fencing, the state
machine, offsets held until commit, timeouts, and several processes on one file.

Driven with the calls a transactional producer makes (InitProducerId, AddPartitionsToTxn,
AddOffsetsToTxn, TxnOffsetCommit, EndTxn); the clock is a ManualClock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from broker_core import Cluster, ManualClock, TopicPartition
from broker_core.errors import (ConcurrentTransactions, InvalidProducerEpoch, InvalidProducerIdMapping,
                                InvalidTransactionTimeout, InvalidTxnState, ProducerFenced,
                                TransactionalIdNotFound, UnknownTopicOrPartition)
from broker_core.events import TransactionStateChanged
from broker_core.transactions import ProducerIdAndEpoch

TIMEOUT_MS = 60_000


@pytest.fixture
async def orders(cluster: Cluster) -> Cluster:
    await cluster.topics.create_topic("orders", 3, 1)
    await cluster.topics.create_topic("totals", 1, 1)
    return cluster


async def test_init_producer_id_creates_the_id_then_bumps_its_epoch(orders: Cluster) -> None:
    txns = orders.transactions
    first = await txns.init_producer_id("app-1", TIMEOUT_MS)
    assert first.producer_epoch == 0
    again = await txns.init_producer_id("app-1", TIMEOUT_MS)
    assert again == ProducerIdAndEpoch(first.producer_id, 1)
    other = await txns.init_producer_id("app-2", TIMEOUT_MS)
    assert other.producer_id != first.producer_id
    # An idempotent producer's id never collides with a transactional one.
    assert await orders.logs.new_producer_id() not in {first.producer_id, other.producer_id}
    described = await txns.describe("app-1")
    assert (described.state, described.producer_epoch, described.timeout_ms) == ("Empty", 1, TIMEOUT_MS)


async def test_a_timeout_above_the_brokers_maximum_is_refused(orders: Cluster) -> None:
    with pytest.raises(InvalidTransactionTimeout, match="transaction.max.timeout.ms=900000"):
        await orders.transactions.init_producer_id("app", 900_001)
    with pytest.raises(InvalidTransactionTimeout):
        await orders.transactions.init_producer_id("app", 0)


async def test_commit_moves_through_the_states_and_hands_the_offsets_to_the_group(orders: Cluster) -> None:
    txns = orders.transactions
    pid = await txns.init_producer_id("app", TIMEOUT_MS)
    await txns.add_partitions("app", pid.producer_id, pid.producer_epoch,
                              [TopicPartition("totals", 0), TopicPartition("orders", 1)])
    await txns.add_offsets("app", pid.producer_id, pid.producer_epoch, "readers")
    await txns.commit_offsets("app", "readers", pid.producer_id, pid.producer_epoch,
                              {TopicPartition("orders", 0): (42, "m")})
    described = await txns.describe("app")
    assert described.state == "Ongoing"
    assert described.start_time_ms == orders.clock.now_ms()
    assert described.partitions == (TopicPartition("orders", 1), TopicPartition("totals", 0))
    assert described.groups == ("readers",)
    # Held back until the commit: the group does not see the offset yet.
    assert await orders.groups.fetch_offsets("readers") == {}

    await txns.end_transaction("app", pid.producer_id, pid.producer_epoch, commit=True)
    assert await orders.groups.fetch_offsets("readers") == {TopicPartition("orders", 0): 42}
    done = await txns.describe("app")
    assert (done.state, done.partitions, done.groups, done.start_time_ms) == ("CompleteCommit", (), (), -1)
    # A retry of the same EndTxn succeeds; ending it the other way does not.
    await txns.end_transaction("app", pid.producer_id, pid.producer_epoch, commit=True)
    with pytest.raises(InvalidTxnState):
        await txns.end_transaction("app", pid.producer_id, pid.producer_epoch, commit=False)


async def test_abort_drops_the_offsets(orders: Cluster) -> None:
    txns = orders.transactions
    pid = await txns.init_producer_id("app", TIMEOUT_MS)
    await txns.add_offsets("app", pid.producer_id, pid.producer_epoch, "readers")
    await txns.commit_offsets("app", "readers", pid.producer_id, pid.producer_epoch,
                              {TopicPartition("orders", 0): (7, "")})
    await txns.end_transaction("app", pid.producer_id, pid.producer_epoch, commit=False)
    assert await orders.groups.fetch_offsets("readers") == {}
    assert (await txns.describe("app")).state == "CompleteAbort"
    # The next transaction starts from there, with the same epoch.
    await txns.add_partitions("app", pid.producer_id, pid.producer_epoch, [TopicPartition("orders", 2)])
    assert (await txns.describe("app")).state == "Ongoing"


async def test_ending_an_empty_transaction_is_invalid(orders: Cluster) -> None:
    pid = await orders.transactions.init_producer_id("app", TIMEOUT_MS)
    with pytest.raises(InvalidTxnState, match="Empty"):
        await orders.transactions.end_transaction("app", pid.producer_id, pid.producer_epoch, commit=True)


async def test_a_new_producer_fences_the_zombie(orders: Cluster) -> None:
    txns = orders.transactions
    zombie = await txns.init_producer_id("app", TIMEOUT_MS)
    await txns.add_partitions("app", zombie.producer_id, zombie.producer_epoch, [TopicPartition("orders", 0)])
    # The new instance's InitProducerId aborts the zombie's transaction and asks for a retry...
    with pytest.raises(ConcurrentTransactions):
        await txns.init_producer_id("app", TIMEOUT_MS)
    assert (await txns.describe("app")).state == "CompleteAbort"
    new = await txns.init_producer_id("app", TIMEOUT_MS)
    assert new == ProducerIdAndEpoch(zombie.producer_id, zombie.producer_epoch + 2)
    # ...and everything the zombie tries from then on is fenced.
    with pytest.raises(ProducerFenced):
        await txns.add_partitions("app", zombie.producer_id, zombie.producer_epoch, [TopicPartition("orders", 1)])
    with pytest.raises(ProducerFenced):
        await txns.add_offsets("app", zombie.producer_id, zombie.producer_epoch, "readers")
    with pytest.raises(ProducerFenced):
        await txns.end_transaction("app", zombie.producer_id, zombie.producer_epoch, commit=True)
    with pytest.raises(InvalidProducerEpoch):
        await txns.check_transactional_produce(zombie.producer_id, zombie.producer_epoch, "orders", 0)
    # KIP-360: an InitProducerId naming another producer's id is fenced too.
    with pytest.raises(ProducerFenced):
        await txns.init_producer_id("app", TIMEOUT_MS, ProducerIdAndEpoch(zombie.producer_id + 1000, 0))


async def test_requests_for_unknown_ids_and_partitions(orders: Cluster) -> None:
    txns = orders.transactions
    with pytest.raises(InvalidProducerIdMapping):
        await txns.add_partitions("nobody", 1, 0, [TopicPartition("orders", 0)])
    with pytest.raises(TransactionalIdNotFound):
        await txns.describe("nobody")
    pid = await txns.init_producer_id("app", TIMEOUT_MS)
    with pytest.raises(InvalidProducerIdMapping):
        await txns.end_transaction("app", pid.producer_id + 1, pid.producer_epoch, commit=True)
    with pytest.raises(UnknownTopicOrPartition, match="orders-9"):
        await txns.add_partitions("app", pid.producer_id, pid.producer_epoch,
                                  [TopicPartition("orders", 0), TopicPartition("orders", 9)])
    # Nothing of a refused request was added.
    assert (await txns.describe("app")).state == "Empty"
    with pytest.raises(InvalidTxnState, match="AddOffsetsToTxn"):
        await txns.commit_offsets("app", "readers", pid.producer_id, pid.producer_epoch,
                                  {TopicPartition("orders", 0): (1, "")})


async def test_produce_is_checked_against_the_ongoing_transaction(orders: Cluster) -> None:
    txns = orders.transactions
    pid = await txns.init_producer_id("app", TIMEOUT_MS)
    with pytest.raises(InvalidTxnState, match="AddPartitionsToTxn"):
        await txns.check_transactional_produce(pid.producer_id, pid.producer_epoch, "orders", 0)
    await txns.add_partitions("app", pid.producer_id, pid.producer_epoch, [TopicPartition("orders", 0)])
    await txns.check_transactional_produce(pid.producer_id, pid.producer_epoch, "orders", 0)
    with pytest.raises(InvalidTxnState):
        await txns.check_transactional_produce(pid.producer_id, pid.producer_epoch, "orders", 1)


async def test_a_hung_transaction_is_aborted_after_its_timeout(orders: Cluster, clock: ManualClock) -> None:
    txns = orders.transactions
    pid = await txns.init_producer_id("app", 5_000)
    await txns.add_partitions("app", pid.producer_id, pid.producer_epoch, [TopicPartition("orders", 0)])
    clock.advance(5_000)
    assert await txns.abort_timed_out() == []  # not older than its timeout yet
    clock.advance(1)
    assert await txns.abort_timed_out() == ["app"]
    described = await txns.describe("app")
    assert (described.state, described.producer_epoch) == ("CompleteAbort", pid.producer_epoch + 1)
    # The producer that hung is fenced when it wakes up.
    with pytest.raises(ProducerFenced):
        await txns.end_transaction("app", pid.producer_id, pid.producer_epoch, commit=True)


async def test_transactional_ids_idle_for_a_week_are_forgotten(orders: Cluster, clock: ManualClock) -> None:
    txns = orders.transactions
    await txns.init_producer_id("idle", TIMEOUT_MS)
    clock.advance(604_800_000 + 1)
    await txns.init_producer_id("busy", TIMEOUT_MS)
    assert await txns.expire_transactional_ids() == ["idle"]
    assert [t.transactional_id for t in await txns.list_transactions()] == ["busy"]


async def test_list_filters_by_state_and_producer(orders: Cluster) -> None:
    txns = orders.transactions
    a = await txns.init_producer_id("a", TIMEOUT_MS)
    b = await txns.init_producer_id("b", TIMEOUT_MS)
    await txns.add_partitions("b", b.producer_id, b.producer_epoch, [TopicPartition("orders", 0)])
    assert [(t.transactional_id, t.state) for t in await txns.list_transactions()] == [("a", "Empty"),
                                                                                       ("b", "Ongoing")]
    assert [t.transactional_id for t in await txns.list_transactions(states=["Ongoing"])] == ["b"]
    assert [t.transactional_id for t in await txns.list_transactions(producer_ids=[a.producer_id])] == ["a"]


async def test_state_changes_reach_the_change_feed(orders: Cluster) -> None:
    feed = await orders.start_feed()
    events = feed.subscribe("transaction_state")
    try:
        pid = await orders.transactions.init_producer_id("app", TIMEOUT_MS)
        await orders.transactions.add_partitions("app", pid.producer_id, pid.producer_epoch,
                                                 [TopicPartition("orders", 0)])
        seen = []
        while len(seen) < 2:
            event = await events.get()
            assert isinstance(event, TransactionStateChanged)
            seen.append((event.transactional_id, event.state))
        assert seen == [("app", "Empty"), ("app", "Ongoing")]
    finally:
        events.close()


async def test_two_processes_share_the_coordinators_state(orders: Cluster, data_path: Path,
                                                          clock: ManualClock) -> None:
    """Another opener of the file (another process in real use) sees and fences the same ids."""
    pid = await orders.transactions.init_producer_id("app", TIMEOUT_MS)
    other = await Cluster.open(data_path, clock=clock)
    try:
        newer = await other.transactions.init_producer_id("app", TIMEOUT_MS)
        assert newer.producer_epoch == pid.producer_epoch + 1
        with pytest.raises(ProducerFenced):
            await orders.transactions.add_partitions("app", pid.producer_id, pid.producer_epoch,
                                                     [TopicPartition("orders", 0)])
        await other.transactions.add_partitions("app", newer.producer_id, newer.producer_epoch,
                                                [TopicPartition("orders", 0)])
        clock.advance(TIMEOUT_MS + 1)
        # Both run the timeout check; the transaction is aborted once.
        assert await orders.transactions.abort_timed_out() == ["app"]
        assert await other.transactions.abort_timed_out() == []
        assert (await other.transactions.describe("app")).state == "CompleteAbort"
    finally:
        await other.close()


async def test_a_file_without_transactions_is_only_read(cluster: Cluster) -> None:
    """The background check and the TUI's listing look without writing: a data file that never
    saw a transactional producer gets no coordinator tables from them."""
    async def tables() -> set[str]:
        rows = await cluster.storage.fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        return {name for (name,) in rows}

    assert await cluster.transactions.abort_timed_out() == []
    assert await cluster.transactions.expire_transactional_ids() == []
    assert await cluster.transactions.list_transactions() == []
    with pytest.raises(TransactionalIdNotFound):
        await cluster.transactions.describe("nobody")
    assert "transactions" not in await tables()
    await cluster.transactions.init_producer_id("app", TIMEOUT_MS)
    assert "transactions" in await tables()
