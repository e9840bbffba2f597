"""Feed recorded frames through the same decoder, market engine and books as a live session.

Used by ``havterm replay`` and the dashboard's ``--replay``: every book
snapshot starts a fresh book, every update is applied and checksum-verified,
and trades, tickers and instruments land in the same ``MarketState``.
"""

from __future__ import annotations

from collections.abc import Iterator

from havterm.engine.book import BOOK_DEPTHS
from havterm.engine.codec import decode
from havterm.engine.events import (
    BookMessage,
    Event,
    InstrumentMessage,
    MethodResponse,
    OhlcMessage,
    Status,
    TickerMessage,
    TradeMessage,
)
from havterm.engine.market import IntegrityFailure, MarketEngine
from havterm.engine.replay import RecordedFrame


class Replayer:
    """Applies frames to a ``MarketEngine``; yields the decoded events and integrity failures."""

    def __init__(self, market: MarketEngine | None = None, depth: int | None = None) -> None:
        self.market = market if market is not None else MarketEngine()
        self.depth = depth
        self._acked_depth: dict[str, int] = {}

    def feed(self, frame: RecordedFrame, now: float, wall: float) -> Iterator[Event | IntegrityFailure]:
        """Apply one recorded frame at ``now`` (monotonic) and ``wall`` (epoch seconds)."""
        market = self.market
        for ev in decode(frame.frame):
            if isinstance(ev, BookMessage):
                st = market.state.symbols.get(ev.symbol)
                if ev.snapshot or st is None or st.book is None:
                    depth = (
                        self.depth
                        or self._acked_depth.get(ev.symbol)
                        or _fit(max(len(ev.bids), len(ev.asks)))
                    )
                    market.new_book(ev.symbol, depth)
                failure = market.apply_book(ev, now, wall)
                if failure is not None:
                    yield failure
            elif isinstance(ev, TradeMessage):
                for tr in ev.trades:
                    market.state.symbol(tr.symbol)
                market.apply_trades(ev, now, wall)
            elif isinstance(ev, TickerMessage):
                for t in ev.tickers:
                    market.state.symbol(t.symbol)
                market.apply_ticker(ev, now)
            elif isinstance(ev, OhlcMessage):
                market.apply_ohlc(ev, now)
            elif isinstance(ev, InstrumentMessage):
                market.apply_instrument(ev, now)
            elif isinstance(ev, Status):
                market.apply_status(ev, now)
            elif isinstance(ev, MethodResponse) and isinstance(ev.result, dict):
                sym, acked = ev.result.get("symbol"), ev.result.get("depth")
                if ev.result.get("channel") == "book" and isinstance(sym, str) and isinstance(acked, int):
                    self._acked_depth[sym] = acked
            yield ev


def _fit(levels: int) -> int:
    for d in BOOK_DEPTHS:
        if levels <= d:
            return d
    return BOOK_DEPTHS[-1]
