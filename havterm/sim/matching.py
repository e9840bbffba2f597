"""L3-native price-time-priority matching engine for one symbol, in integer ticks and lots.

Every change to the book is recorded in an :class:`OpLog` (one per engine
operation) so that all public streams (book at every depth, level3, trades,
ticker, OHLC) and the private executions are derived from the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice

from sortedcontainers import SortedDict

BID, ASK = 0, 1
"""Side indices: ``BID`` holds buy orders, ``ASK`` sell orders."""

SIDE_NAMES = ("buy", "sell")


def side_index(side: str) -> int:
    """``"buy"`` -> ``BID``, ``"sell"`` -> ``ASK``."""
    return BID if side == "buy" else ASK


@dataclass(slots=True)
class Order:
    """A resting order. ``qty`` is the remaining visible quantity in lots."""

    order_id: str
    side: int
    price: int
    qty: int
    ts_ns: int
    owner: str | None = None


class Level:
    """One price level: orders in queue (FIFO) order and their total."""

    __slots__ = ("orders", "price", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: dict[str, Order] = {}  # insertion order is queue order
        self.total = 0


class BookSide:
    """One side of the book, keyed so that iteration runs best first.

    Bids are stored under ``-price``: then a smaller key is always a better
    level on both sides, which keeps the window logic in feeds side-agnostic.
    """

    __slots__ = ("is_bid", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: SortedDict = SortedDict()

    def key(self, price: int) -> int:
        """The sort key of ``price`` on this side."""
        return -price if self.is_bid else price

    def best(self) -> Level | None:
        """The best level, or ``None``. O(1)."""
        if not self.levels:
            return None
        lvl: Level = self.levels.peekitem(0)[1]
        return lvl

    def top(self, n: int) -> list[Level]:
        """The best ``n`` levels, best first. O(n)."""
        return list(islice(self.levels.values(), n))

    def cutoff(self, depth: int) -> int | None:
        """The key of the ``depth``-th best level (or the worst if fewer). O(log n)."""
        n = len(self.levels)
        if n == 0:
            return None
        k: int = self.levels.peekitem(min(depth, n) - 1)[0]
        return k

    def __len__(self) -> int:
        return len(self.levels)


@dataclass(slots=True)
class Trade:
    """One fill between a resting maker and an incoming taker."""

    trade_id: int
    price: int
    qty: int
    taker_side: int
    taker_type: str
    maker_id: str
    maker_owner: str | None
    maker_remaining: int
    taker_id: str
    taker_owner: str | None
    ts_ns: int


@dataclass(slots=True)
class OpLog:
    """Everything one engine operation changed, in order."""

    ts_ns: int
    # per side: key -> did the level exist before this op (dict order = first touch)
    touched: tuple[dict[int, bool], dict[int, bool]] = field(default_factory=lambda: ({}, {}))
    # per side: key -> [(event, order_id, qty_lots, order_ts_ns)] in order
    l3: tuple[dict[int, list[tuple[str, str, int, int]]], dict[int, list[tuple[str, str, int, int]]]] = field(
        default_factory=lambda: ({}, {})
    )
    trades: list[Trade] = field(default_factory=list)
    # orders the engine removed on its own (self-trade prevention): (order, reason)
    engine_cancels: list[tuple[Order, str]] = field(default_factory=list)


@dataclass(slots=True)
class MatchResult:
    """The outcome of an incoming order."""

    filled: int = 0
    cost: int = 0  # sum(price_ticks * lots)
    rested: bool = False
    stp_stopped: bool = False
    post_only_rejected: bool = False
    fok_rejected: bool = False


class MatchingEngine:
    """The order book of one symbol and the rules that change it.

    Call :meth:`begin` before and :meth:`end` after each operation (or use
    :meth:`op`); the returned :class:`OpLog` is what the feeds publish.
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.sides = (BookSide(True), BookSide(False))
        self.orders: dict[str, Order] = {}
        self.trade_seq = 0
        self._log: OpLog | None = None

    # -- op bracketing ----------------------------------------------------

    def begin(self, ts_ns: int) -> None:
        """Start recording one operation."""
        self._log = OpLog(ts_ns)

    def end(self) -> OpLog:
        """Finish the operation and return its log."""
        log = self._log
        assert log is not None, "end() without begin()"
        self._log = None
        return log

    @property
    def log(self) -> OpLog:
        """The current op log (an operation must be open)."""
        assert self._log is not None, "engine operation outside begin()/end()"
        return self._log

    # -- queries ----------------------------------------------------------

    def best_bid(self) -> Level | None:
        """Best bid level."""
        return self.sides[BID].best()

    def best_ask(self) -> Level | None:
        """Best ask level."""
        return self.sides[ASK].best()

    def check(self) -> None:
        """Verify invariants (sorted, uncrossed, totals, index); for tests. O(n)."""
        for side in self.sides:
            for k, lvl in side.levels.items():
                assert lvl.orders, "empty level kept"
                assert side.key(lvl.price) == k
                assert lvl.total == sum(o.qty for o in lvl.orders.values())
                for o in lvl.orders.values():
                    assert o.qty > 0 and o.price == lvl.price
                    assert self.orders[o.order_id] is o
        n = sum(len(lv.orders) for s in self.sides for lv in s.levels.values())
        assert n == len(self.orders)
        bb, ba = self.best_bid(), self.best_ask()
        if bb and ba:
            assert bb.price < ba.price, "crossed book"

    # -- primitive book edits (all recorded) -------------------------------

    def _touch(self, side: int, key: int) -> None:
        touched = self.log.touched[side]
        if key not in touched:
            touched[key] = key in self.sides[side].levels

    def _event(self, side: int, key: int, event: str, o: Order, qty: int) -> None:
        self.log.l3[side].setdefault(key, []).append((event, o.order_id, qty, o.ts_ns))

    def _rest(self, o: Order) -> None:
        bs = self.sides[o.side]
        key = bs.key(o.price)
        self._touch(o.side, key)
        lvl = bs.levels.get(key)
        if lvl is None:
            lvl = Level(o.price)
            bs.levels[key] = lvl
        lvl.orders[o.order_id] = o
        lvl.total += o.qty
        self.orders[o.order_id] = o
        self._event(o.side, key, "add", o, o.qty)

    def _remove(self, o: Order) -> None:
        bs = self.sides[o.side]
        key = bs.key(o.price)
        self._touch(o.side, key)
        lvl: Level = bs.levels[key]
        del lvl.orders[o.order_id]
        lvl.total -= o.qty
        if not lvl.orders:
            del bs.levels[key]
        del self.orders[o.order_id]
        self._event(o.side, key, "delete", o, o.qty)

    def _reduce(self, o: Order, by: int) -> None:
        """Take ``by`` lots off a resting order in place (keeps its priority)."""
        if by >= o.qty:
            self._remove(o)
            return
        bs = self.sides[o.side]
        key = bs.key(o.price)
        self._touch(o.side, key)
        o.qty -= by
        bs.levels[key].total -= by
        self._event(o.side, key, "modify", o, o.qty)

    # -- order entry ------------------------------------------------------

    def _crosses(self, side: int, price: int | None) -> bool:
        opp = self.sides[1 - side].best()
        if opp is None:
            return False
        if price is None:
            return True
        return opp.price <= price if side == BID else opp.price >= price

    def available(self, side: int, price: int | None, owner: str | None) -> int:
        """Lots an order could take right now up to ``price`` (FOK check). O(levels)."""
        total = 0
        for lvl in self.sides[1 - side].levels.values():
            if price is not None and (lvl.price > price if side == BID else lvl.price < price):
                break
            for o in lvl.orders.values():
                if owner is not None and o.owner == owner:
                    return total  # self-trade prevention would stop here
                total += o.qty
        return total

    def submit(
        self,
        order_id: str,
        side: int,
        qty: int,
        *,
        price: int | None = None,
        order_type: str = "limit",
        tif: str = "gtc",
        post_only: bool = False,
        owner: str | None = None,
        stp: str = "cancel_newest",
        cash: int | None = None,
        ts_ns: int | None = None,
    ) -> MatchResult:
        """Match an incoming order, then rest what is left if it is a GTC/GTD limit.

        ``price`` is ``None`` for market orders. ``cash`` (quote units at
        ``price_precision + qty_precision`` decimals) caps a market buy by cost.
        """
        res = MatchResult()
        if post_only and self._crosses(side, price):
            res.post_only_rejected = True
            return res
        if tif == "fok" and self.available(side, price, owner) < qty:
            res.fok_rejected = True
            return res
        remaining = self._match(order_id, side, qty, price, order_type, owner, stp, cash, res)
        if remaining > 0 and price is not None and tif in ("gtc", "gtd") and not res.stp_stopped:
            self._rest(Order(order_id, side, price, remaining, ts_ns or self.log.ts_ns, owner))
            res.rested = True
        return res

    def _match(
        self,
        taker_id: str,
        side: int,
        qty: int,
        limit: int | None,
        taker_type: str,
        owner: str | None,
        stp: str,
        cash: int | None,
        res: MatchResult,
    ) -> int:
        remaining = qty
        opp = self.sides[1 - side]
        log = self.log
        while remaining > 0:
            lvl = opp.best()
            if lvl is None:
                break
            p = lvl.price
            if limit is not None and (p > limit if side == BID else p < limit):
                break
            maker = next(iter(lvl.orders.values()))
            if owner is not None and maker.owner == owner:
                # Self-trade prevention (Kraken's stp_type); default cancel_newest.
                if stp == "cancel_oldest" or stp == "cancel_both":
                    self._remove(maker)
                    log.engine_cancels.append((maker, "self_trade"))
                if stp != "cancel_oldest":
                    res.stp_stopped = True
                    break
                continue
            take = min(remaining, maker.qty)
            if cash is not None:
                take = min(take, (cash - res.cost) // p)
                if take <= 0:
                    break
            self._reduce(maker, take)
            remaining -= take
            res.filled += take
            res.cost += take * p
            self.trade_seq += 1
            log.trades.append(
                Trade(
                    self.trade_seq,
                    p,
                    take,
                    side,
                    taker_type,
                    maker.order_id,
                    maker.owner,
                    maker.qty if maker.order_id in self.orders else 0,
                    taker_id,
                    owner,
                    log.ts_ns,
                )
            )
        return remaining

    def cancel(self, order_id: str) -> Order | None:
        """Remove a resting order; ``None`` if it is not in the book."""
        o = self.orders.get(order_id)
        if o is None:
            return None
        self._remove(o)
        return o

    def amend(
        self,
        order_id: str,
        new_remaining: int,
        new_price: int | None = None,
        *,
        post_only: bool = False,
        stp: str = "cancel_newest",
    ) -> tuple[str, MatchResult | None]:
        """Amend in place, as Kraken does.

        Keeps queue priority when the price is unchanged and the quantity goes
        down; otherwise the order moves to the back of its (new) level, and a
        new price that crosses trades like an incoming limit order. Returns
        ``(outcome, match)`` with outcome ``"amended"``, ``"canceled"`` (new
        quantity at or below what is filled), ``"post_only"`` (rejected,
        unchanged) or ``"unknown"``.
        """
        o = self.orders.get(order_id)
        if o is None:
            return "unknown", None
        price = o.price if new_price is None else new_price
        if new_remaining <= 0:
            self._remove(o)
            return "canceled", None
        if price == o.price and new_remaining <= o.qty:
            if new_remaining < o.qty:
                self._reduce(o, o.qty - new_remaining)
            return "amended", None
        if price != o.price and post_only and self._crosses(o.side, price):
            return "post_only", None
        self._remove(o)
        res = MatchResult()
        left = self._match(order_id, o.side, new_remaining, price, "limit", o.owner, stp, None, res)
        if left > 0 and not res.stp_stopped:
            self._rest(Order(order_id, o.side, price, left, self.log.ts_ns, o.owner))
            res.rested = True
        return "amended", res
