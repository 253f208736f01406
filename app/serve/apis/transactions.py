"""The transaction coordinator's APIs: InitProducerId with a transactional id,
AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn, DescribeTransactions and
ListTransactions, each a call on the core's ``TransactionCoordinator``.

As with groups, a transactional id belongs to one coordinator (FindCoordinator key type
TRANSACTION names it: the same hash onto 50 partitions that Kafka uses for
``__transaction_state``); any other broker answers NOT_COORDINATOR.
"""

from __future__ import annotations

from typing import Any

from kafka.protocol.admin import DescribeTransactionsResponse, ListTransactionsResponse
from kafka.protocol.producer import (AddOffsetsToTxnResponse, AddPartitionsToTxnResponse, EndTxnResponse,
                                     InitProducerIdResponse, TxnOffsetCommitResponse)

from broker_core.errors import KafkaError, OperationNotAttempted
from broker_core.records import TopicPartition
from broker_core.transactions import STATES, ProducerIdAndEpoch, UnknownPartitions

from .context import RequestContext, WireError, error_code
from .groups import check_coordinator

#: InitProducerId's "no producer id / epoch" (before v3, and from a producer starting afresh).
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1

TopicResult = AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
PartitionResult = TopicResult.AddPartitionsToTxnPartitionResult
TxnResult = AddPartitionsToTxnResponse.AddPartitionsToTxnResult
CommitTopic = TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic
CommitPartition = CommitTopic.TxnOffsetCommitResponsePartition
DescribedState = DescribeTransactionsResponse.TransactionState
ListedState = ListTransactionsResponse.TransactionState


def check_transaction_coordinator(ctx: RequestContext, transactional_id: str) -> None:
    """Raise NotCoordinator unless this listener's broker coordinates ``transactional_id``."""
    check_coordinator(ctx, transactional_id, "transactional id")


async def init_transactional_producer_id(ctx: RequestContext, request: Any) -> InitProducerIdResponse:
    """InitProducerId with a transactional id: its producer id and a new epoch, fencing older ones."""
    expected = None
    if ctx.version >= 3 and request.producer_id != NO_PRODUCER_ID:
        expected = ProducerIdAndEpoch(request.producer_id, request.producer_epoch)
    try:
        check_transaction_coordinator(ctx, request.transactional_id)
        result = await ctx.cluster.transactions.init_producer_id(
            request.transactional_id, request.transaction_timeout_ms, expected)
    except KafkaError as error:
        return InitProducerIdResponse(version=ctx.version, throttle_time_ms=0, error_code=error_code(error),
                                      producer_id=NO_PRODUCER_ID, producer_epoch=NO_PRODUCER_EPOCH)
    return InitProducerIdResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE,
                                  producer_id=result.producer_id, producer_epoch=result.producer_epoch)


async def handle_add_partitions_to_txn(ctx: RequestContext, request: Any) -> AddPartitionsToTxnResponse:
    """AddPartitionsToTxn: a client's one transaction (v0-3), or a batch of them (v4+, as brokers send).

    Every partition of a transaction gets the same answer, except that when some do not
    exist those get UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED, as in Kafka.
    """
    if ctx.version <= 3:
        topics = await _add_partitions(ctx, request.v3_and_below_transactional_id,
                                       request.v3_and_below_producer_id, request.v3_and_below_producer_epoch,
                                       request.v3_and_below_topics)
        return AddPartitionsToTxnResponse(version=ctx.version, throttle_time_ms=0,
                                          results_by_topic_v3_and_below=topics)
    results = []
    for txn in request.transactions:
        if txn.verify_only:
            topics = await _verify_partitions(ctx, txn)
        else:
            topics = await _add_partitions(ctx, txn.transactional_id, txn.producer_id, txn.producer_epoch, txn.topics)
        results.append(TxnResult(transactional_id=txn.transactional_id, topic_results=topics))
    return AddPartitionsToTxnResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE,
                                      results_by_transaction=results)


def _partitions(topics: Any) -> list[TopicPartition]:
    return [TopicPartition(topic.name, partition) for topic in topics for partition in topic.partitions]


def _topic_results(partitions: list[TopicPartition], code_for: Any) -> list[Any]:
    by_topic: dict[str, list[Any]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(PartitionResult(partition_index=tp.partition,
                                                                 partition_error_code=code_for(tp)))
    return [TopicResult(name=name, results_by_partition=results) for name, results in by_topic.items()]


async def _add_partitions(ctx: RequestContext, transactional_id: str, producer_id: int, producer_epoch: int,
                          topics: Any) -> list[Any]:
    partitions = _partitions(topics)
    try:
        check_transaction_coordinator(ctx, transactional_id)
        await ctx.cluster.transactions.add_partitions(transactional_id, producer_id, producer_epoch, partitions)
    except UnknownPartitions as error:
        missing = set(error.partitions)
        return _topic_results(partitions, lambda tp: error.code if tp in missing else OperationNotAttempted.code)
    except KafkaError as error:
        return _topic_results(partitions, lambda tp: error_code(error))
    return _topic_results(partitions, lambda tp: WireError.NONE)


async def _verify_partitions(ctx: RequestContext, txn: Any) -> list[Any]:
    """v4+ ``verify_only``: whether each partition is already part of the ongoing transaction."""
    async def code(tp: TopicPartition) -> int:
        try:
            await ctx.cluster.transactions.check_transactional_produce(txn.producer_id, txn.producer_epoch,
                                                                       tp.topic, tp.partition)
        except KafkaError as error:
            return error_code(error)
        return WireError.NONE

    partitions = _partitions(txn.topics)
    codes = {tp: await code(tp) for tp in partitions}
    return _topic_results(partitions, codes.__getitem__)


async def handle_add_offsets_to_txn(ctx: RequestContext, request: Any) -> AddOffsetsToTxnResponse:
    """AddOffsetsToTxn: the transaction will commit offsets of a consumer group."""
    code = WireError.NONE
    try:
        check_transaction_coordinator(ctx, request.transactional_id)
        await ctx.cluster.transactions.add_offsets(request.transactional_id, request.producer_id,
                                                   request.producer_epoch, request.group_id)
    except KafkaError as error:
        code = error_code(error)
    return AddOffsetsToTxnResponse(version=ctx.version, throttle_time_ms=0, error_code=code)


async def handle_txn_offset_commit(ctx: RequestContext, request: Any) -> TxnOffsetCommitResponse:
    """TxnOffsetCommit (sent to the group's coordinator): offsets the group sees only on commit."""
    offsets = {TopicPartition(topic.name, p.partition_index): (p.committed_offset, p.committed_metadata or "")
               for topic in request.topics for p in topic.partitions}
    code = WireError.NONE
    try:
        check_coordinator(ctx, request.group_id)  # the group's coordinator answers, as for OffsetCommit
        await ctx.cluster.transactions.commit_offsets(
            request.transactional_id, request.group_id, request.producer_id, request.producer_epoch, offsets,
            generation=request.generation_id if ctx.version >= 3 else -1,
            member_id=(request.member_id or "") if ctx.version >= 3 else "")
    except KafkaError as error:
        code = error_code(error)
    by_topic: dict[str, list[Any]] = {}
    for tp in offsets:
        by_topic.setdefault(tp.topic, []).append(CommitPartition(partition_index=tp.partition, error_code=code))
    return TxnOffsetCommitResponse(version=ctx.version, throttle_time_ms=0,
                                   topics=[CommitTopic(name=name, partitions=parts) for name, parts in by_topic.items()])


async def handle_end_txn(ctx: RequestContext, request: Any) -> EndTxnResponse:
    """EndTxn: commit or abort, writing the COMMIT or ABORT markers to every partition of the transaction."""
    code = WireError.NONE
    try:
        check_transaction_coordinator(ctx, request.transactional_id)
        await ctx.cluster.transactions.end_transaction(request.transactional_id, request.producer_id,
                                                       request.producer_epoch, bool(request.committed))
    except KafkaError as error:
        code = error_code(error)
    # v5 (KIP-890) returns the producer id and epoch to use next; without transaction
    # version 2 they stay what the producer has.
    return EndTxnResponse(version=ctx.version, throttle_time_ms=0, error_code=code,
                          producer_id=request.producer_id, producer_epoch=request.producer_epoch)


async def handle_describe_transactions(ctx: RequestContext, request: Any) -> DescribeTransactionsResponse:
    """DescribeTransactions: state, producer, timeout, start time and partitions of each id asked."""
    states = []
    for transactional_id in request.transactional_ids:
        try:
            check_transaction_coordinator(ctx, transactional_id)
            txn = await ctx.cluster.transactions.describe(transactional_id)
        except KafkaError as error:
            states.append(DescribedState(error_code=error_code(error), transactional_id=transactional_id,
                                         transaction_state="", transaction_timeout_ms=0,
                                         transaction_start_time_ms=-1, producer_id=NO_PRODUCER_ID,
                                         producer_epoch=NO_PRODUCER_EPOCH, topics=[]))
            continue
        by_topic: dict[str, list[int]] = {}
        for tp in txn.partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        states.append(DescribedState(
            error_code=WireError.NONE, transactional_id=transactional_id, transaction_state=txn.state,
            transaction_timeout_ms=txn.timeout_ms, transaction_start_time_ms=txn.start_time_ms,
            producer_id=txn.producer_id, producer_epoch=txn.producer_epoch,
            topics=[DescribeTransactionsResponse.TransactionState.TopicData(topic=topic, partitions=parts)
                    for topic, parts in by_topic.items()]))
    return DescribeTransactionsResponse(version=ctx.version, throttle_time_ms=0, transaction_states=states)


async def handle_list_transactions(ctx: RequestContext, request: Any) -> ListTransactionsResponse:
    """ListTransactions: the ids this broker coordinates (Kafka's admin client asks every broker).

    v1's duration filter keeps transactions open for at least that many milliseconds.
    """
    known = {state.lower() for state in STATES}
    unknown = [state for state in request.state_filters if state.lower() not in known]
    listings = await ctx.cluster.transactions.list_transactions(request.state_filters, request.producer_id_filters)
    duration = request.duration_filter if ctx.version >= 1 else -1
    started: dict[str, int] = {}
    if duration >= 0:
        for listing in listings:
            started[listing.transactional_id] = (await ctx.cluster.transactions.describe(
                listing.transactional_id)).start_time_ms
    now = ctx.cluster.clock.now_ms()
    listed = [ListedState(transactional_id=t.transactional_id, producer_id=t.producer_id, transaction_state=t.state)
              for t in listings if ctx.server.coordinator_for(t.transactional_id) == ctx.broker_id
              and (duration < 0 or (started[t.transactional_id] >= 0
                                    and now - started[t.transactional_id] >= duration))]
    return ListTransactionsResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE,
                                    unknown_state_filters=unknown, transaction_states=listed)
