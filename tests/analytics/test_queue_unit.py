"""Queue position and queue dynamics on a hand-built level3 book with a fixed clock."""

from __future__ import annotations

from decimal import Decimal

from havterm.engine.events import ExecutionReport, ExecutionsMessage, Trade
from havterm.engine.l3 import L3Book
from havterm.engine.queue import QueueTracker
from tests.analytics.books import PP, QP, l3_apply

SYM = "T/USD"


def sell_print(price_ticks: int, lots: int, trade_id: int = 1) -> Trade:
    """A taker sell: it trades against resting bids."""
    return Trade(SYM, "sell", Decimal(price_ticks).scaleb(-PP), Decimal(lots), "market", trade_id, "t")


def setup() -> tuple[L3Book, QueueTracker]:
    book = L3Book(SYM, 10, PP, QP)
    tr = QueueTracker(SYM, windows=(5.0, 60.0), grace_s=2.0)
    msg = l3_apply(
        book,
        [("", "a", 1000, 5), ("", "b", 1000, 3), ("", "me", 1000, 2), ("", "c", 1000, 4), ("", "x", 990, 6)],
        [("", "s1", 1010, 7)],
        snapshot=True,
    )
    tr.on_l3(msg, book, 0.0)
    tr.track("me", 0.0)
    return book, tr


def test_position_is_exact_from_the_snapshot() -> None:
    _, tr = setup()
    pos = tr.position("me")
    assert pos is not None
    assert (pos.orders_ahead, pos.qty_ahead, pos.qty_behind, pos.own_lots) == (2, 8, 4, 2)
    assert (pos.side, pos.price_ticks, pos.better_lots, pos.model) == ("buy", 1000, 0, "l3-exact")
    assert tr.own_orders() == ["me"]
    hyp = tr.hypothetical("buy", 990, lots=1)
    assert (hyp.orders_ahead, hyp.qty_ahead, hyp.better_lots, hyp.model) == (1, 6, 14, "l3-hypothetical")
    assert tr.hypothetical("sell", 1020).qty_ahead == 0 and tr.hypothetical("sell", 1020).better_lots == 7


def test_cancels_and_trades_ahead_are_split_whichever_feed_comes_first() -> None:
    book, tr = setup()
    # t=1: b (second in the queue, not the front) is cancelled: a cancel ahead of us.
    tr.on_l3(l3_apply(book, [("delete", "b", 1000, 3)], []), book, 1.0)
    pos = tr.position("me")
    assert pos is not None and (pos.orders_ahead, pos.qty_ahead) == (1, 5)
    # t=2: level3 first (a partly filled 5 -> 2), then the print: provisional cancel flipped to a trade.
    tr.on_l3(l3_apply(book, [("modify", "a", 1000, 2)], []), book, 2.0)
    assert tr.ahead_dynamics("me", 2.0, 60.0).cancel_lots == 6  # type: ignore[union-attr]
    tr.on_trades([sell_print(1000, 3)], 2.1)
    d = tr.ahead_dynamics("me", 2.1, 60.0)
    assert d is not None and (d.trade_lots, d.cancel_lots, d.trades, d.cancels) == (3, 3, 1, 1)
    # t=3: the print first, then level3 (a filled): a trade at once.
    tr.on_trades([sell_print(1000, 2, 2)], 3.0)
    tr.on_l3(l3_apply(book, [("delete", "a", 1000, 2)], []), book, 3.0)
    pos = tr.position("me")
    assert pos is not None and (pos.orders_ahead, pos.qty_ahead, pos.qty_behind) == (0, 0, 4)
    d = tr.ahead_dynamics("me", 3.0, 60.0)
    assert d is not None and (d.trade_lots, d.cancel_lots) == (5, 3)
    assert d.elapsed_s == 3.0 and d.trade_rate == 5 / 3 and d.depletion_rate == 8 / 3
    # The level saw the same, and c (behind us) is not ahead of us when it goes.
    tr.on_l3(l3_apply(book, [("delete", "c", 1000, 4)], []), book, 4.0)
    lvl = tr.dynamics("buy", 1000, 4.0, 60.0)
    assert (lvl.trade_lots, lvl.cancel_lots, lvl.add_lots) == (5, 7, 0)
    assert tr.ahead_dynamics("me", 4.0, 60.0).cancel_lots == 3  # type: ignore[union-attr]
    # Rolling windows: the last 2.5 s hold t=2 (trade 3), t=3 (trade 2), t=4 (cancel 4), not t=1.
    recent = tr.dynamics("buy", 1000, 4.0, 2.5)
    assert (recent.trade_lots, recent.cancel_lots, recent.elapsed_s) == (5, 4, 2.5)
    recent = tr.dynamics("buy", 1000, 4.0, 1.5)
    assert (recent.trade_lots, recent.cancel_lots) == (2, 4)
    # The tape: two taker arrivals against the bids.
    assert tr.tape("buy", 4.0, 60.0) == ([3, 2], 4.0)
    assert tr.tape("sell", 4.0, 60.0) == ([], 4.0)


def test_front_cancel_without_a_print_stays_a_cancel() -> None:
    book, tr = setup()
    tr.on_l3(l3_apply(book, [("delete", "a", 1000, 5)], []), book, 1.0)
    # A print 3 s later (past the 2 s grace) does not rewrite history; it waits as credit.
    tr.on_trades([sell_print(1000, 5)], 4.0)
    d = tr.ahead_dynamics("me", 4.0, 60.0)
    assert d is not None and (d.trade_lots, d.cancel_lots) == (0, 5)
    # The credit is used by the next reduction at that price within the grace.
    tr.on_l3(l3_apply(book, [("delete", "b", 1000, 3)], []), book, 4.5)
    d = tr.ahead_dynamics("me", 4.5, 60.0)
    assert d is not None and (d.trade_lots, d.cancel_lots) == (3, 5)


def test_adds_join_behind_and_inflow_is_measured_from_the_touch() -> None:
    book, tr = setup()
    tr.on_l3(l3_apply(book, [("add", "d", 1000, 7)], []), book, 1.0)
    pos = tr.position("me")
    assert pos is not None and (pos.qty_ahead, pos.qty_behind) == (8, 11)
    # A bid inside the spread: ahead of everything at 1000 (better_lots), and inflow for the touch.
    tr.on_l3(l3_apply(book, [("add", "e", 1005, 9)], []), book, 2.0)
    pos = tr.position("me")
    assert pos is not None and pos.better_lots == 9
    assert tr.dynamics("buy", 1000, 2.0, 60.0).add_lots == 7
    # Inflow for an order at the touch (1005 now): only adds that landed inside the spread then.
    assert tr.inflow("buy", 1005, 2.0, 60.0) == 9 / 2.0
    # For an order 5 ticks behind the touch, the add d (made at the touch, distance 0) counts too.
    assert tr.inflow("buy", 1000, 2.0, 60.0) == 16 / 2.0
    assert tr.inflow("buy", 1000, 2.0, 0.5) == 9 / 0.5  # window: only e
    assert tr.inflow("sell", 1010, 2.0, 60.0) == 0.0
    assert tr.side_dynamics("buy", 2.0, 60.0).add_lots == 16


def test_moves_modifies_up_and_executions() -> None:
    book, tr = setup()
    # c re-priced into 1001 (delete and add in one message): a cancel at 1000, an add at 1001.
    tr.on_l3(l3_apply(book, [("delete", "c", 1000, 4), ("add", "c", 1001, 4)], []), book, 1.0)
    assert tr.dynamics("buy", 1000, 1.0, 60.0).cancel_lots == 4
    assert tr.dynamics("buy", 1001, 1.0, 60.0).add_lots == 4
    pos = tr.position("me")
    assert pos is not None and (pos.qty_behind, pos.better_lots) == (0, 4)
    # Our own order fills: executions untrack it, and it has no position any more.
    tr.on_executions(
        ExecutionsMessage(
            False, 3, (ExecutionReport(exec_type="trade", order_id="me", order_status="filled"),)
        ),
        2.0,
    )
    assert tr.position("me") is None and tr.own_orders() == []
    # An order announced by executions before level3 shows it is adopted when it appears.
    rep = ExecutionReport(exec_type="pending_new", order_id="late", order_status="pending_new", symbol=SYM)
    tr.on_executions(ExecutionsMessage(False, 4, (rep,)), 3.0)
    assert tr.position("late") is None
    tr.on_l3(l3_apply(book, [("add", "late", 1000, 1)], []), book, 3.5)
    pos = tr.position("late")
    assert pos is not None and (pos.orders_ahead, pos.qty_ahead, pos.better_lots) == (3, 10, 4)
    # Another symbol's reports are ignored.
    other = ExecutionReport(exec_type="new", order_id="zzz", order_status="new", symbol="X/USD")
    tr.on_executions(ExecutionsMessage(False, 5, (other,)), 4.0)
    assert "zzz" not in tr.own_orders()


def test_own_order_whose_level_leaves_the_window_comes_back() -> None:
    book = L3Book(SYM, 10, PP, QP)
    tr = QueueTracker(SYM)
    bids = [("", f"o{p}", p, 1) for p in range(1000, 990, -1)] + [("", "me", 991, 2)]
    tr.on_l3(l3_apply(book, bids, [("", "s", 1010, 1)], snapshot=True), book, 0.0)
    tr.track("me", 0.0)
    pos = tr.position("me")
    assert pos is not None and (pos.orders_ahead, pos.qty_ahead, pos.better_lots) == (1, 1, 9)
    # A better bid pushes the 991 level out of the depth-10 window: no event for it, no position.
    tr.on_l3(l3_apply(book, [("add", "new", 1001, 4)], []), book, 1.0)
    assert tr.position("me") is None and tr.own_orders() == []
    # It goes again, and the 991 level is refilled (as adds, in queue order): we are back, exactly.
    msg = l3_apply(book, [("delete", "new", 1001, 4), ("add", "o991", 991, 1), ("add", "me", 991, 2)], [])
    tr.on_l3(msg, book, 2.0)
    pos = tr.position("me")
    assert pos is not None and (pos.orders_ahead, pos.qty_ahead, pos.qty_behind, pos.own_lots) == (1, 1, 0, 2)
    # A refill is not new liquidity.
    assert tr.dynamics("buy", 991, 2.0, 60.0).add_lots == 0
