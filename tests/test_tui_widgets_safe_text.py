"""``printable``: untrusted record bytes become one harmless, visible line."""

from __future__ import annotations

import pytest
from rich.text import Text

from widgets.safe_text import printable


def test_null_key_or_tombstone_shows_null() -> None:
    assert printable(None, 20) == "null"


def test_markup_is_kept_literally() -> None:
    assert printable(b"[bold red]x[/]", 50) == "[bold red]x[/]"
    assert printable(b"[link=http://e]y[/link]", 50) == "[link=http://e]y[/link]"
    # Drawn through Text, the brackets stay on screen and no style or link is applied.
    text = Text(printable(b"[bold red]x[/]", 50))
    assert text.plain == "[bold red]x[/]" and not text.spans


@pytest.mark.parametrize("data, expected", [
    (b"\x1b[31mred", "\\x1b[31mred"),
    (b"\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    (b"a\nb\tc\rd", "a\\nb\\tc\\rd"),
    (b"\x7f", "\\x7f"),
    ("\u009b2J".encode(), "\\x9b2J"),          # C1 CSI, encoded as UTF-8
    ("abc\u202edef".encode(), "abc\\u202edef"),  # bidi override
])
def test_control_characters_become_visible_escapes(data: bytes, expected: str) -> None:
    assert printable(data, 50) == expected


def test_invalid_utf8_is_escaped_not_dropped() -> None:
    assert printable(b"\xff\xfeok", 50) == "\\xff\\xfeok"
    assert printable(bytes(range(0x80, 0x84)), 50) == "\\x80\\x81\\x82\\x83"


def test_no_escape_byte_survives_any_input() -> None:
    out = printable(bytes(range(256)) * 2, 10_000)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in out)


def test_unicode_text_is_kept() -> None:
    assert printable("héllo wörld ✓".encode(), 50) == "héllo wörld ✓"


def test_long_values_are_cut_with_an_ellipsis() -> None:
    assert printable(b"x" * 1_000_000, 10) == "x" * 9 + "…"
    assert printable("ü".encode() * 100, 5) == "üüüü…"
    assert printable(b"12345", 5) == "12345"
