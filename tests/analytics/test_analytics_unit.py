"""Exact values of every book analytic on hand-built books."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from havterm.engine.analytics import (
    aggregate,
    book_ladders,
    depth_ladder,
    execution_cost,
    execution_cost_l3,
    imbalance,
    pressure,
)
from havterm.engine.l3 import L3Book
from tests.analytics.books import PP, QP, l2_book, l3_apply

BIDS = [(999, 4), (998, 6)]
ASKS = [(1000, 5), (1001, 10), (1003, 20)]


def test_execution_cost_l2_buy_is_exact() -> None:
    c = execution_cost(l2_book(BIDS, ASKS), "buy", 12)
    assert (c.filled_lots, c.unfilled_lots, c.levels_consumed) == (12, 0, 2)
    assert c.notional == 5 * 1000 + 7 * 1001 == 12007
    assert c.worst_price_ticks == 1001 and c.best_price_ticks == 1000
    assert c.vwap == Decimal("100.0583333333333333333333333333333333333")
    assert c.mid == Decimal("99.95")
    assert c.slippage_bps_vs_mid == Decimal("10.83875270968817742204435551108887777222")
    assert c.slippage_bps_vs_best == Decimal("5.833333333333333333333333333333333333333")
    assert c.complete and c.source == "l2" and c.orders_consumed is None


def test_execution_cost_l2_sell_too_large_is_partial() -> None:
    c = execution_cost(l2_book(BIDS, ASKS), "sell", 100)
    assert (c.filled_lots, c.unfilled_lots, c.levels_consumed) == (10, 90, 2)
    assert c.notional == 999 * 4 + 998 * 6
    assert c.vwap == Decimal("99.84")
    # A sell below the mid is a positive cost: (999.5 - 998.4) / 999.5 in bps.
    assert c.slippage_bps_vs_mid == Decimal("11.00550275137568784392196098049024512256")
    assert c.slippage_bps_vs_best == Decimal("6.006006006006006006006006006006006006006")
    assert not c.complete
    with pytest.raises(ValueError):
        execution_cost(l2_book(BIDS, ASKS), "buy", 0)


def test_execution_cost_numpy_path_equals_the_loop() -> None:
    # 200 levels take the numpy path; the result must equal a plain walk.
    asks = [(2000 + i, 1 + i % 7) for i in range(200)]
    book = l2_book([(1999, 1)], asks, depth=1000)
    for qty in (1, 50, 333, 799, 10_000):
        c = execution_cost(book, "buy", qty)
        left, notional, levels = qty, 0, 0
        for p, q in asks:
            if left == 0:
                break
            take = min(q, left)
            notional += p * take
            left -= take
            levels += 1
        assert (c.notional, c.unfilled_lots, c.levels_consumed) == (notional, left, levels), qty


def test_execution_cost_l3_skips_own_orders() -> None:
    book = L3Book("T/USD", 10, PP, QP)
    l3_apply(
        book,
        [("", "b1", 999, 4)],
        [("", "a1", 1000, 3), ("", "mine", 1000, 2), ("", "a2", 1000, 4), ("", "a3", 1002, 9)],
        snapshot=True,
    )
    c = execution_cost_l3(book, "buy", 5, exclude={"mine"})
    assert (c.filled_lots, c.orders_consumed, c.levels_consumed, c.notional) == (5, 2, 1, 5000)
    assert c.vwap == Decimal("100.0") and c.slippage_bps_vs_best == 0
    c = execution_cost_l3(book, "buy", 12)
    assert (c.filled_lots, c.orders_consumed, c.levels_consumed) == (12, 4, 2)
    assert c.notional == 9 * 1000 + 3 * 1002
    c = execution_cost_l3(book, "sell", 10)
    assert (c.filled_lots, c.unfilled_lots, c.orders_consumed) == (4, 6, 1)


def test_imbalance_and_microprice() -> None:
    im = imbalance(l2_book(BIDS, ASKS), levels=3)
    assert (im.bid_lots, im.ask_lots) == (10, 35)
    assert im.ratio == pytest.approx(-25 / 45, abs=1e-15)
    assert im.bid_vwap == Decimal("99.84")
    assert im.ask_vwap == Decimal("100.2")  # (5000 + 10010 + 20060) / 35 = 1002 ticks
    assert im.microprice == Decimal("99.94444444444444444444444444444444444444")
    top = imbalance(l2_book(BIDS, ASKS), levels=1)
    assert (top.bid_lots, top.ask_lots) == (4, 5)


def test_pressure_thresholds() -> None:
    p = pressure(l2_book(BIDS, ASKS))
    # bids 4/1 + 6/2 = 7, asks 5/1 + 10/2 + 20/3 = 16.67: (7 - 16.67) / 23.67
    assert p.bid_weight == 7.0 and p.ask_weight == pytest.approx(50 / 3)
    assert p.value == pytest.approx((7 - 50 / 3) / (7 + 50 / 3))
    assert p.signal == "sell"
    assert pressure(l2_book([(999, 20)], [(1000, 10)])).signal == "buy"  # (20 - 10) / 30 = 0.33
    assert pressure(l2_book([(999, 12)], [(1000, 10)])).signal == "neutral"


def test_depth_ladder_cumulative_and_percent() -> None:
    lad = depth_ladder(ASKS, "sell")
    assert lad.price_ticks.tolist() == [1000, 1001, 1003]
    assert lad.cum_lots.tolist() == [5, 15, 35] and lad.cum_lots.dtype == np.int64
    assert lad.cum_pct.tolist() == pytest.approx([100 * 5 / 35, 100 * 15 / 35, 100.0])
    assert lad.total_lots == 35
    assert (lad.level_for(5), lad.level_for(6), lad.level_for(35), lad.level_for(36)) == (0, 1, 2, 3)
    huge = depth_ladder([(1, 2**62), (2, 2**62)], "buy")  # beyond int64: Python ints, still exact
    assert huge.cum_lots.tolist() == [2**62, 2**63] and huge.total_lots == 2**63
    bids, asks = book_ladders(l2_book(BIDS, ASKS))
    assert bids.cum_lots.tolist() == [4, 10] and asks.total_lots == 35
    assert depth_ladder([], "buy").total_lots == 0


def test_price_aggregation_rounds_bids_down_and_asks_up() -> None:
    assert aggregate([(1009, 1), (1005, 2), (1000, 3), (999, 4)], "buy", 10) == [(1000, 6), (990, 4)]
    assert aggregate([(1000, 1), (1001, 2), (1010, 3), (1011, 4)], "sell", 10) == [
        (1000, 1),
        (1010, 5),
        (1020, 4),
    ]
    with pytest.raises(ValueError):
        aggregate([], "buy", 0)
    assert QP == 0
