"""The data generator: keeps inserting Fisher's iris data into a source table at a chosen rate.

The tutorial's pipeline needs a table that grows: ``DataGenerator`` creates
``iris_data(id, sepal_length, sepal_width, petal_length, petal_width, species,
created_at)`` if it is missing and inserts the 150 iris rows (shipped with kplay; public
domain) over and over. ``id`` is an autoincrement key (for ``mode=incrementing``) and
``created_at`` a timestamp distinct per row (for the timestamp modes).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import sqlalchemy
from sqlalchemy import Column, DateTime, Double, Integer, Text

from .databases import open_engine, split_table_name

DEFAULT_TABLE = "iris_data"
IRIS_COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width", "species")
#: The shortest pause between two inserts at high rates (rows are then inserted in batches).
MIN_TICK_S = 0.05
#: The gap between two rows' ``created_at``.
STAMP_STEP = dt.timedelta(milliseconds=1)


@lru_cache(maxsize=1)
def iris_rows() -> tuple[dict[str, Any], ...]:
    """The 150 rows of Fisher's iris data set (50 per species), in the classic order."""
    text = (resources.files("broker_core.connect") / "iris.csv").read_text(encoding="utf-8")
    rows = []
    for entry in csv.DictReader(io.StringIO(text)):
        rows.append({name: (entry[name] if name == "species" else float(entry[name])) for name in IRIS_COLUMNS})
    return tuple(rows)


def iris_table(name: str = DEFAULT_TABLE) -> sqlalchemy.Table:
    """The source table's definition (``schema.table`` names are honoured)."""
    schema, table = split_table_name(name)
    return sqlalchemy.Table(
        table, sqlalchemy.MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("sepal_length", Double, nullable=False),
        Column("sepal_width", Double, nullable=False),
        Column("petal_length", Double, nullable=False),
        Column("petal_width", Double, nullable=False),
        Column("species", Text, nullable=False),
        Column("created_at", DateTime, nullable=False),
        schema=schema)


def parse_rate(text: str) -> float:
    """``10/s``, ``600/m``, ``2/h`` or a plain number (per second) -> rows per second."""
    value = text.strip()
    unit = 1.0
    if "/" in value:
        value, _, per = value.partition("/")
        seconds = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}.get(per.strip())
        if seconds is None:
            raise ValueError(f"'{text}' is not a rate (expected e.g. 1/s, 600/m or 2/h)")
        unit = seconds
    try:
        rate = float(value) / unit
    except ValueError:
        raise ValueError(f"'{text}' is not a rate (expected e.g. 1/s, 600/m or 2/h)") from None
    if rate <= 0:
        raise ValueError(f"the rate must be above zero, not '{text}'")
    return rate


class DataGenerator:
    """Inserts iris rows into ``table`` of the database at ``connection_url``."""

    def __init__(self, connection_url: str, table: str = DEFAULT_TABLE, *, user: str = "", password: str = "",
                 base_dir: Path | None = None, confine: bool = True) -> None:
        self.table = iris_table(table)
        self.table_name = table
        self._engine = open_engine(connection_url, user, password, base_dir, confine=confine)
        self._next = 0
        self._ready = False
        self._last_stamp: dt.datetime | None = None
        #: Rows this generator has inserted so far.
        self.inserted = 0
        #: The id of the last row inserted (None before the first).
        self.last_id: int | None = None

    def ensure_table(self) -> None:
        """Create the table if it is missing; continue the iris cycle after the rows already there."""
        with self._engine.begin() as conn:
            self.table.create(conn, checkfirst=True)
            existing = conn.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(self.table)).scalar_one()
        self._next = existing
        self._ready = True

    def insert(self, count: int) -> int:
        """Insert ``count`` rows now, in one transaction; returns the last id inserted."""
        if not self._ready:
            self.ensure_table()
        data = iris_rows()
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        now -= dt.timedelta(microseconds=now.microsecond % 1000)
        start = now if self._last_stamp is None else max(now, self._last_stamp + STAMP_STEP)
        rows = []
        for i in range(count):
            row = dict(data[(self._next + i) % len(data)])
            # Distinct, increasing timestamps (the timestamp modes order rows by them), in whole
            # milliseconds: Connect's Timestamp carries milliseconds, so the copy is exact.
            row["created_at"] = start + i * STAMP_STEP
            rows.append(row)
        with self._engine.begin() as conn:
            conn.execute(self.table.insert(), rows)
            last = conn.execute(sqlalchemy.select(sqlalchemy.func.max(self.table.c.id))).scalar_one()
        self._next += count
        self._last_stamp = start + (count - 1) * STAMP_STEP
        self.inserted += count
        self.last_id = last
        return int(last)

    async def run(self, rate_per_s: float, count: int | None = None,
                  on_progress: Callable[["DataGenerator"], None] | None = None) -> int:
        """Insert rows at ``rate_per_s`` until ``count`` rows (forever when None); returns rows inserted.

        At high rates rows go in batches, one per tick of at least ``MIN_TICK_S``, so the
        average rate holds without one transaction per row.
        """
        await asyncio.to_thread(self.ensure_table)
        started = time.monotonic()
        done = 0
        floor = MIN_TICK_S if rate_per_s * MIN_TICK_S >= 1 else 0.0
        while count is None or done < count:
            due = int((time.monotonic() - started) * rate_per_s) + 1
            batch = min(due - done, (count - done) if count is not None else due)
            if batch > 0:
                await asyncio.to_thread(self.insert, batch)
                done += batch
                if on_progress is not None:
                    on_progress(self)
            if count is not None and done >= count:
                break
            next_due = started + (done / rate_per_s)
            await asyncio.sleep(max(next_due - time.monotonic(), floor))
        return done

    def close(self) -> None:
        """Close the database connections."""
        self._engine.dispose()
