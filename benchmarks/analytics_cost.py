"""Cost per update of the live analytics (queue tracker, L2 queue estimator) against the engine's own work.

The embedded exchange runs stepped and seeded; its level3 (depth 10), book
(depth 10) and trade frames are captured as they would go on the wire, with
two own orders resting at the best bid (tracked by both the L3 tracker and
the L2 estimator). Then the stream is replayed twice, interleaved, several
times: the engine alone (``codec.decode`` and ``L2Book``/``L3Book.apply``,
checksums included) and the engine plus every per-message analytics update
(``QueueTracker.on_l3``/``on_trades``, ``L2QueueEstimator.on_book``/
``on_trades``). The analytics' cost is the difference of the best times.
Query-time functions (fill probability, execution cost, imbalance) run at
the UI's frame rate, not per message, and are timed per call separately.

    python benchmarks/analytics_cost.py [--ops 20000] [--repeat 5]

Exit status 1 if the analytics cost 20 % or more of the engine's per-message time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from havterm.engine import codec  # noqa: E402
from havterm.engine.analytics import execution_cost, imbalance, pressure  # noqa: E402
from havterm.engine.book import L2Book  # noqa: E402
from havterm.engine.events import BookMessage, Level3Message, TradeMessage  # noqa: E402
from havterm.engine.fillprob import L2QueueEstimator, estimate_own  # noqa: E402
from havterm.engine.l3 import L3Book  # noqa: E402
from havterm.engine.market import MarketEngine  # noqa: E402
from havterm.engine.queue import QueueTracker  # noqa: E402
from havterm.sim.exchange import Exchange, SimConfig  # noqa: E402
from havterm.sim.feeds import Sub  # noqa: E402
from havterm.sim.matching import BID  # noqa: E402

SYMBOL = "BTC/USD"
RATE = 50.0  # virtual operations per second (only the analytics' clocks see it)


class _Sink:
    def __init__(self, out: list[tuple[float, str]], clock: Callable[[], float]) -> None:
        self.out = out
        self.clock = clock

    def push(self, text: str, kind: str = "data", checksum: int | None = None) -> None:
        self.out.append((self.clock(), text))


def capture(ops: int, seed: int) -> tuple[list[tuple[float, str]], list[str], int, int]:
    """Frames of ``ops`` operations (with their virtual time), and our two resting order ids."""
    ex = Exchange(SimConfig(seed=seed, market=False, symbols=(SYMBOL,)))
    step = [0]
    frames: list[tuple[float, str]] = []
    sink = _Sink(frames, lambda: step[0] / RATE)
    feed = ex.feeds[SYMBOL]
    ex.step(500)
    eng = ex.book(SYMBOL)
    bid = eng.best_bid()
    assert bid is not None
    mine = []
    for i, lots in enumerate((1_000_000, 2_000_000)):
        oid = f"BENCH-{i}"
        ex.apply(
            SYMBOL, lambda e, oid=oid, lots=lots: e.submit(oid, BID, lots, price=bid.price, owner="bench")
        )
        mine.append(oid)
    key = -777
    frames.append((0.0, feed.l3_snapshot(10, 0)[0]))
    frames.append((0.0, feed.book_snapshot(10, 0)[0]))
    feed.add_l3(10, key, Sub(sink))
    feed.add_book(10, key, Sub(sink))
    feed.trade_subs[key] = Sub(sink)
    for i in range(ops):
        step[0] = i + 1
        ex.step(1)
    inst = ex.instruments[SYMBOL]
    return frames, mine, inst.price_precision, inst.qty_precision


def run_market(frames: list[tuple[float, str]], pp: int, qp: int, session: str) -> float:
    """The same stream through ``codec.decode`` and the ``MarketEngine`` (what the client runs)."""
    market = MarketEngine(clock=time.perf_counter)
    st = market.state.symbol(SYMBOL)
    st.price_precision, st.qty_precision = pp, qp
    market.new_book(SYMBOL, 10)
    if session == "l3":
        market.new_l3(SYMBOL, 10)
    decode = codec.decode
    t0 = time.process_time()
    for now, text in frames:
        wall = 1.8e9 + now
        for ev in decode(text):
            t = type(ev)
            if t is Level3Message:
                market.apply_l3(ev, now, wall)  # type: ignore[arg-type]
            elif t is BookMessage:
                market.apply_book(ev, now, wall)  # type: ignore[arg-type]
            elif t is TradeMessage:
                market.apply_trades(ev, now, wall)  # type: ignore[arg-type]
    return time.process_time() - t0


def run(
    frames: list[tuple[float, str]], mine: list[str], pp: int, qp: int, session: str, analytics: bool
) -> float:
    """One pass over the captured frames as one session would see them; returns the seconds it took.

    ``session="l3"``: level3 + book + trade frames, analytics = ``QueueTracker``.
    ``session="l2"``: book + trade frames only (no key), analytics = ``L2QueueEstimator``.
    """
    l2 = L2Book(SYMBOL, 10, pp, qp)
    l3 = L3Book(SYMBOL, 10, pp, qp)
    tracker = QueueTracker(SYMBOL)
    l2est = L2QueueEstimator(SYMBOL)
    for oid in mine:
        tracker.track(oid, 0.0)
    placed = False
    use_l3 = session == "l3"
    track_l3 = analytics and use_l3
    track_l2 = analytics and not use_l3
    decode = codec.decode
    t0 = time.process_time()
    for now, text in frames:
        for ev in decode(text):
            t = type(ev)
            if t is Level3Message:
                l3.apply(ev)  # type: ignore[arg-type]
                if track_l3:
                    tracker.on_l3(ev, l3, now)  # type: ignore[arg-type]
            elif t is BookMessage:
                l2.apply(ev)  # type: ignore[arg-type]
                if track_l2:
                    l2est.on_book(ev, l2, now)  # type: ignore[arg-type]
                    if not placed:
                        bb = l2.best_bid()
                        assert bb is not None
                        for oid, lots in zip(mine, (1_000_000, 2_000_000), strict=True):
                            l2est.place(oid, "buy", bb[0], lots, book_shows_it=True)
                        placed = True
            elif t is TradeMessage:
                if track_l3:
                    tracker.on_trades(ev.trades, now)  # type: ignore[union-attr]
                elif track_l2:
                    l2est.on_trades(ev.trades, now)  # type: ignore[union-attr]
    return time.process_time() - t0


def per_call(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    frames, mine, pp, qp = capture(args.ops, args.seed)
    sessions = {
        "l3": frames,  # an authenticated session: level3, book and trades
        "l2": [(t, f) for t, f in frames if '"channel":"level3"' not in f],  # public only
    }
    worst = 0.0
    for name, stream in sessions.items():
        n_msgs = sum(len(codec.decode(text)) for _, text in stream)
        base, full = [], []
        for _ in range(args.repeat):
            base.append(run(stream, mine, pp, qp, name, analytics=False))
            full.append(run(stream, mine, pp, qp, name, analytics=True))
        engine = min(base)
        cost = max(0.0, min(full) - engine)
        ratio = cost / engine
        worst = max(worst, ratio)
        client = min(run_market(stream, pp, qp, name) for _ in range(args.repeat))
        what = "QueueTracker (L3)" if name == "l3" else "L2QueueEstimator (no L3)"
        print(f"{name} session: {n_msgs} messages at depth 10 ({args.ops} operations, seed {args.seed})")
        print(f"  engine (decode + apply + checksum): {engine / n_msgs * 1e6:.2f} us/message")
        print(f"  analytics, {what}: {cost / n_msgs * 1e6:.2f} us/message")
        print(f"  analytics / engine: {ratio * 100:.1f} %  (limit 20 %)")
        print(
            f"  engine as the client runs it (decode + MarketEngine): {client / n_msgs * 1e6:.2f} us/message;"
            f" analytics / that: {cost / client * 100:.1f} %"
        )
    # Query-time functions, per call, on the final state of a full pass.
    l2 = L2Book(SYMBOL, 10, pp, qp)
    l3 = L3Book(SYMBOL, 10, pp, qp)
    tracker = QueueTracker(SYMBOL)
    for oid in mine:
        tracker.track(oid, 0.0)
    now = 0.0
    for now, text in frames:
        for ev in codec.decode(text):
            if isinstance(ev, Level3Message):
                l3.apply(ev)
                tracker.on_l3(ev, l3, now)
            elif isinstance(ev, BookMessage):
                l2.apply(ev)
            elif isinstance(ev, TradeMessage):
                tracker.on_trades(ev.trades, now)
    print("query time (per call, at the UI frame rate):")
    cost_us = per_call(lambda: execution_cost(l2, "buy", 100_000_000), 2000) * 1e6
    print(f"  execution_cost(L2, 1 BTC):   {cost_us:.1f} us")
    print(
        f"  imbalance + pressure:        {per_call(lambda: (imbalance(l2), pressure(l2)), 2000) * 1e6:.1f} us"
    )
    own = tracker.own_orders()
    if own:
        t = per_call(lambda: estimate_own(tracker, own[0], now, paths=1000), 20)
        print(f"  estimate_own (3 windows, 1000 paths): {t * 1e3:.1f} ms")
    print(
        f"worst analytics / engine: {worst * 100:.1f} % -> {'OK' if worst < 0.20 else 'OVER the 20 % limit'}"
    )
    return 0 if worst < 0.20 else 1


if __name__ == "__main__":
    sys.exit(main())
