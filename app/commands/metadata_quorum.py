"""``kplay metadata-quorum``: Kafka's kafka-metadata-quorum, describing the KRaft controller quorum.

    kplay metadata-quorum --bootstrap-server localhost:9092 describe --status
    kplay metadata-quorum --bootstrap-server localhost:9092 describe --replication [--human-readable]

The output is MetadataQuorumCommand's: ``--status`` prints the ``ClusterId:``,
``LeaderId:``, ... lines; ``--replication`` prints its table, each cell padded to its
column's width and followed by a tab (ToolsUtils.prettyPrintTable). With no majority of
voters alive there is no leader to answer, and the tool fails as Kafka's times out.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from app.backends import Backend
from broker_core.quorum import NoActiveController, QuorumStatus, VoterState

from .invocation import (BootstrapServerOption, ClusterOption, CommandConfigOption, DataOption, UsageProblem,
                         one_line_errors, playground_cluster, run_on_backend)
from .output import kafka_table_lines, print_lines

REPLICATION_HEADERS = ("NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp",
                       "LastCaughtUpTimestamp", "Status")


def metadata_quorum(
    ctx: typer.Context,
    command: Annotated[Optional[str], typer.Argument(metavar="describe", help="The sub-command: describe.")] = None,
    status: Annotated[bool, typer.Option("--status", help="A short summary of the quorum status.")] = False,
    replication: Annotated[bool, typer.Option(
        "--replication", help="Detailed information about the status of replication.")] = False,
    human_readable: Annotated[bool, typer.Option("--human-readable", help="Human-readable output.")] = False,
    bootstrap_server: BootstrapServerOption = None,
    bootstrap_controller: Annotated[Optional[str], typer.Option(
        "--bootstrap-controller", metavar="CONTROLLERS", help="Ignored: kplay's cluster is the data file.")] = None,
    command_config: CommandConfigOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Describe the KRaft metadata quorum (kafka-metadata-quorum)."""
    with one_line_errors():
        if bootstrap_server is not None and bootstrap_controller is not None:
            raise UsageProblem("argument --bootstrap-controller: not allowed with argument --bootstrap-server")
        if command != "describe":
            raise UsageProblem("kafka-metadata-quorum: error: invalid choice: "
                               f"'{command}' (choose from 'describe')" if command else
                               "kafka-metadata-quorum: error: too few arguments")
        if status and replication:
            raise UsageProblem("argument --replication: not allowed with argument --status")
        if not status and not replication:
            raise UsageProblem("One of --status or --replication must be specified with describe sub-command")
        if status and human_readable:
            raise UsageProblem("The option --human-readable is only supported along with --replication")
        quorum = run_on_backend(ctx, data, cluster, _describe)
        if not quorum.has_leader:
            raise NoActiveController(
                "org.apache.kafka.common.errors.TimeoutException: Call(callName=describeMetadataQuorum) timed out: "
                f"the controller quorum has no leader ({quorum.live_voters} of {len(quorum.voters)} voters alive, "
                f"a majority of {quorum.majority} is needed)")
        print_lines(replication_lines(quorum, human_readable) if replication else status_lines(quorum))


async def _describe(backend: Backend) -> QuorumStatus:
    cluster = playground_cluster(backend, "metadata-quorum",
                                 "confluent-kafka's AdminClient has no DescribeQuorum call")
    return await cluster.controller.quorum()


def status_lines(quorum: QuorumStatus) -> list[str]:
    """``describe --status``: MetadataQuorumCommand.handleDescribeStatus."""
    leader = next(v for v in quorum.voters if v.node_id == quorum.leader_id)
    lagging = min(quorum.voters, key=lambda v: v.log_end_offset)
    if lagging is leader or lagging.log_end_offset == leader.log_end_offset:
        lag_time = 0
    elif leader.last_caught_up_timestamp >= 0 and lagging.last_caught_up_timestamp >= 0:
        lag_time = leader.last_caught_up_timestamp - lagging.last_caught_up_timestamp
    else:
        lag_time = -1
    return [f"ClusterId:              {quorum.cluster_id}",
            f"LeaderId:               {quorum.leader_id}",
            f"LeaderEpoch:            {quorum.leader_epoch}",
            f"HighWatermark:          {quorum.high_watermark}",
            f"MaxFollowerLag:         {leader.log_end_offset - lagging.log_end_offset}",
            f"MaxFollowerLagTimeMs:   {lag_time}",
            f"CurrentVoters:          {_nodes(quorum.voters)}",
            f"CurrentObservers:       {_nodes(quorum.observers)}"]


def _nodes(states: tuple[VoterState, ...]) -> str:
    # Kafka prints endpoints only when the node has some; kplay's controllers have no listener.
    return "[" + ", ".join(f'{{"id": {s.node_id}, "directoryId": "{s.directory_id}"}}' for s in states) + "]"


def replication_lines(quorum: QuorumStatus, human_readable: bool, now_ms: int | None = None) -> list[str]:
    """``describe --replication``: MetadataQuorumCommand.handleDescribeReplication."""
    leader = next(v for v in quorum.voters if v.node_id == quorum.leader_id)
    followers = [v for v in quorum.voters if v.node_id != quorum.leader_id]
    now = leader.last_fetch_timestamp if now_ms is None else now_ms

    def when(timestamp: int) -> str:
        if timestamp < 0:
            return "-1"
        return f"{max(0, now - timestamp)} ms ago" if human_readable else str(timestamp)

    rows = [[str(s.node_id), s.directory_id, str(s.log_end_offset), str(leader.log_end_offset - s.log_end_offset),
             when(s.last_fetch_timestamp), when(s.last_caught_up_timestamp), role]
            for role, group in (("Leader", [leader]), ("Follower", followers), ("Observer", list(quorum.observers)))
            for s in group]
    return kafka_table_lines(REPLICATION_HEADERS, rows)


def register(app: typer.Typer) -> None:
    """Add ``metadata-quorum`` to the app."""
    app.command("metadata-quorum")(metadata_quorum)
