"""``kplay transactions``: kafka-transactions' list and describe, run as a subprocess on a data file
whose transactions were made through the core (as a producer in another process would)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from broker_core import Cluster, TopicPartition
from cli_harness import kplay


def make_transactions(data_path: Path) -> tuple[int, int]:
    """'open-one' with an ongoing transaction on orders-0 and orders-2, 'done-one' committed."""
    async def make() -> tuple[int, int]:
        cluster = await Cluster.open(data_path)
        try:
            await cluster.topics.create_topic("orders", 3, 1)
            txns = cluster.transactions
            open_one = await txns.init_producer_id("open-one", 30_000)
            await txns.add_partitions("open-one", open_one.producer_id, open_one.producer_epoch,
                                      [TopicPartition("orders", 2), TopicPartition("orders", 0)])
            done = await txns.init_producer_id("done-one", 60_000)
            await txns.add_offsets("done-one", done.producer_id, done.producer_epoch, "g")
            await txns.end_transaction("done-one", done.producer_id, done.producer_epoch, commit=True)
            return open_one.producer_id, done.producer_id
        finally:
            await cluster.close()

    return asyncio.run(make())


def cells(line: str) -> list[str]:
    assert line.endswith("\t")
    return [cell.strip() for cell in line[:-1].split("\t")]


def test_list_prints_kafka_transactions_table(data_path: Path) -> None:
    open_pid, done_pid = make_transactions(data_path)
    for args in (["--bootstrap-server", "localhost:9092", "list"], ["--list"]):
        run = kplay(data_path, "transactions", *args)
        assert run.returncode == 0, run.stderr
        header, *rows = run.stdout.splitlines()
        assert cells(header) == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
        listed = {cells(row)[0]: cells(row) for row in rows}
        assert listed["open-one"][2:] == [str(open_pid), "Ongoing"]
        assert listed["done-one"][2:] == [str(done_pid), "CompleteCommit"]
        assert all(row[1] in {"0", "1", "2"} for row in listed.values())
        # Columns are padded to one width, as prettyPrintTable does.
        assert len({line.index("\t") for line in run.stdout.splitlines()}) == 1
    only_open = kplay(data_path, "transactions", "list", "--duration-filter", "0")
    assert [cells(row)[0] for row in only_open.stdout.splitlines()[1:]] == ["open-one"]


def test_describe_prints_one_transaction(data_path: Path) -> None:
    open_pid, _ = make_transactions(data_path)
    run = kplay(data_path, "transactions", "describe", "--transactional-id", "open-one")
    assert run.returncode == 0, run.stderr
    header, row = run.stdout.splitlines()
    assert cells(header) == ["CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch", "TransactionState",
                             "TransactionTimeoutMs", "CurrentTransactionStartTimeMs", "TransactionDurationMs",
                             "TopicPartitions"]
    values = cells(row)
    assert values[1:6] == ["open-one", str(open_pid), "0", "Ongoing", "30000"]
    assert int(values[6]) > 0 and int(values[7]) >= 0
    assert values[8] == "orders-0,orders-2"
    done = cells(kplay(data_path, "transactions", "--describe", "--transactional-id", "done-one").stdout.splitlines()[1])
    assert done[4:8] == ["CompleteCommit", "60000", "None", "None"]


def test_bad_input_is_one_line(data_path: Path) -> None:
    make_transactions(data_path)
    missing = kplay(data_path, "transactions", "describe", "--transactional-id", "nobody")
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "`nobody`" in missing.stderr and "Traceback" not in missing.stderr
    no_id = kplay(data_path, "transactions", "describe")
    assert no_id.returncode == 1 and "--transactional-id is required" in no_id.stderr
    neither = kplay(data_path, "transactions")
    assert neither.returncode == 1 and "list or describe" in neither.stderr
    wrong = kplay(data_path, "transactions", "abort")
    assert wrong.returncode == 1 and "invalid choice: 'abort'" in wrong.stderr


def test_console_consumer_isolation_levels(data_path: Path) -> None:
    """An aborted transaction's records reach read_uncommitted only; offsets show the markers' gaps."""
    from transaction_support import TransactionalProducer

    async def make() -> None:
        cluster = await Cluster.open(data_path)
        try:
            await cluster.topics.create_topic("orders", 1, 1)
            producer = TransactionalProducer(cluster, "etl")
            await producer.init()
            await producer.send(b"kept-1", b"kept-2")
            await producer.end(commit=True)  # marker at 2
            await producer.send(b"dropped")
            await producer.end(commit=False)  # marker at 4
            await producer.send(b"kept-3")
            await producer.end(commit=True)  # marker at 6
        finally:
            await cluster.close()

    asyncio.run(make())
    base = ["console-consumer", "--topic", "orders", "--from-beginning", "--property", "print.offset=true"]
    committed = kplay(data_path, *base, "--max-messages", "3", "--isolation-level", "read_committed")
    assert committed.returncode == 0, committed.stderr
    assert [line.split("\t")[0] for line in committed.stdout.splitlines()] == ["Offset:0", "Offset:1", "Offset:5"]
    assert "dropped" not in committed.stdout
    everything = kplay(data_path, *base, "--max-messages", "4", "--consumer-property",
                       "isolation.level=read_uncommitted")
    assert everything.returncode == 0, everything.stderr
    assert [line.split("\t")[0] for line in everything.stdout.splitlines()] == ["Offset:0", "Offset:1", "Offset:3",
                                                                             "Offset:5"]
    bad = kplay(data_path, *base, "--isolation-level", "read_most")
    assert bad.returncode == 1 and "isolation.level" in bad.stderr and "Traceback" not in bad.stderr
