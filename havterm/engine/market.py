"""Applies decoded market-data events to per-symbol state (books, trades, tickers).

Pure and synchronous: the caller passes the monotonic time and the wall time
(for exchange-to-receive latency). Integrity outcomes are returned to the
session, which decides whether to resync; nothing here touches a socket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from havterm.engine.book import BookState, L2Book
from havterm.engine.events import (
    BookMessage,
    InstrumentMessage,
    Level3Message,
    OhlcMessage,
    Status,
    TickerMessage,
    TradeMessage,
)
from havterm.engine.l3 import L3Book
from havterm.engine.state import MarketHealth, MarketState, SymbolState


@dataclass(frozen=True, slots=True)
class IntegrityFailure:
    """A book that stopped matching the exchange: the session must resync it."""

    symbol: str
    reason: str
    expected: int
    computed: int


class TimestampParser:
    """RFC3339 (``2026-08-02T03:35:51.660084Z``, 6 to 9 digits, ``Z`` optional) to epoch seconds.

    The whole-second part is cached, so a stream costs one dict lookup per
    message; anything unparseable gives None instead of raising.
    """

    def __init__(self) -> None:
        self._cache: dict[str, float] = {}

    def __call__(self, ts: str | None) -> float | None:
        if not ts or len(ts) < 19:
            return None
        head = ts[:19]
        base = self._cache.get(head)
        if base is None:
            try:
                base = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
            except ValueError:
                return None
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[head] = base
        frac = ts[20:].rstrip("Z") if len(ts) > 20 and ts[19] == "." else ""
        if frac:
            if not frac.isdigit():
                return None
            return base + int(frac) / float(10 ** len(frac))
        return base


class MarketEngine:
    """Owns the ``MarketState``; every public market-data event lands here."""

    def __init__(
        self,
        state: MarketState | None = None,
        stale_after_s: float = 15.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.state = state if state is not None else MarketState()
        self.stale_after_s = stale_after_s
        self._ts = TimestampParser()
        # A high-resolution clock only for measuring apply time; None disables it.
        self._clock = clock

    # ------------------------------------------------------------------ books

    def new_book(self, symbol: str, depth: int) -> SymbolState:
        """Prepare an empty book awaiting its snapshot (on subscribe or resync)."""
        st = self.state.symbol(symbol)
        st.depth = depth
        st.book = L2Book(symbol, depth, st.price_precision, st.qty_precision)
        st.book_state = BookState.AWAITING_SNAPSHOT
        st.version += 1
        return st

    def apply_book(self, msg: BookMessage, now: float, wall: float) -> IntegrityFailure | None:
        """Apply one book message; return a failure when the checksum does not match."""
        st = self.state.symbols.get(msg.symbol)
        if st is None or st.book is None:
            return None
        book = st.book
        if book.journal is not None:
            book.journal.append(now)  # the arrival time of the changes that follow
        clock = self._clock
        t0 = clock() if clock is not None else 0.0
        ok = book.apply(msg)
        if clock is not None:
            st.apply_time.add((clock() - t0) * 1000.0)
        st.count("book", now)
        sent = self._ts(msg.timestamp)
        if sent is not None:
            st.latency.add((wall - sent) * 1000.0)
        st.checksums_verified = book.checksums_verified
        if st.health is MarketHealth.STALE:
            st.health = MarketHealth.ACTIVE
        if ok:
            if st.book_state is not BookState.SYNCED:
                st.book_state = BookState.SYNCED
                st.book_reason = None
            st.touch(now)
            return None
        if book.state is BookState.RESYNCING and book.expected_checksum == msg.checksum:
            st.mismatches += 1
            st.book_state = BookState.RESYNCING
            st.book_reason = book.last_error
            st.touch(now)
            return IntegrityFailure(
                msg.symbol, book.last_error or "mismatch", msg.checksum, book.computed_checksum
            )
        return None  # an update for a book that is waiting for its snapshot

    def new_l3(self, symbol: str, depth: int) -> SymbolState:
        """Prepare an empty level3 book awaiting its snapshot."""
        st = self.state.symbol(symbol)
        st.l3 = L3Book(symbol, depth, st.price_precision, st.qty_precision)
        st.l3_state = BookState.AWAITING_SNAPSHOT
        st.version += 1
        return st

    def apply_l3(self, msg: Level3Message, now: float, wall: float) -> IntegrityFailure | None:
        """Apply one level3 message; return a failure when its per-order checksum does not match."""
        st = self.state.symbols.get(msg.symbol)
        if st is None or st.l3 is None:
            return None
        book = st.l3
        ok = book.apply(msg)
        st.count("level3", now)
        sent = self._ts(msg.timestamp)
        if sent is not None:
            st.latency.add((wall - sent) * 1000.0)
        if ok:
            if st.l3_state is not BookState.SYNCED:
                st.l3_state = BookState.SYNCED
                st.l3_reason = None
            st.touch(now)
            return None
        if book.state is BookState.RESYNCING and book.expected_checksum == msg.checksum:
            st.l3_mismatches += 1
            st.l3_state = BookState.RESYNCING
            st.l3_reason = book.last_error
            st.touch(now)
            return IntegrityFailure(
                msg.symbol, book.last_error or "mismatch", msg.checksum, book.computed_checksum
            )
        return None

    # ------------------------------------------------------------------ other channels

    def apply_trades(self, msg: TradeMessage, now: float, wall: float) -> None:
        """Append trades to each symbol's tape."""
        for tr in msg.trades:
            st = self.state.symbols.get(tr.symbol)
            if st is None:
                continue
            st.trades.append(tr)
            st.last_trade = tr
            journal = st.book.journal if st.book is not None else None
            if journal is not None and (not journal or journal[-1] is not msg):
                journal.append(now)
                journal.append(msg)  # trades and depth changes stay in arrival order
            st.count("trade", now)
            sent = self._ts(tr.timestamp)
            if sent is not None and not msg.snapshot:
                st.latency.add((wall - sent) * 1000.0)
            st.touch(now)

    def apply_ticker(self, msg: TickerMessage, now: float) -> None:
        """Keep the latest level-1 data per symbol."""
        for t in msg.tickers:
            st = self.state.symbols.get(t.symbol)
            if st is not None:
                st.ticker = t
                st.count("ticker", now)
                st.touch(now)

    def apply_ohlc(self, msg: OhlcMessage, now: float) -> None:
        """Keep the latest candle per symbol and interval."""
        for c in msg.candles:
            st = self.state.symbols.get(c.symbol)
            if st is not None:
                st.candles[c.interval] = c
                st.count("ohlc", now)
                st.touch(now)

    def apply_instrument(self, msg: InstrumentMessage, now: float) -> list[str]:
        """Adopt precisions and statuses; return the symbols whose precision changed."""
        changed: list[str] = []
        for pair in msg.pairs:
            st = self.state.symbols.get(pair.symbol)
            if st is None:
                continue
            if (st.price_precision, st.qty_precision) != (pair.price_precision, pair.qty_precision):
                st.price_precision, st.qty_precision = pair.price_precision, pair.qty_precision
                if st.book is not None:
                    st.book.set_precision(pair.price_precision, pair.qty_precision)
                if st.l3 is not None and st.l3.state is not BookState.SYNCED:
                    st.l3.price_precision, st.l3.qty_precision = pair.price_precision, pair.qty_precision
                changed.append(pair.symbol)
            st.instrument_status = pair.status
            self._update_health(st, now)
            st.touch(now)
        return changed

    def apply_status(self, msg: Status, now: float) -> None:
        """The exchange-wide status also decides whether markets are halted."""
        self.state.system_status = msg.system
        for st in self.state.symbols.values():
            self._update_health(st, now)
        self.state.version += 1

    # ------------------------------------------------------------------ liveness

    def _update_health(self, st: SymbolState, now: float) -> None:
        halted = self.state.system_status not in ("online", "unknown") or st.instrument_status not in (
            "online",
            "post_only",
            "limit_only",
            "reduce_only",
        )
        if halted:
            new = MarketHealth.HALTED
        elif st.last_update_at is not None and now - st.last_update_at > self.stale_after_s:
            new = MarketHealth.STALE
        else:
            new = MarketHealth.ACTIVE
        if new is not st.health:
            st.health = new
            st.version += 1

    def check_health(self, now: float) -> None:
        """Mark symbols stale when nothing arrived for ``stale_after_s``."""
        for st in self.state.symbols.values():
            self._update_health(st, now)
