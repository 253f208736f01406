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


def test_the_wire_server_is_still_importable_from_the_package() -> None:
    """``from app.serve import KafkaServer`` (the package's documented names) loads it on first use."""
    probe = ("import sys, app.serve; assert 'app.serve.kafka_server' not in sys.modules; "
             "from app.serve import KafkaServer, start_servers, DEFAULT_PORT; "
             "print(KafkaServer.__module__, start_servers.__module__, DEFAULT_PORT)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["app.serve.kafka_server", "app.serve.servers", "9092"]
