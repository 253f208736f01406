"""``kplay delete-records`` (kafka-delete-records) on the playground's file and with ``--cluster``, as subprocesses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli_harness import KPLAY, ROOT
from test_cli_cluster import one_line_failure, run
from test_serve_support import ServedCluster

from backend_support import served, tansu, unique  # noqa: F401


def offsets_file(tmp_path: Path, *entries: tuple[str, int, int]) -> Path:
    path = tmp_path / "offsets.json"
    path.write_text(json.dumps({"partitions": [{"topic": t, "partition": p, "offset": o} for t, p, o in entries],
                                "version": 1}))
    return path


def produce(cluster: str, topic: str, count: int) -> None:
    result = run("console-producer", "--topic", topic, cluster=cluster,
                 input="".join(f"r{i}\n" for i in range(count)))
    assert result.returncode == 0, result.stderr


def test_records_below_the_offset_are_gone_on_kplay_serve(tmp_path: Path, served: ServedCluster) -> None:  # noqa: F811
    topic = unique("trim")
    run("topics", "--create", "--topic", topic, "--partitions", "1", cluster=served.bootstrap)
    produce(served.bootstrap, topic, 5)
    path = offsets_file(tmp_path, (topic, 0, 3))
    result = run("delete-records", "--offset-json-file", str(path), cluster=served.bootstrap, input=f"{topic}\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("Executing records delete operation\nRecords delete operation completed:\n"
                             f"partition: {topic}-0\tlow_watermark: 3\n")
    assert f"Type '{topic}' to confirm" in result.stderr
    consumed = run("console-consumer", "--topic", topic, "--from-beginning", "--max-messages", "2",
                   cluster=served.bootstrap)
    assert consumed.stdout.split() == ["r3", "r4"]


def test_on_the_playground_nothing_is_asked(tmp_path: Path) -> None:
    data = tmp_path / "kplay.db"
    kplay = [*KPLAY]
    subprocess.run([*kplay, "topics", "--create", "--topic", "t", "--data", str(data)], check=True,
                   capture_output=True, cwd=ROOT)
    subprocess.run([*kplay, "console-producer", "--topic", "t", "--data", str(data)], input="a\nb\n", check=True,
                   capture_output=True, text=True, cwd=ROOT)
    result = subprocess.run([*kplay, "delete-records", "--offset-json-file", str(offsets_file(tmp_path, ("t", 0, -1))),
                             "--data", str(data)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.splitlines()[-1] == "partition: t-0\tlow_watermark: 2"


def test_a_wrong_answer_deletes_nothing(tmp_path: Path, served: ServedCluster) -> None:  # noqa: F811
    topic = unique("kept")
    run("topics", "--create", "--topic", topic, cluster=served.bootstrap)
    produce(served.bootstrap, topic, 2)
    result = run("delete-records", "--offset-json-file", str(offsets_file(tmp_path, (topic, 0, 2))),
                 cluster=served.bootstrap, input="no\n")
    assert result.returncode == 1 and "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith(f"Not confirmed: delete records in topic '{topic}'")
    consumed = run("console-consumer", "--topic", topic, "--from-beginning", "--max-messages", "2",
                   cluster=served.bootstrap)
    assert consumed.stdout.split() == ["r0", "r1"]


def test_a_partition_error_is_printed_as_kafka_prints_it(tmp_path: Path, served: ServedCluster) -> None:  # noqa: F811
    topic = unique("far")
    run("topics", "--create", "--topic", topic, cluster=served.bootstrap)
    result = run("delete-records", "--offset-json-file", str(offsets_file(tmp_path, (topic, 0, 10))), "--yes",
                 cluster=served.bootstrap)
    assert result.stdout.splitlines()[-1].startswith(
        f"partition: {topic}-0\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException: ")


@pytest.mark.parametrize("content, expected", [
    ("{not json", "The input string is not a valid JSON"),
    ('{"partitions": [{"topic": "a", "partition": 0, "offset": 1}, {"topic": "a", "partition": 0, "offset": 2}]}',
     "Offset json file contains duplicate topic partitions: a-0"),
    ('{"partitions": [], "version": 2}', "Not supported version field value 2"),
])
def test_a_bad_offsets_file_is_one_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert one_line_failure(run("delete-records", "--offset-json-file", str(path), "--data",
                                str(tmp_path / "k.db"))) == expected


def test_a_read_only_profile_refuses(tmp_path: Path, served: ServedCluster) -> None:  # noqa: F811
    profiles = tmp_path / "clusters.toml"
    profiles.write_text(f'[ro]\n"bootstrap.servers" = "{served.bootstrap}"\nread_only = true\n')
    line = one_line_failure(run("delete-records", "--offset-json-file", str(offsets_file(tmp_path, ("x", 0, 1))),
                                cluster="ro", profiles=profiles))
    assert "read-only" in line and "delete records" in line


def test_delete_records_on_tansu_is_one_line(tmp_path: Path, tansu: ServedCluster) -> None:  # noqa: F811
    # Tansu 0.6 drops the connection on DeleteRecords (TANSU_NO_DELETE_RECORDS): one line, no traceback.
    topic = unique("trim")
    run("topics", "--create", "--topic", topic, cluster=tansu.bootstrap)
    produce(tansu.bootstrap, topic, 3)
    result = run("delete-records", "--offset-json-file", str(offsets_file(tmp_path, (topic, 0, 1))), "--yes",
                 cluster=tansu.bootstrap)
    assert one_line_failure(result).startswith("kplay: Cannot use cluster")
