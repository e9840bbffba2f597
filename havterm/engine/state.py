"""Per-symbol market state the client keeps current and the UI pulls at its frame rate.

Everything here is plain data updated in place by the client, with a
``version`` that rises on every change, so a reader (the dashboard's frame
timer, a script) can skip work when nothing changed. Time is always passed in.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from havterm.engine.book import BookState, L2Book
from havterm.engine.events import Candle, TickerData, Trade
from havterm.engine.futures import FuturesTicker
from havterm.engine.l3 import L3Book
from havterm.engine.metrics import LatencyWindow, RateMeter

TRADE_HISTORY = 500
"""Trades kept per symbol for the tape and flow views."""


class MarketHealth(enum.Enum):
    """Whether a market is moving: ``HALTED`` comes from the exchange's own status."""

    ACTIVE = "active"
    STALE = "stale"
    HALTED = "halted"


@dataclass
class SymbolState:
    """Everything the client knows about one symbol right now."""

    symbol: str
    depth: int = 10
    book: L2Book | None = None
    book_state: BookState = BookState.AWAITING_SNAPSHOT
    book_reason: str | None = None
    mismatches: int = 0
    resyncs: int = 0
    checksums_verified: int = 0
    l3: L3Book | None = None
    l3_state: BookState = BookState.AWAITING_SNAPSHOT
    l3_reason: str | None = None
    l3_mismatches: int = 0
    health: MarketHealth = MarketHealth.ACTIVE
    instrument_status: str = "online"
    price_precision: int | None = None
    qty_precision: int | None = None
    ticker: TickerData | None = None
    futures: FuturesTicker | None = None
    """A Futures product's ticker: mark, index, funding, open interest (None for Spot)."""
    last_trade: Trade | None = None
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=TRADE_HISTORY))
    candles: dict[int, Candle] = field(default_factory=dict)
    last_update_at: float | None = None
    messages: RateMeter = field(default_factory=RateMeter)
    channel_rates: dict[str, RateMeter] = field(default_factory=dict)
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    apply_time: LatencyWindow = field(default_factory=LatencyWindow)
    version: int = 0

    @property
    def synced(self) -> bool:
        """True only when the book may be shown as the exchange's book."""
        return self.book is not None and self.book_state is BookState.SYNCED

    @property
    def last_price(self) -> Decimal | None:
        """The last trade price, else the ticker's last."""
        if self.last_trade is not None:
            return self.last_trade.price
        if self.ticker is not None:
            return self.ticker.last
        return self.futures.last if self.futures is not None else None

    def count(self, channel: str, now: float, n: int = 1) -> None:
        """Count ``n`` messages of ``channel`` for this symbol (overall and per channel)."""
        self.messages.add(now, n)
        meter = self.channel_rates.get(channel)
        if meter is None:
            meter = self.channel_rates[channel] = RateMeter()
        meter.add(now, n)

    def touch(self, now: float) -> None:
        """Record that something changed at ``now``."""
        self.last_update_at = now
        self.version += 1


@dataclass
class MarketState:
    """All symbols, plus connection-level facts, as the UI sees them."""

    symbols: dict[str, SymbolState] = field(default_factory=dict)
    system_status: str = "unknown"
    phase: str = "disconnected"
    phase_cause: str = ""
    rtt_ms: float | None = None
    reconnects: int = 0
    version: int = 0

    def symbol(self, symbol: str) -> SymbolState:
        """The state of ``symbol``, created on first use."""
        st = self.symbols.get(symbol)
        if st is None:
            st = self.symbols[symbol] = SymbolState(symbol)
        return st
