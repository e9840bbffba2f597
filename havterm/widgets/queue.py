"""The ladder's queue read-out: own orders' queue position and P(fill), and the cursor's new order."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from havterm.widgets.views import QueueLine

TITLE = Style(color="#7f8a99")
OWN = Style(color="#ffd75f", bold=True)
CURSOR = Style(color="#5fafff", bold=True)
DIM = Style(color="#7f8a99")
FILL = Style(color="#d0d0d0")

MAX_OWN = 2
"""Own orders listed (two lines each); the rest are counted."""


TITLES = (
    "queue · P = chance of a complete fill within that time, replaying recent flow against the queue",
    "queue · P = chance of a complete fill within that time",
    "queue · P = chance of a complete fill",
)
"""The read-out's title, longest first: the longest that fits is shown."""

_BREAKS = ("; ", ", ", " · ", " (", " ")
"""Where a line too long for the panel may be cut, best first: a clause, a field, then a word."""


def fit(text: Text, width: int) -> Text:
    """``text`` cut to ``width`` cells at a clause or word boundary with a ``…``: no number is cut short."""
    if text.cell_len <= width or width <= 1:
        text.truncate(width)
        return text
    plain = text.plain
    room = width - 1  # the ellipsis
    for sep in _BREAKS:
        at = plain.rfind(sep, 0, room + 1)
        if at > 0 and at >= room // 2:  # keep at least half the line: a late cut beats a clause lost
            text.truncate(at)
            text.rstrip()
            text.append("…", DIM)
            return text
    text.truncate(room)
    text.append("…", DIM)
    return text


def queue_panel_lines(own: list[QueueLine], cursor: QueueLine | None, width: int, height: int) -> list[Text]:
    """``height`` lines: a title, then each own order and the cursor's order as head+queue and P(fill)."""
    title = next((t for t in TITLES if len(t) <= width), TITLES[-1])
    lines = [Text(title, style=TITLE, no_wrap=True, end="")]

    def entry(q: QueueLine, style: Style) -> None:
        first = Text(no_wrap=True, end="")
        first.append(q.head + "  ", style)  # the gap ends this span: SVG drops leading spaces
        first.append(q.queue, FILL)
        second = Text("   ", no_wrap=True, end="")
        second.append(q.fill, DIM if q.p30 is None else FILL)
        lines.extend((first, second))
        if q.level:
            third = Text("   ", no_wrap=True, end="")  # an unstyled indent: SVG keeps it
            third.append(q.level, DIM)
            lines.append(third)

    for q in own[:MAX_OWN]:
        entry(q, OWN)
    if len(own) > MAX_OWN:
        lines.append(Text(f"   … and {len(own) - MAX_OWN} more own orders (o: orders)", style=DIM, end=""))
    if cursor is not None:
        entry(cursor, CURSOR)
    elif not own:
        lines.append(Text("move the cursor onto a price to see where a new order would queue", style=DIM))
    return [fit(line, width) for line in lines[:height]]
