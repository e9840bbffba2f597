"""The price ladder: grouping that never crosses, bars, cumulative size, cursor and flashes.

``LadderModel`` is pure (view data in, rows out) and ``render_row`` turns a
row into a Rich ``Text``; ``Ladder`` is a Line API widget that caches one
``Strip`` per distinct row and repaints only the rows that changed.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from havterm.widgets.strips import StripCache
from havterm.widgets.views import BookView, Level, fmt_units

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


def fit_own(tag: str, width: int) -> str:
    """An Own cell (``B 0.05 #4 97%``, ``+`` when several orders share the price) in ``width`` cells.

    Whole fields from the right are dropped, never a number cut (``B 0.00`` would read as
    nothing left); when not even the size fits, the side and a ``…`` say there is an order.
    """
    if len(tag) <= width:
        return tag
    more = "+" if tag.endswith("+") else ""
    words = tag.rstrip("+").split(" ")
    out = words[0]
    for word in words[1:]:
        if len(f"{out} {word}{more}") > width:
            break
        out = f"{out} {word}"
    if out == words[0] and len(words) > 1:
        out = f"{out} …" if len(out) + 2 <= width else out
    return (out + more)[:width]


def render_row(row: Row, width: int) -> Text:
    """The Rich text of one ladder line at ``width`` cells (pure: testable without an app)."""
    lay = Layout.for_width(width)
    text = Text(no_wrap=True, overflow="crop", end="")
    if row.kind == "head":
        own = "Own/Queue" if lay.own >= len("Own/Queue") else "Own"  # a whole word, never "Own/Qu"
        text.append(own[: lay.own].ljust(lay.own), HEAD)
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
        text.append(fit_own(row.own, lay.own - 1).ljust(lay.own), base + DIM)
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
    """Turns successive book views into ladder rows: grouping, cumulative sizes, flashes, cursor.

    The cursor holds a price, not a row: once the user moves it, it stays on that
    price as levels come and go (a row is drawn for it even when no level is
    there), and the view scrolls only when that price would leave the screen.
    """

    def __init__(self) -> None:
        self.group_index = 0
        self.cursor = -1
        """Where the cursor is drawn, in rows from the spread line: -1 is the best ask, +1 the best bid."""
        self.cursor_ticks: int | None = None
        """The price the user chose, in the book's price units; ``None`` follows the best ask."""
        self.cursor_side = "ask"
        """The side of the spread the held price is shown on (it snaps up on asks, down on bids)."""
        self.cursor_price = ""
        """The cursor's price as the ladder writes it: what the order ticket opens at."""
        self.offset = 0
        """Lines the view is scrolled from its spread-centred place (to keep a held price on screen)."""
        self._cursor_symbol = ""
        self._precision: int | None = None
        self._asks: list[Level] = []
        """Asks best-first as last laid out (the held price's row included): what cursor moves walk."""
        self._bids: list[Level] = []
        self._tick = 0
        """The price step in units, learnt from the book (0 until two prices were seen)."""
        self._tick_key: tuple[str, int] | None = None
        self._tick_version: int | None = None
        self._last_qty: dict[tuple[str, int], int] | None = None
        self._flash_until: dict[tuple[str, int], float] = {}
        self._seen_version: tuple[str, int, int] | None = None
        self._last_symbol = ""

    @property
    def tick(self) -> int:
        """The instrument's price step in the book's units (1 until known)."""
        return self._tick or 1

    @property
    def group(self) -> int:
        """Grouping in price units: always a whole number of ticks, so grouped prices are real prices."""
        return GROUP_STEPS[self.group_index] * self.tick

    def set_group(self, index: int) -> None:
        """Change the grouping; flashes restart since every level moves (a held price snaps when drawn)."""
        self.group_index = max(0, min(len(GROUP_STEPS) - 1, index))
        self._last_qty = None
        self._flash_until.clear()

    def follow(self) -> None:
        """Let go of a held price: the cursor follows the best ask and the view centres on the spread."""
        self.cursor_ticks = None
        self.cursor_side = "ask"
        self.cursor = -1
        self.offset = 0

    def use_symbol(self, symbol: str) -> None:
        """Start over for another symbol: a price held on one symbol means nothing on the next."""
        if symbol != self._cursor_symbol:
            self._cursor_symbol = symbol
            self.follow()
            self.cursor_price = ""

    def move_cursor(self, delta: int, n_ask: int = 0, n_bid: int = 0) -> None:
        """Move the cursor ``delta`` price rows as last drawn, skipping the spread line, and hold that price.

        The cursor may go past the screen's edge (the view scrolls after it);
        ``n_ask`` and ``n_bid`` are unused: the model knows its own layout.
        """
        asks, bids = self._asks, self._bids
        if self._precision is None or not (asks or bids):
            return
        c = self.cursor + delta
        if c == 0:
            c += 1 if delta > 0 else -1
        lo = -len(asks) if asks else 1
        hi = len(bids) if bids else -1
        self.cursor = c = max(lo, min(hi, c))
        self.cursor_ticks = asks[-c - 1][0] if c < 0 else bids[c - 1][0]
        self.cursor_side = "ask" if c < 0 else "bid"
        self.cursor_price = fmt_units(self.cursor_ticks, self._precision)

    def _adopt(self, book: BookView) -> None:
        """Follow the book's symbol, precision and tick (a Futures book's precision can widen)."""
        if book.symbol != self._cursor_symbol:
            self._cursor_symbol = book.symbol
            self.follow()
        elif self._precision is not None and book.price_precision != self._precision:
            # The same price in the new units; a price the new units cannot write is let go.
            shift = book.price_precision - self._precision
            if self.cursor_ticks is not None:
                if shift > 0:
                    self.cursor_ticks *= 10**shift
                else:
                    q, r = divmod(self.cursor_ticks, 10**-shift)
                    if r:
                        self.follow()
                    else:
                        self.cursor_ticks = q
        self._precision = book.price_precision
        key = (book.symbol, book.price_precision)
        if key != self._tick_key:
            self._tick_key, self._tick, self._tick_version = key, 0, None
        if self._tick == 1 or book.version == self._tick_version:
            return
        self._tick_version = book.version
        prices = [t for t, _ in book.bids] + [t for t, _ in book.asks]
        # Every price is a multiple of the tick, so the gcd of all prices seen is the tick or a
        # multiple of it (never more than the closest two levels' spacing); it only ever shrinks.
        if len(prices) + (self._tick > 0) < 2:
            return
        tick = math.gcd(self._tick, *prices)
        if tick != self._tick:
            self._tick = tick
            self._last_qty = None
            self._flash_until.clear()

    def _place_cursor(self, asks: list[Level], bids: list[Level], g: int) -> tuple[int, str, int]:
        """The held price snapped to the grouping, its side and its index there (a row is added if needed)."""
        held = self.cursor_ticks
        assert held is not None
        side = self.cursor_side
        if held % g:
            held = (held // g) * g if side == "bid" else -((-held) // g) * g
            self.cursor_ticks = held
        if asks and held >= asks[0][0]:
            side = "ask"
        elif bids and held <= bids[0][0]:
            side = "bid"
        # Inside the spread (or past an empty side) it stays on the side it was chosen on.
        self.cursor_side = side
        if side == "ask":
            i = bisect.bisect_left(asks, held, key=lambda lv: lv[0])
            if i == len(asks) or asks[i][0] != held:
                asks.insert(i, (held, -1))
        else:
            i = bisect.bisect_left(bids, -held, key=lambda lv: -lv[0])
            if i == len(bids) or bids[i][0] != held:
                bids.insert(i, (held, -1))
        return held, side, i

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
            if book is not None:
                self._adopt(book)
            if self.cursor_ticks is None:
                self.cursor_price = ""  # nothing to follow: no price for a ticket to open at
            self._asks, self._bids = [], []
            return [head] + [Row("empty")] * n_ask + [Row("spread", msg)] + [Row("empty")] * n_bid
        self._adopt(book)
        g = self.group
        # A quantity of -1 marks the row drawn for a held price where no level is. Every price in
        # this book is a multiple of the tick (it was learnt from them): one tick needs no grouping.
        bids = group_levels(book.bids, g, "bid") if g > self.tick else list(book.bids)
        asks = group_levels(book.asks, g, "ask") if g > self.tick else list(book.asks)
        if self.cursor_ticks is not None:
            held, side, i = self._place_cursor(asks, bids, g)
            self.cursor = -(i + 1) if side == "ask" else i + 1
        else:
            self.cursor = -1 if asks else 1
            held = asks[0][0] if asks else bids[0][0]
        self.cursor_price = book.price(held)
        self._asks, self._bids = asks, bids
        # Lines of the whole ladder, top to bottom: asks worst-first, the spread line, bids best-first.
        n_a = len(asks)
        lines = height - 1
        base = n_a - n_ask  # the first line shown when centred on the spread
        if self.cursor_ticks is None:
            self.offset = 0
        else:
            at = n_a + self.cursor  # the cursor's line
            if not base + self.offset <= at < base + self.offset + lines:
                # Only when the held price would leave the screen: centre on it.
                self.offset = at - n_ask - base
        top = base + self.offset
        last = top + lines - 1
        # Levels from the best to the last one on screen: the cumulative sizes need them all.
        ask_hi = max(0, min(n_a, n_a - top))
        bid_hi = min(len(bids), max(0, last - n_a))
        shown_asks = [lv for lv in asks[:ask_hi] if lv[1] >= 0]
        shown_bids = [lv for lv in bids[:bid_hi] if lv[1] >= 0]
        self._update_flashes(book, shown_bids, shown_asks, now)
        lo_a = max(0, n_a - 1 - last)
        lo_b = max(0, top - n_a - 1)
        visible = [q for _, q in (*asks[lo_a:ask_hi], *bids[lo_b:bid_hi]) if q >= 0]
        biggest = max(visible, default=1) or 1
        ask_rows = self._side_rows(book, "ask", asks[:ask_hi], -1, biggest, now, own)
        bid_rows = self._side_rows(book, "bid", bids[:bid_hi], 1, biggest, now, own)
        out: list[Row] = [head]
        for y in range(top, last + 1):
            if y < 0 or y > n_a + len(bids):
                out.append(Row("empty"))
            elif y < n_a:
                out.append(ask_rows[n_a - 1 - y] if n_a - 1 - y < len(ask_rows) else Row("empty"))
            elif y == n_a:
                out.append(Row("spread", self._spread_text(book)))
            else:
                j = y - n_a - 1
                out.append(bid_rows[j] if j < len(bid_rows) else Row("empty"))
        return out

    def _side_rows(
        self,
        book: BookView,
        side: str,
        levels: list[Level],
        sign: int,
        biggest: int,
        now: float,
        own: Mapping[str, str],
    ) -> list[Row]:
        """Rows of one side, best-first, with cumulative sizes (the held price's own row has none)."""
        out: list[Row] = []
        cum = 0
        flashing = self._flash_until
        for i, (t, q) in enumerate(levels):
            price = book.price(t)
            cursor = self.cursor == sign * (i + 1)
            if q < 0:
                out.append(Row(side, price, cursor=cursor, own=own.get(price, "")))
                continue
            cum += q
            out.append(
                Row(
                    side,
                    price,
                    book.qty(q, 11),
                    book.qty(cum, 11),
                    q / biggest,
                    flashing.get((side, t), 0.0) > now,
                    cursor,
                    own.get(price, ""),
                )
            )
        return out

    def _spread_text(self, book: BookView) -> str:
        s = book.spread_ticks()
        if s is None:
            return "one-sided book"
        bps = book.spread_bps()
        group = f"   group {book.price(self.group)}" if self.group_index > 0 else ""
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
