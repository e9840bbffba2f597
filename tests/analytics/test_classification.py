"""Trades and cancels told apart exactly: the tracker's split against the matching engine's own record."""

from __future__ import annotations

from typing import Any

from havterm.sim.exchange import Exchange, SimConfig
from havterm.sim.matching import BID, OpLog
from tests.analytics.harness import FeedHarness

SYMBOL = "BTC/USD"


def test_every_visible_reduction_is_classified_as_the_engine_did_it() -> None:
    ex = Exchange(SimConfig(seed=3, market=False, symbols=(SYMBOL,)))
    h = FeedHarness(ex, SYMBOL, windows=(1e9,))
    feed = ex.feeds[SYMBOL]
    publish = feed.publish
    want: dict[str, dict[str, int]] = {s: {"trade": 0, "cancel": 0} for s in ("buy", "sell")}

    def spy(log: OpLog) -> None:
        # Called inside the operation, before the harness has seen its frames: h.l3 is the pre-op book.
        makers: dict[str, int] = {}
        for t in log.trades:
            maker_side = "buy" if t.taker_side != BID else "sell"
            if h.l3.order(t.maker_id) is not None:  # only orders the depth-10 window shows
                want[maker_side]["trade"] += t.qty
                makers[t.maker_id] = makers.get(t.maker_id, 0) + t.qty
        for side_i, per_key in enumerate(log.l3):
            side = "buy" if side_i == BID else "sell"
            for events in per_key.values():
                for ev, oid, qty, _ in events:
                    if ev == "delete" and oid not in makers and h.l3.order(oid) is not None:
                        want[side]["cancel"] += qty
        publish(log)

    feed.publish = spy  # type: ignore[method-assign]
    h.pump(0.0)
    steps = 6000
    for i in range(1, steps + 1):
        ex.step(1)
        h.pump(i / 50)
    now = steps / 50
    got: dict[str, Any] = {}
    for side in ("buy", "sell"):
        d = h.tracker.side_dynamics(side, now, 1e9)
        got[side] = {"trade": d.trade_lots, "cancel": d.cancel_lots}
    assert got == want
    assert min(want["buy"]["trade"], want["sell"]["trade"], want["buy"]["cancel"]) > 0
