"""Counts drawn in a fixed number of columns: whole with thousands separators when they fit, else compact."""

from __future__ import annotations

_UNITS = ((1_000_000_000_000, "T"), (1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k"))


def compact_count(n: int) -> str:
    """``n`` in at most four characters plus a sign: 999, 8.5k, 85k, 850k, 1.1M, 12M, 1.2G."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 1000:
        return f"{sign}{n}"
    for size, unit in _UNITS:
        if n >= size:
            value = n / size
            # Round down: a count never reads larger than it is (999,999 is 999k, not 1000k).
            if value < 10:
                text = f"{int(value * 10) / 10:.1f}".removesuffix(".0")
            else:
                text = str(int(value))
            if len(text) > 3 and size < _UNITS[0][0]:
                continue  # 1000k: use the next unit up
            return f"{sign}{text}{unit}"
    return f"{sign}{n}"


def fit_count(n: int, width: int) -> str:
    """``n`` as ``1,100,000`` when that fits ``width`` columns, else compact (``1.1M``): never cut."""
    whole = f"{n:,}"
    return whole if len(whole) <= width else compact_count(n)
