"""Typed, immutable events decoded from Kraken WebSocket v2 frames.

Every frame the exchange sends becomes one or more of these (see ``codec.py``).
Book and level3 quantities stay exact integers (``units / 10**scale``) because
they feed the checksum on the hot path; every other number is a ``Decimal``.
No field is ever a binary float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import msgspec

from havterm.engine.fixed import format_units, to_decimal


class Level(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One L2 price level as exact fixed-point numbers.

    ``price == price_units / 10**price_scale``; the scale is the number of
    decimals the exchange wrote, which may be fewer than the pair's precision
    when a recording went through a float (``4.0`` for ``4.00000000``).
    """

    price_units: int
    price_scale: int
    qty_units: int
    qty_scale: int

    @property
    def price(self) -> Decimal:
        """The exact price."""
        return to_decimal(self.price_units, self.price_scale)

    @property
    def qty(self) -> Decimal:
        """The exact quantity; zero deletes the level."""
        return to_decimal(self.qty_units, self.qty_scale)

    def __str__(self) -> str:
        p = format_units(self.price_units, self.price_scale)
        q = format_units(self.qty_units, self.qty_scale)
        return f"{q}@{p}"


class L3Order(msgspec.Struct, frozen=True, gc=False):
    """One order event on the level3 channel (``event`` is empty in snapshots)."""

    order_id: str
    price_units: int
    price_scale: int
    qty_units: int
    qty_scale: int
    event: Literal["", "add", "modify", "delete"] = ""
    timestamp: str | None = None

    @property
    def price(self) -> Decimal:
        """The exact limit price."""
        return to_decimal(self.price_units, self.price_scale)

    @property
    def qty(self) -> Decimal:
        """The exact remaining visible quantity."""
        return to_decimal(self.qty_units, self.qty_scale)


class DecodeError(msgspec.Struct, frozen=True):
    """A frame that could not be decoded; ``reason`` names what was wrong."""

    reason: str
    raw: str
    channel: str | None = None

    def one_line(self) -> str:
        """A single-line description for logs and the UI."""
        return f"bad frame ({self.reason}): {self.raw[:120]}"


class Status(msgspec.Struct, frozen=True):
    """The ``status`` channel: the trading engine's state, sent on connect and on change."""

    system: str
    api_version: str = "v2"
    connection_id: int = 0
    version: str = ""


class Heartbeat(msgspec.Struct, frozen=True):
    """The ``heartbeat`` channel: sent about once a second when nothing else flowed."""


class BookMessage(msgspec.Struct, frozen=True, gc=False):
    """One symbol's entry of a ``book`` snapshot or update."""

    symbol: str
    snapshot: bool
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    checksum: int
    timestamp: str | None = None


class Level3Message(msgspec.Struct, frozen=True):
    """One symbol's entry of a ``level3`` snapshot or update."""

    symbol: str
    snapshot: bool
    bids: tuple[L3Order, ...]
    asks: tuple[L3Order, ...]
    checksum: int
    timestamp: str | None = None


class TickerData(msgspec.Struct, frozen=True):
    """Level-1 data for one symbol (the ``ticker`` channel)."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal
    volume: Decimal
    vwap: Decimal
    low: Decimal
    high: Decimal
    change: Decimal
    change_pct: Decimal
    timestamp: str | None = None


class TickerMessage(msgspec.Struct, frozen=True):
    """A ``ticker`` snapshot or update."""

    snapshot: bool
    tickers: tuple[TickerData, ...]


class Trade(msgspec.Struct, frozen=True):
    """One public trade; ``side`` is the taker's side."""

    symbol: str
    side: Literal["buy", "sell"]
    price: Decimal
    qty: Decimal
    ord_type: str
    trade_id: int
    timestamp: str


class TradeMessage(msgspec.Struct, frozen=True):
    """A ``trade`` snapshot (the last 50) or update (one or more trades)."""

    snapshot: bool
    trades: tuple[Trade, ...]


class Candle(msgspec.Struct, frozen=True):
    """One OHLC candle; ``interval_begin`` is its start, ``interval`` in minutes."""

    symbol: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    trades: int
    volume: Decimal
    vwap: Decimal
    interval_begin: str
    interval: int
    timestamp: str | None = None


class OhlcMessage(msgspec.Struct, frozen=True):
    """An ``ohlc`` snapshot or update."""

    snapshot: bool
    candles: tuple[Candle, ...]
    timestamp: str | None = None


class AssetInfo(msgspec.Struct, frozen=True):
    """One asset from the ``instrument`` channel."""

    id: str
    status: str
    precision: int
    precision_display: int
    borrowable: bool = False
    collateral_value: Decimal | None = None
    margin_rate: Decimal | None = None
    multiplier: Decimal | None = None


class PairInfo(msgspec.Struct, frozen=True):
    """One pair from the ``instrument`` channel; the precisions drive the checksum."""

    symbol: str
    base: str
    quote: str
    status: str
    price_precision: int
    qty_precision: int
    price_increment: Decimal | None = None
    qty_increment: Decimal | None = None
    qty_min: Decimal | None = None
    cost_min: Decimal | None = None
    cost_precision: int | None = None
    marginable: bool = False
    has_index: bool = False
    tick_size: Decimal | None = None


class InstrumentMessage(msgspec.Struct, frozen=True):
    """An ``instrument`` snapshot (everything) or update (only what changed)."""

    snapshot: bool
    assets: tuple[AssetInfo, ...]
    pairs: tuple[PairInfo, ...]


class Fee(msgspec.Struct, frozen=True):
    """A fee charged on a fill."""

    asset: str
    qty: Decimal


class ExecutionReport(msgspec.Struct, frozen=True):
    """One report on the private ``executions`` channel.

    Updates are sparse (a ``new`` report carries only ids and status), so
    every field but ``order_id`` is optional and order state must be merged
    on the client (PROTOCOL.md §8.13).
    """

    order_id: str
    exec_type: str | None = None  # present on the wire; optional so a snapshot row without it decodes
    order_status: str | None = None
    cl_ord_id: str | None = None
    order_userref: int | None = None
    exec_id: str | None = None
    trade_id: int | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    time_in_force: str | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    cum_qty: Decimal | None = None
    cum_cost: Decimal | None = None
    avg_price: Decimal | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    cost: Decimal | None = None
    liquidity_ind: str | None = None
    fees: tuple[Fee, ...] | None = None
    fee_usd_equiv: Decimal | None = None
    reason: str | None = None
    amended: bool | None = None
    timestamp: str | None = None


class ExecutionsMessage(msgspec.Struct, frozen=True):
    """An ``executions`` snapshot or update; ``sequence`` rises by one per message."""

    snapshot: bool
    sequence: int | None
    reports: tuple[ExecutionReport, ...]


class Wallet(msgspec.Struct, frozen=True):
    """One wallet of an asset in a ``balances`` snapshot."""

    type: str
    id: str
    balance: Decimal


class BalanceEntry(msgspec.Struct, frozen=True):
    """One ``balances`` item: a snapshot balance, or a ledger entry in an update."""

    asset: str
    balance: Decimal
    asset_class: str | None = None
    wallets: tuple[Wallet, ...] = ()
    ledger_id: str | None = None
    ref_id: str | None = None
    type: str | None = None
    category: str | None = None
    amount: Decimal | None = None
    fee: Decimal | None = None
    wallet_type: str | None = None
    wallet_id: str | None = None
    timestamp: str | None = None


class BalancesMessage(msgspec.Struct, frozen=True):
    """A ``balances`` snapshot or update."""

    snapshot: bool
    sequence: int | None
    entries: tuple[BalanceEntry, ...]


class MethodResponse(msgspec.Struct, frozen=True):
    """The answer to a request: subscribe, unsubscribe, ping and every trading method.

    ``result`` is the decoded ``result`` object (numbers as ``Decimal``), or a
    list for ``batch_add``; ``error`` is set when ``success`` is false. Failure
    acks may name a ``symbol`` or ``channel`` at the top level.
    """

    method: str
    success: bool
    req_id: int | None = None
    result: Any = None
    error: str | None = None
    time_in: str | None = None
    time_out: str | None = None
    symbol: str | None = None
    channel: str | None = None

    @property
    def result_channel(self) -> str | None:
        """The channel a subscribe/unsubscribe ack talks about, if any."""
        if isinstance(self.result, dict):
            ch = self.result.get("channel")
            return ch if isinstance(ch, str) else None
        return self.channel

    @property
    def result_symbol(self) -> str | None:
        """The symbol a subscribe/unsubscribe ack talks about, if any."""
        if isinstance(self.result, dict):
            sym = self.result.get("symbol")
            return sym if isinstance(sym, str) else None
        return self.symbol


Event = (
    DecodeError
    | Status
    | Heartbeat
    | BookMessage
    | Level3Message
    | TickerMessage
    | TradeMessage
    | OhlcMessage
    | InstrumentMessage
    | ExecutionsMessage
    | BalancesMessage
    | MethodResponse
)
"""Everything ``codec.decode`` can return."""
