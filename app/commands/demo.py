"""``kplay demo``: list the built-in scenarios, or play one (in the TUI or headless)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Callable, Optional

import typer

from broker_core.errors import KafkaError

from ..scenarios.lesson_cluster import discard_scratch, open_scenario_cluster
from ..scenarios.library import builtin_scenarios, load_scenario
from ..scenarios.runner import RunResult, ScenarioRunner
from ..scenarios.script import Scenario, ScenarioError
from ..scenarios.transcript import TranscriptObserver
from widgets.safe_text import printable


def register(app: typer.Typer) -> None:
    """Add ``kplay demo`` to the CLI."""
    app.command("demo")(demo)


#: Longest line of an error message printed about a lesson file.
ERROR_LIMIT = 2_000


def demo(
    scenario: Optional[str] = typer.Argument(None, help="A built-in scenario's name, or a scenario file."),
    headless: bool = typer.Option(False, "--headless", help="Run without a screen and print a transcript."),
    data: Optional[Path] = typer.Option(None, "--data", help="Data file to play on (default: a fresh temporary one)."),
) -> None:
    """List the built-in scenarios, or play one."""
    if scenario is None:
        lessons = builtin_scenarios()
        width = max(len(b.name) for b in lessons) + 2
        for builtin in lessons:
            typer.echo(f"{builtin.name:<{width}} {builtin.description}")
        typer.echo("")
        typer.echo("Play a lesson:         kplay demo NAME              (space pause, n one step, +/- speed)")
        typer.echo("Print its transcript:  kplay demo NAME --headless")
        typer.echo("Play your own lesson:  kplay demo my-lesson.kplay   (the format is in the README)")
        return
    try:
        parsed = load_scenario(scenario)
    except ScenarioError as exc:
        for error in exc.errors:
            typer.echo(f"Error: {printable(str(error), ERROR_LIMIT)}", err=True)
        raise typer.Exit(2) from None
    # The lesson plays on a fresh file in a folder of its own, removed when it ends, also
    # when the terminal hangs up (SIGHUP) or the process is told to stop (SIGTERM).
    scratch = None if data is not None else Path(tempfile.mkdtemp(prefix="kplay-demo-"))
    path = data if data is not None else scratch / "demo.db"  # type: ignore[operator]
    restore = _remove_on_signal(scratch) if scratch is not None else (lambda: None)
    try:
        if headless:
            result = asyncio.run(play_headless(parsed, path, typer.echo))
            raise typer.Exit(0 if result.passed else 1)
        from ..tui import run_demo  # imported late: headless runs need no Textual

        run_demo(parsed, path)
    finally:
        restore()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _remove_on_signal(folder: Path) -> Callable[[], None]:
    """Remove ``folder`` if SIGHUP or SIGTERM ends the process; returns what undoes this."""
    def on_signal(signum: int, frame: FrameType | None) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        # Then end as the signal would have ended us (the exit status says which signal).
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGHUP, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return restore


async def play_headless(scenario: Scenario, data: Optional[Path], write=print) -> RunResult:  # type: ignore[no-untyped-def]
    """Run ``scenario`` without a screen, writing its transcript; failures make it not pass.

    Every line is written with control characters made visible: a lesson file is untrusted.
    """
    def safe(line: str) -> None:
        write(printable(line, ERROR_LIMIT))

    try:
        cluster, clock, path = await open_scenario_cluster(scenario, data)
    except KafkaError as exc:
        safe(f"Error: {exc}")
        return RunResult(False, [str(exc)], 0)
    safe(f"== {scenario.title} ==")
    if scenario.description:
        safe(scenario.description)
    write("")
    runner = ScenarioRunner(cluster, clock, scenario, TranscriptObserver(write))
    try:
        result = await runner.run()
    except ScenarioError as exc:
        print(f"Error: {printable(str(exc), ERROR_LIMIT)}", file=sys.stderr)
        return RunResult(False, [str(exc)], 0)
    finally:
        await cluster.close()
        discard_scratch(path, data)
    write("")
    if result.passed:
        safe(f"PASSED: {result.steps_run} steps, every expectation held")
    else:
        safe(f"FAILED: {len(result.failures)} expectation(s) did not hold")
        for failure in result.failures:
            safe(f"  {failure}")
    return result
