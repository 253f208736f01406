"""``kplay transactions``: Kafka's kafka-transactions, listing and describing transactional ids.

    kplay transactions --bootstrap-server localhost:9092 list [--duration-filter MS]
    kplay transactions --bootstrap-server localhost:9092 describe --transactional-id ID
    kplay transactions --list          (and --describe): the same, as flags

The output is TransactionsCommand's tables (ToolsUtils.prettyPrintTable): ``list`` prints
TransactionalId, Coordinator, ProducerId and TransactionState; ``describe`` CoordinatorId,
TransactionalId, ProducerId, ProducerEpoch, TransactionState, TransactionTimeoutMs,
CurrentTransactionStartTimeMs and TransactionDurationMs ("None" unless a transaction is
open) and the TopicPartitions it wrote to.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from broker_core import Cluster
from broker_core.errors import TransactionalIdNotFound
from broker_core.transactions import TransactionDescription, TransactionListing

from app.backends import Backend
from app.serve.group_placement import coordinator_among

from .invocation import (BootstrapServerOption, ClusterOption, CommandConfigOption, DataOption, UsageProblem,
                         one_line_errors, playground_cluster, run_on_backend)
from .output import kafka_table_lines, print_lines

LIST_HEADERS = ("TransactionalId", "Coordinator", "ProducerId", "TransactionState")
DESCRIBE_HEADERS = ("CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch", "TransactionState",
                    "TransactionTimeoutMs", "CurrentTransactionStartTimeMs", "TransactionDurationMs",
                    "TopicPartitions")
COMMANDS = ("list", "describe")


def transactions(
    ctx: typer.Context,
    command: Annotated[Optional[str], typer.Argument(metavar="list|describe",
                                                     help="The sub-command: list or describe.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Same as the list sub-command.")] = False,
    describe: Annotated[bool, typer.Option("--describe", help="Same as the describe sub-command.")] = False,
    transactional_id: Annotated[Optional[str], typer.Option(
        "--transactional-id", metavar="ID", help="describe: the transactional id.")] = None,
    duration_filter: Annotated[Optional[int], typer.Option(
        "--duration-filter", metavar="MS",
        help="list: only transactions open longer than this many milliseconds.")] = None,
    bootstrap_server: BootstrapServerOption = None,
    command_config: CommandConfigOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
) -> None:
    """List and describe transactions (kafka-transactions)."""
    with one_line_errors():
        chosen = {c for c, given in (("list", list_), ("describe", describe)) if given}
        if command is not None:
            if command not in COMMANDS:
                raise UsageProblem(f"kafka-transactions: error: argument command: invalid choice: '{command}' "
                                   "(choose from 'list', 'describe')")
            chosen.add(command)
        if len(chosen) != 1:
            raise UsageProblem("kafka-transactions: error: exactly one of list or describe is required")
        if "describe" in chosen:
            if not transactional_id:
                raise UsageProblem("kafka-transactions: error: argument --transactional-id is required")
            print_lines(run_on_backend(ctx, data, cluster,
                                       lambda backend: describe_lines(_core(backend), transactional_id)))
        else:
            print_lines(run_on_backend(ctx, data, cluster,
                                       lambda backend: list_lines(_core(backend), duration_filter)))


def _core(backend: Backend) -> Cluster:
    return playground_cluster(backend, "transactions", "confluent-kafka's AdminClient has no "
                              "ListTransactions or DescribeTransactions call")


async def _coordinators(cluster: Cluster) -> tuple[list[int], set[int]]:
    brokers = await cluster.controller.brokers()
    return [b.broker_id for b in brokers], {b.broker_id for b in brokers if b.alive}


def _coordinator(key: str, placement: tuple[list[int], set[int]]) -> str:
    coordinator = coordinator_among(key, *placement)
    return "-1" if coordinator is None else str(coordinator)


async def list_lines(cluster: Cluster, duration_filter: int | None = None) -> list[str]:
    """``list``: every transactional id with its coordinator, producer id and state."""
    placement = await _coordinators(cluster)
    listings: list[TransactionListing] = await cluster.transactions.list_transactions()
    if duration_filter is not None and duration_filter >= 0:
        now = cluster.clock.now_ms()
        open_long = []
        for listing in listings:
            started = (await cluster.transactions.describe(listing.transactional_id)).start_time_ms
            if started >= 0 and now - started >= duration_filter:
                open_long.append(listing)
        listings = open_long
    return kafka_table_lines(LIST_HEADERS, [[t.transactional_id, _coordinator(t.transactional_id, placement),
                                             str(t.producer_id), t.state] for t in listings])


async def describe_lines(cluster: Cluster, transactional_id: str) -> list[str]:
    """``describe``: one transactional id's producer, state, timeout, open time and partitions."""
    try:
        txn: TransactionDescription = await cluster.transactions.describe(transactional_id)
    except TransactionalIdNotFound as error:
        raise TransactionalIdNotFound(f"Failed to describe transaction state of transactional-id "
                                      f"`{transactional_id}` due to org.apache.kafka.common.errors."
                                      f"TransactionalIdNotFoundException: {error}") from None
    placement = await _coordinators(cluster)
    started = str(txn.start_time_ms) if txn.start_time_ms >= 0 else "None"
    duration = str(cluster.clock.now_ms() - txn.start_time_ms) if txn.start_time_ms >= 0 else "None"
    row = [_coordinator(transactional_id, placement), transactional_id, str(txn.producer_id), str(txn.producer_epoch),
           txn.state, str(txn.timeout_ms), started, duration,
           ",".join(f"{tp.topic}-{tp.partition}" for tp in txn.partitions)]
    return kafka_table_lines(DESCRIBE_HEADERS, [row])


def register(app: typer.Typer) -> None:
    """Add ``transactions`` to the app."""
    app.command("transactions")(transactions)
