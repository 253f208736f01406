"""Scenarios: every built-in lesson passes its own expectations headless, replays are
deterministic, and bad scenario files fail with file:line and leave the data as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.commands.demo import play_headless
from app.scenarios.library import builtin_scenarios, load_scenario
from app.scenarios.script import ScenarioError, parse
from broker_core import Cluster

BUILTINS = [b.name for b in builtin_scenarios()]
KPLAY = [sys.executable, "-c", "from app.cli import main; main()"]


def test_every_tutorial_concept_has_a_lesson():
    assert {"message-systems", "first-steps", "partitions-and-keys", "consumer-groups", "offsets-and-replay",
            "replication-factor", "broker-failure", "control-plane", "acks-and-data-loss", "retention-and-compaction"} <= set(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
async def test_builtin_scenario_passes_its_own_expectations(name: str, tmp_path: Path):
    lines: list[str] = []
    result = await play_headless(load_scenario(name), tmp_path / "demo.db", lines.append)
    assert result.passed, "\n".join(lines)
    assert lines[-1].startswith("PASSED")


async def test_replays_give_the_same_transcript(tmp_path: Path):
    transcripts = []
    for run in range(2):
        lines: list[str] = []
        await play_headless(load_scenario("consumer-groups"), tmp_path / f"run{run}.db", lines.append)
        transcripts.append(lines)
    assert transcripts[0] == transcripts[1]
    assert any("assignment ann == payments-0,payments-1" in line for line in transcripts[0])


async def test_a_failed_expectation_fails_the_run_and_names_the_line(tmp_path: Path):
    scenario = parse("create-topic t partitions=2\nexpect partitions t == 3\nexpect partitions t == 2\n", "mine.kplay")
    lines: list[str] = []
    result = await play_headless(scenario, tmp_path / "d.db", lines.append)
    assert not result.passed
    assert result.failures == ["mine.kplay:2: expected partitions t == 3, got 2"]
    assert result.steps_run == 3  # the run goes on after a failed expectation


@pytest.mark.parametrize(("text", "error"), [
    ("produc t", "bad.kplay:1: unknown step 'produc'"),
    ("create-topic t\nproduce t count=x", "bad.kplay:2: count: 'x' is not a whole number"),
    ("create-topic t partitions=0", "bad.kplay:1: partitions: '0' must be at least 1"),
    ("create-topic t colour=red", "bad.kplay:1: 'create-topic' has no option 'colour'"),
    ("expect leader t-0 = 1", "bad.kplay:1: expected 'QUANTITY [TARGET] OP VALUE'"),
    ("advance 3y", "bad.kplay:1: '3y' is not a duration"),
    ("say hi\ntitle: late", "bad.kplay:2: 'title:' belongs in the header"),
    ("consumer c partitions=0", "bad.kplay:1: consumer: needs topic=NAME"),
    ("produce t value=\"open", "bad.kplay:1: No closing quotation"),
])
def test_bad_scenario_files_are_refused_before_anything_runs(text: str, error: str):
    with pytest.raises(ScenarioError) as caught:
        parse(text, "bad.kplay")
    assert str(caught.value).startswith(error)


async def test_a_failing_step_stops_the_run_and_leaves_the_data_as_before_it(tmp_path: Path):
    data = tmp_path / "d.db"
    scenario = parse("create-topic t partitions=1 replication=3 min.insync.replicas=3\nproduce t count=3\n"
                     "stop-broker 2\nproduce t count=2\nproduce t count=1\n", "steps.kplay")
    lines: list[str] = []
    result = await play_headless(scenario, data, lines.append)
    assert not result.passed
    assert result.failures[0].startswith("steps.kplay:4: produce failed: NotEnoughReplicas")
    async with await Cluster.open(data) as cluster:
        desc = await cluster.topics.describe_topic("t")
    assert desc.partitions[0].log_end_offset == 3  # step 4 wrote nothing, step 5 never ran


def test_demo_lists_lessons_and_plays_one_headless_from_the_command_line(tmp_path: Path):
    listing = subprocess.run(KPLAY + ["demo"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0
    assert "first-steps" in listing.stdout and "broker-failure" in listing.stdout
    assert "kplay demo NAME" in listing.stdout and "kplay demo NAME --headless" in listing.stdout
    played = subprocess.run(KPLAY + ["demo", "first-steps", "--headless", "--data", str(tmp_path / "d.db")],
                            capture_output=True, text=True, timeout=120)
    assert played.returncode == 0, played.stderr
    assert "» Kafka keeps records in topics." in played.stdout
    assert played.stdout.rstrip().endswith("PASSED: 18 steps, every expectation held")


def test_a_user_file_with_a_failing_expectation_exits_non_zero(tmp_path: Path):
    mine = tmp_path / "mine.kplay"
    mine.write_text("create-topic t\nexpect records t == 1\n")
    played = subprocess.run(KPLAY + ["demo", str(mine), "--headless", "--data", str(tmp_path / "d.db")],
                            capture_output=True, text=True, timeout=120)
    assert played.returncode == 1
    assert f"{mine}:2: expected records t == 1, got 0" in played.stdout
    assert "Traceback" not in played.stderr


def test_a_bad_user_file_gives_one_line_with_file_and_line(tmp_path: Path):
    mine = tmp_path / "bad.kplay"
    mine.write_text("create-topic t\nfly t\n")
    played = subprocess.run(KPLAY + ["demo", str(mine), "--headless"], capture_output=True, text=True, timeout=60)
    assert played.returncode == 2
    lines = played.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {mine}:2: unknown step 'fly' (expected one of: say, ")


async def test_records_without_a_key_stick_to_a_partition_for_batch_size_bytes(tmp_path: Path):
    # 1000 values of 100 bytes in one step: Kafka 3.3+'s producer (KIP-794) moves on after each
    # 16 KiB (batch.size), so the records come in runs of about 150 spread over the partitions
    # (the pre-3.3 sticky partitioner put a whole batch, here all 1000, on one partition).
    scenario = parse('create-topic t partitions=3\nproduce t count=1000 value="' + "x" * 100 + '"\n', "sticky.kplay")
    lines: list[str] = []
    result = await play_headless(scenario, tmp_path / "d.db", lines.append)
    assert result.passed, "\n".join(lines)
    async with await Cluster.open(tmp_path / "d.db") as cluster:
        ends = [p.log_end_offset for p in (await cluster.topics.describe_topic("t")).partitions]
    assert sum(ends) == 1000
    assert max(ends) < 1000 and all(end == 0 or end >= 100 for end in ends), ends
    assert sum(1 for end in ends if end) >= 2, ends
