"""Produce and InitProducerId: batches in, stored as sent, through the core's ``append_batches``."""

from __future__ import annotations

from dataclasses import dataclass

from kafka.protocol.producer import InitProducerIdResponse, ProduceResponse

from broker_core.errors import InvalidRequiredAcks, KafkaError, RecordTooLarge
from broker_core.log import BatchRequest
from broker_core.records import AppendResult

from broker_core.batch_compression import DecompressionBudget
from ..producer_state import BatchKey
from ..record_batches import ProducedBatch, read_produced_batch
from .transactions import init_transactional_producer_id
from .context import CloseConnection, RequestContext, WireError, error_code, error_message

TopicResponse = ProduceResponse.TopicProduceResponse
PartitionResponse = TopicResponse.PartitionProduceResponse
#: Kafka's "no timestamp" for log_append_time_ms when the topic keeps CreateTime.
NO_TIMESTAMP = -1


@dataclass
class _PartitionOutcome:
    topic: str
    partition: int
    error: int = WireError.NONE
    message: str | None = None
    base_offset: int = -1
    log_append_time: int = NO_TIMESTAMP
    log_start_offset: int = -1


async def handle_init_producer_id(ctx: RequestContext, request) -> InitProducerIdResponse:
    """InitProducerId: an id and epoch 0 for an idempotent producer; with a transactional id,
    the transaction coordinator's id and epoch for it."""
    if request.transactional_id is not None:
        return await init_transactional_producer_id(ctx, request)
    return InitProducerIdResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE,
                                  producer_id=await ctx.cluster.logs.new_producer_id(), producer_epoch=0)


async def handle_produce(ctx: RequestContext, request) -> ProduceResponse | None:
    """Produce: append each partition's batch on its leader, with the request's acks.

    A broker that is not a partition's leader answers NOT_LEADER_OR_FOLLOWER for it; a
    batch an idempotent producer already wrote (a retry) is answered with its offset and
    not written again. An acks=0 request gets no response at all, and if any partition
    failed the connection is closed, which is how Kafka tells such a producer to look
    for the leader again.
    """
    acks = request.acks
    producers = ctx.server.producers
    outcomes: list[_PartitionOutcome] = []
    pending: list[tuple[_PartitionOutcome, ProducedBatch, BatchKey]] = []
    budget = DecompressionBudget()  # what this request's compressed batches may expand to
    for topic_data in request.topic_data:
        for partition_data in topic_data.partition_data:
            outcome = _PartitionOutcome(topic_data.name, partition_data.index)
            outcomes.append(outcome)
            if acks not in (0, 1, -1):
                _fail(outcome, InvalidRequiredAcks(f"Invalid required acks: {acks} (expected 0, 1 or -1)"))
                continue
            try:
                await ctx.server.leadership.led_by(ctx.broker_id, outcome.topic, outcome.partition)
                await _check_batch_size(ctx, outcome.topic, outcome.partition, partition_data.records)
                batch = read_produced_batch(partition_data.records)
            except KafkaError as error:
                _fail(outcome, error)
                continue
            key = BatchKey(batch.producer_id, batch.producer_epoch, outcome.topic, outcome.partition,
                           batch.base_sequence, batch.last_sequence)
            duplicate = await producers.in_flight(key)
            if duplicate is not None:
                outcome.base_offset = duplicate
                continue
            pending.append((outcome, batch, key))
    if pending:
        await _append(ctx, pending, acks, budget)
    if acks == 0:
        if any(outcome.error != WireError.NONE for outcome in outcomes):
            raise CloseConnection("an acks=0 produce failed")
        return None
    return _response(ctx, outcomes)


async def _append(ctx: RequestContext, pending: list[tuple[_PartitionOutcome, ProducedBatch, BatchKey]],
                  acks: int, budget: DecompressionBudget) -> None:
    """Append every accepted batch in one call; idempotent producers' retries wait for it."""
    producers = ctx.server.producers
    offsets: dict[BatchKey, int] = {}
    for _, _, key in pending:
        producers.begin(key)
    try:
        results = await ctx.cluster.logs.append_batches(
            [BatchRequest(outcome.topic, outcome.partition, (), key.mark if key.idempotent else None,
                          batch.size_in_bytes, batch.data, budget) for outcome, batch, key in pending], acks)
        for (outcome, _, key), result in zip(pending, results):
            if isinstance(result, KafkaError):
                _fail(outcome, result)
                continue
            await _succeed(ctx, outcome, result)
            offsets[key] = result.base_offset
    finally:
        for _, _, key in pending:
            producers.end(key, offsets.get(key))


async def _check_batch_size(ctx: RequestContext, topic: str, partition: int, records: bytes | None) -> None:
    """Kafka limits the batch as sent (compressed, if it is) by the topic's ``max.message.bytes``."""
    description = await ctx.server.leadership.topic(topic)
    if description is None or records is None:
        return
    limit = description.effective_config()["max.message.bytes"]
    if len(records) > limit:
        raise RecordTooLarge(f"The record batch size in the append to {topic}-{partition} is {len(records)} bytes "
                             f"which exceeds the maximum configured value of {limit}.")


async def _succeed(ctx: RequestContext, outcome: _PartitionOutcome, result: AppendResult) -> None:
    outcome.base_offset = result.base_offset
    outcome.log_start_offset = result.log_start_offset
    description = await ctx.server.leadership.topic(outcome.topic)
    if (description is not None and result.timestamps
            and description.effective_config()["message.timestamp.type"] == "LogAppendTime"):
        outcome.log_append_time = result.timestamps[0]


def _fail(outcome: _PartitionOutcome, error: BaseException) -> None:
    outcome.error = error_code(error)
    outcome.message = error_message(error)


def _response(ctx: RequestContext, outcomes: list[_PartitionOutcome]) -> ProduceResponse:
    by_topic: dict[str, list[PartitionResponse]] = {}
    for outcome in outcomes:
        by_topic.setdefault(outcome.topic, []).append(PartitionResponse(
            index=outcome.partition, error_code=outcome.error, base_offset=outcome.base_offset,
            log_append_time_ms=outcome.log_append_time, log_start_offset=outcome.log_start_offset,
            record_errors=[], error_message=outcome.message))
    return ProduceResponse(version=ctx.version, throttle_time_ms=0,
                           responses=[TopicResponse(name=name, partition_responses=parts)
                                      for name, parts in by_topic.items()])
