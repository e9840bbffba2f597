"""Instrument definitions for the simulated exchange: Kraken's real precisions and names."""

from __future__ import annotations

from dataclasses import dataclass

from havterm.engine.fixed import POW10, from_decimal

DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD")


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable pair. Prices are integer ticks, quantities integer lots."""

    symbol: str
    base: str
    quote: str
    price_precision: int
    qty_precision: int
    start_price: int  # ticks
    qty_min: int  # lots
    cost_min: str  # quote currency, as Kraken prints it
    rest_name: str  # Kraken's REST key, e.g. XXBTZUSD
    altname: str  # e.g. XBTUSD
    wsname: str  # v1 websocket name, e.g. XBT/USD
    typical_qty: int  # lots: median synthetic order size

    @property
    def tick(self) -> int:
        """One price tick, in ticks (kept for readability at call sites)."""
        return 1

    def fmt_price_unit(self) -> str:
        """``price_increment`` as Kraken prints it (``0.1`` for 1 decimal)."""
        return "1" if self.price_precision == 0 else "0." + "0" * (self.price_precision - 1) + "1"

    def fmt_qty_increment(self) -> str:
        """``qty_increment``; Kraken uses exponent notation on the wire (``1e-08``)."""
        return f"1e-{self.qty_precision:02d}"


# Real Kraken precisions (PROTOCOL.md §3.1 and REST AssetPairs); start prices are
# round, plausible numbers. Kraken's REST names keep their legacy X/Z prefixes.
_KNOWN: dict[str, tuple[int, int, str, str, str, str, str, str]] = {
    # symbol: (pair_decimals, lot_decimals, start, qty_min, cost_min, rest, alt, wsname)
    "BTC/USD": (1, 8, "63000.0", "0.0001", "0.5", "XXBTZUSD", "XBTUSD", "XBT/USD"),
    "ETH/USD": (2, 8, "3100.00", "0.002", "0.5", "XETHZUSD", "ETHUSD", "ETH/USD"),
    "SOL/USD": (2, 8, "145.00", "0.02", "0.5", "SOLUSD", "SOLUSD", "SOL/USD"),
    "XRP/USD": (5, 8, "0.52000", "2", "0.5", "XXRPZUSD", "XRPUSD", "XRP/USD"),
    "DOGE/USD": (7, 8, "0.1200000", "30", "0.5", "XDGUSD", "XDGUSD", "XDG/USD"),
    "ADA/USD": (6, 8, "0.450000", "10", "0.5", "ADAUSD", "ADAUSD", "ADA/USD"),
    "LTC/USD": (2, 8, "72.00", "0.05", "0.5", "XLTCZUSD", "LTCUSD", "XLTC/ZUSD"),
    "DOT/USD": (4, 8, "5.5000", "0.6", "0.5", "DOTUSD", "DOTUSD", "DOT/USD"),
    "MATIC/USD": (4, 8, "0.5600", "4.5", "0.5", "MATICUSD", "MATICUSD", "MATIC/USD"),
    "EUR/USD": (5, 8, "1.08000", "1", "0.5", "ZEURZUSD", "EURUSD", "EUR/USD"),
    "ETH/BTC": (5, 8, "0.04900", "0.002", "0.00002", "XETHXXBT", "ETHXBT", "ETH/XBT"),
    "BTC/EUR": (1, 8, "58000.0", "0.0001", "0.5", "XXBTZEUR", "XBTEUR", "XBT/EUR"),
}


def make_instrument(symbol: str) -> Instrument:
    """Build an instrument for ``symbol`` (``BASE/QUOTE``), known or not.

    Unknown pairs get 4 price decimals, 8 quantity decimals and a start price
    of 1.0: sensible for a mid-cap altcoin. Raises ``ValueError`` on a name
    that is not ``BASE/QUOTE``.
    """
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote or "/" in quote or not symbol.isascii():
        raise ValueError(f"not a BASE/QUOTE symbol: {symbol!r}")
    pp, qp, start, qmin, cmin, rest, alt, ws = _KNOWN.get(
        symbol, (4, 8, "1.0000", "1", "0.5", base + quote, base + quote, symbol)
    )
    start_ticks = from_decimal(start, pp)
    qty_min = from_decimal(qmin, qp)
    # A typical order is worth about $2,000 (or 40 units of the quote): sizes
    # then look alike across pairs whatever the price.
    notional = POW10[pp] * 2000 if quote in ("USD", "EUR", "USDT", "USDC", "GBP") else POW10[pp] // 20
    typical = max(qty_min, notional * POW10[qp] // max(start_ticks, 1))
    return Instrument(
        symbol=symbol,
        base=base,
        quote=quote,
        price_precision=pp,
        qty_precision=qp,
        start_price=start_ticks,
        qty_min=qty_min,
        cost_min=cmin,
        rest_name=rest,
        altname=alt,
        wsname=ws,
        typical_qty=typical,
    )
