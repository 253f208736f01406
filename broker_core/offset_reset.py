"""Planning a consumer group's offset reset (``kafka-consumer-groups --reset-offsets``).

``plan_offset_reset`` computes the NEW-OFFSET of every partition of a topic for one of
Kafka's scenarios, without changing anything (the tool's ``--dry-run``); the group
coordinator's ``reset_offsets`` then writes them (``--execute``). As Kafka's
``ConsumerGroupCommand``: an offset outside the log is clamped to its nearest end (with a
note, Kafka's warning); ``--to-datetime`` takes the first offset at or after the time, and
the log end for a partition with no such record; ``--shift-by`` needs a committed offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import InvalidRequest
from .groups import GroupCoordinator
from .log import EARLIEST, LATEST, PartitionLogs
from .records import TopicPartition

ResetScenario = Literal["to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"]
RESET_SCENARIOS: tuple[ResetScenario, ...] = ("to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by")


@dataclass(frozen=True, slots=True)
class PlannedOffset:
    """One row of the plan: a partition, its committed offset now, and the new one."""

    partition: TopicPartition
    current: int | None
    new: int
    #: Why ``new`` is not what was asked (Kafka's warning), else "".
    note: str = ""


async def plan_offset_reset(groups: GroupCoordinator, logs: PartitionLogs, group: str, topic: str,
                            scenario: ResetScenario, value: int | None = None,
                            partitions: list[int] | None = None) -> list[PlannedOffset]:
    """The new offset of each partition of ``topic`` (all, or ``partitions``) for ``scenario``.

    ``value`` is the offset (to-offset), the shift (shift-by) or the time in ms (to-datetime).
    """
    if scenario not in RESET_SCENARIOS:
        raise InvalidRequest(f"Unknown reset scenario '{scenario}'")
    if scenario in ("to-offset", "to-datetime", "shift-by") and value is None:
        raise InvalidRequest(f"--{scenario} needs a value")
    count = await logs.partition_count(topic)
    chosen = list(range(count)) if partitions is None else partitions
    committed = await groups.fetch_offsets(group)
    plan = []
    for number in chosen:
        tp = TopicPartition(topic, number)
        start = await logs.list_offset(topic, number, EARLIEST)
        end = await logs.list_offset(topic, number, LATEST)
        assert start is not None and end is not None
        current = committed.get(tp)
        note = ""
        if scenario == "to-earliest":
            new = start
        elif scenario == "to-latest":
            new = end
        elif scenario == "to-datetime":
            assert value is not None
            found = await logs.list_offset(topic, number, value)
            if found is None:
                note = f"partition {number} has no record at or after that time: the latest offset is used"
            new = end if found is None else found
        else:
            assert value is not None
            if scenario == "shift-by":
                if current is None:
                    raise InvalidRequest(f"Cannot shift offset for partition {tp} since there is no current "
                                         "committed offset")
                new = current + value
            else:
                new = value
            if new > end:
                note = f"New offset ({new}) is higher than latest offset for topic partition {tp}. Value will be set to {end}."
                new = end
            elif new < start:
                note = f"New offset ({new}) is lower than earliest offset for topic partition {tp}. Value will be set to {start}."
                new = start
        plan.append(PlannedOffset(tp, current, new, note))
    return plan
