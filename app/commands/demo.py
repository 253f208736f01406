"""``kplay demo``: list the built-in scenarios, or play one (in the TUI or headless)."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from broker_core import Cluster, ManualClock
from broker_core.errors import KafkaError

from ..scenarios.library import builtin_scenarios, load_scenario
from ..scenarios.runner import RunResult, ScenarioRunner
from ..scenarios.script import Scenario, ScenarioError
from ..scenarios.transcript import TranscriptObserver

#: Scenario clocks start here (2026-01-01T00:00:00Z) so transcripts are the same every run.
SCENARIO_EPOCH_MS = 1_767_225_600_000


def register(app: typer.Typer) -> None:
    """Add ``kplay demo`` to the CLI."""
    app.command("demo")(demo)


def demo(
    scenario: Optional[str] = typer.Argument(None, help="A built-in scenario's name, or a scenario file."),
    headless: bool = typer.Option(False, "--headless", help="Run without a screen and print a transcript."),
    data: Optional[Path] = typer.Option(None, "--data", help="Data file to play on (default: a fresh temporary one)."),
) -> None:
    """List the built-in scenarios, or play one."""
    if scenario is None:
        for builtin in builtin_scenarios():
            typer.echo(f"{builtin.name:<24} {builtin.description}")
        return
    try:
        parsed = load_scenario(scenario)
    except ScenarioError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    if headless:
        result = asyncio.run(play_headless(parsed, data, typer.echo))
        raise typer.Exit(0 if result.passed else 1)
    from ..tui import run_demo  # imported late: headless runs need no Textual

    run_demo(parsed, data)


async def open_scenario_cluster(scenario: Scenario, data: Optional[Path]) -> tuple[Cluster, ManualClock, Path]:
    """A cluster for a scenario: a fresh file with the scenario's brokers, on a manual clock."""
    clock = ManualClock(SCENARIO_EPOCH_MS)
    path = data or Path(tempfile.mkdtemp(prefix="kplay-demo-")) / "demo.db"
    cluster = await Cluster.open(path, clock=clock, brokers=scenario.brokers)
    return cluster, clock, path


def discard_scratch(path: Path, data: Optional[Path]) -> None:
    """Remove the temporary data file a scenario played on (a ``--data`` file is kept)."""
    if data is None:
        shutil.rmtree(path.parent, ignore_errors=True)


async def play_headless(scenario: Scenario, data: Optional[Path], write=print) -> RunResult:  # type: ignore[no-untyped-def]
    """Run ``scenario`` without a screen, writing its transcript; failures make it not pass."""
    try:
        cluster, clock, path = await open_scenario_cluster(scenario, data)
    except KafkaError as exc:
        write(f"Error: {exc}")
        return RunResult(False, [str(exc)], 0)
    write(f"== {scenario.title} ==")
    if scenario.description:
        write(scenario.description)
    write("")
    runner = ScenarioRunner(cluster, clock, scenario, TranscriptObserver(write))
    try:
        result = await runner.run()
    except ScenarioError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return RunResult(False, [str(exc)], 0)
    finally:
        await cluster.close()
        discard_scratch(path, data)
    write("")
    if result.passed:
        write(f"PASSED: {result.steps_run} steps, every expectation held")
    else:
        write(f"FAILED: {len(result.failures)} expectation(s) did not hold")
        for failure in result.failures:
            write(f"  {failure}")
    return result
