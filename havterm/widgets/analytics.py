"""Trade-tape statistics kept per symbol by the bridge at frame rate: volume bars, large prints, pressure.

Only what is a matter of drawing the tape lives here: volume over time is
bucketed by the exchange's trade timestamps (not by arrival), so a replay or a
seeded demo draws the same bars every time. Book events, trades by price and
the level3 detectors are the engine's (``engine.orderflow``), handed over by
the bridge in ``FlowView.engine``.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from havterm.widgets.views import FlowView, TradeView

SECONDS = 120
"""Buy/sell volume history kept, one bucket per second."""
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
    """Trade-tape statistics for one symbol."""

    def __init__(self) -> None:
        self.last_trade_id: int | None = None
        self.buckets: deque[list[float]] = deque(maxlen=SECONDS)  # [second, bought, sold]
        self.sizes: deque[Decimal] = deque(maxlen=500)
        self.large: Decimal | None = None
        self._since_sort = 0
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
            self.sizes.append(tr.qty)
        self._since_sort += len(new)
        if len(self.sizes) >= 20 and (self.large is None or self._since_sort >= 50):
            # The threshold moves slowly; re-sorting 500 sizes on every frame would not.
            self._since_sort = 0
            ordered = sorted(self.sizes)
            self.large = ordered[int(len(ordered) * LARGE_PERCENTILE)]
        self.version += 1

    def view(self) -> FlowView:
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
            large_qty=self.large,
            pressure=pressure,
        )
        return self._view
