"""Public trade prints as exact ticks and lots, converted once per trade message for every reader.

Three trackers read each trade message (``QueueTracker``, ``OrderFlowTracker``
and ``L2QueueEstimator``), and turning a ``Decimal`` into ticks or lots is
most of what a print costs them. ``maker_prints`` does it once: it sums the
message's prints per maker side and price (exactly, in ``Decimal``), converts
each sum, and keeps the result for the very same ``trades`` object, so the
second and third reader get the rows for one identity check.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Context, Decimal, Inexact, Rounded
from typing import Any

from havterm.engine.events import Trade
from havterm.engine.fixed import PrecisionError

_EXACT = Context(prec=60, traps=[Inexact, Rounded])

PrintRow = tuple[str, int, int, int, str]
"""``(maker side, price ticks, lots, number of prints, first print's timestamp)``."""


def decimal_units(value: Decimal, precision: int) -> int:
    """A ``Decimal`` price or quantity as integer units at ``precision``; raises if digits would be lost.

    Five times faster than ``fixed.from_decimal`` (a scaleb and an int), which
    matters on the trade path where every print carries two of these.
    """
    scaled = value.scaleb(precision, _EXACT)
    units = int(scaled)
    if units != scaled:
        raise PrecisionError(f"{value} has more than {precision} decimals")
    return units


_CACHE_CAP = 4096
"""Conversions remembered per precision (prices and sizes repeat); the cache starts over when full."""

_units: dict[int, dict[Decimal, int]] = {}
# The last message converted: (trades, symbol, price precision, qty precision, rows). Holding the
# trades object keeps its identity from being reused while it is cached.
_last: tuple[object, str, int, int, list[PrintRow]] | None = None


def _convert(value: Decimal, precision: int) -> int:
    cache = _units.get(precision)
    if cache is None:
        cache = _units[precision] = {}
    units = cache.get(value)
    if units is None:
        units = decimal_units(value, precision)
        if len(cache) >= _CACHE_CAP:
            cache.clear()
        cache[value] = units
    return units


def maker_prints(trades: Iterable[Trade], symbol: str, pp: int, qp: int) -> list[PrintRow]:
    """The prints of ``symbol`` in one trade message, one row per maker side and price, in first-print order.

    A sweep prints many makers at a few prices; one trade message is one
    taker order, so a row is what that order took from one level. Raises
    ``PrecisionError`` when a price or size has more decimals than ``pp`` or
    ``qp``. The rows are shared: do not modify them.
    """
    global _last
    last = _last
    if last is not None and last[0] is trades and last[1] == symbol and last[2] == pp and last[3] == qp:
        return last[4]
    agg: dict[tuple[str, Decimal], list[Any]] = {}
    for tr in trades:
        if tr.symbol != symbol:
            continue
        k = (tr.side, tr.price)
        a = agg.get(k)
        if a is None:
            agg[k] = [tr.qty, 1, tr.timestamp]
        else:
            a[0] += tr.qty
            a[1] += 1
    rows: list[PrintRow] = []
    for (taker, px), (qty, n, ts) in agg.items():
        rows.append(("sell" if taker == "buy" else "buy", _convert(px, pp), _convert(qty, qp), n, ts))
    _last = (trades, symbol, pp, qp, rows)
    return rows
