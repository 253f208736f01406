"""Untrusted record bytes made safe to draw: one function, used by every widget.

Record keys and values come from anyone. Drawn as they are, ``[bold red]`` would be read
as Rich markup and ``\\x1b]0;title\\x07`` would reach the terminal as an escape sequence.
``printable`` turns bytes into a plain ``str`` in which every byte is visible: invalid
UTF-8 becomes ``\\xNN`` and control characters become escapes such as ``\\x1b``. Widgets
then wrap the result in ``rich.text.Text(...)`` (never markup), so brackets stay brackets.
"""

from __future__ import annotations

#: What a missing key or a tombstone's value shows, as kafka-console-consumer prints it.
NULL = "null"
#: Appended when a value is cut to its limit.
ELLIPSIS = "…"

# C0 controls, DEL and C1 controls (ESC, CSI and OSC among them) start terminal escape
# sequences or move the cursor; line and paragraph separators break lines; the bidi
# controls reorder what follows them (the "Trojan Source" trick). All become visible.
_SHORT = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_ESCAPED = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029,
            *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
_TABLE: dict[int, str] = {
    code: _SHORT.get(code, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _ESCAPED
}


def printable(data: bytes | str | None, limit: int = 200) -> str:
    """``data`` as a single line of harmless text, at most ``limit`` characters long.

    ``None`` (a null key or a tombstone) is ``"null"``. Bytes are decoded as UTF-8 with
    invalid bytes shown as ``\\xNN``; control characters (C0 including newline and tab,
    DEL, C1 including ESC's 8-bit form), line separators and bidi controls are replaced by
    visible escapes. A result longer than ``limit`` is cut and ends with ``…``.
    A ``str`` is accepted too (for names and error messages that may echo user input).
    """
    if data is None:
        return NULL
    limit = max(1, limit)
    if isinstance(data, str):
        text = data[: limit + 1]
    else:
        # A UTF-8 character is at most 4 bytes, so this slice holds more than ``limit``
        # characters whenever the data is longer than it: a huge value is never decoded whole.
        text = bytes(data[: limit * 4 + 4]).decode("utf-8", errors="backslashreplace")
    text = text.translate(_TABLE)
    if len(text) > limit:
        return text[: limit - 1] + ELLIPSIS
    return text
