"""``kplay`` starts fast: opening the playground imports none of the heavy client and server libraries.

Each of these costs tens to hundreds of milliseconds to import, and only ``kplay serve``, the
perf tests and Connect's connectors use them; the playground's start-up (issue 17's "opens in
< 1 s") must not pay for them. The probe runs in a fresh interpreter, as ``kplay`` does.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

# Only what the playground does not use at start-up: the wire server (and kafka-python's
# protocol classes under it), the REST APIs, the real Kafka clients, Connect's databases.
HEAVY = ("kafka", "confluent_kafka", "aiokafka", "starlette", "uvicorn", "sqlalchemy", "psycopg",
         "app.serve.kafka_server", "app.serve.rest")

# What ``kplay`` with no arguments imports before it opens the playground: the CLI, then the TUI.
PROBE = """
import json, sys
import app.cli
import app.tui
print(json.dumps(sorted(sys.modules)))
"""


def test_the_heavy_libraries_are_installed_so_the_check_means_something() -> None:
    missing = [name for name in HEAVY if importlib.util.find_spec(name) is None]
    assert not missing, missing


@pytest.fixture(scope="module")
def loaded_by_the_playground() -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert {"app.cli", "app.tui", "textual", "broker_core"} <= loaded  # the probe really imported the playground
    return loaded


@pytest.mark.parametrize("module", HEAVY)
def test_opening_the_playground_does_not_import(loaded_by_the_playground: set[str], module: str) -> None:
    assert module not in loaded_by_the_playground


def test_opening_the_playground_imports_no_command_line_tool(loaded_by_the_playground: set[str]) -> None:
    """``kplay`` with no arguments imports none of the tools' modules (``kplay topics`` imports its own)."""
    from app.cli import COMMAND_MODULES

    tools = {f"app.commands.{module}" for module in COMMAND_MODULES}
    assert not tools & loaded_by_the_playground


def test_each_tool_is_found_in_the_module_that_registers_it() -> None:
    """The CLI's table of tools names exactly what each module registers, so every tool still runs."""
    import typer

    from app.cli import COMMAND_MODULES, COMMANDS, tool_commands

    for module in COMMAND_MODULES:
        assert sorted(tool_commands(module)) == sorted(name for name, owner in COMMANDS.items() if owner == module)
    registered = typer.Typer()
    for module in COMMAND_MODULES:
        importlib.import_module(f"app.commands.{module}").register(registered)
    assert len(registered.registered_commands) == len(COMMANDS)


def test_a_tool_runs_and_the_help_lists_every_tool() -> None:
    """Named, a tool's module is imported and runs; ``--help`` imports them all to list them."""
    probe = ("import sys; from typer.testing import CliRunner; from app.cli import app, COMMANDS; "
             "r = CliRunner().invoke(app, ['topics', '--help']); assert r.exit_code == 0, r.output; "
             "assert 'app.commands.topics' in sys.modules and 'app.commands.serve' not in sys.modules; "
             "r = CliRunner().invoke(app, ['--help'], terminal_width=200); assert r.exit_code == 0, r.output; "
             "missing = [name for name in COMMANDS if name not in r.output]; assert not missing, missing; "
             "r = CliRunner().invoke(app, ['topcs']); assert \"Did you mean 'topics'\" in r.output, r.output")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_wire_server_is_still_importable_from_the_package() -> None:
    """``from app.serve import KafkaServer`` (the package's documented names) loads it on first use."""
    probe = ("import sys, app.serve; assert 'app.serve.kafka_server' not in sys.modules; "
             "from app.serve import KafkaServer, start_servers, DEFAULT_PORT; "
             "print(KafkaServer.__module__, start_servers.__module__, DEFAULT_PORT)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["app.serve.kafka_server", "app.serve.servers", "9092"]
