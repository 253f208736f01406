"""OffsetForLeaderEpoch: where a leader epoch ended, so a consumer can check its position (KIP-320).

After a leader change a consumer asks where the epoch of its position ended; an end
below its position means the log was truncated under it. kplay keeps no per-epoch start
offsets, and a consumer only ever reads up to the high watermark, which kplay never
truncates below, so an epoch no newer than the leader's is answered with the high
watermark as its end: a consumer's position is never reported as diverged. A newer
epoch than the leader's is unknown (-1, -1), as Kafka answers it.
"""

from __future__ import annotations

from kafka.protocol.consumer import OffsetForLeaderEpochResponse

from broker_core.errors import KafkaError
from broker_core.log import LATEST

from .context import RequestContext, WireError, error_code
from .fetch import check_epoch

TopicResult = OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult
EpochEndOffset = TopicResult.EpochEndOffset
#: Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
UNDEFINED = -1


async def handle_offset_for_leader_epoch(ctx: RequestContext, request) -> OffsetForLeaderEpochResponse:
    """OffsetForLeaderEpoch: (epoch, end offset) per partition, on the partition's leader."""
    topics = []
    for topic in request.topics:
        parts = []
        for p in topic.partitions:
            try:
                partition = await ctx.server.leadership.led_by(ctx.broker_id, topic.topic, p.partition)
                check_epoch(p.current_leader_epoch, partition)
                if p.leader_epoch > partition.leader_epoch:
                    epoch, end = UNDEFINED, UNDEFINED
                else:
                    epoch = p.leader_epoch
                    end = await ctx.cluster.logs.list_offset(topic.topic, p.partition, LATEST)
                parts.append(EpochEndOffset(error_code=WireError.NONE, partition=p.partition, leader_epoch=epoch,
                                            end_offset=UNDEFINED if end is None else end))
            except KafkaError as error:
                parts.append(EpochEndOffset(error_code=error_code(error), partition=p.partition,
                                            leader_epoch=UNDEFINED, end_offset=UNDEFINED))
        topics.append(TopicResult(topic=topic.topic, partitions=parts))
    return OffsetForLeaderEpochResponse(version=ctx.version, throttle_time_ms=0, topics=topics)
