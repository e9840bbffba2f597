"""Screen 3: order flow: tape, volume over time, volume at price, imbalance, book events and level3 rates."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from havterm.screens import BaseScreen, Header, Panel
from havterm.widgets.flow import (
    at_price_lines,
    event_lines,
    gauge,
    level_rate_lines,
    tape_lines,
    volume_lines,
)
from havterm.widgets.status import symbol_header
from havterm.widgets.views import FlowView, SymbolView, ViewSource


class FlowScreen(BaseScreen):
    """Who is trading, how much, at what price, and what the book is doing."""

    DEFAULT_CSS = """
    FlowScreen #left { width: 46; max-width: 45%; border-right: vkey #2b3a55; }
    FlowScreen #tape { height: 1fr; }
    FlowScreen #volume { height: 25%; min-height: 4; }
    FlowScreen #gauges { height: 3; }
    FlowScreen #at-price { height: 1fr; min-height: 3; }
    FlowScreen #events { height: 40%; min-height: 4; }
    FlowScreen #levels { height: 16; max-height: 45%; border-top: hkey #2b3a55; }
    """

    def __init__(self) -> None:
        super().__init__(name="flow")
        self.view: SymbolView | None = None
        self.flow = FlowView()

    def body(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="left"):
                yield Panel(self._tape, id="tape")
                yield Panel(self._levels, id="levels")
            with Vertical():
                yield Panel(self._volume, id="volume")
                yield Panel(self._gauges, id="gauges")
                yield Panel(self._at_price, id="at-price")
                yield Panel(self._events, id="events")

    def _tape(self, w: int, h: int) -> list[Text]:
        trades = self.view.trades if self.view else ()
        return tape_lines(trades, self.flow.large_qty, w, h)

    def _volume(self, w: int, h: int) -> list[Text]:
        return volume_lines(self.flow.buy_vol, self.flow.sell_vol, w, h)

    def _gauges(self, w: int, h: int) -> list[Text]:
        book = self.view.book if self.view else None
        imb = book.imbalance(10) if book else None
        return [
            gauge("imbalance", imb, w),
            gauge("pressure", self.flow.pressure, w),
            Text(
                "  top-10 book size (bids − asks) · 60 s aggressor volume (buys − sells)"
                if w >= 72
                else "  top-10 bids − asks · 60 s buys − sells",
                style="#7f8a99",
            ),
        ]

    def _at_price(self, w: int, h: int) -> list[Text]:
        return at_price_lines(self.flow.at_price, self.view.last if self.view else None, w, h)

    def _events(self, w: int, h: int) -> list[Text]:
        engine = self.flow.engine
        return event_lines(self.flow.events, w, h, engine.large if engine is not None else None)

    def _levels(self, w: int, h: int) -> list[Text]:
        return level_rate_lines(self.flow.engine, w, h)

    def frame(self, src: ViewSource, now: float) -> None:
        self.view = src.symbol_view(self.symbol)
        self.flow = src.flow_view(self.symbol)
        version = self.view.version if self.view else None
        for panel in self.query(Panel):
            key = (self.symbol, version, self.flow.version, panel.size)
            panel.update_if(key)
        self.query_one(Header).show(symbol_header(self.symbol, self.view, self.header_extra(self.view)))

    def header_extra(self, view: SymbolView | None) -> str:
        # The tape's threshold: a trade this size or bigger (the top 5 % of recent prints) is
        # highlighted. The order-flow panel's "large order" is another measure (resting size).
        large = self.flow.large_qty
        return f"big print ≥ {large:f}" if large is not None else ""
