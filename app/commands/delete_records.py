"""``kplay delete-records``: Kafka's kafka-delete-records, on the playground or a real cluster.

    kplay delete-records --offset-json-file offsets.json
    kplay delete-records --offset-json-file offsets.json --cluster prod

The file is Kafka's: ``{"partitions": [{"topic": "orders", "partition": 0, "offset": 42}], "version": 1}``
(offset -1: up to the high watermark). The output is DeleteRecordsCommand's. On a real cluster the
records are gone for every reader, so the topic's name is asked for typed back first (``--yes`` skips).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from app.backends import Backend
from broker_core.records import TopicPartition

from .invocation import (BootstrapServerOption, ClusterOption, CommandConfigOption, DataOption, UsageProblem,
                         YesOption, confirm_destructive_on_topics, one_line_errors, run_on_backend)
from .output import java_exception_name, print_lines


def delete_records(
    ctx: typer.Context,
    offset_json_file: Annotated[Optional[Path], typer.Option(
        "--offset-json-file", metavar="FILE",
        help='A JSON file: {"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], "version": 1}.')] = None,
    bootstrap_server: BootstrapServerOption = None,
    command_config: CommandConfigOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
    yes: YesOption = False,
) -> None:
    """Delete a partition's records below an offset (kafka-delete-records)."""
    with one_line_errors():
        if offset_json_file is None:
            raise UsageProblem('Missing required argument "[offset-json-file]"')
        offsets = read_offsets_file(offset_json_file)
        run_on_backend(ctx, data, cluster, lambda backend: execute(backend, offsets, yes=yes))


def read_offsets_file(path: Path) -> dict[TopicPartition, int]:
    """The partitions and offsets of an ``--offset-json-file``, checked as DeleteRecordsCommand checks them."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise UsageProblem("The input string is not a valid JSON") from None
    if not isinstance(document, dict):
        raise UsageProblem("The input string is not a valid JSON object")
    version = document.get("version", 1)
    if version != 1:
        raise UsageProblem(f"Not supported version field value {version}")
    entries = document.get("partitions")
    if not isinstance(entries, list):
        raise UsageProblem('Offset json file must have a "partitions" list')
    offsets: dict[TopicPartition, int] = {}
    duplicates: set[str] = set()
    for entry in entries:
        if (not isinstance(entry, dict) or not isinstance(entry.get("topic"), str)
                or not all(isinstance(entry.get(key), int) and not isinstance(entry.get(key), bool)
                           for key in ("partition", "offset"))):
            raise UsageProblem('Offset json file must list {"topic": "<name>", "partition": <id>, "offset": <n>} '
                               "objects")
        tp = TopicPartition(entry["topic"], entry["partition"])
        if tp in offsets:
            duplicates.add(str(tp))
        offsets.setdefault(tp, entry["offset"])
    if duplicates:
        raise UsageProblem(f"Offset json file contains duplicate topic partitions: {','.join(sorted(duplicates))}")
    return offsets


async def execute(backend: Backend, offsets: dict[TopicPartition, int], *, yes: bool = False) -> None:
    """Delete, then print DeleteRecordsCommand's lines: each partition's low watermark or its error."""
    backend.check_writable("delete records")
    confirm_destructive_on_topics(backend, "delete records", [tp.topic for tp in offsets], yes=yes)
    print_lines(["Executing records delete operation"])
    outcomes = await backend.delete_records(offsets)
    lines = ["Records delete operation completed:"]
    for tp in offsets:
        outcome = outcomes[tp]
        lines.append(f"partition: {tp}\tlow_watermark: {outcome}" if isinstance(outcome, int) else
                     f"partition: {tp}\terror: org.apache.kafka.common.errors.{java_exception_name(outcome)}: "
                     f"{outcome}")
    print_lines(lines)


def register(app: typer.Typer) -> None:
    """Add ``kplay delete-records`` to the app."""
    app.command("delete-records")(delete_records)
