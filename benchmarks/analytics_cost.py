"""Cost per message of the live analytics against the engine's own work, as the application runs them.

The embedded exchange runs stepped and seeded; its level3 (depth 10), book
(depth 10) and trade frames are captured as they would go on the wire, with
two own orders resting at the best bid (tracked by both the L3 tracker and
the L2 estimator). Then the stream is replayed, interleaved, several times
per configuration: the engine alone (``codec.decode`` and
``L2Book``/``L3Book.apply``, checksums included, no journal) and the engine
plus one more analytics component at a time (``COMPONENTS``):

- l2 session (book + trade frames): the book's journal (with
  ``MarketEngine``'s markers), drained once per UI frame (see below) into
  ``L2QueueEstimator.consume`` and
  ``OrderFlowTracker.consume``;
- l3 session (level3 + book + trade frames): the journal and
  ``OrderFlowTracker.consume`` per frame, and per message
  ``QueueTracker.on_l3``/``on_trades`` and ``OrderFlowTracker.on_l3``/
  ``on_trades``.

Each component's cost is the difference of best times with and without it;
the analytics' cost is everything together minus the engine.

Cost per message is what each message adds, measured under load: batches
of a few hundred messages per frame, as in a burst of thousands of messages
a second, where the cost matters. A batch's hand-over also costs a fixed
amount per UI frame, whatever it holds; that is measured apart (from a run
with 20 Hz frames over the capture's own, slow rate) and printed as a share
of a core. Both are printed, and so is the total at the capture's own rate.
The limit applies to the cost per message. The floor (``run_floor``) is
what any pure-Python analytics must pay before computing anything: the
journal walked once, each level3 order's fields stored under its id, each
trade message's prints converted; it shows how much of the budget is gone
before the first rate or queue position is counted. With
``--per-message`` the old way (every update per message, no journal) is
timed in the same rounds for comparison. Query-time functions (fill
probability, execution cost, imbalance) run at the UI's frame rate, not per
message, and are timed per call separately.

    python benchmarks/analytics_cost.py [--ops 20000] [--repeat 9] [--per-message]

Exit status 1 if the analytics cost 20 % or more of the engine's per-message time, per message.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from havterm.engine import codec, prints  # noqa: E402
from havterm.engine.analytics import execution_cost, imbalance, pressure  # noqa: E402
from havterm.engine.book import L2Book  # noqa: E402
from havterm.engine.events import BookMessage, Level3Message, TradeMessage  # noqa: E402
from havterm.engine.fillprob import L2QueueEstimator, estimate_own  # noqa: E402
from havterm.engine.l3 import L3Book  # noqa: E402
from havterm.engine.market import MarketEngine  # noqa: E402
from havterm.engine.orderflow import OrderFlowTracker  # noqa: E402
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


FRAME_S = 0.05
"""The UI's frame period (20 Hz): journal batches are handed over once per frame of virtual time."""
LOAD_FRAME_S = 5.0
"""Frames this long in the capture's virtual time hold a burst's worth of messages (a few hundred)."""

# Analytics components, in the order the increments are measured (each is timed with every one
# before it also running). "journal" is the book's journal, the markers MarketEngine adds and the
# per-frame drain; the consumers need it. Level3 sessions run the per-message trackers first, so
# ``OrderFlowTracker.consume`` is timed as the application runs it there: trades reach the flow
# tracker per message and it leaves the journal's alone. The application runs no
# ``L2QueueEstimator`` with level3 (``AnalyticsController.drain``).
COMPONENTS = {
    "l2": ("journal", "L2QueueEstimator.consume", "OrderFlowTracker.consume"),
    "l3": (
        "journal",
        "QueueTracker.on_l3/on_trades",
        "OrderFlowTracker.on_l3/on_trades",
        "OrderFlowTracker.consume",
    ),
}


def run(
    frames: list[tuple[float, str]],
    mine: list[str],
    pp: int,
    qp: int,
    session: str,
    parts: tuple[str, ...] = (),
    frame_s: float = 0.05,
) -> float:
    """One pass over the captured frames as one session would see them; returns the seconds it took.

    ``session="l3"``: level3 + book + trade frames; ``session="l2"``: book + trade frames only.
    ``parts`` are the analytics components (``COMPONENTS``) to run besides the engine; with none
    this is the engine alone: ``codec.decode`` and ``L2Book``/``L3Book.apply`` with their checksums,
    no journal. The journal is fed as ``MarketEngine`` feeds it (the arrival time before each book
    message; the time and the ``TradeMessage`` once per trade message with a print of the symbol)
    and drained, as the application drains it, once per ``frame_s`` of virtual time.
    """
    l2 = L2Book(SYMBOL, 10, pp, qp)
    l3 = L3Book(SYMBOL, 10, pp, qp)
    tracker = QueueTracker(SYMBOL)
    l2est = L2QueueEstimator(SYMBOL)
    of = OrderFlowTracker(SYMBOL, queue=tracker)
    for oid in mine:
        tracker.track(oid, 0.0)
    journal: list[Any] | None = l2.enable_journal() if "journal" in parts else None
    est_on = "L2QueueEstimator.consume" in parts
    flow_on = "OrderFlowTracker.consume" in parts
    queue_on = "QueueTracker.on_l3/on_trades" in parts
    flow_l3 = "OrderFlowTracker.on_l3/on_trades" in parts
    placed = False
    decode = codec.decode
    frame_at = 0.0
    t0 = time.process_time()
    for now, text in frames:
        if journal is not None and now >= frame_at:
            # A UI frame: drain the journal and hand the batch over (AnalyticsController.drain).
            # Frames fall on a fixed 20 Hz grid of virtual time (at most one per captured frame).
            frame_at = (now // frame_s + 1) * frame_s
            if journal:
                batch = journal
                l2.journal = journal = []
                if est_on:
                    l2est.consume(batch, l2)
                    if not placed and l2.best_bid() is not None:
                        bb = l2.best_bid()
                        assert bb is not None
                        for oid, lots in zip(mine, (1_000_000, 2_000_000), strict=True):
                            l2est.place(oid, "buy", bb[0], lots, book_shows_it=True)
                        placed = True
                if flow_on:
                    of.consume(batch, l2)
        for ev in decode(text):
            t = type(ev)
            if t is Level3Message:
                l3.apply(ev)  # type: ignore[arg-type]
                if queue_on:
                    tracker.on_l3(ev, l3, now)  # type: ignore[arg-type]
                if flow_l3:
                    of.on_l3(ev, l3, now)  # type: ignore[arg-type]
            elif t is BookMessage:
                if journal is not None:
                    journal.append(now)
                l2.apply(ev)  # type: ignore[arg-type]
            elif t is TradeMessage:
                if journal is not None and ev.trades:  # type: ignore[union-attr]
                    # MarketEngine.apply_trades: once per message with a print of the symbol.
                    journal.append(now)
                    journal.append(ev)
                if not ev.snapshot:  # type: ignore[union-attr]
                    if queue_on:
                        tracker.on_trades(ev.trades, now)  # type: ignore[union-attr]
                    if flow_l3:
                        of.on_trades(ev.trades, now)  # type: ignore[union-attr]
    if journal:
        if est_on:
            l2est.consume(journal, l2)
        if flow_on:
            of.consume(journal, l2)
    return time.process_time() - t0


def run_per_message(
    frames: list[tuple[float, str]], mine: list[str], pp: int, qp: int, session: str
) -> float:
    """The previous way, for comparison: every analytics update per message, no journal.

    ``L2QueueEstimator.on_book``/``on_trades`` (l2 session) or ``QueueTracker.on_l3``/``on_trades``
    (l3 session), and ``OrderFlowTracker.on_book``/``on_l3``/``on_trades``.
    """
    l2 = L2Book(SYMBOL, 10, pp, qp)
    l3 = L3Book(SYMBOL, 10, pp, qp)
    tracker = QueueTracker(SYMBOL)
    l2est = L2QueueEstimator(SYMBOL)
    of = OrderFlowTracker(SYMBOL, queue=tracker)
    for oid in mine:
        tracker.track(oid, 0.0)
    placed = False
    use_l3 = session == "l3"
    decode = codec.decode
    t0 = time.process_time()
    for now, text in frames:
        for ev in decode(text):
            t = type(ev)
            if t is Level3Message:
                l3.apply(ev)  # type: ignore[arg-type]
                tracker.on_l3(ev, l3, now)  # type: ignore[arg-type]
                of.on_l3(ev, l3, now)  # type: ignore[arg-type]
            elif t is BookMessage:
                l2.apply(ev)  # type: ignore[arg-type]
                of.on_book(ev, l2, now)  # type: ignore[arg-type]
                if not use_l3:
                    l2est.on_book(ev, l2, now)  # type: ignore[arg-type]
                    if not placed:
                        bb = l2.best_bid()
                        assert bb is not None
                        for oid, lots in zip(mine, (1_000_000, 2_000_000), strict=True):
                            l2est.place(oid, "buy", bb[0], lots, book_shows_it=True)
                        placed = True
            elif t is TradeMessage and not ev.snapshot:  # type: ignore[union-attr]
                if use_l3:
                    tracker.on_trades(ev.trades, now)  # type: ignore[union-attr]
                else:
                    l2est.on_trades(ev.trades, now)  # type: ignore[union-attr]
                of.on_trades(ev.trades, now)  # type: ignore[union-attr]
    return time.process_time() - t0


def run_floor(frames: list[tuple[float, str]], pp: int, qp: int, frame_s: float = LOAD_FRAME_S) -> float:
    """The least any pure-Python consumer of this stream pays, before it computes anything.

    The engine's pass (as ``run`` with no parts) plus only what every analytics design in
    Python must do per message: the book's journal with its markers, drained per frame and
    walked once (a type test and an unpack per entry); each level3 order's four fields read
    and stored under its id (one dict write, the cheapest shadow index there is); each trade
    message's prints converted to ticks and lots once (``maker_prints``, uncached). No rate,
    queue, event or estimate is computed. The analytics can cost no less than this.
    """
    l2 = L2Book(SYMBOL, 10, pp, qp)
    l3 = L3Book(SYMBOL, 10, pp, qp)
    journal: list[Any] = l2.enable_journal()
    index: dict[str, tuple[int, int, str, str]] = {}
    decode = codec.decode
    frame_at = 0.0
    t0 = time.process_time()
    for now, text in frames:
        if now >= frame_at:
            frame_at = (now // frame_s + 1) * frame_s
            if journal:
                batch = journal
                l2.journal = journal = []
                for e in batch:
                    if type(e) is tuple:
                        _k, _old, _new = e
        for ev in decode(text):
            t = type(ev)
            if t is Level3Message:
                l3.apply(ev)  # type: ignore[arg-type]
                for o in ev.bids:  # type: ignore[union-attr]
                    index[o.order_id] = (o.price_units, o.qty_units, o.order_id, o.event)  # type: ignore[union-attr]
                for o in ev.asks:  # type: ignore[union-attr]
                    index[o.order_id] = (o.price_units, o.qty_units, o.order_id, o.event)  # type: ignore[union-attr]
            elif t is BookMessage:
                journal.append(now)
                l2.apply(ev)  # type: ignore[arg-type]
            elif t is TradeMessage:
                if ev.trades:  # type: ignore[union-attr]
                    journal.append(now)
                    journal.append(ev)
                if not ev.snapshot:  # type: ignore[union-attr]
                    prints._last = None  # every message is new: no cache hit
                    prints.maker_prints(ev.trades, SYMBOL, pp, qp)  # type: ignore[union-attr]
    return time.process_time() - t0


def median_share(with_: list[float], without: list[float], engine: list[float]) -> float:
    """The median over rounds of (``with_`` - ``without``) / engine, each round taken on its own.

    Passes next to each other see the same load on a shared machine, so this is steadier than a
    difference of two best times taken in different rounds. It is printed to read the noise by;
    the verdict stays the best-of-N ratio.
    """
    shares = sorted((a - b) / e for a, b, e in zip(with_, without, engine, strict=True))
    return shares[len(shares) // 2]


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
    ap.add_argument(
        "--per-message", action="store_true", help="also time the analytics fed per message (the old way)"
    )
    args = ap.parse_args()
    frames, mine, pp, qp = capture(args.ops, args.seed)
    sessions = {
        "l3": frames,  # an authenticated session: level3, book and trades
        "l2": [(t, f) for t, f in frames if '"channel":"level3"' not in f],  # public only
    }
    worst = 0.0
    for name, stream in sessions.items():
        n_msgs = sum(len(codec.decode(text)) for _, text in stream)
        span = stream[-1][0] - stream[0][0]
        comps = COMPONENTS[name]
        # Interleaved: one pass of every configuration per round, best of the rounds for each, so
        # a burst of load on the machine hits all of them alike. The components are timed under
        # load (frames of LOAD_FRAME_S of virtual time); everything together at 20 Hz too.
        configs = [comps[:i] for i in range(len(comps) + 1)]
        times: list[list[float]] = [[] for _ in configs]
        at_20hz: list[float] = []
        per_msg: list[float] = []
        floor: list[float] = []
        client = float("inf")
        for _ in range(args.repeat):
            for c, parts in enumerate(configs):
                times[c].append(run(stream, mine, pp, qp, name, parts, LOAD_FRAME_S))
            at_20hz.append(run(stream, mine, pp, qp, name, comps, FRAME_S))
            floor.append(run_floor(stream, pp, qp))
            if args.per_message:
                per_msg.append(run_per_message(stream, mine, pp, qp, name))
            client = min(client, run_market(stream, pp, qp, name))
        best = [min(t) for t in times]
        engine = best[0]
        cost = max(0.0, best[-1] - engine)
        ratio = cost / engine
        worst = max(worst, ratio)
        frames_20hz = span / FRAME_S
        frames_load = span / LOAD_FRAME_S
        cost_20hz = max(0.0, min(at_20hz) - engine)
        per_frame = max(0.0, (cost_20hz - cost) / (frames_20hz - frames_load))

        print(f"{name} session: {n_msgs} messages at depth 10 ({args.ops} operations, seed {args.seed})")
        print(f"  engine (decode + apply + checksum, no journal): {engine / n_msgs * 1e6:.2f} us/message")
        print(
            f"  analytics per message (batches of {n_msgs / frames_load:.0f} messages, a burst of"
            f" {n_msgs / frames_load / FRAME_S:,.0f} msg/s at 20 Hz), per component"
            " (best-of-N difference; median of per-round shares):"
        )
        for c, comp in enumerate(comps, 1):
            d = best[c] - best[c - 1]
            print(
                f"    + {comp:34s} {d / n_msgs * 1e6:6.2f} us/message  {d / engine * 100:5.1f} %"
                f"  (median {median_share(times[c], times[c - 1], times[0]) * 100:5.1f} %)"
            )
        print(f"  analytics per message, all of the above: {cost / n_msgs * 1e6:.2f} us/message")
        print(
            f"  analytics / engine, per message: {ratio * 100:.1f} %  (limit 20 %;"
            f" median of per-round ratios {median_share(times[-1], times[0], times[0]) * 100:.1f} %)"
        )
        print(
            f"  fixed cost per UI frame (the batch hand-over): {per_frame * 1e6:.1f} us,"
            f" {per_frame * 20 * 100:.3f} % of a core at 20 Hz"
        )
        print(
            f"  at this capture's own rate ({n_msgs / span:.0f} msg/s, {n_msgs / frames_20hz:.1f} messages"
            f" per 20 Hz frame), frame costs included: {cost_20hz / n_msgs * 1e6:.2f} us/message,"
            f" {cost_20hz / engine * 100:.1f} % of the engine"
        )
        fl = max(0.0, min(floor) - engine)
        print(
            f"  floor (journal walked, level3 fields stored, prints converted; nothing computed):"
            f" {fl / n_msgs * 1e6:.2f} us/message, {fl / engine * 100:.1f} % of the engine"
            f" (median of per-round ratios {median_share(floor, times[0], times[0]) * 100:.1f} %)"
        )
        if args.per_message:
            pm = max(0.0, min(per_msg) - engine)
            print(
                f"  the same analytics fed per message (no journal): {pm / n_msgs * 1e6:.2f} us/message,"
                f" {pm / engine * 100:.1f} % of the engine"
                f" (median of per-round ratios {median_share(per_msg, times[0], times[0]) * 100:.1f} %)"
            )
        print(
            f"  engine as the client runs it (decode + MarketEngine): {client / n_msgs * 1e6:.2f} us/message;"
            f" analytics per message / that: {cost / client * 100:.1f} %"
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
