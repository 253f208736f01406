"""What can be known to fail in a scenario before its first step runs.

``parse`` checks each line on its own; this module follows the steps in order, as the
runner will, keeping track of what the lesson itself creates: its topics and their
partition counts, its running consumers (and which are group members), and its live
brokers. A step that would certainly fail (an expectation naming a partition the topic
does not have, stopping a consumer that is not running, moving the clock further than the
runner allows while group members run, a connector file that is missing) is reported
with its line, all of them at once, so a lesson never stops halfway through on something
that could have been said at the start.

Topics the lesson did not create may exist in a ``--data`` file; they are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .script import Condition, Scenario, Step

#: Longest ``advance`` while group members run: the runner moves the clock in 10-second
#: slices and heartbeats every running member in each, so their sessions stay alive.
MAX_ADVANCE_WITH_MEMBERS_MS = 12 * 3_600_000

#: Quantities whose target names a partition, and where the ``TOPIC-PARTITION`` part sits.
_PARTITION_TARGETS = {"leader", "isr", "replicas", "high-watermark", "end-offset", "log-start", "leader-epoch"}
#: Quantities whose target is (or starts with) a consumer the lesson runs.
_CONSUMER_TARGETS = {"read", "keys", "position", "assignment", "revoked"}


@dataclass
class _State:
    """What the lesson has created so far, as the runner will see it."""

    brokers: int
    topics: dict[str, int] = field(default_factory=dict)
    consumers: dict[str, str | None] = field(default_factory=dict)  # name -> group (None: standalone)
    stopped_brokers: set[int] = field(default_factory=set)


def split_topic_partition(text: str) -> tuple[str, int] | None:
    """``orders-2`` -> ("orders", 2); None when ``text`` is not TOPIC-PARTITION."""
    topic, sep, number = text.rpartition("-")
    if not sep or not topic or not number.isdigit():
        return None
    return topic, int(number)


def static_problems(scenario: Scenario, *, base_dir: Path | None = None,
                    complete: bool = True) -> list[tuple[int, str]]:
    """Every certain failure in ``scenario``, as (line, message), in line order.

    ``complete`` is False when some lines did not parse: then only the checks that do not
    depend on earlier steps run (a consumer started on a line that failed to parse would
    otherwise be reported missing everywhere after it). ``base_dir`` is where files named
    by steps are looked for (the scenario file's folder).
    """
    state = _State(scenario.brokers)
    problems: list[tuple[int, str]] = []
    for step in scenario.steps:
        for message in _check_step(state, step, base_dir, complete):
            problems.append((step.line, message))
    return problems


def _check_step(state: _State, step: Step, base_dir: Path | None, complete: bool) -> list[str]:
    verb, a = step.verb, step.args
    problems: list[str] = []
    if verb in ("stop-broker", "start-broker"):
        if a["broker"] >= state.brokers:
            problems.append(f"{verb}: there is no broker {a['broker']} (the lesson's cluster has "
                            f"{state.brokers}: 0 to {state.brokers - 1})")
        elif verb == "stop-broker":
            state.stopped_brokers.add(a["broker"])
        else:
            state.stopped_brokers.discard(a["broker"])
    if verb == "create-connector" and "file" in a and base_dir is not None:
        path = base_dir / a["file"]
        if not path.is_file():
            problems.append(f"create-connector: file={a['file']}: no such file ({path})")
    if not complete:
        return problems
    if "expect-error" in a and verb != "produce":
        return problems  # a step expected to be refused changes nothing
    if verb == "create-topic":
        live = state.brokers - len(state.stopped_brokers)
        if a.get("replication", 1) > live:
            problems.append(f"create-topic: Replication factor: {a.get('replication', 1)} larger than available "
                            f"brokers: {live}.")
        state.topics[a["name"]] = a.get("partitions", 1)
    elif verb == "alter-topic" and "partitions" in a and a["name"] in state.topics:
        have = state.topics[a["name"]]
        if a["partitions"] <= have:
            problems.append(f"alter-topic: Topic currently has {have} partitions, which is higher than the "
                            f"requested {a['partitions']}." if a["partitions"] < have else
                            f"alter-topic: Topic already has {have} partitions.")
        else:
            state.topics[a["name"]] = a["partitions"]
    elif verb == "delete-topic":
        state.topics.pop(a["name"], None)
    elif verb == "produce" and "partition" in a:
        problems += _partition_problem(state, a["topic"], a["partition"], "produce")
    elif verb == "consumer":
        problems += _check_consumer(state, step)
    elif verb in ("stop-consumer", "kill-consumer", "commit", "seek"):
        problems += _running(state, a["name"], verb)
        if verb in ("stop-consumer", "kill-consumer"):
            state.consumers.pop(a["name"], None)
    elif verb == "advance":
        members = sorted(name for name, group in state.consumers.items() if group)
        if members and a["duration"] > MAX_ADVANCE_WITH_MEMBERS_MS:
            problems.append(f"advance: at most {MAX_ADVANCE_WITH_MEMBERS_MS // 3_600_000}h while group consumers "
                            f"run ({', '.join(members)}): their heartbeats are simulated through the whole jump; "
                            "stop them first (stop-consumer NAME)")
    elif verb in ("expect", "wait") and step.condition is not None:
        problems += _check_condition(state, step.condition, verb)
    return problems


def _check_consumer(state: _State, step: Step) -> list[str]:
    a = step.args
    problems = []
    if a["name"] in state.consumers:
        problems.append(f"consumer: '{a['name']}' is already running (stop it first)")
    for topic in a["topic"].split(","):
        for partition in a.get("partitions", []):
            problems += _partition_problem(state, topic, partition, "consumer")
    state.consumers[a["name"]] = a.get("group")
    return problems


def _check_condition(state: _State, condition: Condition, verb: str) -> list[str]:
    quantity, target = condition.quantity, condition.target
    problems: list[str] = []
    if quantity in _PARTITION_TARGETS:
        parsed = split_topic_partition(target)
        if parsed:
            problems += _partition_problem(state, *parsed, verb)
    elif quantity in _CONSUMER_TARGETS:
        name, _, tp_text = target.partition("/")
        problems += _running(state, name, verb)
        parsed = split_topic_partition(tp_text) if tp_text else None
        if parsed:
            problems += _partition_problem(state, *parsed, verb)
    elif quantity in ("lag", "committed"):
        _, _, tp_text = target.partition("/")
        parsed = split_topic_partition(tp_text) if tp_text else None
        if parsed:
            problems += _partition_problem(state, *parsed, verb)
    elif quantity in ("records", "partitions") or quantity == "partition-of":
        pass  # any topic: a missing one is an error the runner reports with Kafka's words
    return problems


def _partition_problem(state: _State, topic: str, partition: int, verb: str) -> list[str]:
    count = state.topics.get(topic)
    if count is not None and partition >= count:
        return [f"{verb}: topic '{topic}' has no partition {partition} (it has {count}: 0 to {count - 1})"]
    return []


def _running(state: _State, name: str, verb: str) -> list[str]:
    if name not in state.consumers:
        return [f"{verb}: no running consumer named '{name}' at this step (start it with: consumer {name} topic=...)"]
    return []
