"""Public streams derived from one matching engine: book, level3, trade, ticker, ohlc.

The depth-window rules are PROTOCOL.md §4.3. For each subscribed depth we
remember the key of the worst level the subscribers hold (the *cutoff*). After
an operation, with the new cutoff computed from the book:

* a touched level inside the new window is sent with its new total;
* a level that was inside the old window and is now gone is sent as a delete;
* a level pushed out by a better insert is **not** sent (the client truncates);
* untouched levels between the old and the new cutoff re-enter the window and
  are sent with their full quantity, in the same message as the delete.

level3 is the same per order: events at levels already held, every order of a
level that enters the window as ``add``. One message is encoded once per
(symbol, depth) and shared by every subscriber.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from havterm.engine.checksum import l2_checksum, l3_checksum
from havterm.sim.instruments import Instrument
from havterm.sim.matching import ASK, BID, SIDE_NAMES, BookSide, MatchingEngine, OpLog
from havterm.sim.wire import dumps, num, ts_ns, ts_us

BOOK_DEPTHS = (10, 25, 100, 500, 1000)
L3_DEPTHS = (10, 100, 1000)
OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
_MIN_NS = 60_000_000_000


class Sink(Protocol):
    """Where frames go: a connection's outgoing queue."""

    def push(self, text: str, kind: str = "data", checksum: int | None = None) -> None:
        """Queue one text frame."""


@dataclass(eq=False, slots=True)
class Sub:
    """One subscriber of one stream. ``silent`` subscriptions get nothing (a fault)."""

    sink: Sink
    silent: bool = False


@dataclass(slots=True)
class Window:
    """The subscribers of one (symbol, depth) book or level3 stream and their cutoffs."""

    depth: int
    subs: dict[int, Sub] = field(default_factory=dict)
    cut: list[int | None] = field(default_factory=lambda: [None, None])


@dataclass(slots=True)
class Candle:
    """One OHLC candle in ticks and lots."""

    begin_ns: int
    open: int
    high: int
    low: int
    close: int
    trades: int = 0
    volume: int = 0
    pq: int = 0


def _send(subs: dict[int, Sub], text: str, checksum: int | None = None) -> None:
    for sub in subs.values():
        if not sub.silent:
            sub.sink.push(text, "data", checksum)


class SymbolFeed:
    """All public streams of one symbol."""

    def __init__(self, inst: Instrument, engine: MatchingEngine) -> None:
        self.inst = inst
        self.engine = engine
        self.pp = inst.price_precision
        self.qp = inst.qty_precision
        self.book: dict[int, Window] = {}
        self.l3: dict[int, Window] = {}
        self.trade_subs: dict[int, Sub] = {}
        self.ticker_subs: dict[str, dict[int, Sub]] = {"trades": {}, "bbo": {}}
        self.ohlc_subs: dict[int, dict[int, Sub]] = {}
        self.recent_trades: deque[dict[str, Any]] = deque(maxlen=50)
        self.candles: dict[int, deque[Candle]] = {i: deque(maxlen=60) for i in OHLC_INTERVALS}
        self.open_price = inst.start_price
        self.last = inst.start_price
        self.high = inst.start_price
        self.low = inst.start_price
        self.volume = 0
        self.pq = 0
        self.n_trades = 0
        self._bbo: tuple[int, int, int, int] | None = None
        self.messages = 0  # frames produced (each counted once, before fan-out)

    # -- subscriptions ------------------------------------------------------

    def add_book(self, depth: int, key: int, sub: Sub) -> None:
        """Register a book subscriber (its snapshot is built by :meth:`book_snapshot`)."""
        win = self.book.get(depth)
        if win is None:
            win = self.book[depth] = Window(depth)
            self._reset_cut(win)
        win.subs[key] = sub

    def add_l3(self, depth: int, key: int, sub: Sub) -> None:
        """Register a level3 subscriber."""
        win = self.l3.get(depth)
        if win is None:
            win = self.l3[depth] = Window(depth)
            self._reset_cut(win)
        win.subs[key] = sub

    def _reset_cut(self, win: Window) -> None:
        for s in (BID, ASK):
            win.cut[s] = self.engine.sides[s].cutoff(win.depth)

    def remove(self, key: int) -> None:
        """Forget every subscription of connection ``key`` on this symbol."""
        for table in (self.book, self.l3):
            for depth in list(table):
                table[depth].subs.pop(key, None)
                if not table[depth].subs:
                    del table[depth]
        self.trade_subs.pop(key, None)
        for d in self.ticker_subs.values():
            d.pop(key, None)
        for d in self.ohlc_subs.values():
            d.pop(key, None)

    def remove_book(self, depth: int, key: int, level3: bool = False) -> bool:
        """Drop one book/level3 subscription; ``False`` if there was none."""
        table = self.l3 if level3 else self.book
        win = table.get(depth)
        if win is None or key not in win.subs:
            return False
        del win.subs[key]
        if not win.subs:
            del table[depth]
        return True

    # -- checksums and snapshots ----------------------------------------------

    def l2_checksum(self) -> int:
        """CRC32 over the top 10 levels a side (§4.1)."""
        a = [(lv.price, lv.total) for lv in self.engine.sides[ASK].top(10)]
        b = [(lv.price, lv.total) for lv in self.engine.sides[BID].top(10)]
        return l2_checksum(a, b)

    def l3_checksum(self) -> int:
        """CRC32 over every order of the top 10 levels a side, in queue order (§4.2)."""
        a = [(lv.price, [o.qty for o in lv.orders.values()]) for lv in self.engine.sides[ASK].top(10)]
        b = [(lv.price, [o.qty for o in lv.orders.values()]) for lv in self.engine.sides[BID].top(10)]
        return l3_checksum(a, b)

    def _lvl(self, price: int, qty: int) -> dict[str, Any]:
        return {"price": num(price, self.pp), "qty": num(qty, self.qp)}

    def book_snapshot(self, depth: int, ts: int) -> tuple[str, int]:
        """The snapshot frame for ``depth`` and its checksum."""
        eng = self.engine
        ck = self.l2_checksum()
        data = {
            "symbol": self.inst.symbol,
            "bids": [self._lvl(lv.price, lv.total) for lv in eng.sides[BID].top(depth)],
            "asks": [self._lvl(lv.price, lv.total) for lv in eng.sides[ASK].top(depth)],
            "checksum": ck,
            "timestamp": ts_us(ts),
        }
        return dumps({"channel": "book", "type": "snapshot", "data": [data]}), ck

    def _order(self, oid: str, price: int, qty: int, ots: int, event: str | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {} if event is None else {"event": event}
        d["order_id"] = oid
        d["limit_price"] = num(price, self.pp)
        d["order_qty"] = num(qty, self.qp)
        d["timestamp"] = ts_ns(ots)
        return d

    def l3_snapshot(self, depth: int, ts: int) -> tuple[str, int]:
        """The level3 snapshot frame for ``depth`` and its checksum."""
        eng = self.engine
        ck = self.l3_checksum()
        sides = []
        for s in (BID, ASK):
            sides.append(
                [
                    self._order(o.order_id, o.price, o.qty, o.ts_ns)
                    for lv in eng.sides[s].top(depth)
                    for o in lv.orders.values()
                ]
            )
        data = {
            "symbol": self.inst.symbol,
            "checksum": ck,
            "timestamp": ts_ns(ts),
            "bids": sides[0],
            "asks": sides[1],
        }
        return dumps({"channel": "level3", "type": "snapshot", "data": [data]}), ck

    def trade_snapshot(self) -> str:
        """The last 50 trades."""
        return dumps({"channel": "trade", "type": "snapshot", "data": list(self.recent_trades)})

    def ticker_frame(self, typ: str, ts: int) -> str:
        """A ticker snapshot or update from the current book and the running stats."""
        eng = self.engine
        bb, ba = eng.best_bid(), eng.best_ask()
        vwap = self.pq // self.volume if self.volume else self.last
        change = self.last - self.open_price
        # change_pct to two decimals, rounded half up, in integers.
        pct = (change * 20000 + self.open_price) // (2 * self.open_price)
        d = {
            "symbol": self.inst.symbol,
            "bid": num(bb.price if bb else 0, self.pp),
            "bid_qty": num(bb.total if bb else 0, self.qp),
            "ask": num(ba.price if ba else 0, self.pp),
            "ask_qty": num(ba.total if ba else 0, self.qp),
            "last": num(self.last, self.pp),
            "volume": num(self.volume, self.qp),
            "vwap": num(vwap, self.pp),
            "low": num(self.low, self.pp),
            "high": num(self.high, self.pp),
            "change": num(change, self.pp),
            "change_pct": num(pct, 2),
            "timestamp": ts_us(ts),
        }
        return dumps({"channel": "ticker", "type": typ, "data": [d]})

    def _candle_dict(self, c: Candle, interval: int) -> dict[str, Any]:
        return {
            "symbol": self.inst.symbol,
            "open": num(c.open, self.pp),
            "high": num(c.high, self.pp),
            "low": num(c.low, self.pp),
            "close": num(c.close, self.pp),
            "trades": c.trades,
            "volume": num(c.volume, self.qp),
            "vwap": num(c.pq // c.volume if c.volume else c.close, self.pp),
            "interval_begin": ts_ns(c.begin_ns),
            "interval": interval,
            # Deprecated, and on the wire it is the interval *end* (§3.6).
            "timestamp": ts_us(c.begin_ns + interval * _MIN_NS),
        }

    def ohlc_frame(self, interval: int, typ: str, ts: int) -> str:
        """An OHLC snapshot (recent candles) or update (the open candle)."""
        hist = self.candles[interval]
        if typ == "snapshot":
            cs = list(hist)
            if not cs:
                begin = ts - ts % (interval * _MIN_NS)
                cs = [Candle(begin, self.last, self.last, self.last, self.last)]
        else:
            cs = [hist[-1]]
        return dumps(
            {
                "channel": "ohlc",
                "type": typ,
                "timestamp": ts_ns(ts),
                "data": [self._candle_dict(c, interval) for c in cs],
            }
        )

    # -- publishing -----------------------------------------------------------

    def publish(self, log: OpLog) -> None:
        """Turn one operation into frames for every subscriber of this symbol."""
        ts = log.ts_ns
        if (log.touched[0] or log.touched[1]) and (self.book or self.l3):
            self._publish_books(log, ts)
        if log.trades:
            self._on_trades(log, ts)
        if self.ticker_subs["bbo"]:
            bb, ba = self.engine.best_bid(), self.engine.best_ask()
            bbo = (bb.price if bb else 0, bb.total if bb else 0, ba.price if ba else 0, ba.total if ba else 0)
            if bbo != self._bbo:
                self._bbo = bbo
                self.messages += 1
                _send(self.ticker_subs["bbo"], self.ticker_frame("update", ts))

    def _publish_books(self, log: OpLog, ts: int) -> None:
        eng = self.engine
        sym = self.inst.symbol
        if self.book:
            ck: int | None = None
            for win in self.book.values():
                new_cut = [eng.sides[BID].cutoff(win.depth), eng.sides[ASK].cutoff(win.depth)]
                bids = self._l2_entries(eng.sides[BID], log.touched[BID], win.cut[BID], new_cut[BID])
                asks = self._l2_entries(eng.sides[ASK], log.touched[ASK], win.cut[ASK], new_cut[ASK])
                win.cut = new_cut
                if not bids and not asks:
                    continue
                if ck is None:
                    ck = self.l2_checksum()
                data = {"symbol": sym, "bids": bids, "asks": asks, "checksum": ck, "timestamp": ts_us(ts)}
                self.messages += 1
                _send(win.subs, dumps({"channel": "book", "type": "update", "data": [data]}), ck)
        if self.l3:
            ck = None
            for win in self.l3.values():
                new_cut = [eng.sides[BID].cutoff(win.depth), eng.sides[ASK].cutoff(win.depth)]
                bids = self._l3_entries(eng.sides[BID], log, BID, win.cut[BID], new_cut[BID])
                asks = self._l3_entries(eng.sides[ASK], log, ASK, win.cut[ASK], new_cut[ASK])
                win.cut = new_cut
                if not bids and not asks:
                    continue
                if ck is None:
                    ck = self.l3_checksum()
                data = {"checksum": ck, "symbol": sym, "timestamp": ts_ns(ts), "bids": bids, "asks": asks}
                self.messages += 1
                _send(win.subs, dumps({"channel": "level3", "type": "update", "data": [data]}), ck)

    def _l2_entries(
        self, bs: BookSide, touched: dict[int, bool], old: int | None, new: int | None
    ) -> list[dict[str, Any]]:
        levels = bs.levels
        # Deletes go first: a client that truncates after every level (as some
        # do, e.g. python-kraken-sdk) then never drops a level it still needs.
        out: list[dict[str, Any]] = []
        rest: list[dict[str, Any]] = []
        for k, existed in touched.items():
            lvl = levels.get(k)
            if lvl is not None and new is not None and k <= new:
                rest.append(self._lvl(lvl.price, lvl.total))
            elif lvl is None and existed and old is not None and k <= old:
                out.append(self._lvl(abs(k), 0))
            # else: pushed out by a better level, or outside both windows.
        out.extend(rest)
        if new is not None and (old is None or new > old):
            for k in levels.irange(old, new, inclusive=(False, True)):
                if k not in touched:
                    lvl = levels[k]
                    out.append(self._lvl(lvl.price, lvl.total))
        return out

    def _l3_entries(
        self, bs: BookSide, log: OpLog, side: int, old: int | None, new: int | None
    ) -> list[dict[str, Any]]:
        levels = bs.levels
        touched = log.touched[side]
        events = log.l3[side]
        out: list[dict[str, Any]] = []  # levels that left the window: first, as in L2
        rest: list[dict[str, Any]] = []
        for k, existed in touched.items():
            lvl = levels.get(k)
            held = existed and old is not None and k <= old
            if lvl is not None and new is not None and k <= new:
                if held:
                    p = abs(k)
                    rest.extend(self._order(oid, p, q, ots, ev) for ev, oid, q, ots in events.get(k, ()))
                else:
                    rest.extend(
                        self._order(o.order_id, o.price, o.qty, o.ts_ns, "add") for o in lvl.orders.values()
                    )
            elif lvl is None and held:
                p = abs(k)
                out.extend(self._order(oid, p, q, ots, ev) for ev, oid, q, ots in events.get(k, ()))
        out.extend(rest)
        if new is not None and (old is None or new > old):
            for k in levels.irange(old, new, inclusive=(False, True)):
                if k not in touched:
                    out.extend(
                        self._order(o.order_id, o.price, o.qty, o.ts_ns, "add")
                        for o in levels[k].orders.values()
                    )
        return out

    def _on_trades(self, log: OpLog, ts: int) -> None:
        sym = self.inst.symbol
        rows = []
        for t in log.trades:
            row = {
                "symbol": sym,
                "side": SIDE_NAMES[t.taker_side],
                "price": num(t.price, self.pp),
                "qty": num(t.qty, self.qp),
                "ord_type": t.taker_type,
                "trade_id": t.trade_id,
                "timestamp": ts_us(t.ts_ns),
            }
            rows.append(row)
            self.recent_trades.append(row)
            self.last = t.price
            self.high = max(self.high, t.price)
            self.low = min(self.low, t.price)
            self.volume += t.qty
            self.pq += t.qty * t.price
            self.n_trades += 1
            for interval, hist in self.candles.items():
                begin = t.ts_ns - t.ts_ns % (interval * _MIN_NS)
                c = hist[-1] if hist else None
                if c is None or c.begin_ns != begin:
                    c = Candle(begin, t.price, t.price, t.price, t.price)
                    hist.append(c)
                c.high = max(c.high, t.price)
                c.low = min(c.low, t.price)
                c.close = t.price
                c.trades += 1
                c.volume += t.qty
                c.pq += t.qty * t.price
        if self.trade_subs:
            self.messages += 1
            _send(self.trade_subs, dumps({"channel": "trade", "type": "update", "data": rows}))
        if self.ticker_subs["trades"]:
            self.messages += 1
            _send(self.ticker_subs["trades"], self.ticker_frame("update", ts))
        for interval, subs in self.ohlc_subs.items():
            if subs:
                self.messages += 1
                _send(subs, self.ohlc_frame(interval, "update", ts))
