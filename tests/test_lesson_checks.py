"""A lesson file is checked whole before step 1: every problem, with its line, at once;
the README's sample lesson plays as printed; a lesson file is untrusted text."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.commands.demo import play_headless
from app.scenarios.script import MAX_COUNT, ScenarioError, parse

ROOT = Path(__file__).resolve().parent.parent
KPLAY = [sys.executable, "-c", "from app.cli import main; main()"]


def _readme_sample() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```text\n(.*?)```", readme, re.S)
    samples = [b for b in blocks if b.startswith("title:")]
    assert len(samples) == 1, "the README shows one sample lesson"
    return samples[0]


def test_the_readme_sample_lesson_plays_as_printed(tmp_path: Path):
    mine = tmp_path / "my-lesson.kplay"
    mine.write_text(_readme_sample(), encoding="utf-8")
    played = subprocess.run(KPLAY + ["demo", str(mine), "--headless", "--data", str(tmp_path / "d.db")],
                            capture_output=True, text=True, timeout=120)
    assert played.returncode == 0, played.stdout + played.stderr
    assert played.stdout.rstrip().endswith("every expectation held")


BROKEN = """title: Broken
create-topic orders partitions=3 replication=1
produce orders count=x
consumer c1 topic=orders group=g
expect leader orders-7 == 0
advance 2d
fly away
stop-consumer nobody
wait end-offset orders-5 == 1 timeout=1000d
stop-broker 4
expect position c1/orders == 0
"""


def test_every_problem_is_reported_with_its_line_before_anything_runs(tmp_path: Path):
    with pytest.raises(ScenarioError) as caught:
        parse(BROKEN, "broken.kplay")
    lines = str(caught.value).splitlines()
    assert [int(line.split(":")[1]) for line in lines] == [3, 7, 9, 10, 11]  # the lines' own problems first
    assert "count: 'x' is not a whole number" in lines[0]
    assert "unknown step 'fly'" in lines[1]
    assert "timeout: '1000d' is too long" in lines[2]
    assert "there is no broker 4" in lines[3]
    assert "'c1/orders' is not CONSUMER/TOPIC-PARTITION" in lines[4]


def test_what_the_steps_would_do_wrong_is_reported_too(tmp_path: Path):
    text = "\n".join(line for line in BROKEN.splitlines()
                     if not line.startswith(("produce", "fly", "wait", "stop-broker", "expect position")))
    with pytest.raises(ScenarioError) as caught:
        parse(text + "\n", "broken.kplay")
    messages = [f"{e.line}: {e.message}" for e in caught.value.errors]
    assert messages == [
        "4: expect: topic 'orders' has no partition 7 (it has 3: 0 to 2)",
        "5: advance: at most 12h while group consumers run (c1): their heartbeats are simulated through "
        "the whole jump; stop them first (stop-consumer NAME)",
        "6: stop-consumer: no running consumer named 'nobody' at this step (start it with: consumer nobody "
        "topic=...)",
    ]


def test_the_command_line_prints_every_error_and_runs_nothing(tmp_path: Path):
    mine = tmp_path / "broken.kplay"
    mine.write_text(BROKEN)
    data = tmp_path / "d.db"
    played = subprocess.run(KPLAY + ["demo", str(mine), "--headless", "--data", str(data)],
                            capture_output=True, text=True, timeout=60)
    assert played.returncode == 2
    errors = played.stderr.strip().splitlines()
    assert len(errors) == 5 and all(e.startswith(f"Error: {mine}:") for e in errors)
    assert "Traceback" not in played.stderr
    assert not data.exists()  # nothing ran


@pytest.mark.parametrize(("step", "error"), [
    ("produce t count=100000000", f"count: '100000000' is more than a lesson writes in one step (at most {MAX_COUNT:,})"),
    ("generator rows db=s.db count=100000000", "count: '100000000' is more than a lesson writes"),
    ("wait records t == 1 timeout=1000d", "timeout: '1000d' is too long"),
    ("create-connector c file=missing.json", "create-connector: file=missing.json: no such file"),
])
def test_absurd_counts_endless_waits_and_missing_files_are_refused_when_the_file_is_checked(
        step: str, error: str, tmp_path: Path):
    with pytest.raises(ScenarioError) as caught:
        parse(f"create-topic t\n{step}\n", "l.kplay", base_dir=tmp_path)
    assert str(caught.value).startswith(f"l.kplay:2: {error}")


async def test_a_large_count_is_written_in_bounded_chunks(tmp_path: Path):
    from app.scenarios import runner

    lines: list[str] = []
    scenario = parse(f"create-topic t\nproduce t count={runner.PRODUCE_CHUNK * 2 + 7}\n"
                     f"expect end-offset t-0 == {runner.PRODUCE_CHUNK * 2 + 7}\n", "big.kplay")
    result = await play_headless(scenario, tmp_path / "d.db", lines.append)
    assert result.passed, "\n".join(lines)


async def test_a_connector_file_that_vanished_is_one_line_not_a_traceback(tmp_path: Path):
    config = tmp_path / "c.json"
    config.write_text("{}")
    scenario = parse("create-connector c file=c.json\n", str(tmp_path / "l.kplay"), base_dir=tmp_path)
    config.unlink()  # gone between the check and the step
    lines: list[str] = []
    result = await play_headless(scenario, tmp_path / "d.db", lines.append)
    assert not result.passed
    assert result.failures == [f"{tmp_path / 'l.kplay'}:1: create-connector: cannot read file=c.json "
                               "(No such file or directory)"]


def test_say_lines_never_reach_the_terminal_as_escape_sequences(tmp_path: Path):
    mine = tmp_path / "hostile.kplay"
    mine.write_text("title: \x1b[2J wiped\nsay \x1b]0;owned\x07 and \x1b[31mred\x9b\n"
                    "create-topic t\nexpect records t == 1\n", encoding="utf-8")
    played = subprocess.run(KPLAY + ["demo", str(mine), "--headless", "--data", str(tmp_path / "d.db")],
                            capture_output=True, timeout=60)
    out = played.stdout.decode()
    assert played.returncode == 1
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "» \\x1b]0;owned\\x07 and \\x1b[31mred\\x9b" in out


@pytest.mark.parametrize("headless", [True, False], ids=["headless", "in-the-playground"])
def test_a_hangup_during_a_lesson_leaves_no_scratch_folder_behind(headless: bool, tmp_path: Path):
    mine = tmp_path / "slow.kplay"
    mine.write_text("create-topic t\nwait records t == 1 timeout=60s\n")
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch_root), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    args = KPLAY + ["demo", str(mine)] + (["--headless"] if headless else [])
    if headless:
        process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        import pty
        controller, terminal = pty.openpty()
        process = subprocess.Popen(args, env=env, stdin=terminal, stdout=terminal, stderr=terminal,
                                   start_new_session=True)
        os.close(terminal)
    try:
        deadline = time.monotonic() + 60
        while not list(scratch_root.glob("kplay-demo-*/demo.db")):
            assert process.poll() is None, "the lesson ended early"
            assert time.monotonic() < deadline, "the lesson never opened its data file"
            if not headless:
                _drain(controller)
            time.sleep(0.05)
        process.send_signal(signal.SIGHUP)
        while process.poll() is None:
            if not headless:
                _drain(controller)
            assert time.monotonic() < deadline, "SIGHUP did not end the lesson"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
        if not headless:
            os.close(controller)
    assert process.returncode == -signal.SIGHUP
    assert list(scratch_root.iterdir()) == []


def _drain(fd: int) -> None:
    """Read what the app wrote to its terminal, so it never blocks on a full pty."""
    import select
    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


async def test_topic_steps_can_expect_kafkas_refusal(tmp_path: Path):
    scenario = parse("create-topic t partitions=2\ncreate-topic t expect-error=TopicAlreadyExists\n"
                     "alter-topic t partitions=1 expect-error=InvalidPartitions\n"
                     "delete-topic nope expect-error=UnknownTopicOrPartition\n"
                     "create-topic u expect-error=TopicAlreadyExists\nexpect partitions t == 2\n", "refused.kplay")
    lines: list[str] = []
    result = await play_headless(scenario, tmp_path / "d.db", lines.append)
    assert result.failures == ["refused.kplay:5: expected TopicAlreadyExists, got success"]
    assert result.steps_run == 6
    assert any("refused as expected: InvalidPartitions: Topic currently has 2 partitions" in line for line in lines)
