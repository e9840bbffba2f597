"""The dashboard's order analytics: queue trackers fed by the client, fill probabilities in the background.

UI-free (no textual, no rich), like ``trading_controller``: the bridge owns one
and screens read the plain views it builds. With a level3 feed every symbol
gets a ``QueueTracker`` (exact queue positions); without one, an
``L2QueueEstimator`` (estimated positions, hftbacktest-style). Both are fed
on every message by client callbacks; everything else happens at query time.

Fill probabilities are a simulation (``engine.fillprob``): their inputs are
copied out of the tracker on the event loop (a few milliseconds), the race
itself runs in a worker thread, one job at a time, and each estimate is
refreshed at most every ``REFRESH_S``. Screens always get the newest finished
estimate, never wait for one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from havterm.engine.analytics import (
    ExecutionCost,
    Side,
    execution_cost,
    execution_cost_l3,
    imbalance,
    pressure,
)
from havterm.engine.events import BookMessage, ExecutionsMessage, Level3Message, TradeMessage
from havterm.engine.fillprob import (
    MIN_WINDOW_S,
    FillEstimate,
    L2QueueEstimator,
    L2RaceJob,
    RaceJob,
    prepare_hypothetical,
    prepare_own,
    prepare_own_past_window,
    run_race,
)
from havterm.engine.fixed import format_units
from havterm.engine.futures import is_futures_symbol
from havterm.engine.integrity import BookState
from havterm.engine.orderflow import OrderFlowTracker
from havterm.engine.prints import decimal_units
from havterm.engine.queue import QueueTracker
from havterm.widgets.views import (
    BookStatsView,
    CostView,
    FlowAnalytics,
    FlowEvent,
    LevelRateView,
    QueueLine,
    fmt_sig,
)

log = logging.getLogger("havterm.analytics")

HYP_EVERY_S = 1.0
"""At most one new cursor estimate starts per this many seconds (the cursor's price moves with the book)."""
WINDOWS: tuple[float, ...] = (10.0, 60.0)
"""Flow windows the dashboard measures and blends. The engine's default adds 300 s, which mattered
for calibrating long horizons; the screen shows up to 60 s, and a 5-minute log at a busy market's
message rate made every estimate (and every message's trimming) several times dearer."""
HORIZONS: tuple[float, ...] = (5.0, 30.0, 60.0)
"""P(fill within T) shown on screen; the race runs up to the longest, so it sets the cost."""
PATHS = 256
"""Replayed paths per estimate. Starts are stratified, so this many keeps the sampling error near 0.01."""
REFRESH_S = 2.0
"""An estimate is recomputed at most this often (each one takes tens of milliseconds of a worker)."""
FORGET_S = 30.0
"""Own-order estimates nobody asked for in this long are dropped (the ladder asks on every frame)."""
FORGET_HYP_S = 1.0
"""A cursor's hypothetical order is dropped this soon after the cursor (or the book under it) moved."""
RATE_WINDOW_S = 60.0
"""Window of the per-level add/cancel/trade rates shown at the cursor."""

EstimateKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class OwnOrder:
    """An open own limit order, as the analytics need it (from the trader's order book)."""

    order_id: str
    symbol: str
    side: str
    price: Decimal
    remaining: Decimal


def _rate(lots_per_s: float, qp: int) -> str:
    """Lots per second as an amount per second to 3 significant digits (``0.0178/s``, ``0.0000561/s``)."""
    return f"{fmt_sig(lots_per_s / 10**qp)}/s" if round(lots_per_s) else "0/s"


def _amount(lots: int, qp: int) -> str:
    """Lots as an exact amount without trailing zeros (``0.0635``, ``0``)."""
    d = Decimal(lots).scaleb(-qp)
    return f"{d.normalize():f}" if d else "0"


def _ahead_text(orders: int, lots: int, qp: int) -> str:
    """``first in line``, or ``after 3 orders · 0.0519 ahead``: counts said in words, not as ``#3``."""
    if not orders:
        return "first in line"
    return f"after {orders} order{'' if orders == 1 else 's'} · {_amount(lots, qp)} ahead"


def _lots(qty: Decimal, qp: int) -> int:
    """A size in lots at ``qp`` decimals; 0 for a size finer than that (no order can have it)."""
    try:
        return decimal_units(qty, qp)
    except ValueError:
        return 0


def _pct(p: float) -> str:
    return f"{round(p * 100):d}%"


def _eta(est: FillEstimate) -> str:
    s = est.median_s if est.median_s is not None else est.eta_s
    if s is None:
        return "never at this flow"
    return f"{s:.0f}s" if s < 600 else f"{s / 60:.0f}m"


def estimate_text(est: FillEstimate | None) -> str:
    """``P5s 12% P30s 48% P60s 71% · ETA 34s · l3-exact/high`` (or why there is none yet)."""
    if est is None:
        return "P(fill) pending…"
    if est.confidence == "none" and est.window_s < MIN_WINDOW_S:
        return "P(fill) n/a: measuring the flow (under a second of it so far)"
    if est.confidence == "none":
        return f"P(fill) n/a: no trades against this side yet · {est.model.split(' ')[0]}"
    probs = " ".join(f"P{h:g}s {_pct(p)}" for h, p in zip(est.horizons, est.p_fill, strict=True))
    return f"{probs} · ETA {_eta(est)} · {est.model.split(' ')[0]}/{est.confidence}"


class AnalyticsController:
    """Queue positions, fill probabilities and execution cost for one dashboard's client."""

    def __init__(
        self,
        client: Any,
        open_orders: Callable[[], Iterable[OwnOrder]] = tuple,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.open_orders = open_orders
        self.clock = clock
        self.l3 = getattr(client, "l3_session", None) is not None
        self.trackers: dict[str, QueueTracker] = {}
        self.l2: dict[str, L2QueueEstimator] = {}
        self.flows: dict[str, OrderFlowTracker] = {}
        """Order flow of the watched symbols: book events, large orders, icebergs, spoofs, trades by price."""
        self._flow_books: dict[str, Any] = {}
        self._flow_views: dict[str, tuple[int, float, FlowAnalytics]] = {}
        self.version = 0
        self.watch: set[str] = set()
        """Without level3, the symbols whose L2 queues are estimated (the focused one, own orders')."""
        self._estimates: dict[EstimateKey, tuple[float, FillEstimate]] = {}
        self._asked: dict[EstimateKey, float] = {}
        # Estimates that could not be prepared (an order past every window the books show), and
        # when: not tried again for REFRESH_S, so they cannot take every frame's turn from the rest.
        self._unavailable: dict[EstimateKey, float] = {}
        self._job: asyncio.Future[Any] | None = None
        self._hyp_started = -1e18
        self._job_key: EstimateKey | None = None
        if not hasattr(client, "on"):
            return  # a recording: execution cost and book stats only, no live queues
        if self.l3:
            client.on(Level3Message, self._on_l3)
            client.on(ExecutionsMessage, self._on_executions)
            client.on(TradeMessage, self._on_trades)
        # Without level3 nothing runs per message: the watched books journal their changes and
        # ``drain`` hands each frame's batch to the estimator (see ``L2QueueEstimator.consume``).

    # ------------------------------------------------------------------ feeding (every message)

    def _tracker(self, symbol: str) -> QueueTracker:
        t = self.trackers.get(symbol)
        if t is None:
            t = self.trackers[symbol] = QueueTracker(symbol, windows=WINDOWS)
        return t

    def _estimator(self, symbol: str) -> L2QueueEstimator:
        """The symbol's L2 estimator (fed from its book's journal by ``drain``); the symbol is now watched."""
        if symbol not in self.watch or symbol not in self.l2:
            self.watch.add(symbol)
            self.drain()
        return self.l2.get(symbol) or self.l2.setdefault(symbol, L2QueueEstimator(symbol, windows=WINDOWS))

    def focus(self, symbol: str) -> None:
        """The symbol on screen: its order flow (and, without level3, its L2 queue) is followed."""
        if symbol and symbol not in self.watch:
            self.watch.add(symbol)
            self.drain()

    def _on_l3(self, msg: Level3Message) -> None:
        st = self.client.state.symbols.get(msg.symbol)
        if st is not None and st.l3 is not None and st.l3.state is BookState.SYNCED:
            now = self.clock()
            self._tracker(msg.symbol).on_l3(msg, st.l3, now)
            flow = self.flows.get(msg.symbol)
            if flow is not None:  # after the tracker: the flow tracker reads its classification
                flow.on_l3(msg, st.l3, now)

    def drain(self) -> None:
        """Hand each watched book's journal to its consumers (once per frame; nothing per message).

        Without level3 the L2 queue estimator and the order-flow tracker take
        the batch; with level3 the order-flow tracker takes the book changes
        (its per-order events and its trades come from the level3 callbacks).
        """
        symbols = self.client.state.symbols
        for symbol in self.watch:
            st = symbols.get(symbol)
            book: Any = st.book if st is not None else None
            if book is None:
                continue
            flow = self.flows.get(symbol)
            est = self.l2.get(symbol)
            fresh = book.journal is None or flow is None or self._flow_books.get(symbol) is not book
            futures = is_futures_symbol(symbol)  # market data only: order flow, no queues
            if not self.l3 and not futures:
                fresh = fresh or est is None or est.book is not book
            if fresh:
                # New, or a book replaced by a resubscribe: start again from the book as it stands.
                book.enable_journal().clear()
                self._start_flow(symbol, book)
                if not self.l3 and not futures:
                    est = self.l2[symbol] = L2QueueEstimator(symbol, windows=WINDOWS)
                    if book.state is BookState.SYNCED:
                        est.start(book, self.clock())
                    est.book = book
                continue
            batch = book.journal
            if not batch:
                continue
            book.journal = []
            if est is not None and not self.l3 and not futures:
                est.consume(batch, book)
            if flow is not None:
                if st is not None and st.l3 is not None:
                    # Trades reach it per message with level3 (fills are matched against prints).
                    batch = [e for e in batch if type(e) is not TradeMessage]
                flow.consume(batch, book)

    def _start_flow(self, symbol: str, book: Any) -> None:
        queue = self._tracker(symbol) if self.l3 and not is_futures_symbol(symbol) else None
        flow = self.flows[symbol] = OrderFlowTracker(symbol, queue=queue)
        self._flow_books[symbol] = book
        now = self.clock()
        if book.state is BookState.SYNCED:
            # Mid-stream: the book as it stands is the starting point, as after a snapshot.
            flow.consume([now, _snapshot_of(book)], book)
            st = self.client.state.symbols.get(symbol)
            tape = [t for t in st.trades if t.symbol == symbol] if st is not None else []
            if tape:
                # The tape so far fills volume at price; dated past the print-matching grace, so
                # old prints cannot be taken for fills of orders seen from now on.
                flow.on_trades(tape, now - flow.grace_s - 1.0)
        self._flow_views.pop(symbol, None)

    def _on_trades(self, msg: TradeMessage) -> None:
        if msg.snapshot:
            return  # old trades: they cannot have moved a queue we are watching
        now = self.clock()
        by_symbol: dict[str, list[Any]] = {}
        for t in msg.trades:
            by_symbol.setdefault(t.symbol, []).append(t)
        for symbol, trades in by_symbol.items():
            tracker = self.trackers.get(symbol)
            if tracker is not None:
                tracker.on_trades(trades, now)
            flow = self.flows.get(symbol)
            if flow is not None:
                flow.on_trades(trades, now)

    def _on_executions(self, msg: ExecutionsMessage) -> None:
        now = self.clock()
        for r in msg.reports:
            if r.symbol is not None:
                self._tracker(r.symbol)
        for tracker in self.trackers.values():
            tracker.on_executions(msg, now)

    # ------------------------------------------------------------------ queue positions

    def _book(self, symbol: str) -> Any:
        st = self.client.state.symbols.get(symbol)
        return None if st is None else st.book

    def _ticks(self, symbol: str, price: Decimal) -> tuple[int, int, int] | None:
        """``(price ticks, price precision, qty precision)`` of a price in ``symbol``'s book."""
        book = self._book(symbol)
        if book is None:
            return None
        try:
            return decimal_units(price, book.price_precision), book.price_precision, book.qty_precision
        except Exception:  # a price finer than the book's precision: no queue for it
            return None

    def _l2_queue(self, symbol: str, side: str, ticks: int) -> tuple[int, int] | None:
        """``(lots at ticks, lots at better prices)`` on ``side`` of the L2 book; None past its window."""
        book = self._book(symbol)
        if book is None or book.state not in (BookState.SYNCED, BookState.STALE):
            return None
        levels = book.bids() if side == "buy" else book.asks()
        buy = side == "buy"
        if len(levels) >= book.depth and (ticks < levels[-1][0] if buy else ticks > levels[-1][0]):
            return None
        level = better = 0
        for p, lots in levels:
            if p == ticks:
                level = lots
            elif (p > ticks) if buy else (p < ticks):
                better += lots
        return level, better

    def orders_ahead(self, symbol: str, order_id: str) -> int | None:
        """Orders ahead of one of ours at its price (exact, level3 only); None when unknown."""
        tracker = self.trackers.get(symbol)
        pos = tracker.position(order_id) if tracker is not None else None
        return pos.orders_ahead if pos is not None else None

    def _sync_l2_orders(self) -> None:
        """Without level3: start estimating new own orders, stop for finished ones."""
        open_now: dict[str, set[str]] = {}
        for o in self.open_orders():
            est = self._estimator(o.symbol)
            ids = open_now.setdefault(o.symbol, set())
            ids.add(o.order_id)
            if est.ahead(o.order_id) is None:
                where = self._ticks(o.symbol, o.price)
                book = self._book(o.symbol)
                if where is None or book is None:
                    continue
                lots = _lots(o.remaining, where[2])
                # Whether the public level already shows our order is unknown here; assume not,
                # which puts our own lots ahead of us: a conservative queue, as risk-averse wants.
                est.place(o.order_id, o.side, where[0], lots)
        for symbol, est in self.l2.items():
            for oid in [oid for oid in est.order_ids() if oid not in open_now.get(symbol, ())]:
                est.forget(oid)

    def own_lines(self, symbol: str) -> list[QueueLine]:
        """One line per open own limit order of ``symbol``: queue, quantity ahead and behind, P(fill)."""
        now = self.clock()
        if not self.l3:
            self._sync_l2_orders()
        lines = []
        for o in self.open_orders():
            if o.symbol != symbol:
                continue
            key: EstimateKey = ("own", o.order_id)
            self._asked[key] = now
            est = self._estimates.get(key)
            price_text = f"{o.price:f}"
            side = "BUY" if o.side == "buy" else "SELL"
            head = f"{side} {o.remaining.normalize():f} @ {price_text}"
            book = self._book(symbol)
            qp = book.qty_precision if book is not None else 0
            if self.l3:
                tracker = self.trackers.get(symbol)
                pos = tracker.position(o.order_id) if tracker is not None else None
                if pos is None:
                    est = self._own_estimate(o, placed=False)
                    where = self._ticks(symbol, o.price)
                    seen = self._l2_queue(symbol, o.side, where[0]) if where is not None else None
                    queue = "not in the level3 window"
                    if seen is not None:
                        # Past level3's sight the L2 level (ours included) bounds what is ahead of us.
                        most = max(0, seen[0] - _lots(o.remaining, qp))
                        queue = (
                            f"L2 (past level3): at most {_amount(most, qp)} ahead at this price,"
                            f" {_amount(seen[1], qp)} at better prices"
                        )
                    else:
                        est = None  # nothing bounds the queue: no P(fill)
                        queue = "beyond the book's window: its queue is unknown"
                    p = est[1].p(30.0) if est is not None and est[1].confidence != "none" else None
                    fill = estimate_text(est[1] if est else None)
                    if seen is None:
                        fill = "P(fill) n/a: the books show nothing at this price"
                    lines.append(QueueLine(o.order_id, price_text, head, queue, fill, p))
                    continue
                est = self._own_estimate(o, placed=True)
                front = _ahead_text(pos.orders_ahead, pos.qty_ahead, qp)
                queue = f"{front} · {_amount(pos.qty_behind, qp)} behind"
            else:
                ahead = self.l2[symbol].ahead(o.order_id) if symbol in self.l2 else None
                queue = "queue unknown" if ahead is None else f"≈{_amount(ahead, qp)} ahead (L2 estimate)"
            p = est[1].p(30.0) if est is not None and est[1].confidence != "none" else None
            lines.append(
                QueueLine(o.order_id, price_text, head, queue, estimate_text(est[1] if est else None), p)
            )
        return lines

    def hypothetical_line(self, symbol: str, side: str, price: str, qty: Decimal) -> QueueLine | None:
        """Where a new order of ``qty`` at ``price`` would stand now, its P(fill) and the level's rates."""
        if is_futures_symbol(symbol):
            return QueueLine(None, price, "Futures", "market data only: havterm sends no Futures orders", "")
        where = self._ticks(symbol, Decimal(price))
        if where is None or qty <= 0:
            return None
        ticks, _, qp = where
        lots = _lots(qty, qp)
        if lots <= 0:
            return None
        now = self.clock()
        key: EstimateKey = ("hyp", symbol, side, ticks, lots)
        self._asked[key] = now
        est = self._estimates.get(key)
        head = f"new {'BUY' if side == 'buy' else 'SELL'} {qty.normalize():f} @ {price}"
        tracker = self.trackers.get(symbol)
        if tracker is not None and tracker.book is not None and not tracker.in_window(side, ticks):
            # Past level3's deepest level the queue is out of its sight: the L2 book knows the size.
            seen = self._l2_queue(symbol, side, ticks)
            if seen is None:
                return QueueLine(None, price, head, "beyond the book's window: its queue is unknown", "")
            level, better = seen
            # The source first: at 80 columns the end of the line is cut.
            queue = (
                f"L2 (past level3): {_amount(level, qp)} ahead at this price,"
                f" {_amount(better, qp)} at better prices"
            )
            rates = ""
        elif tracker is not None and tracker.book is not None:
            pos = tracker.hypothetical(side, ticks, lots)
            d = tracker.dynamics(side, ticks, now, RATE_WINDOW_S)
            queue = (
                f"joins behind {pos.orders_ahead} order{'' if pos.orders_ahead == 1 else 's'}"
                f" · {_amount(pos.qty_ahead, qp)} ahead"
                f" (+{_amount(pos.better_lots, qp)} at better prices)"
            )
            rates = (
                f"this level, last {d.elapsed_s:.0f}s: adds {_rate(d.add_rate, qp)}"
                f" · cancels {_rate(d.cancel_rate, qp)} · fills {_rate(d.trade_rate, qp)}"
            )
        elif symbol in self.l2:
            est2 = self.l2[symbol]
            level, better = est2.level_lots(side, ticks), est2.better_lots(side, ticks)
            queue = (
                f"L2: {_amount(level, qp)} ahead at this price (all of the level),"
                f" {_amount(better, qp)} at better prices; level3 would give the exact queue"
            )
            rates = ""
        else:
            queue, rates = "no book yet", ""
        fill = estimate_text(est[1] if est else None)
        p30 = est[1].p(30.0) if est and est[1].confidence != "none" else None
        return QueueLine(None, price, head, queue, fill, p30, rates)

    # ------------------------------------------------------------------ fill probabilities (background)

    def refresh(self) -> None:
        """Feed the L2 estimators, then start the next due estimate in a worker thread (once per frame)."""
        self.drain()
        if self._job is not None:
            return
        now = self.clock()
        # Own orders are asked for on every frame; a cursor's order only while the cursor stays there.
        stale = [
            k for k, at in self._asked.items() if now - at > (FORGET_S if k[0] == "own" else FORGET_HYP_S)
        ]
        for key in stale:
            del self._asked[key]
            self._estimates.pop(key, None)
            self._unavailable.pop(key, None)
        due = None
        oldest = now - REFRESH_S
        # A cursor's order changes key whenever the book under it moves: at most one new one a second.
        hyp_ok = now - self._hyp_started >= HYP_EVERY_S
        for key in self._asked:
            if key[0] == "hyp" and not hyp_ok:
                continue
            if self._unavailable.get(key, -1e18) > oldest:
                continue  # could not be prepared a moment ago: give the others their turn
            done = self._estimates.get(key)
            at = done[0] if done is not None else -1e18
            if at <= oldest:
                oldest, due = at, key
        if due is None:
            return
        inputs = self._inputs(due, now)
        if inputs is None:
            # Nothing to race (the order is past every window the books show, or gone): say so and
            # move on. The key stays asked for, so it is tried again once REFRESH_S has passed.
            self._estimates.pop(due, None)
            self._unavailable[due] = now
            return
        self._unavailable.pop(due, None)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or not inputs.snapshot.tape:
            # No loop (a caller outside asyncio), or no flow at all (the answer is "none", instantly).
            self._finish(due, now, run_race(inputs, HORIZONS, 0, PATHS))
            return
        if due[0] == "hyp":
            self._hyp_started = now
        self._job_key = due
        self._job = loop.run_in_executor(None, run_race, inputs, HORIZONS, 0, PATHS)
        self._job.add_done_callback(functools.partial(self._done, due, now))

    def _done(self, key: EstimateKey, at: float, fut: asyncio.Future[Any]) -> None:
        self._job = None
        self._job_key = None
        try:
            est = fut.result()
        except Exception:  # a bug in the model must not stop the dashboard: log it, try again later
            log.exception("fill probability failed for %s", key)
            self._estimates[key] = (at, _NONE_ESTIMATE)
            return
        self._finish(key, at, est)

    def _finish(self, key: EstimateKey, at: float, est: FillEstimate) -> None:
        self._estimates[key] = (at, est)
        self.version += 1

    def _inputs(self, key: EstimateKey, now: float) -> RaceJob | L2RaceJob | None:
        if key[0] == "own":
            oid = key[1]
            if self.l3:
                for tracker in self.trackers.values():
                    got = prepare_own(tracker, oid, now)
                    if got is not None:
                        return got
                return self._past_window_inputs(oid, now)
            for est in self.l2.values():
                if est.ahead(oid) is not None:
                    return est.race_inputs(oid, now)
            return None
        _, symbol, side, ticks, lots = key
        if self.l3:
            found = self.trackers.get(symbol)
            if found is None:
                return None
            if found.in_window(side, ticks):
                return prepare_hypothetical(found, side, ticks, lots, now)
            seen = self._l2_queue(symbol, side, ticks)
            if seen is None:
                return None
            return prepare_hypothetical(found, side, ticks, lots, now, l2_ahead=sum(seen))
        est2 = self.l2.get(symbol)
        return None if est2 is None else est2.hypothetical_inputs(side, ticks, lots, now)

    def _own_estimate(self, o: OwnOrder, placed: bool) -> tuple[float, FillEstimate] | None:
        """With level3: the own order's finished estimate if it was made from where the order is now.

        An estimate raced on the exact queue while level3 saw the order is stale once the order
        is out of sight, and one raced on the L2 bound is stale once level3 sees it again.
        """
        key: EstimateKey = ("own", o.order_id)
        done = self._estimates.get(key)
        # A blend of windows names its model "l2-at-most avg[...]".
        if done is not None and done[1].model.startswith("l2-at-most") == placed:
            del self._estimates[key]
            return None
        return done

    def _past_window_inputs(self, order_id: str, now: float) -> RaceJob | None:
        """The race of an own order past level3's deepest level, on the L2 bound of its queue."""
        for o in self.open_orders():
            if o.order_id != order_id:
                continue
            tracker = self.trackers.get(o.symbol)
            where = self._ticks(o.symbol, o.price)
            if tracker is None or tracker.book is None or where is None:
                return None
            seen = self._l2_queue(o.symbol, o.side, where[0])
            lots = _lots(o.remaining, where[2])
            if seen is None or lots <= 0:
                return None
            most = max(0, seen[0] - lots) + seen[1]
            return prepare_own_past_window(tracker, o.side, where[0], lots, most, now)
        return None

    def fill_probabilities(self) -> dict[str, tuple[str, float]]:
        """``order id -> (symbol, P(fill within 30 s))`` for own orders with a finished estimate."""
        out = {}
        for o in self.open_orders():
            if self.l3:
                tracker = self.trackers.get(o.symbol)
                if tracker is None:
                    continue
                done = self._own_estimate(o, placed=tracker.is_placed(o.order_id))
            else:
                done = self._estimates.get(("own", o.order_id))
            if done is not None and done[1].confidence != "none":
                out[o.order_id] = (o.symbol, done[1].p(30.0))
            else:
                self._asked.setdefault(("own", o.order_id), self.clock())
        return out

    # ------------------------------------------------------------------ order flow (at the frame)

    def flow_analytics(self, symbol: str, wall_now: float) -> FlowAnalytics | None:
        """The engine's order flow of ``symbol`` as display rows (rebuilt only when it changed)."""
        flow = self.flows.get(symbol)
        if flow is None:
            return None
        now = self.clock()
        cached = self._flow_views.get(symbol)
        if cached is not None and cached[0] == flow.version and now - cached[1] < 1.0:
            return cached[2]
        summary = flow.snapshot(now, events=60, levels=6)
        book = self._book(symbol)
        pp = book.price_precision if book is not None else 0
        qp = book.qty_precision if book is not None else 0
        events = tuple(_flow_event(ev, now, wall_now, pp, qp) for ev in summary.events)
        rates = tuple(
            LevelRateView(
                "bid" if r.side == "buy" else "ask",
                _price(r.price_ticks, pp),
                _rate(r.add_rate, qp).removesuffix("/s"),  # the panel's header says size/s (base units)
                _rate(r.cancel_rate, qp).removesuffix("/s"),
                _rate(r.fill_rate, qp).removesuffix("/s"),
                r.adds,
                r.cancels,
                r.fills,
            )
            for r in summary.rates
        )
        trades = tuple(
            (
                Decimal(t.price_ticks).scaleb(-pp),
                Decimal(t.bought_lots).scaleb(-qp),
                Decimal(t.sold_lots).scaleb(-qp),
            )
            for t in summary.trades
        )
        view = FlowAnalytics(
            flow.version,
            events,
            rates,
            trades,
            None if summary.large_lots is None else _amount(summary.large_lots, qp),
            summary.icebergs,
            summary.spoofs,
            bool(summary.rates) or (self.l3 and not is_futures_symbol(symbol)),
        )
        self._flow_views[symbol] = (flow.version, now, view)
        return view

    # ------------------------------------------------------------------ execution cost (at the frame)

    def costs(self, symbol: str, qty_lots: int) -> tuple[CostView | None, CostView | None]:
        """Buying and selling ``qty_lots`` now: from level3 (own orders excluded) when synced, else L2."""
        st = self.client.state.symbols.get(symbol)
        if st is None or qty_lots <= 0:
            return None, None
        l3 = st.l3 if self.l3 and st.l3 is not None and st.l3.state is BookState.SYNCED else None
        book = st.book
        if l3 is None and (book is None or book.state is not BookState.SYNCED):
            return None, None
        mine = frozenset(o.order_id for o in self.open_orders() if o.symbol == symbol)
        out = []
        l2_ok = book is not None and book.state is BookState.SYNCED
        pp = book.price_precision if book is not None else l3.price_precision if l3 is not None else 0
        for side in ("buy", "sell"):
            s: Side = "buy" if side == "buy" else "sell"
            cost = execution_cost_l3(l3, s, qty_lots, mine) if l3 is not None else None
            if cost is None or (cost.filled_lots < qty_lots and l2_ok):
                # Level3 sees 10 price levels; the L2 book is usually deeper. A size level3 cannot
                # fill is costed on L2 (where our own orders are part of the sizes; source says so).
                wide = execution_cost(book, s, qty_lots)
                if cost is None or wide.filled_lots > cost.filled_lots:
                    cost = wide
            out.append(_cost_view(cost, pp))
        return out[0], out[1]

    def book_stats(self, symbol: str, levels: int = 10) -> BookStatsView | None:
        """Imbalance, bid/ask VWAP over ``levels``, microprice and the pressure signal of ``symbol``."""
        book = self._book(symbol)
        if book is None or book.state is not BookState.SYNCED or not book.best_bid() or not book.best_ask():
            return None
        imb = imbalance(book, levels)
        pr = pressure(book, levels)
        return BookStatsView(
            levels,
            imb.ratio,
            None if imb.bid_vwap is None else f"{imb.bid_vwap:.{book.price_precision + 1}f}",
            None if imb.ask_vwap is None else f"{imb.ask_vwap:.{book.price_precision + 1}f}",
            None if imb.microprice is None else f"{imb.microprice:.{book.price_precision + 1}f}",
            pr.value,
            pr.signal,
        )


def _cost_view(cost: ExecutionCost, pp: int) -> CostView:
    def bps(x: Decimal | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    return CostView(
        cost.side,
        cost.source,
        cost.requested_lots,
        cost.filled_lots,
        cost.worst_price_ticks,
        None if cost.vwap is None else f"{cost.vwap:.{pp + 2}f}",
        bps(cost.slippage_bps_vs_mid),
        bps(cost.slippage_bps_vs_best),
        cost.levels_consumed,
        cost.orders_consumed,
    )


_NONE_ESTIMATE = FillEstimate(
    "failed", "none", 0, 0, HORIZONS, (0.0,) * len(HORIZONS), None, None, 0, 0, 0, 0, 0, 0
)


def _snapshot_of(book: Any) -> BookMessage:
    """A snapshot entry for a journal consumer that starts mid-stream: "take the book as it stands"."""
    return BookMessage(book.symbol, True, (), (), 0)


def _price(ticks: int | None, pp: int) -> str:
    """Ticks as the ladder writes prices (``None``: a side that was empty)."""
    return "-" if ticks is None else format_units(ticks, pp)


def _flow_event(ev: Any, now: float, wall_now: float, pp: int, qp: int) -> FlowEvent:
    """One engine order-flow event as a tape line: wall-clock time, side, what, price, size."""
    at = time.strftime("%H:%M:%S", time.gmtime(wall_now - (now - ev.t)))
    side = "bid" if ev.side == "buy" else "ask"
    kind = ev.kind
    if kind == "best":
        return FlowEvent(at, side, "best", _price(ev.new_ticks, pp), f"from {_price(ev.old_ticks, pp)}")
    if kind == "iceberg":
        return FlowEvent(
            at, side, "iceberg", _price(ev.price_ticks, pp), f"{ev.refills}× {_amount(ev.refilled_lots, qp)}"
        )
    if kind == "spoof":
        return FlowEvent(
            at, side, "spoof?", _price(ev.price_ticks, pp), f"{_amount(ev.lots, qp)} {ev.lifetime_s:.1f}s"
        )
    return FlowEvent(at, side, kind, _price(ev.price_ticks, pp), _amount(ev.lots, qp))
