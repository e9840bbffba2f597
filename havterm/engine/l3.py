"""The L3 (order-by-order) book: FIFO queues per price, per-order CRC32 checksum.

Orders are held by id and, per price level, in an insertion-ordered ``dict``
(id to lots), which is exactly a FIFO queue that also allows O(1) removal
from the middle. ``modify`` changes a quantity in place and keeps the order's
place in the queue; a new ``add`` joins the back. After every message each
side is truncated to the subscribed depth in price levels, and the checksum is
taken over every order of the top 10 levels in queue order (PROTOCOL.md §4.2).
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from dataclasses import dataclass

from havterm.engine.book import PrecisionSource
from havterm.engine.checksum import CHECKSUM_LEVELS
from havterm.engine.events import L3Order, Level3Message
from havterm.engine.fixed import PrecisionError, format_units, rescale
from havterm.engine.integrity import BookState, VerifiedBook

LEVEL3_DEPTHS = (10, 100, 1000)


@dataclass(frozen=True, slots=True)
class QueuedOrder:
    """One resting order as the L3 book knows it."""

    order_id: str
    side: str
    price_ticks: int
    qty_lots: int
    timestamp: str | None


class _L3Side:
    """One side: sorted level keys, and per key a FIFO ``dict`` of order id to lots."""

    __slots__ = ("keys", "levels", "sign", "texts")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.keys: list[int] = []
        self.levels: dict[int, dict[str, int]] = {}
        self.texts: dict[int, str] = {}

    def clear(self) -> None:
        self.keys.clear()
        self.levels.clear()
        self.texts.clear()

    def level_text(self, k: int) -> str:
        text = self.texts.get(k)
        if text is None:
            p = str(k * self.sign)
            text = self.texts[k] = "".join(p + str(q) for q in self.levels[k].values())
        return text


class L3Book(VerifiedBook):
    """One symbol's level3 book, verified by Kraken's per-order checksum."""

    def __init__(
        self,
        symbol: str,
        depth: int = 10,
        price_precision: int | None = None,
        qty_precision: int | None = None,
    ) -> None:
        if depth not in LEVEL3_DEPTHS:
            raise ValueError(f"level3 depth must be one of {LEVEL3_DEPTHS}, got {depth}")
        super().__init__()
        self.symbol = symbol
        self.depth = depth
        self._asks = _L3Side(1)
        self._bids = _L3Side(-1)
        self._where: dict[str, tuple[_L3Side, int, str | None]] = {}
        self.price_precision = price_precision or 0
        self.qty_precision = qty_precision or 0
        self.precision_source = (
            PrecisionSource.INSTRUMENT
            if price_precision is not None and qty_precision is not None
            else PrecisionSource.WIRE
        )

    # ------------------------------------------------------------------ applying

    def apply(self, msg: Level3Message) -> bool:
        """Apply a snapshot or update, truncate, and verify the checksum.

        Returns True when it matches; otherwise the book moves to
        ``RESYNCING`` and ignores updates until the next snapshot.
        """
        if msg.snapshot:
            self._asks.clear()
            self._bids.clear()
            self._where.clear()
            if self.precision_source is PrecisionSource.WIRE:
                orders = (*msg.asks, *msg.bids)
                self.price_precision = max((o.price_scale for o in orders), default=0)
                self.qty_precision = max((o.qty_scale for o in orders), default=0)
            self.state = BookState.SYNCED
        elif self.state is not BookState.SYNCED:
            return False
        try:
            for o in msg.asks:
                self._apply_order(self._asks, o)
            for o in msg.bids:
                self._apply_order(self._bids, o)
        except PrecisionError as exc:
            return self._fail(msg.checksum, str(exc))
        self._truncate(self._asks)
        self._truncate(self._bids)
        return self._verify(msg)

    def _ticks(self, units: int, scale: int, precision: int) -> int:
        return units if scale == precision else rescale(units, scale, precision)

    def _apply_order(self, side: _L3Side, o: L3Order) -> None:
        t = self._ticks(o.price_units, o.price_scale, self.price_precision)
        q = self._ticks(o.qty_units, o.qty_scale, self.qty_precision)
        k = t * side.sign
        if o.event == "delete" or q == 0:
            self._remove(o.order_id)
            return
        old = self._where.get(o.order_id)
        if o.event == "modify" and old is not None and old[0] is side and old[1] == k:
            side.levels[k][o.order_id] = q  # same place in the queue
            side.texts.pop(k, None)
            self._where[o.order_id] = (side, k, o.timestamp)
            return
        if old is not None:
            self._remove(o.order_id)
        level = side.levels.get(k)
        if level is None:
            level = side.levels[k] = {}
            side.keys.insert(bisect_left(side.keys, k), k)
        level[o.order_id] = q
        side.texts.pop(k, None)
        self._where[o.order_id] = (side, k, o.timestamp)

    def _remove(self, order_id: str) -> None:
        loc = self._where.pop(order_id, None)
        if loc is None:
            return  # a delete for an order outside our window: nothing to do
        side, k, _ = loc
        level = side.levels[k]
        del level[order_id]
        side.texts.pop(k, None)
        if not level:
            del side.levels[k]
            del side.keys[bisect_left(side.keys, k)]

    def _truncate(self, side: _L3Side) -> None:
        keys = side.keys
        if len(keys) > self.depth:
            for k in keys[self.depth :]:
                for oid in side.levels.pop(k):
                    del self._where[oid]
                side.texts.pop(k, None)
            del keys[self.depth :]

    def _verify(self, msg: Level3Message) -> bool:
        asks = "".join(self._asks.level_text(k) for k in self._asks.keys[:CHECKSUM_LEVELS])
        bids = "".join(self._bids.level_text(k) for k in self._bids.keys[:CHECKSUM_LEVELS])
        computed = zlib.crc32((asks + bids).encode("ascii"))
        ak, bk = self._asks.keys, self._bids.keys
        return self._judge(msg.checksum, computed, bool(ak and bk and ak[0] <= -bk[0]), msg.timestamp)

    # ------------------------------------------------------------------ queries

    def order(self, order_id: str) -> QueuedOrder | None:
        """The resting order with this id, if it is inside the window."""
        loc = self._where.get(order_id)
        if loc is None:
            return None
        side, k, ts = loc
        return QueuedOrder(
            order_id, "sell" if side.sign > 0 else "buy", k * side.sign, side.levels[k][order_id], ts
        )

    def queue(self, side: str, price_ticks: int) -> list[tuple[str, int]]:
        """The FIFO queue at a price: ``(order_id, qty_lots)`` front first."""
        s = self._asks if side == "sell" else self._bids
        return list(s.levels.get(price_ticks * s.sign, {}).items())

    def levels(self, side: str, n: int | None = None) -> list[tuple[int, list[int]]]:
        """Best-first ``(price_ticks, [lots of each order in queue order])``."""
        s = self._asks if side == "sell" else self._bids
        keys = s.keys if n is None else s.keys[:n]
        return [(k * s.sign, list(s.levels[k].values())) for k in keys]

    def aggregated(self, side: str) -> list[tuple[int, int]]:
        """The L2 view of one side: best-first ``(price_ticks, total_lots)``."""
        s = self._asks if side == "sell" else self._bids
        return [(k * s.sign, sum(s.levels[k].values())) for k in s.keys]

    def __len__(self) -> int:
        return len(self._where)

    def __repr__(self) -> str:
        return (
            f"L3Book({self.symbol} depth={self.depth} {self.state.value} orders={len(self)} "
            f"levels={len(self._bids.keys)}/{len(self._asks.keys)})"
        )

    def format_price(self, ticks: int) -> str:
        """Ticks as Kraken writes them."""
        return format_units(ticks, self.price_precision)

    # ------------------------------------------------------------------ invariants

    def _check(self) -> None:
        """Assert every invariant; tests call this after each step."""
        seen: set[str] = set()
        for side in (self._asks, self._bids):
            assert side.keys == sorted(set(side.keys)), "levels not strictly sorted"
            assert set(side.keys) == set(side.levels), "keys and levels disagree"
            assert len(side.keys) <= self.depth, "deeper than subscribed depth"
            for k, level in side.levels.items():
                assert level, "empty level kept"
                assert k * side.sign > 0, "non-positive price"
                for oid, q in level.items():
                    assert q > 0, "zero or negative quantity"
                    assert self._where[oid][:2] == (side, k), "order index disagrees"
                    seen.add(oid)
                cached = side.texts.get(k)
                if cached is not None:
                    p = str(k * side.sign)
                    assert cached == "".join(p + str(q) for q in level.values()), "stale text"
        assert seen == set(self._where), "order index holds orders not in any level"
        if self.state is BookState.SYNCED and self._asks.keys and self._bids.keys:
            assert self._asks.keys[0] > -self._bids.keys[0], "crossed book"
