"""A transactional producer in the core, for tests: batches as a real one sends them."""

from __future__ import annotations

from broker_core import Cluster, TopicPartition
from broker_core.errors import KafkaError
from broker_core.log import BatchRequest
from broker_core.producer_state import ProducerMark
from broker_core.record_batch import build_batch
from broker_core.transactions import ProducerIdAndEpoch

TP = TopicPartition("orders", 0)


class TransactionalProducer:
    """Just enough of a transactional producer: its id, epoch and next sequence."""

    def __init__(self, cluster: Cluster, transactional_id: str, timeout_ms: int = 60_000) -> None:
        self.cluster = cluster
        self.transactional_id = transactional_id
        self.timeout_ms = timeout_ms
        self.ids = ProducerIdAndEpoch(-1, -1)
        self.sequence = 0

    async def init(self) -> None:
        self.ids = await self.cluster.transactions.init_producer_id(self.transactional_id, self.timeout_ms)
        self.sequence = 0

    async def send(self, *values: bytes, tp: TopicPartition = TP) -> int:
        await self.cluster.transactions.add_partitions(self.transactional_id, self.ids.producer_id,
                                                       self.ids.producer_epoch, [tp])
        return await self.append(*values, tp=tp)

    async def append(self, *values: bytes, tp: TopicPartition = TP, epoch: int | None = None) -> int:
        epoch = self.ids.producer_epoch if epoch is None else epoch
        batch = build_batch([(None, value, (), 1_000) for value in values], producer_id=self.ids.producer_id,
                            producer_epoch=epoch, base_sequence=self.sequence, is_transactional=True)
        mark = ProducerMark(self.ids.producer_id, epoch, self.sequence, self.sequence + len(values) - 1)
        (result,) = await self.cluster.logs.append_batches([BatchRequest(tp.topic, tp.partition, (), mark,
                                                                         batch=batch)], acks=1)
        if isinstance(result, KafkaError):
            raise result
        self.sequence += len(values)
        return result.base_offset

    async def end(self, commit: bool) -> None:
        await self.cluster.transactions.end_transaction(self.transactional_id, self.ids.producer_id,
                                                        self.ids.producer_epoch, commit)
