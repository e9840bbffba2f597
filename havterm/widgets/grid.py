"""The multi-symbol grid: one cached line per symbol, repainted only when that symbol changed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from havterm.widgets.strips import StripCache
from havterm.widgets.views import SymbolView, at_places, fmt_decimal

SPARKS = "▁▂▃▄▅▆▇█"
HEAD = Style(color="#9fb3c8", bold=True)
DIM = Style(color="#7f8a99")
UP = Style(color="#4fd17b")
DOWN = Style(color="#ff6b6b")
CURSOR = Style(bgcolor="#2b3a55")
STATE_STYLE = {
    "synced": Style(color="#4fd17b"),
    "resyncing": Style(color="#ffd75f", bold=True),
    "awaiting": Style(color="#7f8a99"),
    "stale": Style(color="#ff9f43", bold=True),
    "disabled": Style(color="#ff6b6b", bold=True),
}
COLUMNS = (
    ("Symbol", 10),
    ("Last", 13),
    ("Chg %", 8),
    ("Sprd bps", 9),
    ("Imb", 6),
    ("Msg/s", 7),
    ("p50 ms", 7),
    ("Book", 10),
    ("Age s", 6),
)
FUTURES_COLUMNS = (("Fund %/h", 9), ("Basis", 10), ("OI", 8))
"""Kraken Futures columns: funding rate in % per hour, mark minus index, open interest (blank for Spot).

They are shown only while the grid holds a Futures product, so a Spot-only grid keeps its room."""
DROP_ORDER = ("Msg/s", "p50 ms", "OI", "Basis", "Fund %/h", "Age s", "Imb", "Sprd bps", "Chg %")
"""Columns left out first when the row is too narrow. The Futures columns go before change, spread
and imbalance: those describe every row, while Futures cells are blank on every Spot row."""
TREND_MIN = 10
"""Cells the trend keeps: columns are dropped until the row leaves this much for it."""


def sparkline(values: tuple[float, ...], width: int) -> str:
    """The last ``width`` values as block characters scaled to their own range."""
    vals = values[-width:]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return SPARKS[3] * len(vals)
    return "".join(SPARKS[min(7, int((v - lo) / (hi - lo) * 8))] for v in vals)


@dataclass(frozen=True, slots=True)
class GridRow:
    """Display values of one symbol (the line cache key, with the cursor flag)."""

    symbol: str
    last: str
    change: str
    change_up: bool | None
    spread: str
    imbalance: str
    rate: str
    latency: str
    state: str
    age: str
    spark: str
    cursor: bool = False
    funding: str = ""
    funding_up: bool | None = None
    basis: str = ""
    open_interest: str = ""


def fit_decimal(value: Decimal | None, width: int, signed: bool = False) -> str:
    """Exact text when it fits ``width``, else rounded (half-even, exactly) to the decimals that fit."""
    if value is None:
        return "-"
    text = f"{value:+f}" if signed else f"{value:f}"
    if len(text) <= width or "." not in text:
        return text
    room = max(0, width - len(text.partition(".")[0]) - 1)
    rounded = value.quantize(Decimal(1).scaleb(-room), rounding=ROUND_HALF_EVEN)
    return f"{rounded:+f}" if signed else f"{rounded:f}"


def compact(value: Decimal | None) -> str:
    """A large count in few cells (``25.03M``), exact below 100 000."""
    if value is None:
        return "-"
    v = abs(value)
    for unit, div in (("G", Decimal(10) ** 9), ("M", Decimal(10) ** 6), ("k", Decimal(10) ** 3)):
        if v >= div and (unit != "k" or v >= 100_000):
            return f"{(value / div).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN)}{unit}"
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


def grid_row(view: SymbolView, cursor: bool, spark_w: int) -> GridRow:
    """Format one symbol's view; pure."""
    book = view.book
    bps = book.spread_bps() if book else None
    imb = book.imbalance() if book else None
    ch = view.change_pct
    state = book.state if book else "awaiting"
    if view.health != "active" and state == "synced":
        state = view.health
    return GridRow(
        view.symbol,
        fmt_decimal(at_places(view.last, book.price_precision if book is not None else None)),
        "-" if ch is None else f"{ch:+.2f}",
        None if ch is None or ch == 0 else ch > 0,
        "-" if bps is None else f"{bps:.2f}",
        "-" if imb is None else f"{imb:+.2f}",
        f"{view.msg_rate:.0f}",
        "-" if view.latency_p50 is None else f"{view.latency_p50:.0f}",
        state + (f" ×{book.mismatches}" if book and book.mismatches else ""),
        "-" if view.staleness_s is None else f"{view.staleness_s:.0f}",
        sparkline(view.spark, spark_w),
        cursor,
        *_futures_cells(view),
    )


def _futures_cells(view: SymbolView) -> tuple[str, bool | None, str, str]:
    if not view.futures:
        return "", None, "", ""
    f = view.funding_pct
    return (
        "-" if f is None else fit_decimal(f.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN), 9, True),
        None if f is None or f == 0 else f > 0,
        fit_decimal(view.basis, 10, True),
        compact(view.open_interest),
    )


def columns_for(width: int, futures: bool = False) -> tuple[tuple[str, int], ...]:
    """The columns shown at ``width`` cells (with the Futures columns when ``futures``).

    At 80 cells that is symbol, last, change, spread, imbalance, book state and age, with
    or without Futures products; funding joins at 90 cells, basis at 100 and open interest at 110.
    """
    at = next(i for i, (name, _) in enumerate(COLUMNS) if name == "Msg/s")
    cols = [*COLUMNS[:at], *(FUTURES_COLUMNS if futures else ()), *COLUMNS[at:]]
    for name in DROP_ORDER:
        if sum(w + 1 for _, w in cols) <= width - TREND_MIN:
            break
        cols = [c for c in cols if c[0] != name]
    return tuple(cols)


def spark_offset(width: int, futures: bool = False) -> int:
    """Where the trend column starts at ``width``."""
    return sum(w + 1 for _, w in columns_for(width, futures))


_LEFT = ("Symbol", "Book")


def render_grid_row(row: GridRow | None, width: int, futures: bool = False) -> Text:
    """One grid line at ``width`` cells; ``None`` is the header."""
    text = Text(no_wrap=True, overflow="crop", end="")
    cols = columns_for(width, futures)
    if row is None:
        for name, w in cols:
            if name in _LEFT:
                text.append(name.ljust(w) + " ", HEAD)
            else:  # padding first and apart, as in the rows below
                text.append(" " * max(0, w - len(name)), HEAD)
                text.append(name + " ", HEAD)
        text.append("Trend", HEAD)
        text.truncate(width, pad=True)
        return text
    base = CURSOR if row.cursor else Style()
    values = {
        "Symbol": row.symbol, "Last": row.last, "Chg %": row.change, "Sprd bps": row.spread,
        "Imb": row.imbalance, "Msg/s": row.rate, "p50 ms": row.latency, "Book": row.state, "Age s": row.age,
        "Fund %/h": row.funding, "Basis": row.basis, "OI": row.open_interest,
    }  # fmt: skip
    prev = base
    for name, w in cols:
        value = values[name]
        style = base
        if name == "Symbol":
            style = base + Style(bold=True)
        elif name == "Chg %" and row.change_up is not None:
            style = base + (UP if row.change_up else DOWN)
        elif name == "Book":
            style = base + STATE_STYLE.get(value.split(" ")[0], STATE_STYLE["stale"])
        elif name == "Fund %/h" and row.funding_up is not None:
            style = base + (UP if row.funding_up else DOWN)
        elif name == "Age s":
            style = base + DIM
        if name in _LEFT:
            text.append(value.ljust(w) + " ", style)
        else:
            # The padding joins the previous cell's run: SVG viewers drop a run's leading spaces,
            # which shifted right-aligned numbers in the screenshots (terminals are unaffected).
            text.append(" " * max(0, w - len(value)), prev)
            text.append(value + " ", style)
        prev = style
    text.append(row.spark, base + Style(color="#7fb2ff"))
    text.truncate(width, pad=True)
    text.stylize(base)
    return text


class Grid(Widget, can_focus=True):
    """One line per symbol; a cursor row picks the symbol to open or remove."""

    DEFAULT_CSS = """
    Grid { height: 1fr; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cursor = 0
        self._views: list[SymbolView] = []
        self._rows: list[GridRow | None] = []
        self._futures = False
        self._strips = StripCache(lambda: self.rich_style, limit=4096)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    @property
    def selected(self) -> str | None:
        """The symbol under the cursor."""
        return self._views[self.cursor].symbol if 0 <= self.cursor < len(self._views) else None

    def show(self, views: list[SymbolView]) -> None:
        """Take the latest views; repaint only lines whose text changed."""
        self._views = views
        self.cursor = max(0, min(self.cursor, len(views) - 1))
        futures = any(v.futures for v in views)
        if futures != self._futures:
            self._futures = futures
            self._rows = []  # the columns changed: every line is new
        spark_w = max(0, self.size.width - spark_offset(self.size.width, futures))
        rows: list[GridRow | None] = [None]
        rows.extend(grid_row(v, i == self.cursor, spark_w) for i, v in enumerate(views))
        old, self._rows = self._rows, rows
        if len(old) != len(rows):
            self.refresh()
            return
        for y, (a, b) in enumerate(zip(old, rows, strict=True)):
            if a != b:
                self.refresh(Region(0, y, self.size.width, 1))

    def move(self, delta: int) -> None:
        """Move the cursor."""
        if self._views:
            self.cursor = max(0, min(len(self._views) - 1, self.cursor + delta))
            self.show(self._views)

    def on_resize(self) -> None:
        self._strips.clear()
        self._rows = []
        self.show(self._views)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._rows):
            if y == 1 and not self._views:
                return Strip([Segment("  no symbols: press a to add one", DIM)]).adjust_cell_length(width)
            return Strip.blank(width, self._strips.base)
        row = self._rows[y]
        futures = self._futures
        return self._strips.get((row, width, futures), width, lambda: render_grid_row(row, width, futures))
