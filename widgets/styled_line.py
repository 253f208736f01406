"""``StyledLine``: one line of styled pieces drawn straight into a Textual ``Strip``.

Line-API widgets that redraw many lines every frame under load (partition strips, the
consumer record windows, the partition log) build their lines with this instead of
``rich.text.Text``: appending pieces and turning them into segments skips Text's span
bookkeeping and rendering, which measured several times slower per line. Pieces are
plain strings (untrusted content goes through ``printable`` first), never markup.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip


class StyledLine:
    """A line being built: pieces of text, each with an optional style."""

    __slots__ = ("pieces", "cell_len")

    def __init__(self, text: str = "", style: Style | None = None) -> None:
        self.pieces: list[tuple[str, Style | None]] = []
        self.cell_len = 0
        if text:
            self.append(text, style)

    def append(self, text: str, style: Style | None = None) -> "StyledLine":
        """Add ``text`` (one line, no control characters) at the end."""
        if text:
            self.pieces.append((text, style))
            self.cell_len += cell_len(text)
        return self

    def extend(self, other: "StyledLine") -> "StyledLine":
        """Add another line's pieces at the end."""
        self.pieces.extend(other.pieces)
        self.cell_len += other.cell_len
        return self

    def fitted(self, width: int, ellipsis_style: Style | None = None) -> "StyledLine":
        """This line if it fits ``width`` cells, else its first ``width - 1`` cells and "…"."""
        if self.cell_len <= width:
            return self
        cut = StyledLine()
        room = max(0, width - 1)
        for text, style in self.pieces:
            if cut.cell_len + cell_len(text) > room:
                text = set_cell_size(text, room - cut.cell_len).rstrip()
                cut.append(text, style)
                break
            cut.append(text, style)
        cut.append("…", ellipsis_style)
        return cut

    @property
    def plain(self) -> str:
        """The text without styles."""
        return "".join(text for text, _ in self.pieces)

    def to_strip(self, width: int, base: Style) -> Strip:
        """Exactly ``width`` cells: cut at the right edge or padded, every piece over ``base``."""
        segments = [Segment(text, base + style if style is not None else base) for text, style in self.pieces]
        return Strip(segments, self.cell_len).adjust_cell_length(width, base)
