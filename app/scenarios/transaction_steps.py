"""A lesson's transactional producers: the steps ``transactional-producer``, ``produce ...
transaction=NAME``, ``send-offsets``, ``commit-transaction`` and ``abort-transaction``.

Each step makes the calls a Kafka client's transactional producer makes (InitProducerId,
AddPartitionsToTxn, transactional record batches, AddOffsetsToTxn and TxnOffsetCommit,
EndTxn) on the cluster's transaction coordinator and log, so what the lesson shows is what
a real exactly-once application does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from broker_core import TopicPartition
from broker_core.errors import ConcurrentTransactions, KafkaError
from broker_core.log import BatchRequest
from broker_core.producer_state import ProducerMark
from broker_core.record_batch import build_batch
from broker_core.records import ProducerRecord

from .script import Step

if TYPE_CHECKING:
    from .runner import ScenarioRunner


@dataclass
class LessonTransactionalProducer:
    """A transactional producer a lesson started: its ids and next sequence per partition."""

    name: str
    transactional_id: str
    producer_id: int
    producer_epoch: int
    sequences: dict[TopicPartition, int] = field(default_factory=dict)


class TransactionSteps:
    """The runner's transactional steps (a mixin of ``ScenarioRunner``)."""

    producers: dict[str, LessonTransactionalProducer]

    def _transactional(self: "ScenarioRunner", step: Step, name: str) -> LessonTransactionalProducer:
        producer = self.producers.get(name)
        if producer is None:
            raise self._fail(step, f"no transactional producer named '{name}' (start one with "
                                   "transactional-producer NAME id=ID)")
        return producer

    async def _do_transactional_producer(self: "ScenarioRunner", step: Step) -> None:
        a = step.args
        timeout_ms = a.get("timeout", 60_000)
        txns = self.cluster.transactions
        try:
            ids = await txns.init_producer_id(a["id"], timeout_ms)
        except ConcurrentTransactions:
            # The id's open transaction was just aborted to fence its producer: a client retries.
            self.observer.report(step, f"the open transaction of {a['id']} was aborted: its producer is fenced")
            ids = await txns.init_producer_id(a["id"], timeout_ms)
        self.producers[a["name"]] = LessonTransactionalProducer(a["name"], a["id"], ids.producer_id,
                                                                ids.producer_epoch)
        self.observer.report(step, f"{a['name']}: transactional.id {a['id']} is producer {ids.producer_id}, "
                                   f"epoch {ids.producer_epoch}")

    async def _produce_in_transaction(self: "ScenarioRunner", step: Step, records: list[ProducerRecord],
                                      partitions: int) -> list[Any]:
        """``produce ... transaction=NAME``: add the partitions to the transaction, then append
        transactional batches; the append results, or the error that refused them."""
        a = step.args
        producer = self._transactional(step, a["transaction"])
        topic = a["topic"]
        targets = await self._targets(topic, partitions, records, a, paced=False)
        by_partition: dict[int, list[ProducerRecord]] = {}
        for record, partition in zip(records, targets):
            by_partition.setdefault(partition, []).append(record)
        tps = [TopicPartition(topic, p) for p in sorted(by_partition)]
        try:
            await self.cluster.transactions.add_partitions(producer.transactional_id, producer.producer_id,
                                                           producer.producer_epoch, tps)
        except KafkaError as error:
            return [error]
        batches = []
        for tp in tps:
            rows = by_partition[tp.partition]
            sequence = producer.sequences.get(tp, 0)
            now = self.clock.now_ms()
            data = build_batch([(r.key, r.value, (), now) for r in rows], producer_id=producer.producer_id,
                               producer_epoch=producer.producer_epoch, base_sequence=sequence,
                               is_transactional=True)
            mark = ProducerMark(producer.producer_id, producer.producer_epoch, sequence, sequence + len(rows) - 1)
            batches.append(BatchRequest(topic, tp.partition, (), mark, batch=data))
        results = await self._while_time_passes(self.cluster.logs.append_batches(batches, a.get("acks", "all")))
        for tp, result in zip(tps, results):
            if not isinstance(result, KafkaError):
                producer.sequences[tp] = producer.sequences.get(tp, 0) + len(by_partition[tp.partition])
        return results

    async def _do_send_offsets(self: "ScenarioRunner", step: Step) -> None:
        producer = self._transactional(step, step.args["name"])
        entry = self._consumer(step, step.args["consumer"])
        if entry.group is None:
            raise self._fail(step, f"send-offsets: consumer '{entry.name}' is in no group")
        positions = {tp: (await entry.consumer.position(tp), "") for tp in sorted(entry.consumer.assignment())}
        txns = self.cluster.transactions
        await txns.add_offsets(producer.transactional_id, producer.producer_id, producer.producer_epoch, entry.group)
        await txns.commit_offsets(producer.transactional_id, entry.group, producer.producer_id,
                                  producer.producer_epoch, positions)
        where = ", ".join(f"{tp.topic}-{tp.partition}: {offset}" for tp, (offset, _) in positions.items())
        self.observer.report(step, f"{producer.name}: offsets of group {entry.group} ({where}) added to the "
                                   "transaction; the group sees them only if it commits")

    async def _do_commit_transaction(self: "ScenarioRunner", step: Step) -> None:
        await self._end_transaction(step, commit=True)

    async def _do_abort_transaction(self: "ScenarioRunner", step: Step) -> None:
        await self._end_transaction(step, commit=False)

    async def _end_transaction(self: "ScenarioRunner", step: Step, *, commit: bool) -> None:
        producer = self._transactional(step, step.args["name"])
        await self.cluster.transactions.end_transaction(producer.transactional_id, producer.producer_id,
                                                        producer.producer_epoch, commit)
        self.observer.report(step, f"{producer.name}: transaction {'committed' if commit else 'aborted'}; "
                                   f"{'a COMMIT' if commit else 'an ABORT'} marker took one offset in each of "
                                   "its partitions")
