"""Screen 2: cumulative depth around the mid, with the engine's execution cost of a chosen size."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from havterm.screens import BaseScreen, Header, Panel, bindings
from havterm.widgets.depth import DepthChart, fill_size_text
from havterm.widgets.status import symbol_header
from havterm.widgets.views import BookStatsView, CostView, SymbolView, ViewSource


class DepthScreen(BaseScreen):
    """The depth chart; ``[``/``]`` change the range, ``,``/``.`` the fill size."""

    BINDINGS = bindings("depth.wider", "depth.narrower", "depth.size_up", "depth.size_down")

    def __init__(self, range_bps: float | None = None) -> None:
        super().__init__(name="depth")
        if range_bps is None:
            try:
                config = getattr(self.app, "config", None)
            except Exception:  # no running app (a screen built in a test)
                config = None
            range_bps = float(getattr(config, "depth_range_bps", 0.0))
        self.range_bps = range_bps
        """Half-range in basis points; 0 fits the whole book."""
        self.used_bps = range_bps
        self.fill_qty: dict[str, int] = {}
        self.view: SymbolView | None = None
        self.costs: tuple[CostView | None, CostView | None] = (None, None)
        self.stats: BookStatsView | None = None

    def body(self) -> ComposeResult:
        yield Panel(self._draw, id="depth")

    def _draw(self, width: int, height: int) -> list[Text]:
        book = self.view.book if self.view else None
        chart = DepthChart(book, self.range_bps, self._fill_qty(), height, self.costs, self.stats)
        lines = chart.lines(width, height)
        self.used_bps = chart.used_bps
        return lines

    def _fill_qty(self) -> int:
        sym = self.symbol
        if sym not in self.fill_qty and self.view and self.view.book and self.view.book.asks:
            # Start with about the size of the top five ask levels, rounded to one digit.
            top5 = sum(q for _, q in self.view.book.asks[:5])
            mag = 10 ** (len(str(max(1, top5))) - 1)
            self.fill_qty[sym] = max(1, top5 // mag * mag)
        return self.fill_qty.get(sym, 1)

    def frame(self, src: ViewSource, now: float) -> None:
        view = self.view = src.symbol_view(self.symbol)
        panel = self.query_one(Panel)
        key = (view, self.range_bps, self.fill_qty.get(self.symbol), panel.size)
        if key != panel.key:
            # The engine computes the cost (from level3 when the session has it) only when something moved.
            costs = getattr(src, "costs", None)
            self.costs = costs(self.symbol, self._fill_qty()) if costs is not None else (None, None)
            stats = getattr(src, "book_stats", None)
            self.stats = stats(self.symbol) if stats is not None else None
        panel.update_if(key)
        self.query_one(Header).show(symbol_header(self.symbol, self.view, self.header_extra(self.view)))

    def header_extra(self, view: SymbolView | None) -> str:
        book = view.book if view else None
        size = fill_size_text(self._fill_qty(), book.qty_precision) if book else "-"
        rng = f"±{self.used_bps:.3g} bps" + (" (auto)" if self.range_bps <= 0 else "")
        # What fits after the symbol, badge and last price: the fill size is repeated on the cost
        # lines under the chart, so it goes first; a field is dropped whole, never cut.
        width = self.size.width
        room = width - symbol_header(self.symbol, view).cell_len - 3 if width else 10**6
        choices = (f"range {rng}   fill size {size}", f"range {rng}", rng)
        return next((c for c in choices if len(c) <= room), "")

    def action_range(self, factor: float) -> None:
        """Widen or narrow the price range."""
        start = self.range_bps if self.range_bps > 0 else (self.used_bps or 10.0)
        self.range_bps = max(0.1, min(5000.0, start * factor))
        self._repaint()

    def action_size(self, factor: float) -> None:
        """Double or halve the size whose fill cost is marked."""
        q = self._fill_qty()
        self.fill_qty[self.symbol] = max(1, int(q * factor))
        self._repaint()

    def _repaint(self) -> None:
        src = getattr(self.app, "bridge", None)
        if src is not None:
            self.frame(src, src.monotonic())
