"""The L2 order book: exact integer levels, truncation to depth, CRC32 on every message.

Each side is a plain sorted ``list`` of integer keys plus a ``dict`` from key
to quantity in lots. Asks are keyed by price ticks and bids by *negative* price
ticks, so both lists are best-first and the best level is ``keys[0]`` (O(1)).
For depths up to 1000 a ``bisect.insort`` into a list of machine-sized ints is
a short ``memmove`` and beats a ``SortedDict`` (measured in ``havterm bench
engine``), and truncation is a single slice deletion.

The checksum text of the top 10 levels is cached per side and rebuilt only
when a change lands inside the top 10; the ask CRC is cached too and the bid
text is hashed on top of it with ``zlib.crc32(bids, crc_of_asks)``, so a
deep-book update costs no hashing at all beyond one 4-byte combine.
"""

from __future__ import annotations

import enum
import zlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from havterm.engine.checksum import CHECKSUM_LEVELS
from havterm.engine.events import BookMessage, Level
from havterm.engine.fixed import PrecisionError, format_units, rescale, to_decimal
from havterm.engine.integrity import BookState, VerifiedBook

__all__ = ["BOOK_DEPTHS", "BookState", "L2Book", "PrecisionSource"]

BOOK_DEPTHS = (10, 25, 100, 500, 1000)
_TOP = CHECKSUM_LEVELS


class PrecisionSource(enum.Enum):
    """Where a book's decimal precision came from."""

    INSTRUMENT = "instrument"
    WIRE = "wire"


class _Side:
    """One side of the book; ``sign`` is +1 for asks and -1 for bids.

    ``pieces[i]`` is the checksum text of ``keys[i]`` (or None when the level
    has not been inside the top 10 since it last changed), kept aligned with
    ``keys`` so that the top-10 text is one ``join`` of a slice.
    """

    __slots__ = ("crc", "keys", "pieces", "qty", "sign", "text")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.keys: list[int] = []
        self.qty: dict[int, int] = {}
        self.pieces: list[str | None] = []
        self.text = b""
        self.crc = 0

    def clear(self) -> None:
        self.keys.clear()
        self.qty.clear()
        self.pieces.clear()

    def refresh_text(self) -> None:
        """Rebuild the checksum text of the top 10 levels."""
        pieces = self.pieces
        top = pieces[:_TOP]
        if None in top:
            keys = self.keys
            qty = self.qty
            sign = self.sign
            for i, piece in enumerate(top):
                if piece is None:
                    k = keys[i]
                    pieces[i] = top[i] = f"{k * sign}{qty[k]}"
        self.text = "".join(top).encode("ascii")  # type: ignore[arg-type]

    def truncate(self, depth: int) -> None:
        keys = self.keys
        if len(keys) > depth:
            qty = self.qty
            for k in keys[depth:]:
                del qty[k]
            del keys[depth:]
            del self.pieces[depth:]

    def levels(self, n: int | None = None) -> list[tuple[int, int]]:
        """Best-first ``(price_ticks, qty_lots)`` pairs."""
        qty = self.qty
        sign = self.sign
        keys = self.keys if n is None else self.keys[:n]
        return [(k * sign, qty[k]) for k in keys]


class L2Book(VerifiedBook):
    """One symbol's L2 book, kept equal to Kraken's by the checksum on every message.

    Prices are integer ticks (``price * 10**price_precision``) and quantities
    integer lots (``qty * 10**qty_precision``). The precision comes from the
    instrument channel when known; otherwise from the digits on the wire,
    widened if a later token carries more.
    """

    __slots__ = (
        "_asks",
        "_bids",
        "checksum_mismatches",
        "checksums_verified",
        "computed_checksum",
        "consecutive_mismatches",
        "depth",
        "expected_checksum",
        "journal",
        "last_error",
        "messages",
        "precision_source",
        "price_precision",
        "qty_precision",
        "state",
        "symbol",
        "timestamp",
        "version",
    )

    def __init__(
        self,
        symbol: str,
        depth: int = 10,
        price_precision: int | None = None,
        qty_precision: int | None = None,
    ) -> None:
        if depth not in BOOK_DEPTHS:
            raise ValueError(f"depth must be one of {BOOK_DEPTHS}, got {depth}")
        super().__init__()
        self.symbol = symbol
        self.depth = depth
        self._asks = _Side(1)
        self._bids = _Side(-1)
        self.price_precision = price_precision if price_precision is not None else 0
        self.qty_precision = qty_precision if qty_precision is not None else 0
        self.precision_source = (
            PrecisionSource.INSTRUMENT
            if price_precision is not None and qty_precision is not None
            else PrecisionSource.WIRE
        )
        self.messages = 0
        self.journal: list[Any] | None = None
        """When enabled: the level changes of every update, for analytics that read them in batches.

        Entries: ``(key, old_lots, new_lots)`` for each level an update changed
        (``key`` is ``price_ticks`` for asks and ``-price_ticks`` for bids), and
        the ``BookMessage`` itself for a snapshot (start again from the book).
        Levels dropped by truncation to the depth are not changes and are not
        recorded. Whoever enables it drains it (``MarketEngine`` adds each
        message's arrival time, a float, before its changes).
        """

    def enable_journal(self) -> list[Any]:
        """Start recording level changes (see ``journal``); returns the list to drain."""
        if self.journal is None:
            self.journal = []
        return self.journal

    # ------------------------------------------------------------------ precision

    def set_precision(self, price_precision: int, qty_precision: int) -> None:
        """Adopt the instrument's precision; rescales a book that is already held."""
        self._rescale(price_precision, qty_precision)
        self.precision_source = PrecisionSource.INSTRUMENT

    def _rescale(self, price_precision: int, qty_precision: int) -> None:
        dp = price_precision - self.price_precision
        dq = qty_precision - self.qty_precision
        if dp == 0 and dq == 0:
            return
        for side in (self._asks, self._bids):
            old = side.levels()
            side.clear()
            for t, q in old:
                t2 = rescale(t, self.price_precision, price_precision)
                q2 = rescale(q, self.qty_precision, qty_precision)
                k = t2 * side.sign
                side.keys.append(k)
                side.qty[k] = q2
                side.pieces.append(None)
            side.keys.sort()
        self.price_precision = price_precision
        self.qty_precision = qty_precision
        self._asks.refresh_text()
        self._bids.refresh_text()
        self._asks.crc = zlib.crc32(self._asks.text)

    def _widen_for(self, levels: Iterable[Level]) -> None:
        """With wire precision, grow the precision to the most digits seen."""
        pp = self.price_precision
        qp = self.qty_precision
        for lv in levels:
            if lv.price_scale > pp:
                pp = lv.price_scale
            if lv.qty_scale > qp:
                qp = lv.qty_scale
        if pp != self.price_precision or qp != self.qty_precision:
            self._rescale(pp, qp)

    # ------------------------------------------------------------------ applying

    def apply(self, msg: BookMessage) -> bool:
        """Apply a snapshot or update, truncate to depth, verify the checksum.

        Returns True when the exchange's checksum matches. On a mismatch (or a
        crossed book, or a price finer than the precision) the book moves to
        ``RESYNCING``, ``last_error`` says why, and updates are ignored until
        the next snapshot. Updates that arrive before a snapshot are ignored.
        """
        self.messages += 1
        if msg.snapshot:
            return self._apply_snapshot(msg)
        state = self.state
        if state is not BookState.SYNCED and state is not BookState.STALE:
            return False
        asks = msg.asks
        bids = msg.bids
        if self.precision_source is PrecisionSource.WIRE:
            self._widen_for(asks)
            self._widen_for(bids)
        # The empty side is skipped here rather than in _apply_side: one call fewer per message.
        try:
            ask_dirty = self._apply_side(self._asks, asks) if asks else False
            bid_dirty = self._apply_side(self._bids, bids) if bids else False
        except PrecisionError as exc:
            return self._fail(msg.checksum, str(exc))
        depth = self.depth
        side = self._asks
        if len(side.keys) > depth:
            side.truncate(depth)
        side = self._bids
        if len(side.keys) > depth:
            side.truncate(depth)
        return self._verify(msg, ask_dirty, bid_dirty)

    def _apply_snapshot(self, msg: BookMessage) -> bool:
        journal = self.journal
        if journal is not None:
            journal.append(msg)
            self.journal = None  # a snapshot's levels are not changes
        try:
            return self._snapshot(msg)
        finally:
            self.journal = journal

    def _snapshot(self, msg: BookMessage) -> bool:
        self._asks.clear()
        self._bids.clear()
        if self.precision_source is PrecisionSource.WIRE:
            self.price_precision = max((lv.price_scale for lv in (*msg.asks, *msg.bids)), default=0)
            self.qty_precision = max((lv.qty_scale for lv in (*msg.asks, *msg.bids)), default=0)
        try:
            self._apply_side(self._asks, msg.asks)
            self._apply_side(self._bids, msg.bids)
        except PrecisionError as exc:
            return self._fail(msg.checksum, str(exc))
        self._asks.truncate(self.depth)
        self._bids.truncate(self.depth)
        self.state = BookState.SYNCED
        return self._verify(msg, True, True)

    def _apply_side(self, side: _Side, levels: tuple[Level, ...]) -> bool:
        """Apply levels in order; return True if the top 10 may have changed."""
        if not levels:
            return False
        keys = side.keys
        qty = side.qty
        pieces = side.pieces
        sign = side.sign
        pp = self.price_precision
        qp = self.qty_precision
        journal = self.journal
        dirty = False
        for lv in levels:
            ps = lv.price_scale
            t = lv.price_units if ps == pp else rescale(lv.price_units, ps, pp)
            qs = lv.qty_scale
            q = lv.qty_units if qs == qp else rescale(lv.qty_units, qs, qp)
            k = t * sign
            if journal is not None:
                old = qty.get(k, 0)
                if old != q:
                    journal.append((k, old, q))
            if q == 0:
                if k in qty:
                    del qty[k]
                    i = bisect_left(keys, k)
                    del keys[i]
                    del pieces[i]
                    if i < _TOP:
                        dirty = True
            elif k in qty:
                qty[k] = q
                i = bisect_left(keys, k)
                if i < _TOP:
                    pieces[i] = f"{t}{q}"
                    dirty = True
                else:
                    pieces[i] = None
            else:
                i = bisect_left(keys, k)
                keys.insert(i, k)
                qty[k] = q
                if i < _TOP:
                    pieces.insert(i, f"{t}{q}")
                    dirty = True
                else:
                    pieces.insert(i, None)
        return dirty

    def _verify(self, msg: BookMessage, ask_dirty: bool, bid_dirty: bool) -> bool:
        asks = self._asks
        bids = self._bids
        if ask_dirty:
            asks.refresh_text()
            asks.crc = zlib.crc32(asks.text)
        if bid_dirty:
            bids.refresh_text()
        computed = zlib.crc32(bids.text, asks.crc)
        crossed = bool(asks.keys and bids.keys and asks.keys[0] <= -bids.keys[0])
        return self._judge(msg.checksum, computed, crossed, msg.timestamp)

    # ------------------------------------------------------------------ queries

    def best_bid(self) -> tuple[int, int] | None:
        """``(price_ticks, qty_lots)`` of the best bid, or None. O(1)."""
        keys = self._bids.keys
        if keys:
            k = keys[0]
            return -k, self._bids.qty[k]
        return None

    def best_ask(self) -> tuple[int, int] | None:
        """``(price_ticks, qty_lots)`` of the best ask, or None. O(1)."""
        keys = self._asks.keys
        if keys:
            k = keys[0]
            return k, self._asks.qty[k]
        return None

    def spread_ticks(self) -> int | None:
        """Best ask minus best bid, in ticks. O(1)."""
        if self._asks.keys and self._bids.keys:
            return self._asks.keys[0] + self._bids.keys[0]
        return None

    def spread(self) -> Decimal | None:
        """Best ask minus best bid as an exact price."""
        s = self.spread_ticks()
        return None if s is None else to_decimal(s, self.price_precision)

    def mid(self) -> Decimal | None:
        """The exact midpoint of the best bid and ask."""
        if self._asks.keys and self._bids.keys:
            two_mid = self._asks.keys[0] - self._bids.keys[0]
            return to_decimal(two_mid, self.price_precision) / 2
        return None

    def bids(self, n: int | None = None) -> list[tuple[int, int]]:
        """Best-first bids as ``(price_ticks, qty_lots)``."""
        return self._bids.levels(n)

    def asks(self, n: int | None = None) -> list[tuple[int, int]]:
        """Best-first asks as ``(price_ticks, qty_lots)``."""
        return self._asks.levels(n)

    def iter_bids(self) -> Iterator[tuple[int, int]]:
        """Best-first bids without building a list."""
        qty = self._bids.qty
        return ((-k, qty[k]) for k in self._bids.keys)

    def iter_asks(self) -> Iterator[tuple[int, int]]:
        """Best-first asks without building a list."""
        qty = self._asks.qty
        return ((k, qty[k]) for k in self._asks.keys)

    def price(self, ticks: int) -> Decimal:
        """Ticks to an exact price."""
        return to_decimal(ticks, self.price_precision)

    def qty(self, lots: int) -> Decimal:
        """Lots to an exact quantity."""
        return to_decimal(lots, self.qty_precision)

    def format_price(self, ticks: int) -> str:
        """Ticks as Kraken writes them (``63381.0``)."""
        return format_units(ticks, self.price_precision)

    def format_qty(self, lots: int) -> str:
        """Lots as Kraken writes them (``0.00005100``)."""
        return format_units(lots, self.qty_precision)

    def checksum_text(self) -> str:
        """The exact text the current checksum covers (for diagnostics)."""
        return (self._asks.text + self._bids.text).decode("ascii")

    def __len__(self) -> int:
        return len(self._asks.keys) + len(self._bids.keys)

    def __repr__(self) -> str:
        bb, ba = self.best_bid(), self.best_ask()
        bid = self.format_price(bb[0]) if bb else "-"
        ask = self.format_price(ba[0]) if ba else "-"
        return (
            f"L2Book({self.symbol} depth={self.depth} {self.state.value} "
            f"bid={bid} ask={ask} levels={len(self._bids.keys)}/{len(self._asks.keys)})"
        )

    # ------------------------------------------------------------------ invariants

    def _check(self) -> None:
        """Assert every invariant; tests call this after each step."""
        for side in (self._asks, self._bids):
            keys = side.keys
            assert keys == sorted(set(keys)), "side not strictly sorted"
            assert set(keys) == set(side.qty), "keys and quantities disagree"
            assert len(keys) <= self.depth, "side deeper than subscribed depth"
            assert all(q > 0 for q in side.qty.values()), "zero or negative quantity"
            assert all(k * side.sign > 0 for k in keys), "non-positive price"
            assert len(side.pieces) == len(keys), "pieces not aligned with keys"
            for k, piece in zip(keys, side.pieces, strict=True):
                assert piece is None or piece == f"{k * side.sign}{side.qty[k]}", "stale piece"
            expect = "".join(f"{k * side.sign}{side.qty[k]}" for k in keys[:_TOP])
            if self.state is BookState.SYNCED:
                assert side.text.decode() == expect, "stale checksum text"
        if self.state is BookState.SYNCED:
            assert self._asks.crc == zlib.crc32(self._asks.text), "stale ask crc"
            if self._asks.keys and self._bids.keys:
                assert self._asks.keys[0] > -self._bids.keys[0], "crossed book"
