"""Order-flow analytics kept per symbol by the bridge at frame rate: pure Python, time passed in.

Volume over time is bucketed by the exchange's trade timestamps (not by
arrival), so a replay or a seeded demo draws the same bars every time.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from havterm.widgets.views import BookView, FlowEvent, FlowView, TradeView, fmt_qty, fmt_units

SECONDS = 120
"""Buy/sell volume history kept, one bucket per second."""
EVENTS = 50
"""Order-flow events kept."""
LARGE_PERCENTILE = 0.95
"""A trade at or above this quantile of recent trade sizes is highlighted as large."""


def _second(ts: str) -> int | None:
    """Seconds of the day from an RFC 3339 timestamp; None when unreadable."""
    t = ts.partition("T")[2]
    try:
        return int(t[0:2]) * 3600 + int(t[3:5]) * 60 + int(t[6:8])
    except (ValueError, IndexError):
        return None


class FlowStats:
    """Trade-flow and book-flow statistics for one symbol."""

    def __init__(self) -> None:
        self.last_trade_id: int | None = None
        self.buckets: deque[list[float]] = deque(maxlen=SECONDS)  # [second, bought, sold]
        self.at_price: dict[Decimal, list[float]] = {}
        self.sizes: deque[Decimal] = deque(maxlen=500)
        self.large: Decimal | None = None
        self._since_sort = 0
        self.events: deque[FlowEvent] = deque(maxlen=EVENTS)
        self._prev_levels: dict[tuple[str, int], int] | None = None
        self._book_version = -1
        self.version = 0
        self._view: FlowView | None = None

    def add_trades(self, trades_newest_first: tuple[TradeView, ...]) -> None:
        """Fold in the trades not seen yet (the tape is newest first)."""
        new: list[TradeView] = []
        last = self.last_trade_id
        for tr in trades_newest_first:
            if last is not None and tr.trade_id <= last:
                break
            new.append(tr)
        if not new:
            return
        self.last_trade_id = new[0].trade_id
        for tr in reversed(new):
            sec = _second(tr.timestamp)
            if sec is not None:
                b = self.buckets
                if not b or b[-1][0] < sec:
                    # Fill silent seconds so the bars are a true time axis.
                    start = int(b[-1][0]) + 1 if b and sec - b[-1][0] < SECONDS else sec
                    for s in range(start, sec + 1):
                        b.append([s, 0.0, 0.0])
                if b[-1][0] == sec:
                    b[-1][1 if tr.side == "buy" else 2] += float(tr.qty)
            cell = self.at_price.setdefault(tr.price, [0.0, 0.0])
            cell[0 if tr.side == "buy" else 1] += float(tr.qty)
            self.sizes.append(tr.qty)
        if len(self.at_price) > 4000:
            # Keep memory bounded on a long session: forget the least-traded prices.
            keep = sorted(self.at_price.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:2000]
            self.at_price = dict(keep)
        self._since_sort += len(new)
        if len(self.sizes) >= 20 and (self.large is None or self._since_sort >= 50):
            # The threshold moves slowly; re-sorting 500 sizes on every frame would not.
            self._since_sort = 0
            ordered = sorted(self.sizes)
            self.large = ordered[int(len(ordered) * LARGE_PERCENTILE)]
        self.version += 1

    def add_book(self, book: BookView, at: str, levels: int = 10) -> None:
        """Diff the top of the book against the last frame and record large changes."""
        if book.version == self._book_version or book.state != "synced":
            return
        self._book_version = book.version
        cur: dict[tuple[str, int], int] = {}
        for side, lv in (("bid", book.bids[:levels]), ("ask", book.asks[:levels])):
            for t, q in lv:
                cur[(side, t)] = q
        prev = self._prev_levels
        self._prev_levels = cur
        if prev is None or not cur:
            return
        sizes = sorted(cur.values())
        # "Large" relative to this book: three times its median level, so it
        # adapts between BTC (fractions) and XRP (hundreds of thousands).
        threshold = sizes[len(sizes) // 2] * 3
        if threshold <= 0:
            return
        added = False
        for key in cur.keys() | prev.keys():
            old, new = prev.get(key, 0), cur.get(key, 0)
            delta = new - old
            if abs(delta) < threshold:
                continue
            if old == 0:
                kind = "appeared"
            elif new == 0:
                kind = "gone"
            else:
                kind = "grew" if delta > 0 else "shrank"
            side, ticks = key
            self.events.appendleft(
                FlowEvent(
                    at,
                    side,
                    kind,
                    fmt_units(ticks, book.price_precision),
                    fmt_qty(abs(delta), book.qty_precision, 12),
                )
            )
            added = True
        if added:
            self.version += 1

    def view(self, group: Decimal | None = None) -> FlowView:
        """The current analytics; rebuilt only after a change."""
        if self._view is not None and self._view.version == self.version:
            return self._view
        buys = tuple(b[1] for b in self.buckets)
        sells = tuple(b[2] for b in self.buckets)
        recent_b, recent_s = sum(buys[-60:]), sum(sells[-60:])
        pressure = (recent_b - recent_s) / (recent_b + recent_s) if recent_b + recent_s else None
        self._view = FlowView(
            version=self.version,
            buy_vol=buys,
            sell_vol=sells,
            at_price=tuple(
                (p, v[0], v[1]) for p, v in sorted(self.at_price.items(), key=lambda kv: kv[0], reverse=True)
            ),
            large_qty=self.large,
            events=tuple(self.events),
            pressure=pressure,
        )
        return self._view
