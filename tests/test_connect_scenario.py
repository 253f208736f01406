"""The demo scenario of the tutorial's database pipeline, played headless, and its new steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.commands.demo import play_headless
from app.scenarios.library import load_scenario
from app.scenarios.script import ScenarioError, parse
from broker_core.connect.databases import open_engine
from test_connect_support import Database


async def test_the_connect_pipeline_scenario_plays_headless_and_copies_the_table(tmp_path: Path) -> None:
    lines: list[str] = []
    result = await play_headless(load_scenario("connect-pipeline"), tmp_path / "demo.db", lines.append)
    assert result.passed, "\n".join(lines)
    transcript = "\n".join(lines)
    assert "source connector jdbc-source created" in transcript
    assert "ok: rows target.db/iris_data == 180" in transcript  # untouched while the sink was paused
    # The databases sit beside the data file; the copy is row for row the source.
    source = Database("", open_engine(f"jdbc:sqlite:{tmp_path / 'source.db'}"))
    target = Database("", open_engine(f"jdbc:sqlite:{tmp_path / 'target.db'}"))
    try:
        assert len(source.rows("iris_data")) == 210
        assert target.rows("iris_data") == source.rows("iris_data")
    finally:
        source.engine.dispose()
        target.engine.dispose()


@pytest.mark.parametrize("text, error", [
    ("generator iris_data count=5", "generator: needs db=URL and count=N"),
    ("generator iris_data db=s.db count=0", "count: '0' must be at least 1"),
    ("create-connector src", "create-connector: give file=CONFIG.json or the config as key=value pairs"),
    ("pause-connector", "'pause-connector' takes NAME"),
    ("expect rows == 3", "'rows' takes a target DB/TABLE"),
])
def test_bad_connect_steps_are_refused_with_their_line(text: str, error: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        parse(f"say hello\n{text}\n", "lesson.kplay")
    assert str(refused.value).startswith("lesson.kplay:2: ") and error in str(refused.value)


async def test_a_connector_refused_by_its_config_stops_the_scenario_naming_the_key(tmp_path: Path) -> None:
    scenario = parse("create-connector src connector.class=JdbcSourceConnector connection.url=jdbc:sqlite:s.db "
                     "mode=incrementing topic.prefix=x- colour=red\n", "lesson.kplay")
    lines: list[str] = []
    result = await play_headless(scenario, tmp_path / "demo.db", lines.append)
    assert not result.passed
    assert 'lesson.kplay:1: create-connector failed: ConnectorConfigInvalid' in result.failures[0]
    assert 'Unknown configuration "colour"' in result.failures[0]
