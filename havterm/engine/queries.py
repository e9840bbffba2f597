"""What every client answers about its market state: synced books, best prices, spread and mid."""

from __future__ import annotations

from decimal import Decimal

from havterm.engine.book import L2Book
from havterm.engine.integrity import BookState
from havterm.engine.state import MarketState, SymbolState


class MarketQueries:
    """Read-only questions over ``self.state``; shared by the Spot client and the composite one."""

    state: MarketState

    def symbol_state(self, symbol: str) -> SymbolState | None:
        """Everything known about ``symbol``."""
        return self.state.symbols.get(symbol)

    def book(self, symbol: str) -> L2Book | None:
        """The book of ``symbol`` only while it is SYNCED (a ``FuturesL2Book`` for a Futures product)."""
        st = self.state.symbols.get(symbol)
        if st is None or st.book is None or st.book_state is not BookState.SYNCED:
            return None
        return st.book

    def best_bid(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """Best bid ``(price, qty)`` of a synced book."""
        book = self.book(symbol)
        bb = book.best_bid() if book else None
        return (book.price(bb[0]), book.qty(bb[1])) if book and bb else None

    def best_ask(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """Best ask ``(price, qty)`` of a synced book."""
        book = self.book(symbol)
        ba = book.best_ask() if book else None
        return (book.price(ba[0]), book.qty(ba[1])) if book and ba else None

    def spread(self, symbol: str) -> Decimal | None:
        """Best ask minus best bid of a synced book."""
        book = self.book(symbol)
        return book.spread() if book else None

    def mid(self, symbol: str) -> Decimal | None:
        """Mid price of a synced book."""
        book = self.book(symbol)
        return book.mid() if book else None

    def book_state(self, symbol: str) -> BookState | None:
        """SYNCED, RESYNCING, STALE, DISABLED or AWAITING_SNAPSHOT."""
        st = self.state.symbols.get(symbol)
        return st.book_state if st else None
