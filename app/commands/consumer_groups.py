"""``kplay consumer-groups``: kafka-consumer-groups, over the data file's group coordinator.

    kplay consumer-groups --list [--state]
    kplay consumer-groups --describe --group billing [--members | --state]
    kplay consumer-groups --reset-offsets --group billing --topic orders --to-earliest --execute
    kplay consumer-groups --delete --group billing

``--describe`` prints Kafka's padded columns (GROUP TOPIC PARTITION CURRENT-OFFSET
LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID, ``-`` where a value is missing) and
``--reset-offsets`` the NEW-OFFSET table; it only changes anything with ``--execute``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Iterable, Optional, Sequence

import typer

from app.backends import Backend
from broker_core import TopicPartition
from broker_core.coordinator_records import OFFSETS_TOPIC, offsets_partition
from broker_core.errors import GroupIdNotFound, NonEmptyGroup, UnknownTopicOrPartition
from broker_core.groups import GroupDescription, PartitionLag

from .invocation import (BootstrapServerOption, ClusterOption, CommandConfigOption, DataOption, ToolFailure,
                         UsageProblem, YesOption, confirm_destructive, one_line_errors, run_on_backend)
from .output import MISSING, print_error, print_lines

#: What kafka-consumer-groups puts before an error the cluster returned.
ERROR_PREFIX = "\nError: Executing consumer group command failed due to "
ACTIONS = ("list", "describe", "delete", "reset-offsets")
SCENARIOS = ("to-earliest", "to-latest", "to-current", "to-offset", "shift-by", "to-datetime", "by-duration")
GROUP_STATES = ("PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty")
DRY_RUN_WARNING = (
    "WARN: No action will be performed as the --execute option is missing.In a future major release, the default "
    "behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. "
    "You should add the --dry-run option explicitly if you are scripting this command and want to keep the current "
    "default behavior without prompting.")


@dataclass(frozen=True)
class ResetPlan:
    """``--reset-offsets``: which partitions, to what, and whether to write it."""

    topics: tuple[str, ...]
    all_topics: bool
    scenario: str
    value: Optional[str]  # the scenario's argument (offset, shift, datetime or duration)
    execute: bool


def consumer_groups(
    ctx: typer.Context,
    list_: Annotated[bool, typer.Option("--list", help="List all consumer groups.")] = False,
    describe: Annotated[bool, typer.Option("--describe", help="Describe consumer group(s): offsets and lag.")] = False,
    delete: Annotated[bool, typer.Option("--delete", help="Delete consumer group(s) with no members.")] = False,
    reset_offsets: Annotated[bool, typer.Option(
        "--reset-offsets", help="Reset a group's committed offsets (only while it has no members).")] = False,
    group: Annotated[Optional[list[str]], typer.Option("--group", help="The consumer group.")] = None,
    all_groups: Annotated[bool, typer.Option("--all-groups", help="Apply to all consumer groups.")] = False,
    topic: Annotated[Optional[list[str]], typer.Option(
        "--topic", help="With --reset-offsets: a topic, or topic:0,1 for some of its partitions.")] = None,
    all_topics: Annotated[bool, typer.Option(
        "--all-topics", help="With --reset-offsets: every topic the group has committed offsets for.")] = False,
    members: Annotated[bool, typer.Option("--members", help="With --describe: the members.")] = False,
    state: Annotated[bool, typer.Option(
        "--state", help="With --describe: the group's state. With --list: a STATE column, or only "
                        "groups in the states given after it (--list --state Stable,Empty).")] = False,
    offsets: Annotated[bool, typer.Option("--offsets", help="With --describe: offsets and lag (the default).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="With --describe --members: assignments too.")] = False,
    to_earliest: Annotated[bool, typer.Option("--to-earliest", help="Reset to the earliest offset.")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest", help="Reset to the latest offset.")] = False,
    to_current: Annotated[bool, typer.Option("--to-current", help="Reset to the committed offset.")] = False,
    to_offset: Annotated[Optional[int], typer.Option("--to-offset", help="Reset to this offset.")] = None,
    shift_by: Annotated[Optional[int], typer.Option(
        "--shift-by", help="Move the committed offset by N (negative goes back).")] = None,
    to_datetime: Annotated[Optional[str], typer.Option(
        "--to-datetime", metavar="YYYY-MM-DDTHH:mm:SS.sss",
        help="Reset to the first offset at or after this time (UTC unless a zone is given).")] = None,
    by_duration: Annotated[Optional[str], typer.Option(
        "--by-duration", metavar="PnDTnHnMnS", help="Reset to the first offset at or after now minus this.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show the new offsets (the default).")] = False,
    execute: Annotated[bool, typer.Option("--execute", help="Write the new offsets.")] = False,
    timeout: Annotated[Optional[int], typer.Option("--timeout", help="Accepted; kplay answers at once.")] = None,
    states_after_flag: Annotated[Optional[list[str]], typer.Argument(
        metavar="STATES", hidden=True, help="The states after --list --state.")] = None,
    bootstrap_server: BootstrapServerOption = None,
    command_config: CommandConfigOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
    yes: YesOption = False,
) -> None:
    """List, describe, delete consumer groups, or reset their offsets (kafka-consumer-groups)."""
    flags = {"list": list_, "describe": describe, "delete": delete, "reset-offsets": reset_offsets}
    scenario_flags = {"to-earliest": to_earliest, "to-latest": to_latest, "to-current": to_current,
                      "to-offset": to_offset is not None, "shift-by": shift_by is not None,
                      "to-datetime": to_datetime is not None, "by-duration": by_duration is not None}
    values = {"to-offset": to_offset, "shift-by": shift_by, "to-datetime": to_datetime, "by-duration": by_duration}
    # Broker errors: stdout, after a blank line; refused arguments: stderr (Kafka's printUsageAndExit).
    with one_line_errors(ERROR_PREFIX, on_stdout=True, usage_on_stdout=False):
        chosen = [name for name in ACTIONS if flags[name]]
        if len(chosen) != 1:
            raise UsageProblem("Command must include exactly one action: --list, --describe, --delete, --reset-offsets")
        action = chosen[0]
        groups = list(dict.fromkeys(group or []))
        states = _states_filter(states_after_flag, action, state)
        if action != "list" and not groups and not all_groups:
            raise UsageProblem(f"Option [{action}] takes one of these options: [all-groups], [group]")
        if groups and all_groups:
            raise UsageProblem('Option "[group]" can\'t be used with option "[all-groups]"')
        if topic and action not in ("reset-offsets", "delete"):
            raise UsageProblem(f'Option "[topic]" can\'t be used with option "[{action}]"')
        if action == "delete" and topic:
            raise UsageProblem("The consumer does not support topic-specific offset deletion from a consumer group.")
        if action == "describe" and sum((members, state, offsets)) > 1:
            raise UsageProblem("Option [describe] takes at most one of these options: [members], [offsets], [state]")
        plan = None
        if action == "reset-offsets":
            plan = _reset_plan(topic or [], all_topics, scenario_flags, values, dry_run, execute)

        async def run(backend: Backend) -> int:
            names = await _all_group_ids(backend) if all_groups else groups
            if action == "list":
                return await list_groups(backend, states)
            if action == "describe":
                view = "members" if members else "state" if state else "offsets"
                return await describe_groups(backend, names, view, verbose)
            if action == "delete":
                return await delete_groups(backend, names, yes=yes)
            assert plan is not None
            return await reset_group_offsets(backend, names, plan, yes=yes)

        code = run_on_backend(ctx, data, cluster, run)
    if code:
        raise typer.Exit(code)


def _states_filter(extra: Optional[list[str]], action: str, state: bool) -> Optional[set[str]]:
    """``--list --state [S,...]``: None for no STATE column, an empty set for all states."""
    if extra and not (action == "list" and state):
        raise UsageProblem(f"Found non-option argument(s): {' '.join(extra)}")
    if action != "list" or not state:
        return None
    wanted: set[str] = set()
    for text in ",".join(extra or []).split(","):
        if not text.strip():
            continue
        match = next((s for s in GROUP_STATES if s.lower() == text.strip().lower()), None)
        if match is None:
            raise UsageProblem(f"Invalid state list '{','.join(extra or [])}'. Valid states are: "
                               + ", ".join(GROUP_STATES))
        wanted.add(match)
    return wanted


def _reset_plan(topics: list[str], all_topics: bool, flags: dict[str, bool], values: dict[str, object],
                dry_run: bool, execute: bool) -> ResetPlan:
    if dry_run and execute:
        raise UsageProblem("Option [reset-offsets] only accepts one of [execute] and [dry-run]")
    chosen = [name for name in SCENARIOS if flags[name]]
    if len(chosen) > 1:
        raise UsageProblem(f'Option "[{chosen[0]}]" can\'t be used with option "[{chosen[1]}]"')
    if not chosen:
        raise UsageProblem("Option [reset-offsets] requires one of the following scenarios: "
                           + ", ".join(f"[{name}]" for name in SCENARIOS))
    if not topics and not all_topics:
        raise UsageProblem("One of the reset scopes should be defined: --all-topics, --topic.")
    if topics and all_topics:
        raise UsageProblem('Option "[topic]" can\'t be used with option "[all-topics]"')
    if not dry_run and not execute:
        print_error(DRY_RUN_WARNING)
    scenario = chosen[0]
    value = values.get(scenario)
    if scenario == "to-offset" and isinstance(value, int) and value < 0:
        raise UsageProblem(f"Invalid offset {value}: offsets are not negative")
    if scenario == "to-datetime":
        parse_datetime(str(value))  # refuse a bad date before touching the data file
    if scenario == "by-duration":
        parse_duration(str(value))
    return ResetPlan(tuple(topics), all_topics, scenario, None if value is None else str(value), execute)


# -- --list ---------------------------------------------------------------------------------

async def _all_group_ids(backend: Backend) -> list[str]:
    return [listing.group_id for listing in await backend.list_groups()]


async def list_groups(backend: Backend, states: Optional[set[str]]) -> int:
    """``--list``: group ids, or with ``--state`` a GROUP/STATE table (filtered when states are given)."""
    listings = await backend.list_groups()
    if states is None:
        print_lines([listing.group_id for listing in listings])
        return 0
    shown = [listing for listing in listings if not states or listing.state in states]
    width = max([15, *(len(listing.group_id) for listing in shown)]) + 10
    print_lines([f"{'GROUP':<{width}} {'STATE':<20}",
                 *(f"{listing.group_id:<{width}} {listing.state:<20}" for listing in shown)])
    return 0


# -- --describe -----------------------------------------------------------------------------

async def describe_groups(backend: Backend, names: Sequence[str], view: str, verbose: bool) -> int:
    """``--describe``: per group, its offsets and lag (default), its members or its state."""
    status = 0
    for name in sorted(names):
        description = await backend.describe_group(name)
        if description.state == "Dead":
            print_lines([f"\nError: Consumer group '{name}' does not exist."])  # Kafka's printError: stdout
            status = 1
            continue
        if description.state == "Empty":
            _note(f"\nConsumer group '{name}' has no active members.")
        elif description.state in ("PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling"):
            # Assigning and Reconciling are the KIP-848 protocol's rebalancing states.
            _note(f"\nWarning: Consumer group '{name}' is rebalancing.")
        if view == "state":
            _print_state(description, *await coordinator_of(backend, description.group_id))
        elif view == "members":
            _print_members(description, verbose)
        else:
            _print_offsets(name, await backend.group_lag(name), description)
    return status


def _note(text: str) -> None:
    """A line on stderr exactly as Kafka's ``System.err.println`` writes it (leading blank line included)."""
    sys.stdout.flush()
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _cell(value: object) -> str:
    return MISSING if value is None or value == "" else str(value)


def _print_offsets(group: str, rows: list[PartitionLag], description: GroupDescription) -> None:
    # Kafka lists the partitions of the member with most partitions first, then the
    # others, then committed partitions no member owns.
    assigned = {m.member_id: len(m.assignment) for m in description.members}
    rows = sorted(rows, key=lambda r: (r.member_id is None, -assigned.get(r.member_id, 0),
                                       r.member_id or "", r.topic, r.partition))
    if not rows:
        return
    headers = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
               "CLIENT-ID"]
    table = [[group, r.topic, str(r.partition), _cell(r.committed), _cell(r.log_end_offset), _cell(r.lag),
              _cell(r.member_id), _cell(r.host), _cell(r.client_id)] for r in rows]
    g = max([15, *(len(row[0]) for row in table)])
    t = max([15, *(len(row[1]) for row in table)])
    c = max([15, *(len(row[6]) for row in table)])
    h = max([15, *(len(row[7]) for row in table)])
    fmt = f"{{:<{g}}} {{:<{t}}} {{:<10}} {{:<15}} {{:<15}} {{:<15}} {{:<{c}}} {{:<{h}}} {{}}"
    print_lines(["", *(fmt.format(*row) for row in [headers, *table])])


def _assignment_text(assignment: Iterable[TopicPartition]) -> str:
    """``--members --verbose``' ASSIGNMENT: ``orders(0,1), payments(2)`` (Kafka's ``topic(partitions)``, sorted)."""
    by_topic: dict[str, list[int]] = {}
    for tp in assignment:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    if not by_topic:
        return MISSING
    return ", ".join(sorted(f"{topic}({','.join(str(p) for p in sorted(parts))})" for topic, parts in by_topic.items()))


def _print_members(description: GroupDescription, verbose: bool) -> None:
    """``--describe --members``: Kafka adds GROUP-INSTANCE-ID (width 17+) when a member has an instance id."""
    members = description.members
    with_instance = any(m.instance_id for m in members)
    headers = (["GROUP", "CONSUMER-ID"] + (["GROUP-INSTANCE-ID"] if with_instance else [])
               + ["HOST", "CLIENT-ID", "#PARTITIONS"] + (["ASSIGNMENT"] if verbose else []))
    table = [[description.group_id, m.member_id] + ([m.instance_id or ""] if with_instance else [])
             + [m.host, m.client_id, str(len(m.assignment))]
             + ([_assignment_text(m.assignment)] if verbose else []) for m in members]
    widths = [max([17 if with_instance and column == 2 else 15, *(len(row[column]) for row in table)])
              for column in range(4 + with_instance)]
    fmt = " ".join(f"{{:<{w}}}" for w in widths) + " {:<15} " + ("{}" if verbose else "")
    print_lines(["", *(fmt.format(*row) for row in [headers, *table])])


async def coordinator_of(backend: Backend, group: str) -> tuple[int, str]:
    """The broker that coordinates ``group`` and its address: the leader of its ``__consumer_offsets`` partition.

    ``abs(groupId.hashCode()) % 50`` picks the partition, as in Kafka. Before the topic exists
    (no group has committed or rebalanced yet) kplay lays the partitions over the live brokers in turn.
    The playground's brokers have no listener of their own: they are shown at ``localhost:9092+id``,
    where ``kplay serve`` puts them.
    """
    partition = offsets_partition(group)
    brokers = await backend.brokers()
    try:
        topic = await backend.describe_topic(OFFSETS_TOPIC)
    except UnknownTopicOrPartition:
        live = [b.broker_id for b in brokers if b.alive]
        broker = live[partition % len(live)] if live else -1
    else:
        broker = topic.partitions[offsets_partition(group, topic.partition_count)].leader
    found = next((b for b in brokers if b.broker_id == broker and b.host), None)
    return broker, f"{found.host}:{found.port}" if found is not None else f"localhost:{9092 + broker}"


def _print_state(description: GroupDescription, broker: int, address: str) -> None:
    """``--describe --state``: Kafka's ``"\\n%-Ns %-25s %-20s %-15s %s"``, N = max(25, coordinator's width).

    (Kafka sizes the GROUP column by the coordinator's text and pads COORDINATOR (ID) to 25.)
    """
    coordinator = f"{address}  ({broker})"
    headers = ["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"]
    row = [description.group_id, coordinator, description.protocol or "", description.state,
           str(len(description.members))]
    width = max(25, len(coordinator))
    fmt = f"{{:<{width}}} {{:<25}} {{:<20}} {{:<15}} {{}}"
    print_lines(["", fmt.format(*headers), fmt.format(*row)])


# -- --delete -------------------------------------------------------------------------------

async def delete_groups(backend: Backend, names: Sequence[str], *, yes: bool = False) -> int:
    """``--delete``: remove groups that have no members, with their committed offsets."""
    failed: list[str] = []
    deleted: list[str] = []
    errors = "org.apache.kafka.common.errors."
    for name in names:
        backend.check_writable(f"delete group '{name}'")
        confirm_destructive(backend, f"delete group '{name}' and its committed offsets", name, yes=yes)
        try:
            await backend.delete_group(name)
            deleted.append(name)
        except GroupIdNotFound as error:
            failed.append(f"* Group '{name}' could not be deleted due to: {errors}GroupIdNotFoundException: {error}")
        except NonEmptyGroup as error:
            failed.append(f"* Group '{name}' could not be deleted due to: {errors}GroupNotEmptyException: {error}")
    if not failed:
        print_lines([f"Deletion of requested consumer groups ('{', '.join(deleted)}') was successful."])
        return 0
    # Kafka's printError and its lines, on stdout (the last one's quoting is Kafka's own).
    print_lines(["\nError: Deletion of some consumer groups failed:", *failed]
                + ([f"\nThese consumer groups were deleted successfully: '{chr(39).join(deleted)}', '"] if deleted else []))
    return 1


async def reset_group_offsets(backend: Backend, names: Sequence[str], plan: ResetPlan, *, yes: bool = False) -> int:
    """``--reset-offsets``: compute the new offsets, print them, write them with ``--execute``."""
    planned: dict[str, dict[TopicPartition, int]] = {}
    status = 0
    for name in names:
        description = await backend.describe_group(name)
        if description.state not in ("Empty", "Dead"):
            # Kafka prints the refusal and goes on: the group appears in the table with nothing to reset.
            print_lines([f"\nError: Assignments can only be reset if the group '{name}' is inactive, "
                         f"but the current state is {description.state}."])
            planned[name] = {}
            status = 1
            continue
        partitions = await _partitions_to_reset(backend, name, plan)
        new_offsets = await _new_offsets(backend, name, partitions, plan)
        if plan.execute:
            backend.check_writable(f"reset the offsets of group '{name}'")
            confirm_destructive(backend, f"reset the committed offsets of group '{name}'", name, yes=yes)
            await backend.reset_offsets(name, new_offsets)
        planned[name] = new_offsets
    _print_new_offsets(planned)
    return status


async def _partitions_to_reset(backend: Backend, group: str, plan: ResetPlan) -> list[TopicPartition]:
    if plan.all_topics:
        return sorted(await backend.committed_offsets(group))
    chosen: list[TopicPartition] = []
    for argument in plan.topics:
        if ":" in argument:
            name, _, numbers = argument.partition(":")
            if not name or ":" in numbers:
                raise UsageProblem(f"Invalid topic arg '{argument}', expected topic name and partitions")
            for text in numbers.split(","):
                try:
                    chosen.append(TopicPartition(name, int(text)))
                except ValueError:
                    raise UsageProblem(f"Invalid partition '{text}' specified in topic arg '{argument}''") from None
        else:
            count = await backend.partition_count(argument)
            chosen.extend(TopicPartition(argument, p) for p in range(count))
    missing = []
    for tp in chosen:
        try:
            if tp.partition >= await backend.partition_count(tp.topic) or tp.partition < 0:
                missing.append(tp)
        except UnknownTopicOrPartition:
            missing.append(tp)
    if missing:
        raise UnknownTopicOrPartition(f"The partitions \"{','.join(str(tp) for tp in missing)}\" do not exist")
    return list(dict.fromkeys(chosen))


async def _new_offsets(backend: Backend, group: str, partitions: list[TopicPartition],
                       plan: ResetPlan) -> dict[TopicPartition, int]:
    result: dict[TopicPartition, int] = {}
    committed = await backend.committed_offsets(group)
    timestamp = None
    if plan.scenario == "to-datetime":
        timestamp = parse_datetime(str(plan.value))
    elif plan.scenario == "by-duration":
        # In milliseconds, as Kafka's Instant.minus(duration).toEpochMilli(): a duration reaching
        # back before year 1 is a timestamp before every record, not a date out of range.
        duration_ms = parse_duration(str(plan.value)) // timedelta(milliseconds=1)
        timestamp = int(datetime.now(timezone.utc).timestamp() * 1000) - duration_ms
    marks = await backend.watermarks(partitions)
    for tp in partitions:
        start, end = marks[tp].log_start_offset, marks[tp].high_watermark
        if plan.scenario == "to-earliest":
            result[tp] = start
        elif plan.scenario == "to-latest":
            result[tp] = end
        elif plan.scenario == "to-current":
            result[tp] = committed.get(tp, end)
        elif plan.scenario in ("to-offset", "shift-by"):
            if plan.scenario == "to-offset":
                wanted = int(str(plan.value))
            else:
                if tp not in committed:
                    raise UsageProblem(f"Cannot shift offset for partition {tp} since there is no current "
                                       "committed offset")
                wanted = committed[tp] + int(str(plan.value))
            result[tp] = _within_log(tp, wanted, start, end)
        else:
            assert timestamp is not None
            found = (await backend.offsets_for_times({tp: timestamp}))[tp]
            if found is None:
                print_lines([f"\nWarn: Partition {tp.partition} from topic {tp.topic} is empty. "
                             "Falling back to latest known offset."])
                found = end
            result[tp] = found
    return result


def _within_log(tp: TopicPartition, offset: int, start: int, end: int) -> int:
    # Kafka clamps an offset outside the log to its nearest end and warns about it.
    if offset > end:
        print_error(f"WARN New offset ({offset}) is higher than latest offset for topic partition {tp}. "
                    f"Value will be set to {end}.")
        return end
    if offset < start:
        print_error(f"WARN New offset ({offset}) is lower than earliest offset for topic partition {tp}. "
                    f"Value will be set to {start}.")
        return start
    return offset


def _print_new_offsets(planned: dict[str, dict[TopicPartition, int]]) -> None:
    """The reset plan as Kafka's ``printOffsetsToReset``: ``"%n%-30s %-30s %-10s %-15s"`` per line, then a newline."""
    fmt = "\n{:<30} {:<30} {:<10} {:<15}"
    lines = [fmt.format("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")] if planned else []
    lines += [fmt.format(group, tp.topic, tp.partition, offset)
              for group, offsets in sorted(planned.items()) for tp, offset in sorted(offsets.items())]
    sys.stdout.write("".join(lines) + "\n")
    sys.stdout.flush()


_DATE_TIME = re.compile(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)(Z|[+-]\d\d:\d\d|[+-]\d\d)")


def parse_datetime(text: str) -> int:
    """Kafka's ``Utils.getDateTime``: ``yyyy-MM-dd'T'HH:mm:ss.SSS`` (milliseconds required) and an
    optional zone (``Z``, ``+01:00`` or ``+01``; UTC when the time part has none), parsed strictly.

    A text it cannot read fails as kafka-consumer-groups fails: ``java.text.ParseException: ...``.
    """
    parts = [part for part in text.split("T")]
    while parts and parts[-1] == "":
        parts.pop()  # Java's split drops trailing empty strings
    if len(parts) < 2:
        raise ToolFailure("java.text.ParseException: Error parsing timestamp. It does not contain a 'T' "
                          "according to ISO8601 format")
    value = text if any(c in parts[1] for c in "+-Z") else text + "Z"
    match = _DATE_TIME.match(value)  # SimpleDateFormat.parse reads a prefix; the rest is ignored
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute, second, millis = (int(g) for g in match.groups()[:7])
        if millis > 999:
            raise ValueError(value)
        zone = match.group(8)
        offset = timedelta(0) if zone == "Z" else (1 if zone[0] == "+" else -1) * timedelta(
            hours=int(zone[1:3]), minutes=int(zone[4:6] or 0) if len(zone) > 3 else 0)
        moment = datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=timezone(offset))
    except ValueError:
        raise ToolFailure(f'java.text.ParseException: Unparseable date: "{value}"') from None
    return int(moment.timestamp() * 1000)


def parse_duration(text: str) -> timedelta:
    """Java's ``Duration.parse`` for the forms a reset uses: ``PnDTnHnMn.nS``."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text.strip().upper())
    if not match or not any(match.groups()) or text.strip().upper().endswith("T"):
        raise UsageProblem(f"Text cannot be parsed to a Duration: {text}")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise UsageProblem(f"Text cannot be parsed to a Duration: {text}") from None


def register(app: typer.Typer) -> None:
    """Add ``kplay consumer-groups`` to the app."""
    app.command("consumer-groups")(consumer_groups)
