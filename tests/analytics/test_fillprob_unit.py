"""Fill probability: the exact Poisson case, the simulation against it, the L2 queue models."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from havterm.engine.book import L2Book
from havterm.engine.events import Trade, TradeMessage
from havterm.engine.fillprob import (
    L2QueueEstimator,
    _fluid_eta,
    _need,
    _simulate,
    blend,
    estimate_hypothetical,
    estimate_own,
    fill_probability,
)
from havterm.engine.l3 import L3Book
from havterm.engine.queue import QueueTracker
from tests.analytics.books import PP, QP, l2_msg, l3_apply

SYM = "T/USD"


def test_exact_poisson_case() -> None:
    # 20 ahead + 10 ours, every taker is 10 lots: the third arrival fills us. 5 arrivals in 10 s: 0.5/s.
    est = fill_probability(20, 10, [10] * 5, 10.0, horizons=(2.0, 6.0), model="l3-exact")
    assert est.arrival_rate == 0.5 and est.mean_size == 10.0 and est.arrivals == 5
    assert est.p_fill[0] == pytest.approx(1 - math.exp(-1) * (1 + 1 + 0.5), abs=1e-15)
    assert est.p_fill[1] == pytest.approx(1 - math.exp(-3) * (1 + 3 + 4.5), abs=1e-15)
    assert est.p(6.0) == est.p_fill[1]
    assert est.eta_s == 6.0  # 30 lots at 5 lots/s
    # The median of Gamma(3, 0.5) solves P(N(t) >= 3) = 1/2: about 5.348 s.
    assert est.median_s == pytest.approx(5.3481206274, abs=1e-8)
    assert (est.model, est.confidence) == ("l3-exact", "medium")  # exact queue, < 20 arrivals


def test_confidence_and_no_flow() -> None:
    none = fill_probability(10, 1, [], 60.0)
    assert none.confidence == "none" and set(none.p_fill) == {0.0} and none.eta_s is None
    assert fill_probability(10, 1, [5] * 25, 60.0).confidence == "high"
    assert fill_probability(10, 1, [5] * 25, 60.0, exact_queue=False).confidence == "medium"
    assert fill_probability(10, 1, [5] * 3, 60.0, exact_queue=False).confidence == "low"


def test_simulation_agrees_with_the_exact_tail() -> None:
    probs, median = _simulate(20, 10, np.array([10.0]), 0.5, 0.0, 0.0, (2.0, 6.0, 12.0), 20_000, 1)
    exact = [1 - math.exp(-m) * (1 + m + m * m / 2) for m in (1.0, 3.0, 6.0)]
    for p, e in zip(probs, exact, strict=True):
        assert abs(p - e) < 4 * math.sqrt(e * (1 - e) / 20_000)
    assert median is not None and abs(median - 5.348) < 0.15
    # Same seed, same answer.
    assert _simulate(20, 10, np.array([10.0]), 0.5, 0.0, 0.0, (2.0,), 500, 3) == _simulate(
        20, 10, np.array([10.0]), 0.5, 0.0, 0.0, (2.0,), 500, 3
    )


def test_cancels_and_inflow_move_the_need() -> None:
    assert _need(100, 10, 0.0, 0.0, 5.0) == 110
    assert _need(100, 10, 0.0, 2.0, 5.0) == 120
    assert _need(100, 10, 0.1, 2.0, 5.0) == pytest.approx(
        100 * math.exp(-0.5) + 20 * (1 - math.exp(-0.5)) + 10
    )
    eta = _fluid_eta(100, 10, 10.0, 0.1, 2.0)
    assert eta is not None and 10.0 * eta == pytest.approx(_need(100, 10, 0.1, 2.0, eta), rel=1e-9)
    assert _fluid_eta(100, 10, 1.0, 0.0, 2.0) is None  # inflow outruns the flow: never
    faster = fill_probability(100, 10, [5, 15] * 10, 10.0, cancel_hazard=0.2, horizons=(5.0,), seed=1)
    slower = fill_probability(100, 10, [5, 15] * 10, 10.0, cancel_hazard=0.0, horizons=(5.0,), seed=1)
    assert faster.p_fill[0] > slower.p_fill[0]


def test_blend_averages_probabilities() -> None:
    a = fill_probability(20, 10, [10] * 5, 10.0, horizons=(2.0,), model="l3-exact")
    b = fill_probability(20, 10, [10] * 50, 10.0, horizons=(2.0,), model="l3-exact")
    c = fill_probability(20, 10, [10] * 5, 1.0, horizons=(2.0,), model="l3-exact")
    m = blend([a, b, c])
    assert m.p_fill[0] == pytest.approx((a.p_fill[0] + b.p_fill[0] + c.p_fill[0]) / 3)
    assert m.model == "l3-exact avg[10/10/1s]" and m.arrival_rate == b.arrival_rate
    assert m.confidence == "medium"


def test_estimates_from_the_tracker() -> None:
    book = L3Book(SYM, 10, PP, QP)
    tr = QueueTracker(SYM, windows=(10.0,))
    tr.on_l3(
        l3_apply(book, [("", "a", 1000, 20), ("", "me", 1000, 10)], [("", "s", 1010, 5)], snapshot=True),
        book,
        0,
    )
    tr.track("me", 0.0)
    for i in range(5):  # five sell takers of 10 lots: the tape counts every taker against the bids
        tr.on_trades([Trade(SYM, "sell", Decimal("99.5"), Decimal(10), "market", i, "t")], 2.0 * i)
    est = estimate_own(tr, "me", 10.0, horizons=(2.0,), replay=False)
    assert est is not None and (est.lots_ahead, est.own_lots, est.arrivals) == (20, 10, 5)
    assert est.p_fill[0] == pytest.approx(1 - math.exp(-1) * 2.5, abs=1e-15)
    assert est.model == "l3-exact" and est.cancel_hazard == 0.0 and est.inflow == 0.0
    hyp = estimate_hypothetical(tr, "buy", 1000, 10, 10.0, horizons=(2.0,), replay=False)
    assert (hyp.lots_ahead, hyp.model) == (30, "l3-hypothetical")
    assert estimate_own(tr, "nobody", 10.0) is None


def l2_setup(model: str) -> tuple[L2Book, L2QueueEstimator]:
    book = L2Book(SYM, 10, PP, QP)
    est = L2QueueEstimator(SYM, model=model, windows=(10.0,))  # type: ignore[arg-type]
    msg = l2_msg(book, [(1000, 10), (990, 5)], [(1010, 5)], snapshot=True)
    assert book.apply(msg)
    est.on_book(msg, book, 0.0)
    return book, est


def step(book: L2Book, est: L2QueueEstimator, bids: list[tuple[int, int]], now: float) -> None:
    msg = l2_msg(book, bids, [])
    assert book.apply(msg)
    est.on_book(msg, book, now)


@pytest.mark.parametrize("model", ["power", "risk_averse"])
def test_l2_queue_models_step_by_step(model: str) -> None:
    book, est = l2_setup(model)
    est.place("me", "buy", 1000, 2)  # joins behind the 10 lots there
    assert est.ahead("me") == 10
    step(book, est, [(1000, 12)], 1.0)  # our 2 lots appear in the public level
    assert est.ahead("me") == 10
    est.on_trades([Trade(SYM, "sell", Decimal("100.0"), Decimal(3), "market", 1, "t")], 2.0)
    assert est.ahead("me") == 7
    step(book, est, [(1000, 9)], 2.0)  # the print's own decrease: no double count
    assert est.ahead("me") == 7
    step(book, est, [(1000, 15)], 3.0)  # 6 lots join behind us
    assert est.ahead("me") == 7
    # 5 lots cancelled somewhere: front 7, back 6 (15 - 2 ours - 7).
    step(book, est, [(1000, 10)], 4.0)
    if model == "risk_averse":
        assert est.ahead("me") == 7  # only trades move us; the level (8 without us) still holds 7
    else:
        prob = 6**3 / (7**3 + 6**3)  # the chance the cancel came from behind us
        front = 7 - (1 - prob) * 5 + min(6 - prob * 5, 0)
        assert est.ahead("me") == round(front)
    e = est.estimate("me", 4.0, horizons=(1.0,), paths=200)
    assert e is not None and e.model.startswith("l2-power" if model == "power" else "l2-risk-averse")
    assert e.arrivals == 1 and e.confidence == "low"
    # A print through our price means we were filled.
    est.on_trades([Trade(SYM, "sell", Decimal("99.9"), Decimal(1), "market", 2, "t")], 5.0)
    filled = est.estimate("me", 5.0, horizons=(1.0,), paths=200)
    assert filled is not None and filled.lots_ahead == 0 and est.ahead("me") == 0
    est.forget("me")
    assert est.estimate("me", 5.0) is None and est.ahead("me") is None


def test_l2_hypothetical_and_rates() -> None:
    book, est = l2_setup("power")
    step(book, est, [(1005, 4)], 1.0)  # a bid inside the spread: inflow for the touch
    hyp = est.estimate_hypothetical("buy", 990, 1, 2.0, horizons=(1.0,))
    assert hyp.lots_ahead == 5 + 10 + 4 and hyp.model == "l2-join-back"
    assert est._inflow("buy", 1005, 2.0, 10.0) == 4 / 2.0
    step(book, est, [(1000, 6)], 2.0)  # 4 lots gone, no print: a cancel
    _, elapsed, kappa = est._flow("buy", 2.0, 10.0)
    assert elapsed == 2.0 and kappa == pytest.approx(4 / 2.0 / (4 + 6 + 5))


@pytest.mark.parametrize("model", ["power", "risk_averse"])
def test_journal_batches_give_what_per_message_feeding_gives(model: str) -> None:
    """``consume`` (the app's path: the book's journal, one batch per frame) equals ``on_book``."""
    per_msg_book, per_msg = l2_setup(model)
    book = L2Book(SYM, 10, PP, QP)
    batched = L2QueueEstimator(SYM, model=model, windows=(10.0,))  # type: ignore[arg-type]
    journal = book.enable_journal()
    snap = l2_msg(book, [(1000, 10), (990, 5)], [(1010, 5)], snapshot=True)
    journal.append(0.0)
    assert book.apply(snap)
    batched.start(book, 0.0)  # as the controller starts one on a book that is already synced
    for est in (per_msg, batched):
        est.place("me", "buy", 1000, 2)
    print_ = TradeMessage(False, (Trade(SYM, "sell", Decimal("100.0"), Decimal(3), "market", 1, "t"),))
    steps: list[tuple[float, object]] = [
        (1.0, [(1000, 12)]),
        (2.0, print_),
        (2.0, [(1000, 9)]),
        (3.0, [(1000, 15), (995, 4)]),
        (4.0, [(1000, 10), (990, 0)]),
        (4.5, [(1005, 3)]),
    ]
    for now, what in steps:
        if isinstance(what, TradeMessage):
            per_msg.on_trades(what.trades, now)
            journal.extend((now, what))  # as MarketEngine.apply_trades records it
            continue
        msg = l2_msg(per_msg_book, what, [])  # type: ignore[arg-type]
        assert per_msg_book.apply(msg)
        per_msg.on_book(msg, per_msg_book, now)
        journal.append(now)  # as MarketEngine.apply_book records it
        assert book.apply(l2_msg(book, what, []))  # type: ignore[arg-type]
        if now in (2.0, 4.5):  # two frames: the batches end here
            batch, book.journal = list(journal), []
            journal = book.journal
            batched.consume(batch, book)
    assert batched.ahead("me") == per_msg.ahead("me")
    for side in ("buy", "sell"):
        assert batched._flow(side, 4.5, 10.0) == per_msg._flow(side, 4.5, 10.0)
    assert batched.better_lots("buy", 990) == per_msg.better_lots("buy", 990) == 3 + 10 + 4
    assert batched.level_lots("buy", 1000) == per_msg.level_lots("buy", 1000) == 10
    a = batched.estimate("me", 4.5, horizons=(1.0, 5.0), paths=300)
    b = per_msg.estimate("me", 4.5, horizons=(1.0, 5.0), paths=300)
    assert a is not None and b is not None and a.p_fill == b.p_fill and a.lots_ahead == b.lots_ahead
