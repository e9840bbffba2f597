"""Kraken Futures WebSocket v1: typed events, the signed challenge, and a sequence-checked book.

Futures books carry no checksum; integrity rests on ``seq``: every message of
a subscription carries the next number, so a gap means a message was lost
and the book must be rebuilt from a new snapshot (PROTOCOL.md §7). Numbers can
arrive in exponent notation (``5.494e-6``); they are read as exact Decimals.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import sys
import time
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
from sortedcontainers import SortedDict

from havterm.engine.book import L2Book
from havterm.engine.events import BookMessage, Level
from havterm.engine.fixed import decimal_to_units
from havterm.engine.integrity import BookState

FUTURES_WS = "wss://futures.kraken.com/ws/v1"
FUTURES_PREFIXES = ("PF_", "PI_", "FI_", "FF_", "PV_")
"""Kraken Futures product ids start with their kind: perpetual linear/inverse, fixed-maturity, ..."""


FUTURES_ID_RE = re.compile(r"^(?:PF|PI|FI|FF|PV)_[A-Z0-9]{2,24}(?:_[A-Z0-9]{1,12})?$")
"""A well-formed product id (``PF_XBTUSD``, ``FI_XBTUSD_260925``); whether it exists, only Kraken knows."""


def is_futures_symbol(symbol: str) -> bool:
    """Kraken Futures product ids look like ``PF_XBTUSD``; Spot v2 symbols like ``BTC/USD``."""
    return symbol.upper().startswith(FUTURES_PREFIXES)


def ms_to_rfc3339(ms: int) -> str:
    """Epoch milliseconds (Futures' times) as the RFC 3339 text Spot v2 uses (``...T12:00:00.123Z``)."""
    secs, milli = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{milli:03d}Z"


def sign_challenge(challenge: str, secret_b64: str) -> str:
    """``base64(HMAC-SHA512(base64decode(secret), SHA256(challenge)))`` (PROTOCOL.md §7.7)."""
    digest = hashlib.sha256(challenge.encode("utf-8")).digest()
    key = base64.b64decode(secret_b64)
    return base64.b64encode(hmac.new(key, digest, hashlib.sha512).digest()).decode("ascii")


# ---------------------------------------------------------------------------- events


class FuturesTicker(msgspec.Struct, frozen=True):
    """The ``ticker`` feed: prices, funding and open interest of one product."""

    product_id: str
    time: int
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    index: Decimal | None = None
    markPrice: Decimal | None = None
    openInterest: Decimal | None = None
    funding_rate: Decimal | None = None
    funding_rate_prediction: Decimal | None = None
    relative_funding_rate: Decimal | None = None
    next_funding_rate_time: int | None = None
    volume: Decimal | None = None
    change: Decimal | None = None
    tag: str | None = None
    suspended: bool = False

    @property
    def basis(self) -> Decimal | None:
        """Mark price minus index."""
        if self.markPrice is None or self.index is None:
            return None
        return self.markPrice - self.index

    @property
    def relative_funding(self) -> Decimal | None:
        """The funding rate as a fraction of the price per funding period (hourly on Kraken).

        Kraken leaves the field out when it is zero, so a perpetual without it
        pays no funding; a product that is not a perpetual has none (None).
        ``funding_rate`` itself is absolute (quote currency per contract) and
        not comparable across products, so rules and the grid use this one.
        """
        if self.relative_funding_rate is not None:
            return self.relative_funding_rate
        return Decimal(0) if self.tag == "perpetual" else None


class FuturesLevel(msgspec.Struct, frozen=True, array_like=False):
    """One level of a Futures book snapshot."""

    price: Decimal
    qty: Decimal


class FuturesBookSnapshot(msgspec.Struct, frozen=True):
    """``book_snapshot``: the whole book and the sequence number it starts from."""

    product_id: str
    seq: int
    bids: tuple[FuturesLevel, ...]
    asks: tuple[FuturesLevel, ...]
    timestamp: int | None = None


class FuturesBookDelta(msgspec.Struct, frozen=True):
    """``book``: one level changed; ``qty`` 0 removes it."""

    product_id: str
    seq: int
    side: str
    price: Decimal
    qty: Decimal
    timestamp: int | None = None


class FuturesTrade(msgspec.Struct, frozen=True):
    """One trade; ``side`` is the taker's."""

    product_id: str
    side: str
    price: Decimal
    qty: Decimal
    seq: int | None = None
    time: int | None = None
    type: str | None = None
    uid: str | None = None


class FuturesEvent(msgspec.Struct, frozen=True):
    """A control message: info, subscribed, unsubscribed, challenge, error, alert, heartbeat."""

    event: str
    feed: str | None = None
    product_ids: tuple[str, ...] = ()
    message: str | None = None
    version: int | None = None


class FuturesDecodeError(msgspec.Struct, frozen=True):
    """A frame that is not a Futures message we understand; never raised."""

    reason: str
    raw: str


FuturesMessage = (
    FuturesTicker | FuturesBookSnapshot | FuturesBookDelta | FuturesTrade | FuturesEvent | FuturesDecodeError
)

_any = msgspec.json.Decoder(float_hook=Decimal)


def decode_futures(frame: str | bytes) -> list[FuturesMessage]:
    """Decode one Futures v1 frame; bad input becomes a ``FuturesDecodeError``."""
    excerpt = frame[:200] if isinstance(frame, str) else frame[:200].decode("utf-8", "replace")
    try:
        obj = _any.decode(frame)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return [FuturesDecodeError(f"invalid JSON: {exc}", excerpt)]
    if not isinstance(obj, dict):
        return [FuturesDecodeError("not an object", excerpt)]
    try:
        return _decode_obj(obj)
    except (msgspec.ValidationError, KeyError, TypeError, ValueError) as exc:
        return [FuturesDecodeError(str(exc), excerpt)]


def _decode_obj(obj: dict[str, Any]) -> list[FuturesMessage]:
    feed = obj.get("feed")
    if "event" in obj:
        if obj.get("feed") == "heartbeat" and obj["event"] not in ("subscribed", "unsubscribed"):
            return [FuturesEvent("heartbeat", "heartbeat")]
        return [msgspec.convert(obj, FuturesEvent, strict=False)]
    if feed == "ticker" or feed == "ticker_lite":
        return [msgspec.convert(obj, FuturesTicker, strict=False)]
    if feed == "book_snapshot":
        snap = msgspec.convert(obj, FuturesBookSnapshot, strict=False)
        for lv in (*snap.bids, *snap.asks):
            if lv.qty < 0 or lv.price <= 0:
                raise ValueError("negative quantity or non-positive price in book_snapshot")
        return [snap]
    if feed == "book":
        delta = msgspec.convert(obj, FuturesBookDelta, strict=False)
        if delta.qty < 0 or delta.side not in ("buy", "sell"):
            raise ValueError("book delta with a negative quantity or an unknown side")
        return [delta]
    if feed == "trade":
        return [msgspec.convert(obj, FuturesTrade, strict=False)]
    if feed == "trade_snapshot":
        return [
            msgspec.convert(
                {**t, "product_id": obj.get("product_id", t.get("product_id"))}, FuturesTrade, strict=False
            )
            for t in obj.get("trades", [])
        ]
    if feed == "heartbeat":
        return [FuturesEvent("heartbeat", "heartbeat")]
    raise ValueError(f"unknown feed {feed!r}")


def subscribe_futures(feed: str, product_ids: list[str] | None = None, **extra: str) -> str:
    """Encode a Futures subscribe request."""
    msg: dict[str, Any] = {"event": "subscribe", "feed": feed}
    if product_ids:
        msg["product_ids"] = product_ids
    msg.update(extra)
    return msgspec.json.encode(msg).decode()


def unsubscribe_futures(feed: str, product_ids: list[str] | None = None) -> str:
    """Encode a Futures unsubscribe request."""
    msg: dict[str, Any] = {"event": "unsubscribe", "feed": feed}
    if product_ids:
        msg["product_ids"] = product_ids
    return msgspec.json.encode(msg).decode()


# ---------------------------------------------------------------------------- book


@dataclass(frozen=True, slots=True)
class ProductRejected:
    """The exchange refused a product (an unknown id): it is not subscribed again."""

    product_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """A Futures book missed messages: resnapshot it."""

    product_id: str
    expected: int
    got: int


class FuturesBook:
    """One product's book, kept in order by ``seq``; a gap moves it to RESYNCING.

    Prices and quantities stay exact Decimals, keyed as they arrive. Screens
    and alerts read ``FuturesL2Book``, the same book in integer ticks and lots.
    """

    def __init__(self, product_id: str) -> None:
        self.product_id = product_id
        self.bids: SortedDict = SortedDict()  # key: -price
        self.asks: SortedDict = SortedDict()
        self.seq: int | None = None
        self.state = BookState.AWAITING_SNAPSHOT
        self.gaps = 0
        self.version = 0

    def apply_snapshot(self, snap: FuturesBookSnapshot) -> None:
        """Replace the book."""
        self.bids.clear()
        self.asks.clear()
        for lv in snap.bids:
            if lv.qty:
                self.bids[-lv.price] = lv.qty
        for lv in snap.asks:
            if lv.qty:
                self.asks[lv.price] = lv.qty
        self.seq = snap.seq
        self.state = BookState.SYNCED
        self.version += 1

    def apply_delta(self, delta: FuturesBookDelta) -> SequenceGap | None:
        """Apply one delta in sequence; a gap (or a delta before any snapshot) returns a ``SequenceGap``."""
        if self.state is not BookState.SYNCED or self.seq is None:
            return None
        if delta.seq <= self.seq:
            return None  # a duplicate: already applied
        if delta.seq != self.seq + 1:
            gap = SequenceGap(self.product_id, self.seq + 1, delta.seq)
            self.state = BookState.RESYNCING
            self.gaps += 1
            self.version += 1
            return gap
        self.seq = delta.seq
        side, key = (self.bids, -delta.price) if delta.side == "buy" else (self.asks, delta.price)
        if delta.qty == 0:
            side.pop(key, None)
        else:
            side[key] = delta.qty
        self.version += 1
        return None

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        """Best bid ``(price, qty)``."""
        if not self.bids:
            return None
        k, q = self.bids.peekitem(0)
        return -k, q

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        """Best ask ``(price, qty)``."""
        if not self.asks:
            return None
        k, q = self.asks.peekitem(0)
        return k, q

    def levels(self, side: str, n: int) -> list[tuple[Decimal, Decimal]]:
        """Best-first levels of one side ("buy" or "sell")."""
        if side == "buy":
            return [(-k, self.bids[k]) for k in self.bids.islice(0, n)]
        return [(k, self.asks[k]) for k in self.asks.islice(0, n)]


# ---------------------------------------------------------------------------- the L2 form

UNBOUNDED_DEPTH = sys.maxsize
"""Futures books have no subscribed depth: nothing is ever truncated."""


def _level(price: Decimal, qty: Decimal) -> Level:
    pu, ps = decimal_to_units(price)
    qu, qs = decimal_to_units(qty)
    return Level(pu, ps, qu, qs)


class FuturesL2Book(L2Book):
    """A Futures book in ``L2Book``'s exact integer form, so every screen and alert reads it unchanged.

    It mirrors what a ``FuturesBook`` accepted (the session's book decides
    sequencing, gaps and resnapshots); there is no checksum to verify. The
    precision is the most decimals seen on the wire and only ever widens
    (Futures sends no instrument precision), with the book rescaled exactly.
    """

    __slots__ = ("seq",)

    def __init__(self, product_id: str) -> None:
        super().__init__(product_id, 1000)
        self.depth = UNBOUNDED_DEPTH
        self.seq: int | None = None

    def load(self, snap: FuturesBookSnapshot) -> None:
        """Replace the book with a snapshot (a journal, if on, records the snapshot, not its levels)."""
        journal = self.journal
        if journal is not None:
            journal.append(BookMessage(self.symbol, True, (), (), 0))
            self.journal = None
        try:
            self._load(snap)
        finally:
            self.journal = journal

    def _load(self, snap: FuturesBookSnapshot) -> None:
        bids = tuple(_level(lv.price, lv.qty) for lv in snap.bids if lv.qty)
        asks = tuple(_level(lv.price, lv.qty) for lv in snap.asks if lv.qty)
        self._asks.clear()
        self._bids.clear()
        self._widen_for(bids)
        self._widen_for(asks)
        self._apply_side(self._bids, bids)
        self._apply_side(self._asks, asks)
        self._settle(snap.seq, snap.timestamp)

    def set_level(self, delta: FuturesBookDelta) -> None:
        """Apply one level change (``qty`` 0 removes the level)."""
        lv = (_level(delta.price, delta.qty),)
        self._widen_for(lv)
        self._apply_side(self._bids if delta.side == "buy" else self._asks, lv)
        self._settle(delta.seq, delta.timestamp)

    def _settle(self, seq: int, timestamp: int | None) -> None:
        # Keep the top-10 text current so that ``_check()`` holds for this book as for any L2Book.
        self._asks.refresh_text()
        self._asks.crc = zlib.crc32(self._asks.text)
        self._bids.refresh_text()
        self.state = BookState.SYNCED
        self.seq = seq
        self.messages += 1
        if timestamp is not None:
            self.timestamp = ms_to_rfc3339(timestamp)
        self.version += 1
