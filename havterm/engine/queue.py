"""Exact queue position of own orders from the L3 book, and per-level queue dynamics over rolling windows.

``QueueTracker`` is fed every level3 message *after* ``L3Book.apply`` took it
(that is the order ``KrakenClient.on(Level3Message, ...)`` calls back in) and
every public trade; time is always passed in. It keeps a small shadow index,
order id to ``(arrival sequence, lots, side, price)``, because once the book
has applied a delete the deleted order's place in the queue is gone, and that
place is what says whether the lots left *ahead of* or *behind* our order.

Trades and cancels look the same in level3 (a ``modify`` down or a
``delete``); the public trade tape tells them apart. Each reduction at a price
is matched against trade lots printed at that price (the maker side of a
trade): tape first, then L3, the reduction is a trade at once; L3 first, a
reduction of the order at the front of its queue is held as a provisional
cancel for ``grace_s`` and flipped to a trade when the print arrives. Rates
read at query time therefore always reflect the best classification so far.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from havterm.engine.events import ExecutionsMessage, Level3Message, Trade
from havterm.engine.fixed import rescale
from havterm.engine.l3 import L3Book
from havterm.engine.prints import maker_prints

PRUNE_EVERY = 4096
"""Messages between sweeps of the shadow index for orders the book truncated away silently."""


class Kind(enum.IntEnum):
    """What one change at a price level was."""

    ADD = 0
    CANCEL = 1
    TRADE = 2


# A change at a level is a plain tuple ``(n, t, kind, lots, behind)``: ``n`` numbers it (so that
# a late trade print can find and rewrite it), ``kind`` is an int (``Kind`` value), ``behind``
# is for adds only: ticks behind the touch when it landed (negative: inside the spread).
# Tuples of ints and floats are untracked by the garbage collector; hundreds of thousands of
# long-lived record *objects* made every collection slow and tripled the per-message cost.
_Rec = tuple[int, float, int, int, int]
_ADD, _CANCEL, _TRADE = int(Kind.ADD), int(Kind.CANCEL), int(Kind.TRADE)


def _replace(recs: deque[_Rec], n: int, new: list[_Rec]) -> None:
    """Put ``new`` where record number ``n`` is (searching from the newest end)."""
    for i in range(len(recs) - 1, -1, -1):
        if recs[i][0] == n:
            recs[i] = new[0]
            for j, extra in enumerate(new[1:], 1):
                recs.insert(i + j, extra)
            return


class _Flow:
    """Rolling history of one price level on one side."""

    __slots__ = ("credit", "credit_t", "pending", "recs")

    def __init__(self) -> None:
        self.recs: deque[_Rec] = deque()
        self.pending: deque[_Rec] = deque()  # front reductions waiting for their trade print
        self.credit = 0  # printed trade lots not yet seen in level3
        self.credit_t = 0.0


# What the shadow index knows of one order: ``(arrival sequence, lots, side, price)``. A tuple
# (replaced on a modify) rather than an object: it is not tracked by the garbage collector.
_Entry = tuple[int, int, str, int]
_SEQ: Final = 0
_LOTS: Final = 1
_SIDE: Final = 2
_PRICE: Final = 3


class _Own:
    """A tracked own order: its place and what has left the queue ahead of it."""

    __slots__ = (
        "ahead",
        "behind",
        "lots",
        "n_ahead",
        "order_id",
        "price",
        "recs",
        "seq",
        "side",
        "since",
    )

    def __init__(self, order_id: str, since: float) -> None:
        self.order_id = order_id
        self.since = since
        self.side = ""
        self.price = 0
        self.seq = -1  # -1: not (yet) seen in the book
        self.lots = 0
        self.n_ahead = 0
        self.ahead = 0
        self.behind = 0
        self.recs: deque[_Rec] = deque()


@dataclass(frozen=True, slots=True)
class QueuePosition:
    """Where an order stands (or a new one would stand) in the FIFO queue of its price.

    ``qty_ahead``/``qty_behind`` are lots at the same price; ``better_lots``
    is everything resting at strictly better prices on the same side (it must
    trade first too). ``model`` is ``"l3-exact"`` for a live own order and
    ``"l3-hypothetical"`` for a price where we have none (a new order joins
    the back, so everything there is ahead).
    """

    order_id: str | None
    side: str
    price_ticks: int
    orders_ahead: int
    qty_ahead: int
    qty_behind: int
    own_lots: int
    better_lots: int
    model: str


@dataclass(frozen=True, slots=True)
class FlowHistory:
    """One side's recent past, times in seconds from the window's start.

    ``takers``: ``(t, lots)`` taker orders against this side; ``adds``:
    ``(t, price_ticks, lots)`` orders joining it; ``touch``: ``(t,
    best_price_ticks)`` each time the best price changed, starting at 0.
    """

    side: str
    window_s: float
    takers: list[tuple[float, int]]
    adds: list[tuple[float, int, int]]
    touch: list[tuple[float, int]]
    best: int | None


@dataclass(frozen=True, slots=True)
class SideSnapshot:
    """A copy of what a ``QueueTracker`` knows of one side, for computing on another thread.

    ``flows``: per price, that level's records; ``tape``: ``(t, lots)`` taker
    arrivals; ``touches``: ``(t, best price)`` moves; ``resting``: lots on the
    side now; ``started``: when the tracker started measuring.
    """

    side: str
    started: float
    best: int | None
    resting: int
    flows: tuple[tuple[int, tuple[_Rec, ...]], ...]
    tape: tuple[tuple[float, int], ...]
    touches: tuple[tuple[float, int], ...]


@dataclass(frozen=True, slots=True)
class RaceData:
    """One window of one side, as the fill-probability race reads it (see ``QueueTracker.race_data``).

    ``takers``: taker sizes in lots, oldest first; ``cancel_hazard``: cancelled
    lots per second per resting lot; ``inflow``: lots per second that joined
    closer to the touch than the order's price.
    """

    takers: tuple[int, ...]
    elapsed_s: float
    cancel_hazard: float
    inflow: float
    history: FlowHistory


@dataclass(frozen=True, slots=True)
class Dynamics:
    """What happened at a level (or ahead of an order) over ``elapsed_s`` seconds.

    ``*_lots`` are exact sums; the rates are lots per second. ``depletion_rate``
    is ``trade_rate + cancel_rate``: how fast the queue in front drains.
    """

    window_s: float
    elapsed_s: float
    add_lots: int
    cancel_lots: int
    trade_lots: int
    adds: int
    cancels: int
    trades: int

    @property
    def add_rate(self) -> float:
        """Lots added per second."""
        return self.add_lots / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cancel_rate(self) -> float:
        """Lots cancelled per second."""
        return self.cancel_lots / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def trade_rate(self) -> float:
        """Lots traded per second."""
        return self.trade_lots / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def depletion_rate(self) -> float:
        """Lots leaving the front per second, trades and cancels together."""
        return (self.trade_lots + self.cancel_lots) / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _summarise(recs: Iterable[_Rec], now: float, window: float, start: float) -> Dynamics:
    lo = max(now - window, start)
    lots = [0, 0, 0]
    count = [0, 0, 0]
    # Newest last: walk back until the window's start (a split's remainder may sit a little late).
    for r in reversed(recs if isinstance(recs, deque) else list(recs)):
        t = r[1]
        if t < lo:
            break
        if t <= now:
            lots[r[2]] += r[3]
            count[r[2]] += 1
    return Dynamics(window, max(0.0, now - lo), lots[0], lots[1], lots[2], count[0], count[1], count[2])


def _best(book: L3Book, side: str) -> int | None:
    """The best price of one side in O(1).

    Reads the book's sorted keys directly: ``levels(side, 1)`` would build the
    best level's order list on every message, which costs more than the rest
    of our per-message work. (A public O(1) accessor on ``L3Book`` would do.)
    """
    s = book._bids if side == "buy" else book._asks
    return s.keys[0] * s.sign if s.keys else None


def _fifo(book: L3Book, side: str, price: int) -> dict[str, int]:
    """The FIFO of one level without copying it (``queue()`` copies); empty if absent."""
    s = book._bids if side == "buy" else book._asks
    return s.levels.get(price * s.sign, _EMPTY)


_EMPTY: dict[str, int] = {}


def _ts_key(ts: str) -> str:
    """An RFC3339 UTC timestamp as a string that sorts in time order at any number of digits."""
    head, _, frac = ts.rstrip("Z").partition(".")
    return f"{head}.{frac[:9]:0<9}"


class QueueTracker:
    """Queue position and queue dynamics for one symbol's level3 book.

    ``windows`` are the rolling windows (seconds) that ``dynamics`` is asked
    for most; history older than the longest one is dropped. ``grace_s`` is
    how long a front reduction waits for its trade print before it stays a
    cancel, and how long an unmatched print waits for its reduction.
    """

    def __init__(
        self, symbol: str, windows: tuple[float, ...] = (10.0, 60.0, 300.0), grace_s: float = 2.0
    ) -> None:
        self.symbol = symbol
        self.windows = windows
        self.horizon = max(windows)
        self.grace_s = grace_s
        self.book: L3Book | None = None
        self.started: float | None = None
        self.messages = 0
        self._seq = 0
        self._n = 0  # record numbers
        self._index: dict[str, _Entry] = {}
        self._flows: dict[tuple[str, int], _Flow] = {}
        self._own: dict[str, _Own] = {}
        self._by_level: dict[tuple[str, int], list[_Own]] = {}
        self._tape: dict[str, deque[tuple[float, int]]] = {"buy": deque(), "sell": deque()}
        # Adds by distance behind the touch at the time (negative: inside the spread), per side.
        # Adds: (time, ticks behind the touch then, lots, price), per side.
        self._touches: dict[str, deque[tuple[float, int]]] = {"buy": deque(), "sell": deque()}
        self._best: dict[str, int | None] = {"buy": None, "sell": None}
        self._l3_raw: str | None = None  # the newest level3 timestamp
        self._touched: set[tuple[str, int]] = set()
        self._unplaced: dict[str, _Own] = {}  # tracked, not (or no longer) seen in the book

    # ------------------------------------------------------------------ own orders

    def track(self, order_id: str, now: float) -> None:
        """Follow an own order (from executions); it may not be in the book yet."""
        if order_id in self._own:
            return
        own = self._own[order_id] = _Own(order_id, now)
        ent = self._index.get(order_id)
        if ent is not None and self.book is not None:
            self._adopt(own, ent)
            self._place(own, self.book)
        else:
            self._unplaced[own.order_id] = own

    def untrack(self, order_id: str) -> None:
        """Stop following an order."""
        own = self._own.pop(order_id, None)
        if own is not None:
            self._unplaced.pop(own.order_id, None)
        if own is not None and own.seq >= 0:
            peers = self._by_level.get((own.side, own.price))
            if peers and own in peers:
                peers.remove(own)

    def on_executions(self, msg: ExecutionsMessage, now: float) -> None:
        """Track resting own orders of this symbol and forget finished ones, from ``executions``."""
        for r in msg.reports:
            if r.symbol is not None and r.symbol != self.symbol:
                continue
            status = r.order_status or r.exec_type
            if status in ("new", "pending_new", "partially_filled"):
                if r.symbol == self.symbol or r.order_id in self._own:
                    self.track(r.order_id, now)
            elif status in ("filled", "canceled", "expired"):
                self.untrack(r.order_id)

    def _adopt(self, own: _Own, ent: _Entry) -> None:
        own.seq, own.lots, own.side, own.price = ent
        self._by_level.setdefault((own.side, own.price), []).append(own)

    def _place(self, own: _Own, book: L3Book) -> None:
        """Recount the queue in front of and behind ``own`` from the book itself."""
        n = ahead = behind = 0
        found = False
        for oid, lots in _fifo(book, own.side, own.price).items():
            if found:
                behind += lots
            elif oid == own.order_id:
                found = True
                own.lots = lots
            else:
                n += 1
                ahead += lots
        if found:
            own.n_ahead, own.ahead, own.behind = n, ahead, behind
        else:
            # Gone from the book: filled, cancelled, or its level left the window (a deep order).
            # Wait for it to reappear; executions (or untrack) say when it is really finished.
            self._unplace(own)

    def _unplace(self, own: _Own) -> None:
        peers = self._by_level.get((own.side, own.price))
        if peers and own in peers:
            peers.remove(own)
            if not peers:
                del self._by_level[(own.side, own.price)]
        own.seq = -1
        self._unplaced[own.order_id] = own

    # ------------------------------------------------------------------ input

    def on_l3(self, msg: Level3Message, book: L3Book, now: float) -> None:
        """Take one level3 message that ``book`` has just applied."""
        if msg.symbol != self.symbol:
            return
        self.book = book
        if self.started is None:
            self.started = now
        self.messages += 1
        if msg.timestamp:
            self._l3_raw = msg.timestamp  # turned into a sortable key only when a print needs it
        if msg.snapshot:
            self._rebuild(book, now)
            return
        pp, qp = book.price_precision, book.qty_precision
        # Which levels changed matters only to own orders; without any, skip the bookkeeping.
        touched: set[tuple[str, int]] | None = None
        if self._by_level:
            touched = self._touched
            touched.clear()
        index = self._index
        waiting = self._unplaced
        arrived: list[str] | None = None
        flows = self._flows
        edge = now - self.horizon
        # The hot path (one pass per order event): new orders are handled inline (``_added``
        # written out: it is the commonest event), the rest by _event.
        for side, orders in (("buy", msg.bids), ("sell", msg.asks)):
            if not orders:
                continue
            best = self._best[side]
            for o in orders:
                ps, qs = o.price_scale, o.qty_scale
                t = o.price_units if ps == pp else rescale(o.price_units, ps, pp)
                q = o.qty_units if qs == qp else rescale(o.qty_units, qs, qp)
                oid = o.order_id
                ev = o.event
                if ev == "delete":
                    ent = index.pop(oid, None)
                    if ent is not None:
                        key = (ent[_SIDE], ent[_PRICE])
                        if touched is not None:
                            touched.add(key)
                        self._reduced(key, ent[_SEQ], ent[_LOTS], now, book, False)
                elif q and ev == "add" and oid not in index:
                    key = (side, t)
                    if touched is not None:
                        touched.add(key)
                    f = flows.get(key)
                    if f is None:
                        f = flows[key] = _Flow()
                    recs = f.recs
                    self._n += 1
                    behind = 0 if best is None else best - t if side == "buy" else t - best
                    recs.append((self._n, now, _ADD, q, behind))
                    if recs[0][1] < edge:
                        self._trim(recs, now)
                    self._seq += 1
                    index[oid] = (self._seq, q, side, t)
                    if waiting and oid in waiting:
                        arrived = [*(arrived or ()), oid]
                else:
                    self._event(side, t, q, oid, ev, now, book, touched)
                    if waiting and oid in waiting:
                        arrived = [*(arrived or ()), oid]
        if arrived or self._by_level:
            self._own_update(book, touched, arrived or [])
        # The touch as it stands after this message is the "before" of the next one.
        bids, asks = book._bids.keys, book._asks.keys  # O(1) best prices; see _best
        known = self._best
        if (bids and -bids[0] != known["buy"]) or (asks and asks[0] != known["sell"]):
            self._touch(book, now)
        if self.messages % PRUNE_EVERY == 0:
            self._prune(book, now)

    def _own_update(self, book: L3Book, touched: set[tuple[str, int]] | None, arrived: list[str]) -> None:
        """Re-place own orders whose level changed; notice ones that left or (re)entered the window."""
        for oid in arrived:
            ent = self._index.get(oid)
            mine = self._unplaced.get(oid)
            if mine is not None and ent is not None and oid in _fifo(book, ent[_SIDE], ent[_PRICE]):
                del self._unplaced[oid]
                self._adopt(mine, ent)
                self._place(mine, book)
        if self._by_level:
            for key, peers in list(self._by_level.items()):
                if touched is not None and key in touched:
                    for mine in list(peers):  # _place may unplace (and so remove) one
                        if mine.order_id not in arrived:
                            self._place(mine, book)
                else:
                    # Untouched, but the level may have been truncated out of the window.
                    fifo = _fifo(book, key[0], key[1])
                    for mine in list(peers):
                        if mine.order_id not in fifo:
                            self._unplace(mine)

    def _touch(self, book: L3Book, now: float) -> None:
        bids, asks = book._bids.keys, book._asks.keys  # O(1) best prices; see _best
        bb = -bids[0] if bids else None
        ba = asks[0] if asks else None
        known = self._best
        if bb == known["buy"] and ba == known["sell"]:
            return
        for side, best in (("buy", bb), ("sell", ba)):
            if best != known[side] and best is not None:
                series = self._touches[side]
                series.append((now, best))
                # Keep one point older than the horizon: the touch at the window's start.
                while len(series) > 1 and series[1][0] < now - self.horizon:
                    series.popleft()
            self._best[side] = best

    def _event(
        self,
        side: str,
        price: int,
        lots: int,
        oid: str,
        event: str,
        now: float,
        book: L3Book,
        touched: set[tuple[str, int]] | None,
    ) -> None:
        # The hot path: one call per order event, so lookups are hoisted and records inlined.
        index = self._index
        ent = index.get(oid)
        if event == "delete" or lots == 0:
            if ent is None:
                return
            del index[oid]
            key = (ent[_SIDE], ent[_PRICE])
            if touched is not None:
                touched.add(key)
            self._reduced(key, ent[_SEQ], ent[_LOTS], now, book, False)
            return
        key = (side, price)
        if touched is not None:
            touched.add(key)
        if ent is not None:
            if event == "modify" and ent[_SIDE] == side and ent[_PRICE] == price:
                d = ent[_LOTS] - lots
                index[oid] = (ent[_SEQ], lots, side, price)
                if d > 0:
                    self._reduced(key, ent[_SEQ], d, now, book, False)
                elif d < 0:
                    self._added(key, -d, now)
                return
            old = (ent[_SIDE], ent[_PRICE])
            if old != key or event == "modify":
                # Moved to another price (or re-priced): it left its old queue by a cancel.
                if touched is not None:
                    touched.add(old)
                self._reduced(old, ent[_SEQ], ent[_LOTS], now, book, True)
                self._added(key, lots, now)
            # else: an order re-entering the window (a refill): not new liquidity.
        else:
            self._added(key, lots, now)
        self._seq += 1
        index[oid] = (self._seq, lots, side, price)

    def _flow(self, key: tuple[str, int]) -> _Flow:
        f = self._flows.get(key)
        if f is None:
            f = self._flows[key] = _Flow()
        return f

    def _trim(self, recs: deque[_Rec], now: float) -> None:
        edge = now - self.horizon
        while recs[0][1] < edge:
            recs.popleft()

    def _record(self, key: tuple[str, int], rec: _Rec, now: float) -> _Flow:
        f = self._flows.get(key)
        if f is None:
            f = self._flows[key] = _Flow()
        recs = f.recs
        recs.append(rec)
        if recs[0][1] < now - self.horizon:
            edge = now - self.horizon
            while recs[0][1] < edge:
                recs.popleft()
        return f

    def _added(self, key: tuple[str, int], lots: int, now: float) -> None:
        """An add at a level, with how far behind the touch (as it stood before this message) it landed."""
        side, price = key
        best = self._best[side]
        behind = 0 if best is None else best - price if side == "buy" else price - best
        f = self._flows.get(key)
        if f is None:
            f = self._flows[key] = _Flow()
        recs = f.recs
        self._n += 1
        recs.append((self._n, now, _ADD, lots, behind))
        if recs[0][1] < now - self.horizon:
            self._trim(recs, now)

    def _reduced(
        self, key: tuple[str, int], seq: int, lots: int, now: float, book: L3Book, cancel: bool
    ) -> None:
        f = self._flows.get(key)
        if f is None:
            f = self._flows[key] = _Flow()
        recs = f.recs
        n = self._n + 1
        if not cancel and f.credit > 0 and now - f.credit_t <= self.grace_s:
            take = min(f.credit, lots)
            f.credit -= take
            rec: _Rec = (n, now, _TRADE, take, 0)
            extra: _Rec | None = None
            if lots > take:
                n += 1
                extra = (n, now, _CANCEL, lots - take, 0)
                recs.append(rec)
                recs.append(extra)
            else:
                recs.append(rec)
        else:
            rec = (n, now, _CANCEL, lots, 0)
            extra = None
            recs.append(rec)
            if not cancel:
                s = book._bids if key[0] == "buy" else book._asks
                fifo = s.levels.get(key[1] * s.sign)
                front = self._index.get(next(iter(fifo))) if fifo else None
                # Trades take from the front: only a reduction at or before the front can be one.
                if front is None or seq <= front[_SEQ]:
                    pend = f.pending
                    pend.append(rec)
                    while now - pend[0][1] > self.grace_s:
                        pend.popleft()
        self._n = n
        if recs[0][1] < now - self.horizon:
            self._trim(recs, now)
        peers = self._by_level.get(key)
        if peers:
            for own in peers:
                if own.seq > seq:
                    own.recs.append(rec)
                    if extra is not None:
                        own.recs.append(extra)

    def on_trades(self, trades: Iterable[Trade], now: float) -> None:
        """Take public trades (``TradeMessage.trades``); snapshots of old trades should be skipped."""
        book = self.book
        if book is None:
            return
        pp, qp = book.price_precision, book.qty_precision
        grace = self.grace_s
        flows = self._flows
        symbol = self.symbol
        # One trade message is one taker order's prints: the tape keeps it as one arrival per side.
        taken_buy = taken_sell = 0
        l3_ts: str | None = None  # made only when a print needs it (a string rebuild per message)
        by_level = self._by_level
        for maker, price, lots, prints, ts in maker_prints(trades, symbol, pp, qp):
            if maker == "buy":
                taken_buy += lots
            else:
                taken_sell += lots
            key = (maker, price)
            f = flows.get(key)
            left = lots
            pend = f.pending if f is not None else None
            if pend:
                assert f is not None
                while pend and now - pend[0][1] > grace:
                    pend.popleft()
                while left > 0 and pend:
                    # A single print's own reduction is most likely the pending one of its exact size;
                    # a sweep's are the oldest ones, in queue order.
                    match = pend[0]
                    if prints == 1 and match[3] != left:
                        for r in pend:
                            if r[3] == left:
                                match = r
                                break
                    pend.remove(match)
                    n, t0, _, had, _ = match
                    took = had if had < left else left
                    new: list[_Rec] = [(n, t0, _TRADE, took, 0)]
                    if had > took:
                        # Part of that reduction was a trade: split it, the remainder stays a cancel.
                        self._n += 1
                        new.append((self._n, t0, _CANCEL, had - took, 0))
                    _replace(f.recs, n, new)
                    if by_level:
                        for own in by_level.get(key, ()):
                            _replace(own.recs, n, new)
                    left -= took
            if left <= 0:
                continue
            # Credit waits for a level3 reduction still to come: so not when level3 has already
            # passed the print's time (its reductions, if we could see them, were matched above),
            # and only at a level we can see. A sweep through levels beyond the window would
            # otherwise leave credit that a later cancel there would use up as a "trade".
            if l3_ts is None and self._l3_raw:
                l3_ts = _ts_key(self._l3_raw)
            if l3_ts is not None and _ts_key(ts) <= l3_ts:
                continue
            if _fifo(book, maker, price):
                if f is None:
                    f = self._flow(key)
                if now - f.credit_t > grace:
                    f.credit = 0
                f.credit += left
                f.credit_t = now
        edge = now - self.horizon
        for maker, lots in (("buy", taken_buy), ("sell", taken_sell)):
            if lots:
                tape = self._tape[maker]
                tape.append((now, lots))
                while tape[0][0] < edge:
                    tape.popleft()

    def _rebuild(self, book: L3Book, now: float) -> None:
        """After a snapshot: renumber every order in queue order and re-place own orders."""
        self._index.clear()
        self._by_level.clear()
        for side in ("buy", "sell"):
            for price, _ in book.aggregated(side):
                for oid, lots in book.queue(side, price):
                    self._seq += 1
                    self._index[oid] = (self._seq, lots, side, price)
        for own in self._own.values():
            own.seq = -1
            ent = self._index.get(own.order_id)
            if ent is not None:
                self._unplaced.pop(own.order_id, None)
                self._adopt(own, ent)
                self._place(own, book)
            else:
                self._unplaced[own.order_id] = own
        self._touch(book, now)

    def _prune(self, book: L3Book, now: float) -> None:
        """Drop index entries for orders truncated out of the window, and idle levels."""
        index = self._index
        for oid in [oid for oid, e in index.items() if oid not in _fifo(book, e[_SIDE], e[_PRICE])]:
            del index[oid]
        edge = now - self.horizon
        for key in [k for k, f in self._flows.items() if not f.recs or f.recs[-1][1] < edge]:
            del self._flows[key]

    # ------------------------------------------------------------------ queries

    def _better_lots(self, side: str, price: int) -> int:
        book = self.book
        if book is None:
            return 0
        total = 0
        for p, lots in book.aggregated(side):
            if (p <= price) if side == "buy" else (p >= price):
                break
            total += lots
        return total

    def position(self, order_id: str) -> QueuePosition | None:
        """The exact position of a tracked own order; None when unknown, filled or cancelled."""
        own = self._own.get(order_id)
        if own is None or own.seq < 0:
            return None
        return QueuePosition(
            order_id,
            own.side,
            own.price,
            own.n_ahead,
            own.ahead,
            own.behind,
            own.lots,
            self._better_lots(own.side, own.price),
            "l3-exact",
        )

    def hypothetical(self, side: str, price_ticks: int, lots: int = 0) -> QueuePosition:
        """Where a new order of ``lots`` at ``price_ticks`` would stand: at the back of the queue."""
        q = self.book.queue(side, price_ticks) if self.book is not None else []
        return QueuePosition(
            None,
            side,
            price_ticks,
            len(q),
            sum(x for _, x in q),
            0,
            lots,
            self._better_lots(side, price_ticks),
            "l3-hypothetical",
        )

    def in_window(self, side: str, price_ticks: int) -> bool:
        """Whether the level3 book sees ``price_ticks`` on ``side``: False beyond its deepest level.

        Level3 is subscribed to a depth in price levels; once a side holds that
        many, a price past its last level is out of sight (orders may rest
        there), and ``hypothetical`` would wrongly find the level empty.
        """
        book = self.book
        if book is None:
            return False
        s = book._bids if side == "buy" else book._asks
        keys = s.keys
        return len(keys) < book.depth or price_ticks * s.sign <= keys[-1]

    def is_placed(self, order_id: str) -> bool:
        """Whether a tracked own order is resting where level3 sees it (O(1): no queue is walked)."""
        own = self._own.get(order_id)
        return own is not None and own.seq >= 0

    def own_orders(self) -> list[str]:
        """Ids of tracked own orders that are resting in the book."""
        return [o.order_id for o in self._own.values() if o.seq >= 0]

    def dynamics(self, side: str, price_ticks: int, now: float, window: float) -> Dynamics:
        """Adds, cancels and trades at one level over the last ``window`` seconds."""
        f = self._flows.get((side, price_ticks))
        start = self.started if self.started is not None else now
        return _summarise(f.recs if f else deque(), now, window, start)

    def ahead_dynamics(self, order_id: str, now: float, window: float) -> Dynamics | None:
        """Trades and cancels *ahead of* a tracked own order since it was tracked, over ``window``."""
        own = self._own.get(order_id)
        if own is None:
            return None
        return _summarise(own.recs, now, window, own.since)

    def side_dynamics(self, side: str, now: float, window: float) -> Dynamics:
        """All levels of one side together: the data behind the per-lot cancel hazard."""
        start = self.started if self.started is not None else now
        lots = [0, 0, 0]
        count = [0, 0, 0]
        elapsed = 0.0
        for (s, _), f in self._flows.items():
            if s != side:
                continue
            d = _summarise(f.recs, now, window, start)
            elapsed = d.elapsed_s
            for k, v in ((0, d.add_lots), (1, d.cancel_lots), (2, d.trade_lots)):
                lots[k] += v
            for k, v in ((0, d.adds), (1, d.cancels), (2, d.trades)):
                count[k] += v
        if not elapsed:
            elapsed = max(0.0, now - max(now - window, start))
        return Dynamics(window, elapsed, lots[0], lots[1], lots[2], count[0], count[1], count[2])

    def inflow(self, side: str, price_ticks: int, now: float, window: float) -> float:
        """Lots per second that joined in front of an order resting at ``price_ticks`` now.

        Measured relative to the touch, not at absolute prices: an add counts
        when it landed closer to the touch (or inside the spread) than our
        price is now. Absolute prices would count, after the price moved
        towards us, every add made up there as if it were still to come.
        """
        return self.race_data(side, price_ticks, now, (window,))[0].inflow

    def tape(self, maker_side: str, now: float, window: float) -> tuple[list[int], float]:
        """Sizes (lots) of taker orders that hit ``maker_side`` in the window, and the window's real length.

        Each entry is one trade message's prints on that side summed: a market
        order that sweeps three makers is one arrival of their total, not three.
        """
        d = self.race_data(maker_side, 0, now, (window,))[0]  # the price does not change the tape
        return list(d.takers), d.elapsed_s

    def history(self, side: str, now: float, window: float) -> FlowHistory:
        """The window's taker arrivals, adds and touch moves on ``side``, for replaying (see fillprob)."""
        best = self._best[side]
        return self.race_data(side, best if best is not None else 0, now, (window,))[0].history

    def side_snapshot(self, side: str, now: float) -> SideSnapshot:
        """One side's records, tape and touch moves, copied (C-speed copies): safe to read on a thread."""
        return SideSnapshot(
            side,
            self.started if self.started is not None else now,
            self._best[side],
            self.side_lots(side),
            tuple((p, tuple(f.recs)) for (s, p), f in self._flows.items() if s == side),
            tuple(self._tape[side]),
            tuple(self._touches[side]),
        )

    def race_data(self, side: str, price_ticks: int, now: float, windows: Sequence[float]) -> list[RaceData]:
        """Per window, what the fill-probability race reads (see ``race_data_of``)."""
        return race_data_of(self.side_snapshot(side, now), price_ticks, now, windows)

    def side_lots(self, side: str) -> int:
        """Everything resting on one side inside the level3 window."""
        return sum(lots for _, lots in self.book.aggregated(side)) if self.book is not None else 0


def race_data_of(
    snap: SideSnapshot, price_ticks: int, now: float, windows: Sequence[float]
) -> list[RaceData]:
    """Per window, what the fill-probability race reads: one pass over the records for all windows.

    The same numbers as ``QueueTracker.tape``, ``side_dynamics`` (cancelled
    lots), ``inflow`` and ``history`` window by window, which each walk every
    level's records; this walks them once. It reads only the snapshot, so it
    runs on a worker thread while the loop keeps taking messages.
    """
    side = snap.side
    start = snap.started
    los = [max(now - w, start) for w in windows]
    lo_min = min(los) if los else now
    best = snap.best
    mine = None if best is None else best - price_ticks if side == "buy" else price_ticks - best
    cancelled = [0] * len(los)
    adds: list[tuple[float, int, int, int]] = []  # (t, price, lots, ticks behind the touch)
    for p, recs in snap.flows:
        for r in reversed(recs):
            t = r[1]
            if t < lo_min:
                break
            if t > now:
                continue
            kind = r[2]
            if kind == _CANCEL:
                for i, lo in enumerate(los):
                    if t >= lo:
                        cancelled[i] += r[3]
            elif kind == _ADD:
                adds.append((t, p, r[3], r[4]))
    adds.sort()
    resting = snap.resting
    tape = [(t, x) for t, x in snap.tape if t >= lo_min]
    out = []
    for lo, cut in zip(los, cancelled, strict=True):
        elapsed = max(0.0, now - lo)
        mine_adds = [a for a in adds if a[0] >= lo]
        front = sum(a[2] for a in mine_adds if mine is not None and a[3] < mine)
        touch: list[tuple[float, int]] = []
        for t, tp in snap.touches:
            if t <= lo or not touch:
                touch = [(0.0, tp)] if t <= lo else [(0.0, tp), (t - lo, tp)]
            else:
                touch.append((t - lo, tp))
        if not touch and best is not None:
            touch = [(0.0, best)]
        out.append(
            RaceData(
                tuple(x for t, x in tape if t >= lo),
                elapsed,
                cut / elapsed / resting if elapsed > 0 and resting else 0.0,
                front / elapsed if elapsed > 0 else 0.0,
                FlowHistory(
                    side,
                    elapsed,
                    [(t - lo, x) for t, x in tape if t >= lo],
                    [(t - lo, p, x) for t, p, x, _ in mine_adds],
                    touch,
                    best,
                ),
            )
        )
    return out
