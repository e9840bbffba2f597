"""In-process feed of the embedded exchange: its real frames, decoded and applied, without sockets."""

from __future__ import annotations

from typing import Any

from havterm.engine import codec
from havterm.engine.book import L2Book
from havterm.engine.events import BookMessage, Level3Message, TradeMessage
from havterm.engine.fillprob import L2QueueEstimator
from havterm.engine.l3 import L3Book
from havterm.engine.queue import QueueTracker
from havterm.sim.exchange import Exchange
from havterm.sim.feeds import Sub


class _Sink:
    def __init__(self, frames: list[str]) -> None:
        self.frames = frames

    def push(self, text: str, kind: str = "data", checksum: int | None = None) -> None:
        self.frames.append(text)


class FeedHarness:
    """Subscribes to one symbol's level3, book and trade streams the way a WebSocket session does.

    The frames are the exchange's own encoded frames, in the order it produced
    them (book and level3 of an operation before its trades), so this is the
    wire without the transport: deterministic, and fast enough to run tens of
    thousands of operations in a test.
    """

    KEY = -4242  # a subscriber id no real connection uses

    def __init__(self, ex: Exchange, symbol: str, depth: int = 10, **tracker: Any) -> None:
        self.ex = ex
        self.symbol = symbol
        feed = ex.feeds[symbol]
        inst = ex.instruments[symbol]
        self.frames: list[str] = []
        sink = _Sink(self.frames)
        self.l3 = L3Book(symbol, depth, inst.price_precision, inst.qty_precision)
        self.l2 = L2Book(symbol, depth, inst.price_precision, inst.qty_precision)
        self.tracker = QueueTracker(symbol, **tracker)
        self.l2est = L2QueueEstimator(symbol)
        feed.add_l3(depth, self.KEY, Sub(sink))
        feed.add_book(depth, self.KEY, Sub(sink))
        feed.trade_subs[self.KEY] = Sub(sink)
        self.frames.append(feed.l3_snapshot(depth, 0)[0])
        self.frames.append(feed.book_snapshot(depth, 0)[0])
        self.messages = 0

    def pump(self, now: float) -> int:
        """Decode and apply everything queued; returns the number of events handled."""
        n = 0
        frames = self.frames[:]
        self.frames.clear()
        for text in frames:
            for ev in codec.decode(text):
                n += 1
                if isinstance(ev, Level3Message):
                    assert self.l3.apply(ev), self.l3.last_error
                    self.tracker.on_l3(ev, self.l3, now)
                elif isinstance(ev, BookMessage):
                    assert self.l2.apply(ev), self.l2.last_error
                    self.l2est.on_book(ev, self.l2, now)
                elif isinstance(ev, TradeMessage):
                    self.tracker.on_trades(ev.trades, now)
                    self.l2est.on_trades(ev.trades, now)
        self.messages += n
        return n
