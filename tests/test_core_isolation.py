"""broker_core stays free of the UI: importing it pulls in no textual, rich, app or widgets."""

from __future__ import annotations

import json
import subprocess
import sys

UI_PACKAGES = ("textual", "rich", "app", "widgets")

# Imports PACKAGE and every module in it, then reports which top-level packages got loaded.
PROBE = """
import importlib, json, pkgutil, sys
import {package}
for module in pkgutil.walk_packages({package}.__path__, "{package}."):
    importlib.import_module(module.name)
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def loaded_by_importing(package: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing every module of ``package``."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(package=package)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_importing_broker_core_loads_no_ui_package() -> None:
    loaded = loaded_by_importing("broker_core")
    assert "broker_core" in loaded and "aiosqlite" in loaded  # the probe really imported the core
    assert loaded.isdisjoint(UI_PACKAGES), sorted(loaded & set(UI_PACKAGES))


def test_importing_the_backends_loads_neither_textual_nor_rich_nor_widgets() -> None:
    # app.backends is the interface the UI and the CLI share.
    loaded = loaded_by_importing("app.backends")
    assert "confluent_kafka" in loaded and "broker_core" in loaded  # the probe really imported both backends
    assert loaded.isdisjoint({"textual", "rich", "widgets"}), sorted(loaded & {"textual", "rich", "widgets"})
