"""Order-flow tracker: every event kind, the detectors and their negatives, rates and trades by price.

Hand-built books (prices in ticks of 0.1, whole lots) and fixed clocks give
exact expected values; the last test replays the embedded exchange's own
frames and checks the tracker against the matching engine's record.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

from havterm.engine import codec
from havterm.engine.book import BookState, L2Book
from havterm.engine.events import BookMessage, Level, Level3Message, Trade, TradeMessage
from havterm.engine.l3 import L3Book
from havterm.engine.orderflow import (
    BestChanged,
    IcebergRefill,
    LargeOrderAppeared,
    LargeOrderVanished,
    LevelAdded,
    LevelRates,
    LevelRemoved,
    OrderFlowTracker,
    PriceTrades,
    SpoofCandidate,
)
from havterm.sim.exchange import Exchange, SimConfig
from havterm.sim.matching import BID, OpLog
from tests.analytics.books import PP, QP, Ev, l2_msg, l3_apply
from tests.analytics.harness import FeedHarness

SYM = "T/USD"


def trade(side: str, price_ticks: int, lots: int, symbol: str = SYM) -> Trade:
    """A public print; ``side`` is the taker's (a taker buy lifts an ask)."""
    return Trade(symbol, side, Decimal(price_ticks).scaleb(-PP), Decimal(lots), "market", 1, "t")  # type: ignore[arg-type]


def book_update(
    flow: OrderFlowTracker, book: L2Book, bids: list[tuple[int, int]], asks: list[tuple[int, int]], now: float
) -> None:
    """Apply an L2 update (checked) and feed it to the tracker at ``now``."""
    msg = l2_msg(book, bids, asks)
    assert book.apply(msg), book.last_error
    book._check()
    flow.on_book(msg, book, now)


def l3_update(flow: OrderFlowTracker, book: L3Book, bids: list[Ev], asks: list[Ev], now: float) -> None:
    """Apply a level3 update (checked) and feed it to the tracker at ``now``."""
    flow.on_l3(l3_apply(book, bids, asks), book, now)


def l3_start(flow: OrderFlowTracker, bids: list[Ev], asks: list[Ev]) -> L3Book:
    """A depth-10 level3 book from a snapshot at t=0, fed to the tracker."""
    book = L3Book(SYM, 10, PP, QP)
    flow.on_l3(l3_apply(book, bids, asks, snapshot=True), book, 0.0)
    return book


def l2_start(flow: OrderFlowTracker, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> L2Book:
    """A depth-10 L2 book from a snapshot at t=0, fed to the tracker."""
    book = L2Book(SYM, 10, PP, QP)
    msg = l2_msg(book, bids, asks, snapshot=True)
    assert book.apply(msg)
    flow.on_book(msg, book, 0.0)
    return book


# ---------------------------------------------------------------------------- L2 events


def test_level_added_removed_and_best_changed() -> None:
    flow = OrderFlowTracker(SYM)
    book = l2_start(flow, [(1000, 5), (990, 3)], [(1010, 4), (1020, 6)])
    assert flow.events() == [] and flow.version == 0  # a snapshot is the starting point, not news
    book_update(flow, book, [(995, 2)], [], 1.0)
    book_update(flow, book, [], [(1010, 0)], 2.0)
    book_update(flow, book, [(1005, 7)], [], 3.0)
    book_update(flow, book, [(1000, 8)], [], 4.0)  # a size change only: no level event
    assert flow.events() == [
        BestChanged(3.0, "buy", 1000, 1005),
        LevelAdded(3.0, "buy", 1005, 7),
        BestChanged(2.0, "sell", 1010, 1020),
        LevelRemoved(2.0, "sell", 1010, 4),
        LevelAdded(1.0, "buy", 995, 2),
    ]
    assert flow.events(2) == flow.events()[:2]
    assert [e.kind for e in flow.events()] == ["best", "added", "best", "removed", "added"]
    assert flow.version == 5 and flow.truncated == 0


def test_truncation_is_not_removal_and_levels_scrolling_in_are_not_added() -> None:
    flow = OrderFlowTracker(SYM)
    bids = [(p, 1) for p in range(1000, 990, -1)]  # ten levels: the depth-10 window is full
    book = l2_start(flow, bids, [(1010, 1)])
    # A better bid: the book drops 991 off the bottom; that level left the window, not the book.
    book_update(flow, book, [(1001, 4)], [], 1.0)
    assert flow.events() == [BestChanged(1.0, "buy", 1000, 1001), LevelAdded(1.0, "buy", 1001, 4)]
    assert flow.truncated == 1 and book.bids()[-1] == (992, 1)
    # 1001 is deleted and, as Kraken does, 991 is sent again in the same message: it scrolled back in.
    book_update(flow, book, [(1001, 0), (991, 1)], [], 2.0)
    assert flow.events(2) == [BestChanged(2.0, "buy", 1001, 1000), LevelRemoved(2.0, "buy", 1001, 4)]
    assert flow.entered == 1 and len(flow.events()) == 4
    # A level below the edge of a side that is not full is a real add.
    book_update(flow, book, [], [(1030, 2)], 3.0)
    assert flow.events(1) == [LevelAdded(3.0, "sell", 1030, 2)]


def test_stale_books_go_on_and_resyncs_start_over_quietly() -> None:
    flow = OrderFlowTracker(SYM)
    book = l2_start(flow, [(1000, 5)], [(1010, 4)])
    book.state = BookState.STALE  # quiet for a while: updates still apply, and so still count
    book_update(flow, book, [(1001, 2)], [], 1.0)
    assert flow.events() == [BestChanged(1.0, "buy", 1000, 1001), LevelAdded(1.0, "buy", 1001, 2)]
    # A checksum mismatch: nothing is read until the new snapshot, which is a new start, not news.
    bad = BookMessage(SYM, False, (Level(1002, PP, 1, QP),), (), 12345)
    assert not book.apply(bad)
    flow.on_book(bad, book, 2.0)
    snap = l2_msg(book, [(990, 1)], [(1020, 3)], snapshot=True)
    assert book.apply(snap)
    flow.on_book(snap, book, 3.0)
    assert flow.version == 2
    book_update(flow, book, [(991, 4)], [], 4.0)
    assert flow.events(1) == [BestChanged(4.0, "buy", 990, 991)]
    assert flow.events(2)[1] == LevelAdded(4.0, "buy", 991, 4)


def test_l2_large_orders_are_size_jumps_at_a_level() -> None:
    flow = OrderFlowTracker(SYM, large=10)
    book = l2_start(flow, [(1000, 5)], [(1010, 4)])
    book_update(flow, book, [(1000, 17)], [], 1.0)  # +12: a large order joined
    book_update(flow, book, [(1000, 8)], [], 2.0)  # -9: below the threshold
    book_update(flow, book, [], [(1013, 15)], 3.0)  # a new level of 15
    book_update(flow, book, [], [(1013, 0)], 4.0)  # and gone
    assert flow.events() == [
        LargeOrderVanished(4.0, "sell", 1013, 15, None, "l2"),
        LevelRemoved(4.0, "sell", 1013, 15),
        LargeOrderAppeared(3.0, "sell", 1013, 15, None, "l2"),
        LevelAdded(3.0, "sell", 1013, 15),
        LargeOrderAppeared(1.0, "buy", 1000, 12, None, "l2"),
    ]
    assert flow.large_lots == 10


def test_adaptive_threshold_is_a_multiple_of_the_median_order() -> None:
    flow = OrderFlowTracker(SYM, large_mult=10)
    book = l3_start(flow, [("", "a", 1000, 5)], [("", "s", 1010, 5)])
    # 63 adds: 24 of one lot and 39 of three; the 64th (three lots) completes the warm-up.
    adds: list[Ev] = [("add", f"o{i}", 990, 1 if i < 24 else 3) for i in range(63)]
    l3_update(flow, book, adds, [], 1.0)
    assert flow.large_lots is None  # warming up: nothing is large yet
    l3_update(flow, book, [("add", "o63", 990, 3)], [], 2.0)
    assert flow.large_lots == 30  # sorted sizes [1]*24 + [3]*40: the median (index 32) is 3
    l3_update(flow, book, [("add", "x", 991, 29), ("add", "y", 992, 30)], [], 3.0)
    assert flow.events() == [LargeOrderAppeared(3.0, "buy", 992, 30, "y", "l3")]


# ---------------------------------------------------------------------------- L3 detectors


def test_large_orders_and_spoof_candidates_with_their_negatives() -> None:
    flow = OrderFlowTracker(SYM, large=10, spoof_s=5.0, grace_s=2.0)
    book = l3_start(flow, [("", "a", 1000, 5), ("", "old", 980, 50)], [("", "s", 1010, 5)])
    # Spoof: 20 lots added at 995, cancelled 1.5 s later, no print at 995.
    l3_update(flow, book, [("add", "big", 995, 20)], [], 1.0)
    l3_update(flow, book, [("delete", "big", 995, 20)], [], 2.5)
    assert flow.events() == [
        LargeOrderVanished(2.5, "buy", 995, 20, "big", "l3"),
        LargeOrderAppeared(1.0, "buy", 995, 20, "big", "l3"),
    ]
    assert flow.snapshot(4.5).spoofs == 0  # a late print could still come until 2.5 + grace
    summary = flow.snapshot(4.6)
    assert summary.spoofs == 1 and summary.events[0] == SpoofCandidate(2.5, "buy", 995, 20, "big", 1.0)
    assert summary.events[0].lifetime_s == 1.5
    # Not a spoof: partly filled (a print at its price), then the rest cancelled.
    l3_update(flow, book, [("add", "b2", 996, 20)], [], 10.0)
    flow.on_trades([trade("sell", 996, 3)], 11.0)
    l3_update(flow, book, [("modify", "b2", 996, 17)], [], 11.0)
    l3_update(flow, book, [("delete", "b2", 996, 17)], [], 12.0)
    # Not a spoof: cancelled 6 s after it was added (spoof_s is 5).
    l3_update(flow, book, [("add", "b3", 994, 30)], [], 20.0)
    l3_update(flow, book, [("delete", "b3", 994, 30)], [], 26.0)
    # Not a spoof: the print of its fill arrives after the delete, inside the grace.
    l3_update(flow, book, [("add", "b4", 993, 12)], [], 30.0)
    l3_update(flow, book, [("delete", "b4", 993, 12)], [], 31.0)
    flow.on_trades([trade("sell", 993, 12)], 32.0)
    # Not large: 9 lots cancelled at once. Not timed: resting since the snapshot.
    l3_update(flow, book, [("add", "small", 992, 9), ("delete", "old", 980, 50)], [], 40.0)
    l3_update(flow, book, [("delete", "small", 992, 9)], [], 40.5)
    summary = flow.snapshot(100.0)
    assert summary.spoofs == 1
    assert [e for e in summary.events if isinstance(e, SpoofCandidate)] == [
        SpoofCandidate(2.5, "buy", 995, 20, "big", 1.0)
    ]
    vanished = [(e.order_id, e.lots) for e in summary.events if isinstance(e, LargeOrderVanished)]
    assert vanished == [("old", 50), ("b4", 12), ("b3", 30), ("b2", 17), ("big", 20)]
    assert summary.large_lots == 10


def test_large_order_moved_is_a_cancel_at_its_old_price() -> None:
    flow = OrderFlowTracker(SYM, large=10)
    book = l3_start(flow, [("", "a", 1000, 5)], [("", "s", 1010, 5)])
    l3_update(flow, book, [("add", "w", 995, 40)], [], 1.0)
    l3_update(flow, book, [("delete", "w", 995, 40), ("add", "w", 997, 40)], [], 2.0)
    l3_update(flow, book, [("modify", "w", 997, 35)], [], 3.0)
    l3_update(flow, book, [("delete", "w", 997, 35)], [], 9.0)
    flow.snapshot(20.0)
    assert flow.events() == [
        LargeOrderVanished(9.0, "buy", 997, 35, "w", "l3"),
        SpoofCandidate(2.0, "buy", 995, 40, "w", 1.0),  # pulled from 995 one second after it came
        LargeOrderAppeared(2.0, "buy", 997, 40, "w", "l3"),
        LargeOrderVanished(2.0, "buy", 995, 40, "w", "l3"),
        LargeOrderAppeared(1.0, "buy", 995, 40, "w", "l3"),
    ]


def test_iceberg_refills_in_every_arrival_order() -> None:
    flow = OrderFlowTracker(SYM, refill_s=0.25, min_refills=3, grace_s=2.0)
    book = l3_start(flow, [("", "a", 1000, 5)], [("", "i1", 1010, 4)])
    # 1: level3 (the tip's delete) first, then the print, then the new tip.
    l3_update(flow, book, [], [("delete", "i1", 1010, 4)], 1.0)
    flow.on_trades([trade("buy", 1010, 4)], 1.0)
    l3_update(flow, book, [], [("add", "i2", 1010, 4)], 1.1)
    # 2: the print first.
    flow.on_trades([trade("buy", 1010, 4)], 2.0)
    l3_update(flow, book, [], [("delete", "i2", 1010, 4)], 2.0)
    l3_update(flow, book, [], [("add", "i3", 1010, 4)], 2.2)
    assert flow.icebergs == 0 and flow.events() == []  # two refills: not yet a run of three
    # 3: the delete and the new tip in one level3 message, the print after it.
    l3_update(flow, book, [], [("delete", "i3", 1010, 4), ("add", "i4", 1010, 4)], 3.0)
    assert flow.events() == []  # waits for the print that makes the delete a fill
    flow.on_trades([trade("buy", 1010, 4)], 3.05)
    assert flow.events() == [IcebergRefill(3.0, "sell", 1010, 3, 12, 4)]
    # 4: the run goes on.
    flow.on_trades([trade("buy", 1010, 4)], 4.0)
    l3_update(flow, book, [], [("delete", "i4", 1010, 4)], 4.0)
    l3_update(flow, book, [], [("add", "i5", 1010, 3)], 4.1)
    assert flow.events(1) == [IcebergRefill(4.1, "sell", 1010, 4, 15, 3)]
    assert flow.icebergs == 1 and flow.snapshot(5.0).icebergs == 1


def test_not_refills() -> None:
    flow = OrderFlowTracker(SYM, refill_s=0.25, min_refills=1, grace_s=2.0)  # every refill would show
    asks: list[Ev] = [("", "i1", 1010, 4), ("", "i2", 1010, 4), ("", "s", 1015, 9)]
    book = l3_start(flow, [("", "a", 1000, 5)], asks)
    # Filled, then re-added at another price.
    flow.on_trades([trade("buy", 1010, 4)], 1.0)
    l3_update(flow, book, [], [("delete", "i1", 1010, 4), ("add", "j1", 1011, 4)], 1.0)
    # Filled, then re-added at the same price too late.
    flow.on_trades([trade("buy", 1010, 4)], 2.0)
    l3_update(flow, book, [], [("delete", "i2", 1010, 4)], 2.0)
    l3_update(flow, book, [], [("add", "j2", 1010, 4)], 2.3)
    # Cancelled (no print), then re-added at once.
    l3_update(flow, book, [], [("delete", "j2", 1010, 4), ("add", "j3", 1010, 4)], 3.0)
    # Filled on the other side of the book at that price: a bid at 1005 is not the ask queue.
    l3_update(flow, book, [("add", "b", 1005, 2)], [], 4.0)
    flow.on_trades([trade("sell", 1005, 2)], 4.0)
    l3_update(flow, book, [("delete", "b", 1005, 2)], [("add", "j4", 1005, 4)], 4.0)
    assert flow.snapshot(10.0).icebergs == 0
    assert not [e for e in flow.events() if isinstance(e, IcebergRefill)]
    # The control: the same tracker does see a refill.
    flow.on_trades([trade("buy", 1005, 4)], 11.0)
    l3_update(flow, book, [], [("delete", "j4", 1005, 4)], 11.0)
    l3_update(flow, book, [], [("add", "j5", 1005, 4)], 11.1)
    assert flow.events(1) == [IcebergRefill(11.1, "sell", 1005, 1, 4, 4)]


# ---------------------------------------------------------------------------- rates and trades


def test_level_rates_come_from_the_queue_trackers_classification() -> None:
    flow = OrderFlowTracker(SYM, window_s=60.0)  # makes and feeds its own QueueTracker
    book = l3_start(flow, [("", "a", 1000, 5), ("", "b", 1000, 3), ("", "c", 990, 1)], [("", "s", 1010, 7)])
    l3_update(flow, book, [("add", "d", 1000, 4)], [], 1.0)
    l3_update(flow, book, [("delete", "b", 1000, 3)], [], 2.0)  # not the front: a cancel
    flow.on_trades([trade("sell", 1000, 3)], 3.0)  # the print first, then a's fill
    l3_update(flow, book, [("modify", "a", 1000, 2)], [], 3.0)
    summary = flow.snapshot(4.0, levels=1)
    assert summary.rates == (
        LevelRates("buy", 1000, 4.0, 4, 3, 3, 1, 1, 1),
        LevelRates("sell", 1010, 4.0, 0, 0, 0, 0, 0, 0),
    )
    r = summary.rates[0]
    assert (r.add_rate, r.cancel_rate, r.fill_rate) == (1.0, 0.75, 0.75)
    assert flow.level_rates("buy", 1000, 4.0, window=1.5) == LevelRates("buy", 1000, 1.5, 0, 0, 3, 0, 0, 1)
    assert len(flow.snapshot(4.0).rates) == 3  # two bid levels and one ask level in the book
    # Without level3 there are no per-order rates.
    assert OrderFlowTracker(SYM).snapshot(1.0).rates == ()


def test_trades_by_price_exact_grouped_and_windowed() -> None:
    flow = OrderFlowTracker(SYM, profile_s=10.0)
    l2_start(flow, [(1000, 5)], [(1010, 4)])  # the precision comes from the book
    flow.on_trades([trade("buy", 1010, 3), trade("buy", 1010, 2), trade("sell", 1000, 4)], 1.0)
    flow.on_trades([trade("buy", 1012, 1), trade("sell", 997, 5), trade("sell", 1010, 6)], 5.0)
    flow.on_trades([trade("buy", 1010, 9, symbol="X/USD")], 5.0)  # another symbol
    assert flow.trades_by_level(5.0) == [
        PriceTrades(1012, 1, 0),
        PriceTrades(1010, 5, 6),
        PriceTrades(1000, 0, 4),
        PriceTrades(997, 0, 5),
    ]
    # Buckets of 5 ticks: buys (asks lifted) round up, sells (bids hit) round down.
    assert flow.trades_by_level(5.0, group_ticks=5) == [
        PriceTrades(1015, 1, 0),
        PriceTrades(1010, 5, 6),
        PriceTrades(1000, 0, 4),
        PriceTrades(995, 0, 5),
    ]
    # Ten seconds later the first message has left the profile.
    assert flow.snapshot(11.5).trades == (
        PriceTrades(1012, 1, 0),
        PriceTrades(1010, 0, 6),
        PriceTrades(997, 0, 5),
    )


def test_trades_before_any_book_are_not_counted() -> None:
    flow = OrderFlowTracker(SYM)
    flow.on_trades([trade("buy", 1010, 3)], 1.0)
    assert flow.trades_by_level(1.0) == []


# ---------------------------------------------------------------------------- real frames


def test_replay_of_the_embedded_exchange_agrees_with_its_matching_engine() -> None:
    symbol = "BTC/USD"
    ex = Exchange(SimConfig(seed=3, market=False, symbols=(symbol,)))
    h = FeedHarness(ex, symbol, windows=(1e9,))
    flow = OrderFlowTracker(
        symbol, queue=h.tracker, window_s=1e9, profile_s=1e9, spoof_s=5.0, max_events=100_000
    )
    feed = ex.feeds[symbol]
    publish = feed.publish
    visible_fills: dict[tuple[str, int], int] = {}
    printed: dict[int, list[int]] = {}
    makers: set[str] = set()

    def spy(log: OpLog) -> None:
        # Inside the operation, before its frames are taken: h.l3 is still the book before it.
        for t in log.trades:
            maker = "sell" if t.taker_side == BID else "buy"
            makers.add(t.maker_id)
            printed.setdefault(t.price, [0, 0])[0 if t.taker_side == BID else 1] += t.qty
            if h.l3.order(t.maker_id) is not None:
                visible_fills[(maker, t.price)] = visible_fills.get((maker, t.price), 0) + t.qty
        publish(log)

    feed.publish = spy  # type: ignore[method-assign]
    # The application's way, alongside: level3 and trades per message, the book's journal per frame.
    batched = OrderFlowTracker(
        symbol, queue=h.tracker, window_s=1e9, profile_s=1e9, spoof_s=5.0, max_events=100_000
    )
    journal = h.l2.enable_journal()
    frame_at = [0.0]

    def pump(now: float) -> None:
        nonlocal journal
        frames = h.frames[:]
        h.frames.clear()
        for text in frames:
            for ev in codec.decode(text):
                if isinstance(ev, Level3Message):
                    assert h.l3.apply(ev), h.l3.last_error
                    h.tracker.on_l3(ev, h.l3, now)
                    flow.on_l3(ev, h.l3, now)
                    batched.on_l3(ev, h.l3, now)
                elif isinstance(ev, BookMessage):
                    journal.append(now)  # as MarketEngine.apply_book records it
                    assert h.l2.apply(ev), h.l2.last_error
                    flow.on_book(ev, h.l2, now)
                elif isinstance(ev, TradeMessage):
                    journal.extend((now, ev))  # as MarketEngine.apply_trades records it
                    if not ev.snapshot:
                        h.tracker.on_trades(ev.trades, now)
                        flow.on_trades(ev.trades, now)
                        batched.on_trades(ev.trades, now)
        if now >= frame_at[0]:  # a UI frame (20 Hz): drain the journal
            frame_at[0] = now + 0.05
            batch, h.l2.journal = journal, []
            journal = h.l2.journal
            batched.consume(batch, h.l2)

    pump(0.0)
    levels0 = len(h.l2)
    steps = 6000
    for i in range(1, steps + 1):
        ex.step(1)
        pump(i / 50)
    now = steps / 50 + 10.0
    pump(now)  # the last frame
    summary = flow.snapshot(now, events=100_000)
    # The journal path: the same L2 events in the same order, and the same level3 events (a batch's
    # L2 events are appended at its frame, after that frame's level3 events: compared apart).
    got = batched.snapshot(now, events=100_000)
    for kinds_of in ({"added", "removed", "best"}, {"large", "vanished", "iceberg", "spoof"}):
        assert [e for e in got.events if e.kind in kinds_of] == [
            e for e in summary.events if e.kind in kinds_of
        ]
    assert (got.trades, got.large_lots, got.icebergs, got.spoofs, got.truncated, got.version) == (
        summary.trades,
        summary.large_lots,
        summary.icebergs,
        summary.spoofs,
        summary.truncated,
        summary.version,
    )
    assert batched.entered == flow.entered
    # Trades by price are the matching engine's prints, exactly.
    assert [(r.price_ticks, r.bought_lots, r.sold_lots) for r in summary.trades] == [
        (p, b, s) for p, (b, s) in sorted(printed.items(), reverse=True)
    ]
    # Per-level fills are the prints against orders the level3 window showed, level by level.
    got = {}
    for side, price in visible_fills.keys() | {(s, p) for s, p in h.tracker._flows}:
        fills = flow.level_rates(side, price, now).fill_lots
        if fills:
            got[(side, price)] = fills
    assert got == visible_fills and sum(got.values()) > 0
    events = flow.events()
    assert len(events) < 100_000  # nothing fell off the end
    kinds = {k: sum(e.kind == k for e in events) for k in ("added", "removed", "best", "large", "vanished")}
    # Levels in the window: what came minus what went, counting scrolls and truncations.
    assert kinds["added"] - kinds["removed"] + flow.entered - flow.truncated == len(h.l2) - levels0
    assert min(kinds.values()) > 0 and flow.entered > 0 and flow.truncated > 0
    # Each side's best moves form one chain that ends at the book's best.
    for side, best in (("buy", h.l2.best_bid()), ("sell", h.l2.best_ask())):
        chain = [e for e in reversed(events) if isinstance(e, BestChanged) and e.side == side]
        assert all(a.new_ticks == b.old_ticks for a, b in pairwise(chain))
        assert best is not None and chain[-1].new_ticks == best[0]
    # Large orders (level3: one order each) vanish only after they appeared; the threshold adapted.
    appeared = {e.order_id for e in events if isinstance(e, LargeOrderAppeared)}
    assert all(e.source == "l3" for e in events if isinstance(e, LargeOrderAppeared | LargeOrderVanished))
    assert summary.large_lots is not None and summary.large_lots > 0
    # Spoof candidates: large, quick, and truly never traded in the matching engine.
    spoofs = [e for e in events if isinstance(e, SpoofCandidate)]
    assert len(spoofs) == summary.spoofs > 0
    for sp in spoofs:
        assert sp.order_id in appeared and sp.order_id not in makers and sp.lifetime_s <= 5.0


# ---------------------------------------------------------------------------- the journal path


class _Journaled:
    """One book fed as ``MarketEngine`` feeds it with the journal on, drained into ``consume``."""

    def __init__(self, flow: OrderFlowTracker, depth: int = 10) -> None:
        self.flow = flow
        self.book = L2Book(SYM, depth, PP, QP)
        self.book.enable_journal()

    def book_msg(self, msg: BookMessage, now: float) -> None:
        assert self.book.journal is not None
        self.book.journal.append(now)  # as MarketEngine.apply_book records it
        self.book.apply(msg)

    def trades(self, msg: TradeMessage, now: float) -> None:
        assert self.book.journal is not None
        self.book.journal.extend((now, msg))  # as MarketEngine.apply_trades records it

    def frame(self) -> None:
        """The UI frame: drain the journal and hand the batch over."""
        batch, self.book.journal = self.book.journal, []
        assert batch is not None
        self.flow.consume(batch, self.book)


def _both(
    steps: list[tuple[float, object]], frames_at: set[float], depth: int = 10, **kw: object
) -> tuple[OrderFlowTracker, OrderFlowTracker]:
    """Feed ``steps`` message by message to one tracker and as journal batches to another.

    A step is ``(now, (bids, asks))`` for a book update, ``(now, (bids, asks, "snapshot"))``
    for a snapshot or ``(now, TradeMessage)``; a batch ends after each step whose time is in
    ``frames_at`` (and after the last step).
    """
    per = OrderFlowTracker(SYM, **kw)  # type: ignore[arg-type]
    bat = OrderFlowTracker(SYM, **kw)  # type: ignore[arg-type]
    book = L2Book(SYM, depth, PP, QP)
    j = _Journaled(bat, depth)
    for i, (now, what) in enumerate(steps):
        if isinstance(what, TradeMessage):
            if not what.snapshot:  # a snapshot repeats old trades: the app skips it, so does consume
                per.on_trades(what.trades, now)
            j.trades(what, now)
        else:
            bids, asks, *snap = what  # type: ignore[misc]
            msg = l2_msg(book, bids, asks, snapshot=bool(snap))
            assert book.apply(msg), book.last_error
            book._check()
            per.on_book(msg, book, now)
            j.book_msg(l2_msg(j.book, bids, asks, snapshot=bool(snap)), now)
            assert j.book.state is BookState.SYNCED
        if now in frames_at or i == len(steps) - 1:
            j.frame()
    return per, bat


def _same(per: OrderFlowTracker, bat: OrderFlowTracker) -> None:
    assert bat.events() == per.events()
    assert (bat.version, bat.entered, bat.truncated) == (per.version, per.entered, per.truncated)
    assert bat.large_lots == per.large_lots
    assert bat.trades_by_level() == per.trades_by_level()


def test_journal_batches_give_what_per_message_feeding_gives() -> None:
    full = [(p, 1) for p in range(1000, 990, -1)]  # ten bid levels: the window is full
    prints = (trade("buy", 1010, 3), trade("sell", 1000, 2), trade("buy", 1010, 9, "X/USD"))
    tape = TradeMessage(False, prints)
    steps: list[tuple[float, object]] = [
        (0.0, (full, [(1010, 4), (1020, 6)], "snapshot")),
        (1.0, ([(1001, 4)], [])),  # a better bid: 991 truncated off the bottom
        (1.5, tape),
        (2.0, ([(1001, 0), (991, 1)], [])),  # deleted, and 991 scrolls back in: entered
        (2.0, ([(1000, 30)], [(1010, 0), (1015, 2)])),  # large +29 at 1000; asks: best moves twice
        (3.0, ([(995, 0)], [(1020, 0), (1030, 2)])),  # both sides come and go in one message
        (3.5, ([(1002, 1), (1003, 1)], [(1015, 20)])),  # two new best bids: one best change
        (4.0, ([(1000, 1)], [])),  # large -29
        (4.0, ([(989, 5)], [])),  # beyond a full side's edge, cut at once: never in the window
        (5.0, TradeMessage(True, (trade("buy", 1010, 50),))),  # a trade snapshot: old prints
        (6.0, ([], [(1040, 3), (1050, 4)])),  # a side that is not full: real adds
    ]
    # Every frame split: one message per batch, several, and everything in one batch.
    for frames_at in ({0.0, 1.0, 1.5, 2.0, 3.0, 3.5, 4.0, 5.0}, {1.5, 3.5}, set()):
        per, bat = _both(steps, frames_at, large=20)
        _same(per, bat)
    kinds = [e.kind for e in per.events()]
    assert kinds.count("large") == 1 and kinds.count("vanished") == 1 and kinds.count("best") == 4
    assert per.entered == 1 and per.truncated == 2
    assert per.events(1) == [LevelAdded(6.0, "sell", 1050, 4)]
    assert per.trades_by_level() == [PriceTrades(1010, 3, 0), PriceTrades(1000, 0, 2)]


def test_journal_batches_adaptive_threshold_and_a_snapshot_mid_batch() -> None:
    steps: list[tuple[float, object]] = [(0.0, ([(1000, 5)], [(1010, 5)], "snapshot"))]
    # 70 size changes of 1 or 2 lots warm the threshold up (median 1 or 2 -> 10 or 20) ...
    for i in range(70):
        steps.append((0.1 * (i + 1), ([(1000, 5 + i % 2)], [(1010, 5 + 2 * (i % 3 == 0))])))
    # ... then a wall, a snapshot that starts over in the middle of a batch, and news after it.
    steps += [
        (8.0, ([(990, 40)], [])),
        (8.1, ([(985, 3)], [(1011, 3)], "snapshot")),
        (8.2, ([(986, 50)], [(1011, 0)])),
        (8.3, TradeMessage(False, (trade("sell", 986, 7),))),
    ]
    for frames_at in ({0.5, 3.0, 7.9, 8.0}, {8.15}, set()):
        per, bat = _both(steps, frames_at)
        _same(per, bat)
    assert per.large_lots == 10  # the changes' median is one lot
    assert per.events() == [
        BestChanged(8.2, "buy", 985, 986),
        BestChanged(8.2, "sell", 1011, None),
        LargeOrderAppeared(8.2, "buy", 986, 50, None, "l2"),
        LevelAdded(8.2, "buy", 986, 50),
        LevelRemoved(8.2, "sell", 1011, 3),
        LargeOrderAppeared(8.0, "buy", 990, 40, None, "l2"),
        LevelAdded(8.0, "buy", 990, 40),
    ]
    assert per.trades_by_level() == [PriceTrades(986, 0, 7)]


def test_journal_starts_at_a_snapshot_or_quietly_and_follows_a_resync() -> None:
    flow = OrderFlowTracker(SYM)
    j = _Journaled(flow)
    j.book_msg(l2_msg(j.book, [(1000, 5)], [(1010, 4)], snapshot=True), 0.0)
    j.book_msg(l2_msg(j.book, [(1001, 2)], []), 1.0)
    j.frame()
    assert flow.events() == [BestChanged(1.0, "buy", 1000, 1001), LevelAdded(1.0, "buy", 1001, 2)]
    # A checksum mismatch: the message was applied and is in the journal; the book resyncs.
    bad = BookMessage(SYM, False, (Level(1002, PP, 1, QP),), (), 12345)
    j.book_msg(bad, 2.0)
    j.book_msg(l2_msg(j.book, [(999, 1)], []), 2.5)  # ignored by the book: not in the journal
    j.frame()
    assert j.book.state is BookState.RESYNCING and flow.version == 4  # the failed one's events
    j.book_msg(l2_msg(j.book, [(990, 1)], [(1020, 3)], snapshot=True), 3.0)
    j.book_msg(l2_msg(j.book, [(991, 4)], []), 4.0)
    j.frame()
    assert flow.events(2) == [BestChanged(4.0, "buy", 990, 991), LevelAdded(4.0, "buy", 991, 4)]
    # A tracker that meets a book mid-stream starts quietly: at the end of its first batch, or at
    # a snapshot without levels ("the book as it stands", as the controller starts one).
    j2 = _Journaled(OrderFlowTracker(SYM))
    j2.book_msg(l2_msg(j2.book, [(1000, 5)], [(1010, 4)], snapshot=True), 0.0)
    j2.frame()
    for t, explicit in ((1.0, False), (3.0, True)):
        fresh = j2.flow = OrderFlowTracker(SYM)
        if explicit:
            fresh.consume([t, BookMessage(SYM, True, (), (), 0)], j2.book)
        else:
            j2.book_msg(l2_msg(j2.book, [(int(1000 + t), 2)], []), t)
            j2.frame()
        assert fresh.events() == []
        best = j2.book.best_bid()
        assert best is not None
        j2.book_msg(l2_msg(j2.book, [(best[0] + 1, 2)], []), t + 1)
        j2.frame()
        assert fresh.events() == [
            BestChanged(t + 1, "buy", best[0], best[0] + 1),
            LevelAdded(t + 1, "buy", best[0] + 1, 2),
        ]


def test_replay_without_level3_journal_batches_equal_per_message_feeding() -> None:
    """A public (L2 only) session: L2 large orders and the adaptive threshold from level sizes too."""
    symbol = "BTC/USD"
    ex = Exchange(SimConfig(seed=7, market=False, symbols=(symbol,)))
    h = FeedHarness(ex, symbol)
    per = OrderFlowTracker(symbol, profile_s=1e9, max_events=100_000)
    batched = OrderFlowTracker(symbol, profile_s=1e9, max_events=100_000)
    journal = h.l2.enable_journal()
    frame_at = 0.0
    for i in range(3001):
        if i:
            ex.step(1)
        now = i / 50
        frames = h.frames[:]
        h.frames.clear()
        for text in frames:
            for ev in codec.decode(text):
                if isinstance(ev, BookMessage):
                    journal.append(now)
                    assert h.l2.apply(ev), h.l2.last_error
                    per.on_book(ev, h.l2, now)
                elif isinstance(ev, TradeMessage):
                    journal.extend((now, ev))
                    if not ev.snapshot:
                        per.on_trades(ev.trades, now)
        if now >= frame_at or i == 3000:
            frame_at = now + 0.05
            batch, h.l2.journal = journal, []
            journal = h.l2.journal
            batched.consume(batch, h.l2)
    events = per.events()
    assert len(events) > 1000
    assert {e.kind for e in events} == {"added", "removed", "best", "large", "vanished"}
    assert per.entered > 0 and per.truncated > 0 and per.large_lots is not None
    assert batched.events() == events
    assert (batched.version, batched.entered, batched.truncated, batched.large_lots) == (
        per.version,
        per.entered,
        per.truncated,
        per.large_lots,
    )
    assert batched.trades_by_level() == per.trades_by_level() != []
