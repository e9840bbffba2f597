"""The price ladder: grouping that never crosses, bars, cumulative size, cursor and flashes.

``LadderModel`` is pure (view data in, rows out) and ``render_row`` turns a
row into a Rich ``Text``; ``Ladder`` is a Line API widget that caches one
``Strip`` per distinct row and repaints only the rows that changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from havterm.widgets.strips import StripCache
from havterm.widgets.views import BookView, Level

GROUP_STEPS = (
    1,
    2,
    5,
    10,
    20,
    25,
    50,
    100,
    200,
    250,
    500,
    1_000,
    2_000,
    2_500,
    5_000,
    10_000,
    50_000,
    100_000,
)
"""Price grouping in ticks, from finest to coarsest."""
FLASH_S = 0.4
"""How long a changed level stays highlighted."""

BID = Style(color="#4fd17b")
ASK = Style(color="#ff6b6b")
BID_BAR = Style(color="#1f6b3a")
ASK_BAR = Style(color="#7a2a2a")
DIM = Style(color="#7f8a99")
HEAD = Style(color="#9fb3c8", bold=True)
CURSOR = Style(bgcolor="#2b3a55")
FLASH = Style(bgcolor="#5a4a00", bold=True)
SPREAD = Style(color="#e0c060")
BLOCKS = " ▏▎▍▌▋▊▉█"


def group_levels(levels: tuple[Level, ...] | list[Level], group: int, side: str) -> list[Level]:
    """Aggregate best-first levels into buckets of ``group`` ticks.

    Bids round down and asks round up, so the best grouped bid is at most the
    best bid and the best grouped ask at least the best ask: the grouped book
    never crosses.
    """
    if group <= 1:
        return list(levels)
    out: list[Level] = []
    for t, q in levels:
        g = (t // group) * group if side == "bid" else -((-t) // group) * group
        if out and out[-1][0] == g:
            out[-1] = (g, out[-1][1] + q)
        else:
            out.append((g, q))
    return out


@dataclass(frozen=True, slots=True)
class Row:
    """One ladder line; equal rows render to equal strips (the cache key)."""

    kind: str
    """``head``, ``ask``, ``bid``, ``spread`` or ``empty``."""
    price: str = ""
    qty: str = ""
    cum: str = ""
    bar: float = 0.0
    """Quantity as a share of the largest visible level, 0..1."""
    flash: bool = False
    cursor: bool = False
    own: str = ""
    """Own orders and queue position: filled in by the trading and L3 features."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Column widths for one terminal width."""

    own: int
    cum: int
    size: int
    bar: int
    price: int

    @classmethod
    def for_width(cls, width: int) -> Layout:
        """Fixed numeric columns; the bars take what is left."""
        # Wide enough for "B 0.05 #4 97%" (side, size left, orders ahead, P(fill within 30 s)).
        own = 15 if width >= 110 else 10 if width >= 90 else 6
        cum, size, price = 11, 11, 12
        fixed = own + 2 * cum + 2 * size + price + 6
        bar = max(0, (width - fixed) // 2)
        return cls(own, cum, size, bar, price)


def _bar(frac: float, width: int, leftward: bool) -> str:
    """A horizontal bar of ``frac`` of ``width`` cells in eighths (whole cells when growing left)."""
    if width <= 0:
        return ""
    eighths = round(max(0.0, min(1.0, frac)) * width * 8)
    if frac > 0 and eighths == 0:
        eighths = 1
    if leftward:
        cells = (eighths + 7) // 8
        return " " * (width - cells) + "█" * cells
    full, part = divmod(eighths, 8)
    s = "█" * full + (BLOCKS[part] if part and full < width else "")
    return s.ljust(width)


def render_row(row: Row, width: int) -> Text:
    """The Rich text of one ladder line at ``width`` cells (pure: testable without an app)."""
    lay = Layout.for_width(width)
    text = Text(no_wrap=True, overflow="crop", end="")
    if row.kind == "head":
        text.append("Own/Queue"[: lay.own].ljust(lay.own), HEAD)
        text.append("Bid Cum".rjust(lay.cum) + " ", HEAD)
        text.append("Bid Size".rjust(lay.size) + " ", HEAD)
        text.append(" " * lay.bar + " ")
        text.append("Price".center(lay.price), HEAD)
        text.append(" " + " " * lay.bar)
        text.append(" " + "Ask Size".ljust(lay.size), HEAD)
        text.append(" " + "Ask Cum".ljust(lay.cum), HEAD)
    elif row.kind == "spread":
        text.append(row.price.center(width)[:width], SPREAD)
    elif row.kind in ("bid", "ask"):
        base = CURSOR if row.cursor else Style()
        flash = base + FLASH if row.flash else base
        is_bid = row.kind == "bid"
        side = BID if is_bid else ASK
        text.append(row.own[: lay.own].ljust(lay.own), base + DIM)
        if is_bid:
            text.append(row.cum.rjust(lay.cum) + " ", base + DIM)
            text.append(row.qty.rjust(lay.size), flash + side)
            text.append(" ", base)
            text.append(_bar(row.bar, lay.bar, True), base + BID_BAR)
            text.append(" ", base)
            text.append(row.price.center(lay.price), base + side + Style(bold=True))
            text.append(" " * (lay.bar + 1 + lay.size + 1 + lay.cum + 1), base)
        else:
            text.append(" " * (lay.cum + 1 + lay.size + 1 + lay.bar + 1), base)
            text.append(row.price.center(lay.price), base + side + Style(bold=True))
            text.append(" ", base)
            text.append(_bar(row.bar, lay.bar, False), base + ASK_BAR)
            text.append(" ", base)
            text.append(row.qty.ljust(lay.size), flash + side)
            text.append(" " + row.cum.ljust(lay.cum), base + DIM)
    text.truncate(width, pad=True)
    return text


class LadderModel:
    """Turns successive book views into ladder rows: grouping, cumulative sizes, flashes, cursor."""

    def __init__(self) -> None:
        self.group_index = 0
        self.cursor = -1
        """Rows from the spread line: -1 is the best ask, +1 the best bid."""
        self._last_qty: dict[tuple[str, int], int] | None = None
        self._flash_until: dict[tuple[str, int], float] = {}
        self._seen_version: tuple[str, int, int] | None = None
        self._last_symbol = ""
        self.cursor_price = ""

    @property
    def group(self) -> int:
        """Grouping in ticks."""
        return GROUP_STEPS[self.group_index]

    def set_group(self, index: int) -> None:
        """Change the grouping; flashes restart since every level moves."""
        self.group_index = max(0, min(len(GROUP_STEPS) - 1, index))
        self._last_qty = None
        self._flash_until.clear()

    def move_cursor(self, delta: int, n_ask: int, n_bid: int) -> None:
        """Move the cursor over price rows, skipping the spread line."""
        c = self.cursor + delta
        if c == 0:
            c += 1 if delta > 0 else -1
        self.cursor = max(-max(1, n_ask), min(max(1, n_bid), c))

    def rows(
        self, book: BookView | None, height: int, now: float, own: Mapping[str, str] | None = None
    ) -> list[Row]:
        """The rows for a ladder ``height`` lines tall (including the header).

        ``own`` maps a price, as the ladder writes it, to the text of the user's own
        orders there (filled in by order entry).
        """
        own = own or {}
        head = Row("head")
        if height <= 1:
            return [head][:height]
        n_ask = (height - 2) // 2
        n_bid = height - 2 - n_ask
        if book is None or not (book.bids or book.asks):
            msg = (
                "waiting for the book…"
                if book is None or book.state in ("awaiting", "synced")
                else book.state
            )
            return [head] + [Row("empty")] * n_ask + [Row("spread", msg)] + [Row("empty")] * n_bid
        g = self.group
        bids = group_levels(book.bids, g, "bid")[:n_bid]
        asks = group_levels(book.asks, g, "ask")[:n_ask]
        self._update_flashes(book, bids, asks, now)
        biggest = max((q for _, q in (*bids, *asks)), default=1) or 1
        self.cursor = max(-max(1, n_ask), min(max(1, n_bid), self.cursor)) or -1
        out: list[Row] = [head]
        ask_rows: list[Row] = []
        cum = 0
        flashing = self._flash_until
        for i, (t, q) in enumerate(asks):
            cum += q
            price = book.price(t)
            cursor = self.cursor == -(i + 1)
            if cursor:
                self.cursor_price = price
            ask_rows.append(
                Row(
                    "ask",
                    price,
                    book.qty(q, 11),
                    book.qty(cum, 11),
                    q / biggest,
                    flashing.get(("ask", t), 0.0) > now,
                    cursor,
                    own.get(price, ""),
                )
            )
        out.extend([Row("empty")] * (n_ask - len(ask_rows)))
        out.extend(reversed(ask_rows))
        out.append(Row("spread", self._spread_text(book)))
        cum = 0
        for i, (t, q) in enumerate(bids):
            cum += q
            price = book.price(t)
            cursor = self.cursor == i + 1
            if cursor:
                self.cursor_price = price
            out.append(
                Row(
                    "bid",
                    price,
                    book.qty(q, 11),
                    book.qty(cum, 11),
                    q / biggest,
                    flashing.get(("bid", t), 0.0) > now,
                    cursor,
                    own.get(price, ""),
                )
            )
        out.extend([Row("empty")] * (n_bid - len(bids)))
        return out

    def _spread_text(self, book: BookView) -> str:
        s = book.spread_ticks()
        if s is None:
            return "one-sided book"
        bps = book.spread_bps()
        group = f"   group {book.price(self.group)}" if self.group > 1 else ""
        return f"spread {book.price(s)}  ({bps:.2f} bps)   mid {book.mid_text()}{group}"

    def _update_flashes(self, book: BookView, bids: list[Level], asks: list[Level], now: float) -> None:
        key = (book.symbol, book.version, self.group)
        if key == self._seen_version:
            return
        self._seen_version = key
        cur = {("bid", t): q for t, q in bids}
        cur.update({("ask", t): q for t, q in asks})
        last = self._last_qty
        if last is not None and self._last_symbol == book.symbol:
            until = now + FLASH_S
            for k, q in cur.items():
                if last.get(k) != q:
                    self._flash_until[k] = until
        else:
            self._flash_until.clear()
        self._last_symbol = book.symbol
        self._last_qty = cur
        if len(self._flash_until) > 256:
            self._flash_until = {k: v for k, v in self._flash_until.items() if v > now}

    def flashing(self, now: float) -> bool:
        """True while some flash is still on (the frame timer must keep redrawing)."""
        return any(v > now for v in self._flash_until.values())


class Ladder(Widget):
    """The ladder as a Line API widget with a cache of rendered lines."""

    DEFAULT_CSS = """
    Ladder { height: 1fr; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = LadderModel()
        self.book: BookView | None = None
        self.own: Mapping[str, str] = {}
        self._rows: list[Row] = []
        self._strips = StripCache(lambda: self.rich_style, limit=2048)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def show(self, book: BookView | None, now: float, own: Mapping[str, str] | None = None) -> None:
        """Take a new view (and own orders by price text); repaint only the lines whose row changed."""
        self.book = book
        self.own = own or {}
        self._relayout(now)

    def _relayout(self, now: float) -> None:
        height, width = self.size.height, self.size.width
        rows = self.model.rows(self.book, height, now, self.own)
        old = self._rows
        self._rows = rows
        if len(old) != len(rows):
            self.refresh()
            return
        for y, (a, b) in enumerate(zip(old, rows, strict=True)):
            if a != b:
                self.refresh(Region(0, y, width, 1))

    def on_resize(self) -> None:
        self._strips.clear()
        self._rows = []
        self._relayout(0.0)

    def counts(self) -> tuple[int, int]:
        """Ask rows and bid rows at the current height."""
        h = self.size.height
        n_ask = max(0, (h - 2) // 2)
        return n_ask, max(0, h - 2 - n_ask)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._rows):
            return Strip.blank(width, self._strips.base)
        row = self._rows[y]
        return self._strips.get((row, width), width, lambda: render_row(row, width))
