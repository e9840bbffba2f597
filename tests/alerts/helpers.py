"""Market states built by hand for the alert tests: exact books, trades and clocks."""

from __future__ import annotations

from decimal import Decimal

from havterm.engine.alerts import Rule
from havterm.engine.book import BookState, L2Book
from havterm.engine.checksum import l2_checksum
from havterm.engine.events import BookMessage, Level, Trade
from havterm.engine.fixed import from_decimal
from havterm.engine.state import MarketState, SymbolState

PP, QP = 1, 8

_trade_id = 0


def rule(kind: str, level: object = 1, symbol: str = "BTC/USD", **kw: object) -> Rule:
    """A rule with cooldown 0 unless given, so tests see hysteresis on its own."""
    kw.setdefault("cooldown_s", 0.0)
    return Rule(name=kw.pop("name", kind), symbol=symbol, kind=kind, level=Decimal(str(level)), **kw)  # type: ignore[arg-type]


def set_book(
    st: SymbolState,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
    depth: int = 25,
) -> None:
    """Give ``st`` a checksum-verified synced book with these (price, qty) levels, best first."""
    b = [(from_decimal(Decimal(p), PP), from_decimal(Decimal(q), QP)) for p, q in bids]
    a = [(from_decimal(Decimal(p), PP), from_decimal(Decimal(q), QP)) for p, q in asks]
    msg = BookMessage(
        symbol=st.symbol,
        snapshot=True,
        bids=tuple(Level(t, PP, q, QP) for t, q in b),
        asks=tuple(Level(t, PP, q, QP) for t, q in a),
        checksum=l2_checksum(a, b),
    )
    book = L2Book(st.symbol, depth, PP, QP)
    assert book.apply(msg), book.last_error
    st.book = book
    st.book_state = BookState.SYNCED


def quote(st: SymbolState, bid: str, ask: str, size: str = "1") -> None:
    """A one-level book: bid and ask at these prices."""
    set_book(st, [(bid, size)], [(ask, size)])


def add_trade(st: SymbolState, price: str, qty: str, side: str = "buy", now: float | None = None) -> Trade:
    """Append a trade to the tape (and make it the last price)."""
    global _trade_id
    _trade_id += 1
    tr = Trade(st.symbol, side, Decimal(price), Decimal(qty), "limit", _trade_id, "2026-11-23T12:00:00Z")  # type: ignore[arg-type]
    st.trades.append(tr)
    st.last_trade = tr
    if now is not None:
        st.touch(now)
    return tr


def market(*symbols: str) -> MarketState:
    """A state holding these symbols (empty books)."""
    m = MarketState()
    for s in symbols or ("BTC/USD",):
        m.symbol(s)
    return m
