"""``kplay console-producer`` and ``console-consumer`` in separate processes, as in a tutorial."""

from __future__ import annotations

import signal

import pytest

from broker_core.partitioner import partition_for_key
from cli_harness import LiveTool, create_topics, kplay


def test_seed_tutorial_consumer_shows_what_the_producer_typed_in_order(data_path):
    created = kplay(data_path, "topics", "--create", "--topic", "topic-test", "--partitions", "1",
                    "--replication-factor", "1", "--bootstrap-server", "localhost:9092")
    assert created.returncode == 0, created.stderr
    assert "Topic: topic-test\t" in kplay(data_path, "topics", "--describe", "--topic", "topic-test").stdout

    consumer = LiveTool(data_path, "console-consumer", "--topic", "topic-test", "--from-beginning",
                        "--bootstrap-server", "localhost:9092")
    try:
        typed = ["This is my first event", "This is my second event", "  spaces and\ttabs kept  "]
        produced = kplay(data_path, "console-producer", "--topic", "topic-test",
                         "--bootstrap-server", "localhost:9092", input="\n".join(typed) + "\n")
        assert produced.returncode == 0, produced.stderr
        assert consumer.read_lines(3) == typed
        code, stderr = consumer.stop(signal.SIGINT)
    finally:
        consumer.kill()
    assert code == 0
    assert stderr == ["Processed a total of 3 messages"]


def test_consumer_follows_records_produced_after_it_started_and_stops_on_sigterm(data_path):
    create_topics(data_path, {"live": 2})
    # Every record goes to partition 0: its key hashes there, as Kafka's partitioner hashes it.
    key = next(k for k in (f"k{i}" for i in range(100)) if partition_for_key(k.encode(), 2) == 0)
    produce = ["console-producer", "--topic", "live", "--property", "parse.key=true", "--property", "key.separator=:"]
    kplay(data_path, *produce, input=f"{key}:old\n")
    consumer = LiveTool(data_path, "console-consumer", "--topic", "live", "--partition", "0", "--offset", "1")
    try:
        for round_ in range(2):
            kplay(data_path, *produce, input=f"{key}:new-{round_}\n")
            assert consumer.read_lines(1) == [f"new-{round_}"]
        code, stderr = consumer.stop(signal.SIGTERM)
    finally:
        consumer.kill()
    assert code == 0 and stderr == ["Processed a total of 2 messages"]


def test_keyed_production_with_parse_key_lands_where_kafka_would_put_it(data_path):
    create_topics(data_path, {"keyed": 3})
    lines = ["alice:1", "bob:2", "alice:3", "carol:4", "bob:5"]
    produced = kplay(data_path, "console-producer", "--topic", "keyed", "--property", "parse.key=true",
                     "--property", "key.separator=:", input="\n".join(lines) + "\n")
    assert produced.returncode == 0, produced.stderr
    consumed = kplay(data_path, "console-consumer", "--topic", "keyed", "--from-beginning", "--max-messages", "5",
                     "--property", "print.key=true", "--property", "print.partition=true",
                     "--property", "key.separator=|")
    assert consumed.returncode == 0, consumed.stderr
    rows = [line.split("|") for line in consumed.stdout.splitlines()]
    assert sorted((key, value) for _, key, value in rows) == sorted(tuple(line.split(":")) for line in lines)
    for partition, key, _ in rows:
        assert partition == f"Partition:{partition_for_key(key.encode(), 3)}"
    per_partition = {}
    for partition, key, value in rows:
        per_partition.setdefault(partition, []).append(int(value))
    assert all(values == sorted(values) for values in per_partition.values())  # order kept per partition


def test_a_refused_record_is_one_error_line_and_the_others_still_go(data_path):
    create_topics(data_path, {"t": 1})
    oversized = "x" * 1_100_000
    produced = kplay(data_path, "console-producer", "--topic", "t", "--property", "parse.key=true",
                     input=f"k\tfirst\nk\t{oversized}\nk\tlast\n")
    assert produced.returncode == 1
    assert "Traceback" not in produced.stderr
    errors = produced.stderr.splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("ERROR Error when sending message to topic t with key: 1 bytes, "
                                "value: 1100000 bytes with error: RecordTooLargeException: ")
    consumed = kplay(data_path, "console-consumer", "--topic", "t", "--from-beginning", "--timeout-ms", "500")
    assert consumed.stdout.splitlines() == ["first", "last"]


def test_the_producer_stops_at_a_line_it_cannot_parse(data_path):
    # LineMessageReader throws a KafkaException and kafka-console-producer exits: the lines before are sent.
    create_topics(data_path, {"t": 1})
    produced = kplay(data_path, "console-producer", "--topic", "t", "--property", "parse.key=true",
                     input="k\tfirst\nno separator here\nk\tnever\n")
    assert produced.returncode == 1
    assert produced.stderr.splitlines() == [
        "org.apache.kafka.common.KafkaException: No key separator found on line number 2: 'no separator here'"]
    consumed = kplay(data_path, "console-consumer", "--topic", "t", "--from-beginning", "--timeout-ms", "500")
    assert consumed.stdout.splitlines() == ["first"]


def test_a_piped_consumer_writes_values_as_raw_bytes(data_path):
    create_topics(data_path, {"bytes": 1})
    kplay(data_path, "console-producer", "--topic", "bytes", input=b"caf\xc3\xa9\nbad \xff\xfe\x1b[2J end\n")
    consumed = kplay(data_path, "console-consumer", "--topic", "bytes", "--from-beginning", "--max-messages", "2",
                     "--property", "print.key=true", "--property", "print.offset=true", input=b"")
    assert consumed.stdout == b"Offset:0\tnull\tcaf\xc3\xa9\nOffset:1\tnull\tbad \xff\xfe\x1b[2J end\n"


def test_partition_and_offset_start_reading_exactly_there(data_path):
    create_topics(data_path, {"t": 1})
    kplay(data_path, "console-producer", "--topic", "t", input="".join(f"m{i}\n" for i in range(10)))
    consumed = kplay(data_path, "console-consumer", "--topic", "t", "--partition", "0", "--offset", "7",
                     "--max-messages", "3")
    assert consumed.stdout.splitlines() == ["m7", "m8", "m9"]
    assert consumed.stderr.splitlines() == ["Processed a total of 3 messages"]


def test_timeout_ms_ends_an_idle_consumer_with_kafkas_message(data_path):
    create_topics(data_path, {"quiet": 1})
    consumed = kplay(data_path, "console-consumer", "--topic", "quiet", "--timeout-ms", "200")
    assert consumed.returncode == 0
    assert consumed.stderr.splitlines() == [
        "ERROR Error processing message, terminating consumer process: TimeoutException",
        "Processed a total of 0 messages"]


@pytest.mark.parametrize(("tool", "args", "expected"), [
    ("console-producer", ["--topic", "missing"], "Topic 'missing' does not exist"),
    ("console-producer", [], 'Missing required argument "[topic]"'),
    ("console-producer", ["--topic", "t", "--request-required-acks", "2"],
     "Invalid value 2 for configuration acks: String must be one of: all, -1, 0, 1"),
    ("console-producer", ["--topic", "t", "--producer-property", "linger.ms=soon"],
     "Invalid value soon for configuration linger.ms"),
    ("console-consumer", ["--topic", "missing"], "Topic 'missing' does not exist"),
    ("console-consumer", ["--topic", "t", "--offset", "3"], "The partition is required when offset is specified."),
    ("console-consumer", ["--topic", "t", "--partition", "0", "--offset", "soon"],
     "The provided offset value 'soon' is incorrect."),
    ("console-consumer", ["--topic", "t", "--partition", "0", "--group", "g"],
     "Options group and partition cannot be specified together."),
    ("console-consumer", ["--topic", "t", "--partition", "5"], "Partition 5 of topic 't' does not exist"),
    ("console-consumer", ["--topic", "t", "--from-beginning", "--consumer-property", "auto.offset.reset=latest"],
     "Can't simultaneously specify --from-beginning and 'auto.offset.reset=latest'"),
    ("console-consumer", ["--topic", "t", "--consumer-property", "auto.offset.reset=smallest"],
     "Invalid value smallest for configuration auto.offset.reset: String must be one of: latest, earliest, none"),
    ("console-consumer", ["--topic", "t", "--isolation-level", "read_most"],
     "Invalid value read_most for configuration isolation.level: String must be one of: read_committed, "
     "read_uncommitted"),
])
def test_each_console_mistake_is_one_line_and_a_failure_status(data_path, tool, args, expected):
    create_topics(data_path, {"t": 1})
    result = kplay(data_path, tool, *args, input="")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert expected in result.stderr


def _run_on_terminal(args: list[str], *, stdin_terminal: bool, feed: bytes = b"", timeout_s: float = 30.0):
    """Run kplay with stdin (or stdout) on a pseudo-terminal; return (status, stdout bytes)."""
    import os
    import pty
    import subprocess
    import time

    from cli_harness import KPLAY, ROOT

    controller, terminal = pty.openpty()
    try:
        if stdin_terminal:
            proc = subprocess.Popen([*KPLAY, *args], stdin=terminal, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=ROOT)
            os.write(controller, feed)
            out, _ = proc.communicate(timeout=timeout_s)
            return proc.returncode, out
        proc = subprocess.Popen([*KPLAY, *args], stdin=subprocess.DEVNULL, stdout=terminal,
                                stderr=subprocess.PIPE, cwd=ROOT)
        os.close(terminal)
        terminal = -1
        chunks = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the tool exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        return proc.wait(timeout_s), b"".join(chunks)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)


def test_a_terminal_on_stdin_gets_kafkas_prompt_and_each_line_is_sent(data_path):
    create_topics(data_path, {"typed": 1})
    # Canonical terminal input: two lines, then Ctrl-D (end of input) on an empty line.
    code, out = _run_on_terminal(["console-producer", "--topic", "typed", "--data", str(data_path)],
                                 stdin_terminal=True, feed=b"first line\nsecond line\n\x04")
    assert code == 0
    assert out.startswith(b">") and out.count(b">") >= 2
    consumed = kplay(data_path, "console-consumer", "--topic", "typed", "--from-beginning", "--max-messages", "2")
    assert consumed.stdout.splitlines() == ["first line", "second line"]


def test_on_a_terminal_record_bytes_cannot_drive_the_terminal(data_path):
    create_topics(data_path, {"hostile": 1})
    kplay(data_path, "console-producer", "--topic", "hostile", input=b"\x1b]0;pwned\x07 title\n")
    code, out = _run_on_terminal(["console-consumer", "--topic", "hostile", "--from-beginning", "--max-messages", "1",
                                  "--data", str(data_path)], stdin_terminal=False)
    assert code == 0
    assert b"\x1b" not in out and b"\x07" not in out
    assert b"\\x1b]0;pwned\\x07 title" in out
