"""Book analytics: execution cost from L2 and L3, imbalance, pressure, depth ladders, price aggregation.

Every function is pure and reads a book as it is now; nothing here keeps state
or reads a clock. Prices and quantities stay integer ticks and lots; VWAPs and
slippage are exact ``Decimal`` values computed from integer sums (the only
rounding is the final division, done at 40 significant digits). Ratios that
are signals rather than amounts (imbalance, pressure, percentages) are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Literal

import numpy as np
import numpy.typing as npt

from havterm.engine.book import L2Book
from havterm.engine.fixed import to_decimal
from havterm.engine.l3 import L3Book

Side = Literal["buy", "sell"]

_DIV_PREC = 40
"""Significant digits for the one division a VWAP or a slippage needs."""

_INT64_SAFE = 2**62
"""Below this, cumulative lots fit in int64 with room to spare; above it we stay in Python ints."""

PRESSURE_BUY = 0.3
"""``pressure()`` at or above this reads as buying pressure (bids outweigh asks near the touch)."""
PRESSURE_SELL = -0.3
"""``pressure()`` at or below this reads as selling pressure."""


def _div(num: int, den: int, scale: int = 0) -> Decimal:
    """``num / den / 10**scale`` to 40 significant digits (scaled inside the context, so not re-rounded)."""
    with localcontext() as ctx:
        ctx.prec = _DIV_PREC
        return (Decimal(num) / Decimal(den)).scaleb(-scale)


def _bps(diff: Fraction, ref: Fraction) -> Decimal:
    """``diff / ref`` in basis points, as an exact-as-possible Decimal."""
    q = diff / ref * 10_000
    return _div(q.numerator, q.denominator)


# ---------------------------------------------------------------------------- execution cost


@dataclass(frozen=True, slots=True)
class ExecutionCost:
    """What taking ``requested_lots`` from one side of the book would cost right now.

    ``side`` is the taker's side: a ``"buy"`` consumes asks. ``notional`` is
    ``sum(price_ticks * lots)`` over the fills, exact. Slippage is positive
    when the fill is worse than the reference (a buy above it, a sell below).
    """

    side: Side
    source: Literal["l2", "l3"]
    requested_lots: int
    filled_lots: int
    unfilled_lots: int
    notional: int
    levels_consumed: int
    orders_consumed: int | None
    worst_price_ticks: int | None
    best_price_ticks: int | None
    vwap: Decimal | None
    mid: Decimal | None
    slippage_bps_vs_mid: Decimal | None
    slippage_bps_vs_best: Decimal | None

    @property
    def complete(self) -> bool:
        """True when the visible book holds the whole size."""
        return self.unfilled_lots == 0


def _cost(
    side: Side,
    source: Literal["l2", "l3"],
    requested: int,
    fills: list[tuple[int, int]],
    levels: int,
    orders: int | None,
    best: int | None,
    two_mid: int | None,
    price_precision: int,
) -> ExecutionCost:
    filled = sum(q for _, q in fills)
    notional = sum(p * q for p, q in fills)
    vwap = slip_mid = slip_best = None
    if filled:
        # vwap in ticks is notional/filled; keep it a Fraction so both slippages are exact.
        v = Fraction(notional, filled)
        vwap = _div(notional, filled, price_precision)
        sign = 1 if side == "buy" else -1
        if two_mid is not None:
            m = Fraction(two_mid, 2)
            slip_mid = _bps(sign * (v - m), m)
        if best is not None:
            slip_best = _bps(sign * (v - best), Fraction(best))
    return ExecutionCost(
        side=side,
        source=source,
        requested_lots=requested,
        filled_lots=filled,
        unfilled_lots=requested - filled,
        notional=notional,
        levels_consumed=levels,
        orders_consumed=orders,
        worst_price_ticks=fills[-1][0] if fills else None,
        best_price_ticks=best,
        vwap=vwap,
        mid=None if two_mid is None else to_decimal(two_mid, price_precision) / 2,
        slippage_bps_vs_mid=slip_mid,
        slippage_bps_vs_best=slip_best,
    )


def _walk(levels: list[tuple[int, int]], qty: int) -> tuple[list[tuple[int, int]], int]:
    """Take ``qty`` lots from best-first levels: the fills and how many levels were touched.

    numpy pays here only for deep books and large sizes (a cumulative sum and a
    ``searchsorted`` instead of a Python loop over hundreds of levels); at the
    usual depth of 10 the loop is faster than building arrays, so we switch on size.
    """
    if len(levels) > 64:
        lots = np.fromiter((q for _, q in levels), dtype=np.int64, count=len(levels))
        if int(lots.sum()) < _INT64_SAFE:
            cum = np.cumsum(lots)
            # Index of the level that completes the order (or len when the book is too thin).
            k = int(np.searchsorted(cum, qty, side="left"))
            if k >= len(levels):
                return list(levels), len(levels)
            before = int(cum[k - 1]) if k else 0
            fills = list(levels[:k])
            fills.append((levels[k][0], qty - before))
            return fills, k + 1
    fills = []
    left = qty
    for p, q in levels:
        if left <= 0:
            break
        take = q if q < left else left
        fills.append((p, take))
        left -= take
    return fills, len(fills)


def _refs(book: L2Book | L3Book, side: Side) -> tuple[int | None, int | None]:
    """(best price on the side being taken, twice the mid) in ticks."""
    if isinstance(book, L2Book):
        bb, ba = book.best_bid(), book.best_ask()
        bid = bb[0] if bb else None
        ask = ba[0] if ba else None
    else:
        b, a = book.levels("buy", 1), book.levels("sell", 1)
        bid = b[0][0] if b else None
        ask = a[0][0] if a else None
    best = ask if side == "buy" else bid
    two_mid = bid + ask if bid is not None and ask is not None else None
    return best, two_mid


def execution_cost(book: L2Book, side: Side, qty_lots: int) -> ExecutionCost:
    """Cost of a market order of ``qty_lots`` against an L2 book (``side`` is the taker's side)."""
    if qty_lots <= 0:
        raise ValueError("qty_lots must be positive")
    levels = book.asks() if side == "buy" else book.bids()
    fills, n = _walk(levels, qty_lots)
    best, two_mid = _refs(book, side)
    return _cost(side, "l2", qty_lots, fills, n, None, best, two_mid, book.price_precision)


def execution_cost_l3(
    book: L3Book, side: Side, qty_lots: int, exclude: frozenset[str] | set[str] = frozenset()
) -> ExecutionCost:
    """Cost of a market order against the L3 book, order by order in queue order.

    ``exclude`` holds our own resting order ids: self-trade prevention means we
    cannot take them, which L2 cannot know. Orders are consumed front first,
    so ``orders_consumed`` counts the makers the order would trade with.
    """
    if qty_lots <= 0:
        raise ValueError("qty_lots must be positive")
    book_side = "sell" if side == "buy" else "buy"
    fills: list[tuple[int, int]] = []
    left = qty_lots
    levels = 0
    orders = 0
    for price, _ in book.aggregated(book_side):
        if left <= 0:
            break
        touched = False
        for oid, q in book.queue(book_side, price):
            if oid in exclude:
                continue
            take = q if q < left else left
            left -= take
            orders += 1
            touched = True
            if fills and fills[-1][0] == price:
                fills[-1] = (price, fills[-1][1] + take)
            else:
                fills.append((price, take))
            if left <= 0:
                break
        levels += touched
    best, two_mid = _refs(book, side)
    return _cost(side, "l3", qty_lots, fills, levels, orders, best, two_mid, book.price_precision)


# ---------------------------------------------------------------------------- imbalance and pressure


@dataclass(frozen=True, slots=True)
class Imbalance:
    """Bid against ask size over the top ``levels`` levels of each side.

    ``ratio`` is ``(bid - ask) / (bid + ask)`` in [-1, 1]; ``bid_vwap`` and
    ``ask_vwap`` are the size-weighted prices of those levels (exact);
    ``microprice`` weights each touch price by the *opposite* touch size.
    """

    levels: int
    bid_lots: int
    ask_lots: int
    ratio: float
    bid_vwap: Decimal | None
    ask_vwap: Decimal | None
    microprice: Decimal | None


def _ratio(b: float, a: float) -> float | None:
    return (b - a) / (b + a) if b + a else None


def imbalance_ratio(book: L2Book, levels: int = 10) -> float | None:
    """``(bid lots - ask lots) / (bid lots + ask lots)`` over ``levels`` levels; None for an empty book.

    Just the ratio (what an alert rule checks every frame), without ``imbalance``'s exact VWAPs.
    """
    return _ratio(sum(q for _, q in book.bids(levels)), sum(q for _, q in book.asks(levels)))


def pressure_value(book: L2Book, levels: int = 10) -> float | None:
    """The ``pressure`` value alone (level i weighs ``1 / (1 + i)``); None for an empty book."""
    return _ratio(*_pressure_weights(book, levels))


def _pressure_weights(book: L2Book, levels: int) -> tuple[float, float]:
    bw = sum(q / (1 + i) for i, (_, q) in enumerate(book.bids(levels)))
    aw = sum(q / (1 + i) for i, (_, q) in enumerate(book.asks(levels)))
    return bw, aw


def imbalance(book: L2Book, levels: int = 10) -> Imbalance:
    """Imbalance ratio, side VWAPs and the microprice over ``levels`` levels."""
    bids, asks = book.bids(levels), book.asks(levels)
    b = sum(q for _, q in bids)
    a = sum(q for _, q in asks)
    pp = book.price_precision
    bid_vwap = _div(sum(p * q for p, q in bids), b, pp) if b else None
    ask_vwap = _div(sum(p * q for p, q in asks), a, pp) if a else None
    micro = None
    if bids and asks:
        (pb, qb), (pa, qa) = bids[0], asks[0]
        micro = _div(pb * qa + pa * qb, qa + qb, pp)
    return Imbalance(levels, b, a, _ratio(b, a) or 0.0, bid_vwap, ask_vwap, micro)


@dataclass(frozen=True, slots=True)
class Pressure:
    """A distance-weighted imbalance and what it reads as.

    Level ``i`` (0 = touch) of each side weighs ``1 / (1 + i)``, so size near
    the touch counts most. ``value`` is in [-1, 1]; ``signal`` is ``"buy"`` at
    or above ``PRESSURE_BUY`` (0.3), ``"sell"`` at or below ``PRESSURE_SELL``
    (-0.3), else ``"neutral"``. The thresholds sit just below the point where
    one side holds twice the weighted size of the other (``(2 - 1) / (2 + 1)
    = 0.33``): a plain ratio any reader can check against the ladder.
    """

    levels: int
    value: float
    bid_weight: float
    ask_weight: float
    signal: Literal["buy", "sell", "neutral"]


def pressure(book: L2Book, levels: int = 10) -> Pressure:
    """The book-pressure signal over ``levels`` levels (see ``Pressure`` for the thresholds)."""
    bw, aw = _pressure_weights(book, levels)
    value = _ratio(bw, aw) or 0.0
    signal: Literal["buy", "sell", "neutral"] = (
        "buy" if value >= PRESSURE_BUY else "sell" if value <= PRESSURE_SELL else "neutral"
    )
    return Pressure(levels, value, bw, aw, signal)


# ---------------------------------------------------------------------------- depth ladder


@dataclass(frozen=True, slots=True)
class DepthLadder:
    """One side best first: prices, sizes, cumulative sizes and cumulative percentages.

    ``price_ticks``, ``qty_lots`` and ``cum_lots`` are int64 arrays (exact
    while the side's total is below 2**62; beyond that they are object arrays
    of Python ints, still exact). ``cum_pct`` is float64, 100 at the last level.
    """

    side: Literal["buy", "sell"]
    price_ticks: npt.NDArray[np.int64] | npt.NDArray[np.object_]
    qty_lots: npt.NDArray[np.int64] | npt.NDArray[np.object_]
    cum_lots: npt.NDArray[np.int64] | npt.NDArray[np.object_]
    cum_pct: npt.NDArray[np.float64]

    @property
    def total_lots(self) -> int:
        """Everything on this side of the ladder."""
        return int(self.cum_lots[-1]) if len(self.cum_lots) else 0

    def level_for(self, lots: int) -> int:
        """Index of the level at which ``lots`` of cumulative size is reached (len if never)."""
        return int(np.searchsorted(self.cum_lots, lots, side="left"))


def depth_ladder(levels: list[tuple[int, int]], side: Literal["buy", "sell"]) -> DepthLadder:
    """Cumulative depth of best-first ``(price_ticks, qty_lots)`` levels.

    numpy pays here: the depth chart redraws every level of a depth-1000 book
    each frame, and a ``cumsum`` plus one vectorised division beats a Python
    loop by an order of magnitude at that size. Lots stay integers (exact);
    only the percentages are floats.
    """
    n = len(levels)
    total = sum(q for _, q in levels)
    dtype: type = np.int64 if total < _INT64_SAFE and all(p < _INT64_SAFE for p, _ in levels) else object
    prices = np.array([p for p, _ in levels], dtype=dtype) if n else np.zeros(0, dtype=np.int64)
    qty = np.array([q for _, q in levels], dtype=dtype) if n else np.zeros(0, dtype=np.int64)
    cum = np.cumsum(qty) if n else np.zeros(0, dtype=np.int64)
    pct = (cum.astype(np.float64) * (100.0 / total)) if total else np.zeros(n, dtype=np.float64)
    return DepthLadder(side, prices, qty, cum, pct)


def book_ladders(book: L2Book, n: int | None = None) -> tuple[DepthLadder, DepthLadder]:
    """``(bids, asks)`` depth ladders of an L2 book."""
    return depth_ladder(book.bids(n), "buy"), depth_ladder(book.asks(n), "sell")


# ---------------------------------------------------------------------------- price aggregation


def aggregate(
    levels: list[tuple[int, int]], side: Literal["buy", "sell"], bucket_ticks: int
) -> list[tuple[int, int]]:
    """Group best-first levels into price buckets of ``bucket_ticks``.

    Bids round *down* and asks round *up* to the bucket edge, so a bucket
    never shows a price better than any order inside it would trade at.
    """
    if bucket_ticks <= 0:
        raise ValueError("bucket_ticks must be positive")
    out: list[tuple[int, int]] = []
    for p, q in levels:
        b = (p // bucket_ticks) * bucket_ticks if side == "buy" else -((-p) // bucket_ticks) * bucket_ticks
        if out and out[-1][0] == b:
            out[-1] = (b, out[-1][1] + q)
        else:
            out.append((b, q))
    return out
