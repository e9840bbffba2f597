"""Plain, immutable view data the bridge builds from engine state; widgets draw only these.

Nothing here imports the engine or Textual: the bridge is the one module that
knows both, so widgets and their renderables can be tested with hand-built views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

Level = tuple[int, int]
"""``(price_ticks, qty_lots)``, exact integers as the engine's book keeps them."""


def fmt_units(units: int, precision: int) -> str:
    """Exact fixed-point text (``6338105, 1`` -> ``633810.5``), never through a float."""
    if precision <= 0:
        return str(units)
    sign = "-" if units < 0 else ""
    s = str(abs(units)).rjust(precision + 1, "0")
    return f"{sign}{s[:-precision]}.{s[-precision:]}"


def fmt_qty(lots: int, precision: int, width: int = 10) -> str:
    """A quantity that fits ``width``: full precision when it fits, else fewer decimals."""
    text = fmt_units(lots, precision)
    if len(text) <= width:
        return text
    if "." in text:
        whole, frac = text.split(".")
        room = width - len(whole) - 1
        if room > 0:
            return f"{whole}.{frac[:room]}"
        text = whole
    if len(text) <= width:
        return text
    value = lots / 10**precision
    for unit, div in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        short = f"{value / div:.1f}{unit}"
        if len(short) <= width:
            return short
    return text[:width]


def fmt_sig(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, never in exponent form: ``0.0000561``, ``28400``."""
    if value == 0 or value != value or value in (float("inf"), float("-inf")):
        return "0" if value == 0 else str(value)
    places = digits - 1 - math.floor(math.log10(abs(value)))
    text = f"{round(value, places):.{max(places, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def at_places(value: Decimal | None, places: int | None) -> Decimal | None:
    """``value`` written to ``places`` decimals when it has fewer (``63000`` -> ``63000.0``), never rounded.

    A feed that drops trailing zeros (Futures writes 63000.0 as 63000) would
    otherwise break a column of prices at the point.
    """
    if value is None or places is None or not value.is_finite():
        return value
    exp = value.as_tuple().exponent
    if isinstance(exp, int) and exp > -places:
        return value.quantize(Decimal(1).scaleb(-places))
    return value


def plural(n: int, noun: str) -> str:
    """``1 level``, ``3 levels``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fmt_decimal(value: Decimal | None, places: int | None = None) -> str:
    """A Decimal as plain text, or a dash when missing."""
    if value is None:
        return "-"
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return f"{value:f}"


@dataclass(frozen=True, slots=True)
class BookView:
    """One symbol's book as the screen needs it, best-first on both sides."""

    symbol: str
    version: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    price_precision: int
    qty_precision: int
    state: str = "synced"
    """``awaiting``, ``synced``, ``resyncing``, ``stale`` or ``disabled``."""
    reason: str | None = None
    mismatches: int = 0
    resyncs: int = 0

    def price(self, ticks: int) -> str:
        """Ticks as exact price text."""
        return fmt_units(ticks, self.price_precision)

    def qty(self, lots: int, width: int = 10) -> str:
        """Lots as quantity text that fits ``width``."""
        return fmt_qty(lots, self.qty_precision, width)

    @property
    def best_bid(self) -> Level | None:
        """The best bid or None."""
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Level | None:
        """The best ask or None."""
        return self.asks[0] if self.asks else None

    def spread_ticks(self) -> int | None:
        """Best ask minus best bid in ticks."""
        if self.bids and self.asks:
            return self.asks[0][0] - self.bids[0][0]
        return None

    def mid_ticks2(self) -> int | None:
        """Twice the mid in ticks (exact: the mid can fall on a half tick)."""
        if self.bids and self.asks:
            return self.asks[0][0] + self.bids[0][0]
        return None

    def mid_text(self) -> str:
        """The exact mid price as text."""
        two_mid = self.mid_ticks2()
        if two_mid is None:
            return "-"
        if two_mid % 2 == 0:
            return fmt_units(two_mid // 2, self.price_precision)
        return fmt_units(two_mid * 5, self.price_precision + 1)

    def spread_bps(self) -> float | None:
        """The spread in basis points of the mid."""
        s, m2 = self.spread_ticks(), self.mid_ticks2()
        if s is None or not m2:
            return None
        return s * 2 / m2 * 10_000

    def imbalance(self, levels: int = 10) -> float | None:
        """(bid size - ask size) / (bid size + ask size) over the top ``levels``; -1..+1."""
        b = sum(q for _, q in self.bids[:levels])
        a = sum(q for _, q in self.asks[:levels])
        return (b - a) / (b + a) if a + b else None


@dataclass(frozen=True, slots=True)
class TradeView:
    """One public trade; ``side`` is the aggressor (taker) side."""

    trade_id: int
    side: str
    price: Decimal
    qty: Decimal
    timestamp: str

    @property
    def time_text(self) -> str:
        """``HH:MM:SS.mmm`` from the exchange's RFC 3339 timestamp."""
        t = self.timestamp.partition("T")[2]
        return t[:12] if t else self.timestamp[:12]


@dataclass(frozen=True, slots=True)
class SymbolView:
    """Everything one screen needs about one symbol at one frame."""

    symbol: str
    version: int
    book: BookView | None
    trades: tuple[TradeView, ...] = ()
    """Newest first."""
    last: Decimal | None = None
    change_pct: Decimal | None = None
    msg_rate: float = 0.0
    latency_p50: float | None = None
    latency_p99: float | None = None
    health: str = "active"
    staleness_s: float | None = None
    spark: tuple[float, ...] = ()
    """Mid price once a second, oldest first (for the grid's sparkline)."""
    futures: bool = False
    """A Kraken Futures product: the three fields below are its ticker's (None for Spot)."""
    funding_pct: Decimal | None = None
    """Funding rate in percent per funding period (hourly on Kraken), exact."""
    basis: Decimal | None = None
    """Mark price minus index, exact."""
    open_interest: Decimal | None = None
    """Open interest in contracts."""


@dataclass(frozen=True, slots=True)
class ConnView:
    """The connection as the status bar shows it."""

    phase: str
    cause: str = ""
    url: str = ""
    live_kraken: bool = False
    down_for_s: float = 0.0
    reconnects: int = 0
    rtt_ms: float | None = None
    system_status: str = "unknown"
    msg_rate: float = 0.0
    latency_p50: float | None = None
    latency_p99: float | None = None

    @property
    def up(self) -> bool:
        """True when data is flowing (whatever the client calls that phase)."""
        return self.phase.lower() in UP_PHASES


UP_PHASES = frozenset({"subscribed", "resyncing", "degraded", "replaying", "finished"})
"""Phase names that mean data flows; the client's phase is shown verbatim either way."""


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """A large resting order appearing or disappearing near the top of the book."""

    at: str
    side: str
    kind: str
    """``appeared``, ``grew``, ``shrank`` or ``gone``."""
    price: str
    qty: str


@dataclass(slots=True)
class FlowView:
    """Order-flow analytics for one symbol (see ``analytics.FlowStats``)."""

    version: int = 0
    buy_vol: tuple[float, ...] = ()
    """Per second, oldest first."""
    sell_vol: tuple[float, ...] = ()
    at_price: tuple[tuple[Decimal, float, float], ...] = ()
    """``(price, bought, sold)`` per grouped price, high to low."""
    large_qty: Decimal | None = None
    events: tuple[FlowEvent, ...] = ()
    """Newest first."""
    pressure: float | None = None
    """Net aggressor volume share over the last minute: -1 (all sells) .. +1 (all buys)."""
    extra: dict[str, str] = field(default_factory=dict)
    engine: FlowAnalytics | None = None
    """The engine's order flow (events, level rates, detectors); None before the bridge has one."""


class ViewSource(Protocol):
    """What screens pull from at each frame (implemented by the bridge)."""

    def symbols(self) -> list[str]:
        """Subscribed symbols, in order."""
        ...

    def symbol_view(self, symbol: str, full: bool = True) -> SymbolView | None:
        """The latest view of ``symbol``; the same object while nothing changed."""
        ...

    def flow_view(self, symbol: str) -> FlowView:
        """The order-flow analytics of ``symbol``."""
        ...

    def conn_view(self) -> ConnView:
        """The connection's state."""
        ...

    def queue_lines(self, symbol: str) -> list[QueueLine]:
        """Own open orders of ``symbol``: queue position, quantity ahead and behind, P(fill)."""
        ...

    def hypothetical(self, symbol: str, side: str, price: str, qty: Decimal) -> QueueLine | None:
        """A new order of ``qty`` at ``price`` now: where it would queue and its P(fill)."""
        ...

    def costs(self, symbol: str, qty_lots: int) -> tuple[CostView | None, CostView | None]:
        """The execution cost of buying and of selling ``qty_lots`` at market now."""
        ...

    def book_stats(self, symbol: str) -> BookStatsView | None:
        """Imbalance and pressure of ``symbol``'s book."""
        ...

    def monotonic(self) -> float:
        """The clock the views are computed with."""
        ...


@dataclass(frozen=True, slots=True)
class QueueLine:
    """One own order's (or the cursor's hypothetical order's) place in the queue and its P(fill).

    ``order_id`` is None for the hypothetical order at the ladder cursor;
    ``price`` is written as the ladder writes prices; ``p30`` is P(fill within
    30 s) once an estimate has finished (the ladder's Own column shows it).
    """

    order_id: str | None
    price: str
    head: str
    queue: str
    fill: str
    p30: float | None = None
    level: str = ""
    """The level's add, cancel and fill rates (the cursor's line)."""


@dataclass(frozen=True, slots=True)
class CostView:
    """What a market order of ``requested`` lots would cost now (``side`` is the taker's side).

    ``worst_ticks`` is the last price it would reach (the depth chart marks it);
    ``source`` is ``"l3"`` (order by order, own orders excluded) or ``"l2"``.
    """

    side: str
    source: str
    requested: int
    filled: int
    worst_ticks: int | None
    vwap: str | None
    slippage_mid_bps: str
    slippage_best_bps: str
    levels: int
    orders: int | None

    @property
    def complete(self) -> bool:
        """False when the visible book is too thin for the whole size."""
        return self.filled >= self.requested


@dataclass(frozen=True, slots=True)
class BookStatsView:
    """Imbalance and pressure over the top ``levels`` (see ``engine.analytics``)."""

    levels: int
    imbalance: float
    bid_vwap: str | None
    ask_vwap: str | None
    microprice: str | None
    pressure: float
    signal: str


@dataclass(frozen=True, slots=True)
class LevelRateView:
    """Adds, cancels and fills per second at one level (level3), with their counts."""

    side: str
    price: str
    adds: str
    cancels: str
    fills: str
    n_adds: int
    n_cancels: int
    n_fills: int


@dataclass(frozen=True, slots=True)
class FlowAnalytics:
    """The engine's order flow of one symbol, as the flow screen draws it (``engine.orderflow``).

    ``events`` newest first; ``trades`` is ``(price, bought, sold)`` exactly,
    highest price first; ``l3`` says whether per-order analytics (rates,
    icebergs, spoofs) are available.
    """

    version: int
    events: tuple[FlowEvent, ...]
    rates: tuple[LevelRateView, ...]
    trades: tuple[tuple[Decimal, Decimal, Decimal], ...]
    large: str | None
    icebergs: int
    spoofs: int
    l3: bool
