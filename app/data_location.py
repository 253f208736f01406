"""Where the playground's data file is, for the playground and every tool."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from broker_core.storage import default_data_path


def resolve_data_path(data: Optional[Path]) -> Path:
    """The data file: ``--data``, else ``KPLAY_DATA``, else the user's data directory."""
    return data.expanduser() if data is not None else default_data_path()
