"""broker_core stays free of the UI: importing it pulls in no textual, rich, app or widgets."""

from __future__ import annotations

import json
import subprocess
import sys

UI_PACKAGES = ("textual", "rich", "app", "widgets")

# Imports broker_core and every module in it, then reports which top-level packages got loaded.
PROBE = """
import importlib, json, pkgutil, sys
import broker_core
for module in pkgutil.walk_packages(broker_core.__path__, "broker_core."):
    importlib.import_module(module.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_importing_broker_core_loads_no_ui_package() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "broker_core" in loaded and "aiosqlite" in loaded  # the probe really imported the core
    assert loaded.isdisjoint(UI_PACKAGES), sorted(loaded & set(UI_PACKAGES))


# Imports every module of app.backends (the interface the UI and the CLI share) and reports what got loaded.
BACKENDS_PROBE = """
import importlib, json, pkgutil, sys
import app.backends
for module in pkgutil.walk_packages(app.backends.__path__, "app.backends."):
    importlib.import_module(module.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_importing_the_backends_loads_neither_textual_nor_rich_nor_widgets() -> None:
    done = subprocess.run([sys.executable, "-c", BACKENDS_PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "confluent_kafka" in loaded and "broker_core" in loaded  # the probe really imported both backends
    assert loaded.isdisjoint({"textual", "rich", "widgets"}), sorted(loaded & {"textual", "rich", "widgets"})
