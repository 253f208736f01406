"""The scenario file format: a small, line-based language a person writes by hand.

A scenario is a header of ``key: value`` lines (``title``, ``description``, ``seed``,
``brokers``) followed by one step per line: a verb, positional words and ``key=value``
options. ``#`` starts a comment line; quotes group words (``value="hello world"``).
Everything is checked before anything runs (each line, then what the steps do in order:
see ``check``), every error names the file and line, and all of them are reported at once.

    title: Partitions and keys
    create-topic orders partitions=3 replication=2
    say Records with the same key always land on the same partition.
    produce orders count=12 keys=alice,bob,carol value="order {i}"
    expect partition-of orders:alice == 0
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .check import split_topic_partition, static_problems

DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
#: Most records (or rows) one ``produce`` or ``generator`` step may write: a lesson shows a
#: concept, and a typo such as count=100000000 should be refused before anything runs.
MAX_COUNT = 1_000_000
#: Longest ``timeout=`` of a ``wait`` step. A wait's timeout is real time (how long the
#: runner waits for consumers and connectors to get there), not the lesson's clock.
MAX_WAIT_MS = 10 * 60_000
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
OPERATORS = ("==", "!=", ">=", "<=", ">", "<")


class ScenarioError(Exception):
    """A scenario file is wrong (or a step failed): ``file:line: what was expected``.

    ``errors`` lists every problem found (a file checked before it runs may have several;
    the first one is this error's own ``line`` and ``message``); ``str()`` gives one line each.
    """

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line
        self.message = message
        self.errors: list[ScenarioError] = [self]

    @classmethod
    def of(cls, errors: list["ScenarioError"]) -> "ScenarioError":
        """One error standing for ``errors`` (in line order), reporting them all."""
        ordered = sorted(errors, key=lambda e: e.line)
        first = ordered[0]
        combined = cls(first.source, first.line, first.message)
        combined.errors = ordered
        combined.args = ("\n".join(f"{e.source}:{e.line}: {e.message}" for e in ordered),)
        return combined


def parse_duration(text: str) -> int:
    """``250ms``, ``45s``, ``5m``, ``2h``, ``7d`` -> milliseconds."""
    match = DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration (expected a number with ms, s, m, h or d, e.g. 45s)")
    return int(float(match.group(1)) * _UNITS_MS[match.group(2)])


def parse_rate(text: str) -> float:
    """``10/s`` or ``600/m`` -> records per second."""
    match = re.match(r"^(\d+(?:\.\d+)?)/(s|m)$", text)
    if not match:
        raise ValueError(f"'{text}' is not a rate (expected e.g. 10/s or 600/m)")
    per_s = float(match.group(1)) / (60 if match.group(2) == "m" else 1)
    if per_s <= 0:
        raise ValueError(f"rate must be above zero: '{text}'")
    return per_s


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a whole number") from None


def _non_negative(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise ValueError(f"'{text}' must not be negative")
    return value


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise ValueError(f"'{text}' must be at least 1")
    return value


def _count(text: str) -> int:
    value = _positive(text)
    if value > MAX_COUNT:
        raise ValueError(f"'{text}' is more than a lesson writes in one step (at most {MAX_COUNT:,})")
    return value


def _wait_timeout(text: str) -> int:
    value = parse_duration(text)
    if value > MAX_WAIT_MS:
        raise ValueError(f"'{text}' is too long: a wait's timeout is real time, at most {MAX_WAIT_MS // 60_000}m "
                         "(move the lesson's clock with advance)")
    return value


def _int_list(text: str) -> list[int]:
    return [_non_negative(part) for part in text.split(",") if part]


def _choice(*options: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in options:
            raise ValueError(f"'{text}' is not one of: {', '.join(options)}")
        return text
    return check


def _keys(text: str) -> str:
    # none | seq (key-0, key-1, ...) | random:N (N distinct keys, seeded) | a,b,c (round-robin)
    if text.startswith("random:") and not re.match(r"^random:[1-9]\d*$", text):
        raise ValueError(f"'{text}' is not a key pattern (random:N needs N >= 1)")
    if not text or any(not part for part in text.split(",")):
        raise ValueError(f"'{text}' is not a key pattern (none, seq, random:N or a,b,c)")
    return text


def _acks(text: str) -> str:
    if text not in ("0", "1", "all", "-1"):
        raise ValueError(f"'{text}' is not an acks value (0, 1 or all)")
    return text


def _from(text: str) -> str:
    if text in ("earliest", "latest"):
        return text
    return str(_non_negative(text))


def _seek(text: str) -> str:
    if text in ("beginning", "end"):
        return text
    return str(_non_negative(text))


@dataclass(frozen=True)
class StepSpec:
    """What a verb takes: positional argument names and typed options."""

    positional: tuple[str, ...] = ()
    options: dict[str, Callable[[str], Any]] = field(default_factory=dict)
    config_options: bool = False  # accepts Kafka topic configs as key=value (keys with a dot)
    free_options: bool = False  # every other key=value goes to "config" (a connector's config)
    rest_is_text: bool = False
    summary: str = ""


STEP_SPECS: dict[str, StepSpec] = {
    "say": StepSpec(("text",), rest_is_text=True, summary="narration shown to the viewer"),
    "create-topic": StepSpec(("name",), {"partitions": _positive, "replication": _positive, "expect-error": str},
                             config_options=True, summary="create a topic"),
    "alter-topic": StepSpec(("name",), {"partitions": _positive, "expect-error": str}, config_options=True,
                            summary="add partitions or change configs"),
    "delete-topic": StepSpec(("name",), {"expect-error": str}, summary="delete a topic"),
    "produce": StepSpec(("topic",), {
        "key": str, "value": str, "partition": _non_negative, "acks": _acks, "count": _count,
        "keys": _keys, "rate": parse_rate, "expect-error": str, "tombstone": _choice("true", "false"),
        "transaction": str},
        summary="produce one or N records (tombstone=true: a null value, deleting its key; "
                "transaction=NAME: in that transactional producer's transaction)"),
    "consumer": StepSpec(("name",), {
        "topic": str, "partitions": _int_list, "group": str, "from": _from,
        "assignor": _choice("range", "roundrobin", "sticky", "cooperative-sticky", "uniform"),
        "protocol": _choice("classic", "consumer"),
        "auto-commit": _choice("true", "false"),
        "isolation": _choice("read_uncommitted", "read_committed")},
        summary="start a consumer (protocol=consumer: Kafka 4's KIP-848 group protocol, assignor uniform or range)"),
    "transactional-producer": StepSpec(("name",), {"id": str, "timeout": parse_duration},
                                       summary="start a transactional producer (InitProducerId with id=, "
                                               "fencing an older producer of that transactional.id)"),
    "send-offsets": StepSpec(("name",), {"consumer": str},
                             summary="add a group consumer's positions to the producer's transaction"),
    "commit-transaction": StepSpec(("name",), summary="commit a transactional producer's transaction"),
    "abort-transaction": StepSpec(("name",), summary="abort a transactional producer's transaction"),
    "stop-consumer": StepSpec(("name",), summary="stop a consumer cleanly (it leaves its group)"),
    "kill-consumer": StepSpec(("name",), summary="stop a consumer without leaving (its session expires)"),
    "commit": StepSpec(("name",), summary="commit a consumer's positions"),
    "seek": StepSpec(("name",), {"to": _seek}, summary="move a consumer to beginning, end or an offset"),
    "stop-broker": StepSpec(("broker",), summary="stop a broker"),
    "start-broker": StepSpec(("broker",), summary="start a broker"),
    "replication-delay": StepSpec(("duration",), summary="how long followers take to copy records"),
    "elect-preferred": StepSpec((), {"expect-error": str}, summary="move leadership back to preferred replicas"),
    "advance": StepSpec(("duration",), summary="move the clock forward (retention, timeouts)"),
    "clean": StepSpec((), summary="run retention and compaction now"),
    "wait": StepSpec(("condition",), {"timeout": _wait_timeout}, rest_is_text=True,
                     summary="wait until a condition holds"),
    "expect": StepSpec(("condition",), rest_is_text=True, summary="check a value; fail the scenario if wrong"),
    "pause": StepSpec(("duration",), summary="give the viewer time (no effect headless)"),
    "generator": StepSpec(("table",), {"db": str, "count": _count, "rate": parse_rate},
                          summary="insert N iris rows into a source table (db=URL or a file by the data file)"),
    "create-connector": StepSpec(("name",), {"file": str}, free_options=True,
                                 summary="create a Kafka Connect connector from key=value pairs or file=JSON"),
    "pause-connector": StepSpec(("name",), summary="pause a connector"),
    "resume-connector": StepSpec(("name",), summary="resume a paused connector"),
    "restart-connector": StepSpec(("name",), summary="restart a connector and its tasks"),
    "delete-connector": StepSpec(("name",), summary="delete a connector (its offsets stay)"),
}


@dataclass(frozen=True)
class Condition:
    """``QUANTITY [TARGET] OP VALUE`` as used by ``expect`` and ``wait``."""

    quantity: str
    target: str
    op: str
    value: str

    def __str__(self) -> str:
        middle = f" {self.target}" if self.target else ""
        return f"{self.quantity}{middle} {self.op} {self.value}"


#: Quantities a condition can name, and whether they need a target.
QUANTITIES: dict[str, str] = {
    "leader": "T-P", "isr": "T-P", "replicas": "T-P", "high-watermark": "T-P", "end-offset": "T-P",
    "log-start": "T-P", "leader-epoch": "T-P", "records": "TOPIC", "partitions": "TOPIC",
    "partition-of": "TOPIC:KEY", "read": "CONSUMER", "keys": "CONSUMER", "position": "CONSUMER/T-P",
    "assignment": "CONSUMER", "revoked": "CONSUMER", "lag": "GROUP or GROUP/T-P", "committed": "GROUP/T-P",
    "generation": "GROUP", "members": "GROUP", "state": "GROUP", "controller": "",
    "live-brokers": "", "topics": "", "rows": "DB/TABLE", "connector": "NAME",
    "last-stable-offset": "T-P", "transaction": "TRANSACTIONAL-ID",
}


@dataclass(frozen=True)
class Step:
    """One line of a scenario."""

    line: int
    verb: str
    args: dict[str, Any]
    text: str  # the line as written, for transcripts and the narration pane
    condition: Condition | None = None


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: header fields and steps."""

    source: str
    title: str
    description: str
    seed: int
    brokers: int
    steps: tuple[Step, ...]
    #: The controller quorum: "combined" (the brokers are its voters) or "dedicated"
    #: (three controller-only nodes, untouched when brokers stop).
    controllers: str = "combined"


def parse_condition(source: str, line: int, text: str) -> Condition:
    """Parse ``QUANTITY [TARGET] OP VALUE``."""
    words = text.split()
    op_at = next((i for i, w in enumerate(words) if w in OPERATORS), None)
    if op_at is None or op_at not in (1, 2) or len(words) != op_at + 2:
        raise ScenarioError(source, line, f"expected 'QUANTITY [TARGET] OP VALUE' with OP one of "
                                          f"{' '.join(OPERATORS)}, got '{text}'")
    quantity = words[0]
    if quantity not in QUANTITIES:
        raise ScenarioError(source, line, f"unknown quantity '{quantity}' (expected one of: "
                                          f"{', '.join(sorted(QUANTITIES))})")
    target = words[1] if op_at == 2 else ""
    needs = QUANTITIES[quantity]
    if bool(needs) != bool(target):
        raise ScenarioError(source, line, f"'{quantity}' takes {'a target ' + needs if needs else 'no target'}")
    problem = _target_problem(needs, target)
    if problem:
        raise ScenarioError(source, line, f"'{quantity}' takes {needs}: {problem}")
    return Condition(quantity, target, words[op_at], words[op_at + 1])


def _target_problem(needs: str, target: str) -> str:
    """What is wrong with ``target`` for a quantity that takes ``needs`` ("" if nothing)."""
    if needs == "T-P" and split_topic_partition(target) is None:
        return f"'{target}' is not TOPIC-PARTITION (e.g. orders-0)"
    if needs in ("CONSUMER/T-P", "GROUP/T-P"):
        name, _, tp = target.partition("/")
        if not name or split_topic_partition(tp) is None:
            return f"'{target}' is not {needs.split('/')[0]}/TOPIC-PARTITION (e.g. c1/orders-0)"
    if needs == "GROUP or GROUP/T-P" and "/" in target:
        name, _, tp = target.partition("/")
        if not name or split_topic_partition(tp) is None:
            return f"'{target}' is not GROUP/TOPIC-PARTITION (e.g. billing/orders-0)"
    if needs == "TOPIC:KEY" and not target.partition(":")[0]:
        return f"'{target}' is not TOPIC:KEY (e.g. orders:alice)"
    if needs == "DB/TABLE" and not all(target.rpartition("/")[::2]):
        return f"'{target}' is not DB/TABLE (e.g. source.db/iris_data)"
    return ""


def parse(text: str, source: str = "<scenario>", *, base_dir: Path | None = None) -> Scenario:
    """Parse and check a whole scenario; raises one ``ScenarioError`` reporting every problem.

    ``base_dir`` is where files the steps name are looked for (a user file's folder).
    """
    header: dict[str, str] = {}
    steps: list[Step] = []
    errors: list[ScenarioError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head = re.match(r"^(title|description|seed|brokers|controllers):\s*(.*)$", line)
        if head:
            if steps:
                errors.append(ScenarioError(source, number, f"'{head.group(1)}:' belongs in the header, "
                                                            "before the first step"))
            header[head.group(1)] = head.group(2)
            continue
        try:
            steps.append(_parse_step(source, number, line))
        except ScenarioError as exc:
            errors.append(exc)
    if not steps and not errors:
        errors.append(ScenarioError(source, 1, "a scenario needs at least one step"))
    seed, brokers = 0, 3
    for key in ("seed", "brokers"):
        try:
            value = int(header.get(key, str(seed if key == "seed" else brokers)))
        except ValueError:
            errors.append(ScenarioError(source, 1, f"header: {key}: '{header[key]}' is not a whole number"))
            continue
        if key == "seed":
            seed = value
        elif not 1 <= value <= 9:
            errors.append(ScenarioError(source, 1, "brokers: must be between 1 and 9"))
        else:
            brokers = value
    controllers = header.get("controllers", "combined").strip()
    if controllers not in ("combined", "dedicated"):
        errors.append(ScenarioError(source, 1, "controllers: must be combined or dedicated"))
    scenario = Scenario(source, header.get("title", Path(source).stem), header.get("description", ""),
                        seed, brokers, tuple(steps), controllers)
    errors += [ScenarioError(source, line, message)
               for line, message in static_problems(scenario, base_dir=base_dir, complete=not errors)]
    if errors:
        raise ScenarioError.of(errors)
    return scenario


def parse_file(path: Path) -> Scenario:
    """Read and parse a scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), 0, f"cannot read the file ({exc})") from None
    return parse(text, str(path), base_dir=path.parent)


def _parse_step(source: str, number: int, line: str) -> Step:
    verb, _, rest = line.partition(" ")
    spec = STEP_SPECS.get(verb)
    if spec is None:
        raise ScenarioError(source, number, f"unknown step '{verb}' (expected one of: {', '.join(STEP_SPECS)})")
    rest = rest.strip()
    if spec.rest_is_text:
        return _parse_text_step(source, number, line, verb, spec, rest)
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise ScenarioError(source, number, f"{exc} (check the quotes)") from None
    args: dict[str, Any] = {}
    positional = [w for w in words if "=" not in w]
    options = [w for w in words if "=" in w]
    if len(positional) != len(spec.positional):
        want = " ".join(s.upper() for s in spec.positional) or "no words"
        raise ScenarioError(source, number, f"'{verb}' takes {want} before its options, got '{rest}'")
    for name, value in zip(spec.positional, positional):
        args[name] = value
    config: dict[str, str] = {}
    for option in options:
        key, _, value = option.partition("=")
        if (spec.config_options and "." in key) or (spec.free_options and key not in spec.options):
            config[key] = value
            continue
        convert = spec.options.get(key)
        if convert is None:
            allowed = ", ".join(list(spec.options) + (["<topic config>=VALUE"] if spec.config_options else []))
            raise ScenarioError(source, number, f"'{verb}' has no option '{key}' (expected: {allowed or 'none'})")
        try:
            args[key] = convert(value)
        except ValueError as exc:
            raise ScenarioError(source, number, f"{key}: {exc}") from None
    if config:
        args["config"] = config
    for name in ("duration",):
        if name in args:
            try:
                args[name] = parse_duration(args[name])
            except ValueError as exc:
                raise ScenarioError(source, number, str(exc)) from None
    if "broker" in args:
        try:
            args["broker"] = _non_negative(args["broker"])
        except ValueError as exc:
            raise ScenarioError(source, number, f"broker: {exc}") from None
    _check_combinations(source, number, verb, args)
    return Step(number, verb, args, line)


def _parse_text_step(source: str, number: int, line: str, verb: str, spec: StepSpec, rest: str) -> Step:
    if not rest:
        raise ScenarioError(source, number, f"'{verb}' needs {'some text' if verb == 'say' else 'a condition'}")
    if verb == "say":
        return Step(number, verb, {"text": rest}, line)
    args: dict[str, Any] = {}
    words = rest.split()
    while words and "=" in words[-1] and words[-1].split("=", 1)[0] in spec.options:
        key, _, value = words.pop().partition("=")
        try:
            args[key] = spec.options[key](value)
        except ValueError as exc:
            raise ScenarioError(source, number, f"{key}: {exc}") from None
    condition = parse_condition(source, number, " ".join(words))
    return Step(number, verb, args, line, condition)


def _check_combinations(source: str, number: int, verb: str, args: dict[str, Any]) -> None:
    if verb == "generator" and ("db" not in args or "count" not in args):
        raise ScenarioError(source, number, "generator: needs db=URL and count=N")
    if verb == "create-connector" and "file" not in args and "config" not in args:
        raise ScenarioError(source, number, "create-connector: give file=CONFIG.json or the config as key=value pairs")
    if verb == "produce":
        if "count" in args and "key" in args:
            raise ScenarioError(source, number, "produce: use keys=... (a pattern) with count=, not key=")
        if "count" not in args and ("keys" in args or "rate" in args):
            raise ScenarioError(source, number, "produce: keys= and rate= go with count=N")
    if verb == "transactional-producer" and "id" not in args:
        raise ScenarioError(source, number, "transactional-producer: needs id=TRANSACTIONAL-ID")
    if verb == "send-offsets" and "consumer" not in args:
        raise ScenarioError(source, number, "send-offsets: needs consumer=NAME")
    if verb == "produce" and "transaction" in args and "rate" in args:
        raise ScenarioError(source, number, "produce: rate= does not go with transaction=")
    if verb == "consumer":
        if "topic" not in args:
            raise ScenarioError(source, number, "consumer: needs topic=NAME")
        if "group" in args and "partitions" in args:
            raise ScenarioError(source, number, "consumer: a group member gets partitions from its group; "
                                                "use either group= or partitions=")
    if verb == "alter-topic" and "partitions" not in args and "config" not in args:
        raise ScenarioError(source, number, "alter-topic: give partitions=N or a config such as retention.ms=1000")
