"""Sans-I/O Kraken WebSocket v2 codec: frames to typed events, requests to frames.

``decode`` never raises on input from the exchange. Invalid JSON, a missing
field, a wrong type, an unknown channel or a negative quantity each become a
``DecodeError`` event that names the problem, and the caller's loop goes on.
Prices and quantities are read from their exact wire text (``msgspec.Raw``),
so no binary float ever sees them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from havterm.engine.events import (
    AssetInfo,
    BalanceEntry,
    BalancesMessage,
    BookMessage,
    Candle,
    DecodeError,
    Event,
    ExecutionReport,
    ExecutionsMessage,
    Heartbeat,
    InstrumentMessage,
    L3Order,
    Level,
    Level3Message,
    MethodResponse,
    OhlcMessage,
    PairInfo,
    Status,
    TickerData,
    TickerMessage,
    Trade,
    TradeMessage,
)
from havterm.engine.fixed import parse_decimal_text

RAW_EXCERPT = 200
"""How much of a bad frame an error event keeps (enough to recognise it)."""


class _Envelope(msgspec.Struct):
    """The top level of any v2 frame; ``data``/``result`` are decoded per channel."""

    channel: str | None = None
    type: str | None = None
    data: msgspec.Raw = msgspec.Raw()
    method: str | None = None
    success: bool | None = None
    req_id: int | None = None
    result: msgspec.Raw = msgspec.Raw()
    error: str | None = None
    time_in: str | None = None
    time_out: str | None = None
    symbol: str | None = None
    timestamp: str | None = None
    sequence: int | None = None
    # v1-shaped errors such as {"event":"error","errorMessage":"Exceeded msg rate"}
    event: str | None = None
    errorMessage: str | None = None


class _RawLevel(msgspec.Struct, gc=False):
    price: msgspec.Raw
    qty: msgspec.Raw


class _RawBook(msgspec.Struct, gc=False):
    symbol: str
    checksum: int
    bids: list[_RawLevel] = []
    asks: list[_RawLevel] = []
    timestamp: str | None = None


class _RawL3Order(msgspec.Struct, gc=False):
    order_id: str
    limit_price: msgspec.Raw
    order_qty: msgspec.Raw
    event: str = ""
    timestamp: str | None = None


class _RawL3(msgspec.Struct):
    symbol: str
    checksum: int
    bids: list[_RawL3Order] = []
    asks: list[_RawL3Order] = []
    timestamp: str | None = None


class _StatusData(msgspec.Struct):
    system: str
    api_version: str = "v2"
    connection_id: int = 0
    version: str = ""


class _InstrumentData(msgspec.Struct):
    assets: list[AssetInfo] = []
    pairs: list[PairInfo] = []


class FrameError(ValueError):
    """Internal: a frame is well-formed JSON but not a valid Kraken message."""


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_book_decoder = msgspec.json.Decoder(list[_RawBook])
_l3_decoder = msgspec.json.Decoder(list[_RawL3])
_status_decoder = msgspec.json.Decoder(list[_StatusData])
_ticker_decoder = msgspec.json.Decoder(list[TickerData])
_trade_decoder = msgspec.json.Decoder(list[Trade])
_ohlc_decoder = msgspec.json.Decoder(list[Candle])
_instrument_decoder = msgspec.json.Decoder(_InstrumentData)
_executions_decoder = msgspec.json.Decoder(list[ExecutionReport])
_balances_decoder = msgspec.json.Decoder(list[BalanceEntry])
_any_decoder = msgspec.json.Decoder(float_hook=Decimal)


def _number(raw: msgspec.Raw, what: str) -> tuple[int, int]:
    """Exact ``(units, scale)`` from a raw JSON number (or numeric string) token.

    The common case, a plain decimal such as ``63381.0``, costs one partition
    and one ``int``; exponents and quoted numbers take the slow path.
    """
    b = bytes(raw)
    whole, _, frac = b.partition(b".")
    try:
        if frac:
            return int(whole + frac), len(frac)
        return int(whole), 0
    except ValueError:
        pass
    text = b.decode("utf-8", "replace")
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        text = text[1:-1]  # the docs' "json string decoder" examples quote numbers
    try:
        return parse_decimal_text(text)
    except ValueError:
        raise FrameError(f"{what} is not a number: {text[:40]}") from None


def _levels(raw_levels: list[_RawLevel], side: str) -> tuple[Level, ...]:
    out = []
    for lv in raw_levels:
        pu, ps = _number(lv.price, f"{side} price")
        qu, qs = _number(lv.qty, f"{side} qty")
        if pu <= 0:
            raise FrameError(f"{side} price must be positive")
        if qu < 0:
            raise FrameError(f"{side} qty is negative")
        out.append(Level(pu, ps, qu, qs))
    return tuple(out)


def _l3_orders(raw_orders: list[_RawL3Order], side: str) -> tuple[L3Order, ...]:
    out = []
    for o in raw_orders:
        pu, ps = _number(o.limit_price, f"{side} limit_price")
        qu, qs = _number(o.order_qty, f"{side} order_qty")
        if pu <= 0:
            raise FrameError(f"{side} limit_price must be positive")
        if qu < 0:
            raise FrameError(f"{side} order_qty is negative")
        if o.event not in ("", "add", "modify", "delete"):
            raise FrameError(f"unknown level3 event {o.event!r}")
        out.append(L3Order(o.order_id, pu, ps, qu, qs, o.event, o.timestamp))  # type: ignore[arg-type]
    return tuple(out)


def _is_snapshot(env: _Envelope) -> bool:
    if env.type == "snapshot":
        return True
    if env.type == "update":
        return False
    raise FrameError(f"type must be 'snapshot' or 'update', got {env.type!r}")


def _non_negative(value: Decimal | None, what: str) -> None:
    if value is not None and value < 0:
        raise FrameError(f"{what} is negative")


def _decode_channel(env: _Envelope, channel: str) -> list[Event]:
    if channel == "heartbeat":
        return [Heartbeat()]
    data = env.data
    if not data or bytes(data) == b"null":
        raise FrameError(f"{channel} message has no data")
    if channel in ("book", "level3"):
        snap = _is_snapshot(env)
        if channel == "book":
            return [
                BookMessage(
                    b.symbol, snap, _levels(b.bids, "bid"), _levels(b.asks, "ask"), b.checksum, b.timestamp
                )
                for b in _book_decoder.decode(data)
            ]
        return [
            Level3Message(
                b.symbol, snap, _l3_orders(b.bids, "bid"), _l3_orders(b.asks, "ask"), b.checksum, b.timestamp
            )
            for b in _l3_decoder.decode(data)
        ]
    if channel == "status":
        return [
            Status(s.system, s.api_version, s.connection_id, s.version) for s in _status_decoder.decode(data)
        ]
    if channel == "ticker":
        tickers = _ticker_decoder.decode(data)
        for t in tickers:
            _non_negative(t.bid_qty, "bid_qty")
            _non_negative(t.ask_qty, "ask_qty")
        return [TickerMessage(_is_snapshot(env), tuple(tickers))]
    if channel == "trade":
        trades = _trade_decoder.decode(data)
        for tr in trades:
            _non_negative(tr.qty, "trade qty")
        return [TradeMessage(_is_snapshot(env), tuple(trades))]
    if channel == "ohlc":
        return [OhlcMessage(_is_snapshot(env), tuple(_ohlc_decoder.decode(data)), env.timestamp)]
    if channel == "instrument":
        inst = _instrument_decoder.decode(data)
        return [InstrumentMessage(_is_snapshot(env), tuple(inst.assets), tuple(inst.pairs))]
    if channel == "executions":
        reports = _executions_decoder.decode(data)
        for r in reports:
            _non_negative(r.order_qty, "order_qty")
            _non_negative(r.last_qty, "last_qty")
        return [ExecutionsMessage(_is_snapshot(env), env.sequence, tuple(reports))]
    if channel == "balances":
        return [BalancesMessage(_is_snapshot(env), env.sequence, tuple(_balances_decoder.decode(data)))]
    raise FrameError(f"unknown channel {channel!r}")


def _decode_method(env: _Envelope, method: str) -> MethodResponse:
    result = _any_decoder.decode(env.result) if env.result else None
    success = env.success if env.success is not None else env.error is None
    return MethodResponse(
        method,
        success,
        env.req_id,
        result,
        env.error,
        env.time_in,
        env.time_out,
        env.symbol,
        env.channel,
    )


def _excerpt(frame: str | bytes) -> str:
    if isinstance(frame, bytes | bytearray | memoryview):
        return bytes(frame[:RAW_EXCERPT]).decode("utf-8", "replace")
    return frame[:RAW_EXCERPT]


# ------------------------------------------------------------------ the book fast path
#
# Book updates are most of what arrives, so they get a path of their own. One
# untyped msgspec pass with ``float_hook=str`` hands every JSON number over as
# its exact text; prices (and many quantities) repeat, so the text is parsed
# to ``(units, scale)`` once and looked up after that. Anything unexpected
# abandons the fast path and the typed path below decodes the frame again and
# names the problem precisely.

_fast_decoder = msgspec.json.Decoder(float_hook=str)
_TOKENS: dict[str, tuple[int, int]] = {}
_TOKEN_CACHE_LIMIT = 100_000


class _Fallback(Exception):
    """Internal: leave the fast path; the typed path will explain."""


def _token(tok: object) -> tuple[int, int]:
    if type(tok) is str:
        hit = _TOKENS.get(tok)
        if hit is not None:
            return hit
        whole, _, frac = tok.partition(".")
        if not (tok.isascii() and whole.lstrip("-").isdigit() and (not frac or frac.isdigit())):
            raise _Fallback
        parsed = (int(whole + frac), len(frac)) if frac else (int(whole), 0)
        if len(_TOKENS) >= _TOKEN_CACHE_LIMIT:
            _TOKENS.clear()
        _TOKENS[tok] = parsed
        return parsed
    if type(tok) is int:
        return tok, 0
    raise _Fallback


def _qty_token(tok: object) -> tuple[int, int]:
    # Quantities rarely repeat (apart from zero), so they are parsed, not cached.
    if type(tok) is str:
        whole, _, frac = tok.partition(".")
        if frac:
            if whole.isdigit() and frac.isdigit() and tok.isascii():
                return int(whole + frac), len(frac)
        elif whole.isdigit() and tok.isascii():
            return int(whole), 0
        raise _Fallback
    if type(tok) is int:
        return tok, 0
    raise _Fallback


def _fast_levels(levels: object) -> tuple[Level, ...]:
    # The common cases (a cached price text, a plain decimal quantity) are inlined here
    # rather than calling _token/_qty_token: two Python calls per level are a fifth of
    # the cost of a whole book update. Anything unusual goes through the helpers.
    if type(levels) is not list:
        raise _Fallback
    out = []
    tokens = _TOKENS
    for lv in levels:
        if type(lv) is not dict:
            raise _Fallback
        price = lv["price"]
        hit = tokens.get(price) if type(price) is str else None
        pu, ps = hit if hit is not None else _token(price)
        qty = lv["qty"]
        if type(qty) is str:
            whole, _, frac = qty.partition(".")
            if frac and whole.isdigit() and frac.isdigit() and qty.isascii():
                qu, qs = int(whole + frac), len(frac)
            else:
                qu, qs = _qty_token(qty)
        else:
            qu, qs = _qty_token(qty)
        if pu <= 0 or qu < 0:
            raise _Fallback
        out.append(Level(pu, ps, qu, qs))
    return tuple(out)


def _fast_book(obj: dict[str, Any]) -> list[Event]:
    typ = obj.get("type")
    if typ == "update":
        snap = False
    elif typ == "snapshot":
        snap = True
    else:
        raise _Fallback
    data = obj.get("data")
    if type(data) is not list:
        raise _Fallback
    out: list[Event] = []
    for d in data:
        symbol = d["symbol"]
        checksum = d["checksum"]
        ts = d.get("timestamp")
        if type(symbol) is not str or type(checksum) is not int or (ts is not None and type(ts) is not str):
            raise _Fallback
        out.append(
            BookMessage(
                symbol,
                snap,
                _fast_levels(d.get("bids", [])),
                _fast_levels(d.get("asks", [])),
                checksum,
                ts,
            )
        )
    return out


def decode(frame: str | bytes) -> list[Event]:
    """Decode one frame into its events; never raises.

    A ``book`` or ``level3`` frame gives one event per symbol in ``data``;
    every other frame gives exactly one event.
    """
    try:
        obj = _fast_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        return [DecodeError(f"invalid JSON: {exc}", _excerpt(frame))]
    except (RecursionError, UnicodeDecodeError) as exc:
        return [DecodeError(f"invalid JSON: {type(exc).__name__}", _excerpt(frame))]
    if type(obj) is dict and obj.get("channel") == "book":
        try:
            return _fast_book(obj)
        except (_Fallback, KeyError, TypeError, AttributeError):
            pass
    return _decode_typed(frame)


def _decode_typed(frame: str | bytes) -> list[Event]:
    """The exact, typed decoder: every field checked, every problem named."""
    channel: str | None = None
    try:
        env = _envelope_decoder.decode(frame)
        channel = env.channel
        if channel is not None:
            return _decode_channel(env, channel)
        if env.method is not None:
            return [_decode_method(env, env.method)]
        if env.event == "error" or env.errorMessage is not None:
            return [MethodResponse("error", False, env.req_id, None, env.errorMessage)]
        return [DecodeError("neither 'channel' nor 'method' in frame", _excerpt(frame))]
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
        where = f"{channel}: " if channel else ""
        return [DecodeError(f"{where}{exc}", _excerpt(frame), channel)]
    except msgspec.DecodeError as exc:
        return [DecodeError(f"invalid JSON: {exc}", _excerpt(frame), channel)]
    except FrameError as exc:
        return [DecodeError(f"{channel}: {exc}" if channel else str(exc), _excerpt(frame), channel)]
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
        # Defence in depth: the decoders above should have turned everything
        # into FrameError or ValidationError, but a bad frame must never kill
        # the caller's loop.
        return [DecodeError(f"undecodable: {type(exc).__name__}: {exc}", _excerpt(frame), channel)]


# --------------------------------------------------------------------------- encoding

_encoder = msgspec.json.Encoder()


def _jsonable(value: Any) -> Any:
    """Prepare a request value: ``Decimal`` becomes a plain JSON number token."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return msgspec.Raw(format(value, "f").encode("ascii"))
    if isinstance(value, float):
        raise TypeError("floats are not accepted for prices or quantities; pass a Decimal or str")
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def encode_request(method: str, params: Mapping[str, Any] | None = None, req_id: int | None = None) -> str:
    """Encode any v2 request as JSON text.

    ``None`` values in ``params`` are left out; ``Decimal`` values are written
    as exact JSON numbers; ``float`` is refused so that no price or quantity
    can lose digits on the way out.
    """
    msg: dict[str, Any] = {"method": method}
    if params is not None:
        msg["params"] = _jsonable(params)
    if req_id is not None:
        msg["req_id"] = req_id
    return _encoder.encode(msg).decode("utf-8")


BOOK_DEPTHS = (10, 25, 100, 500, 1000)
LEVEL3_DEPTHS = (10, 100, 1000)
OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
_SYMBOL_CHANNELS = ("book", "level3", "ticker", "trade", "ohlc")


def _subscription_params(
    channel: str,
    symbols: Sequence[str] | None,
    depth: int | None,
    interval: int | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    if channel in _SYMBOL_CHANNELS and not symbols:
        raise ValueError(f"{channel} needs at least one symbol")
    if isinstance(symbols, str):
        raise TypeError("symbols must be a list of strings, not one string")
    if depth is not None:
        allowed = LEVEL3_DEPTHS if channel == "level3" else BOOK_DEPTHS
        if channel not in ("book", "level3") or depth not in allowed:
            raise ValueError(f"depth {depth} is not valid for {channel} (allowed: {allowed})")
    if interval is not None and (channel != "ohlc" or interval not in OHLC_INTERVALS):
        raise ValueError(f"interval {interval} is not valid for {channel}")
    params: dict[str, Any] = {"channel": channel}
    if symbols:
        params["symbol"] = list(symbols)
    if depth is not None:
        params["depth"] = depth
    if interval is not None:
        params["interval"] = interval
    params.update(extra)
    return params


def subscribe(
    channel: str,
    symbols: Sequence[str] | None = None,
    *,
    req_id: int | None = None,
    depth: int | None = None,
    interval: int | None = None,
    **extra: Any,
) -> str:
    """Encode a subscribe request; raises ``ValueError`` for a request Kraken would refuse."""
    return encode_request("subscribe", _subscription_params(channel, symbols, depth, interval, extra), req_id)


def unsubscribe(
    channel: str,
    symbols: Sequence[str] | None = None,
    *,
    req_id: int | None = None,
    depth: int | None = None,
    interval: int | None = None,
    **extra: Any,
) -> str:
    """Encode an unsubscribe; it must repeat ``depth``/``interval`` of the subscription."""
    return encode_request(
        "unsubscribe", _subscription_params(channel, symbols, depth, interval, extra), req_id
    )


def ping(req_id: int | None = None) -> str:
    """Encode an application-level ping (no params, as Kraken requires)."""
    return encode_request("ping", None, req_id)


TRADING_METHODS = (
    "add_order",
    "amend_order",
    "edit_order",
    "cancel_order",
    "cancel_all",
    "cancel_all_orders_after",
    "batch_add",
    "batch_cancel",
)


def trading_request(
    method: str, token: str, params: Mapping[str, Any] | None = None, req_id: int | None = None
) -> str:
    """Encode any trading method with its token.

    The per-method rules (``cl_ord_id`` formats, batch sizes and so on) live
    in the trading layer; this checks only what every request needs.
    """
    if method not in TRADING_METHODS:
        raise ValueError(f"unknown trading method {method!r}")
    if not token:
        raise ValueError(f"{method} needs a WebSocket token")
    full = dict(params or {})
    full["token"] = token
    return encode_request(method, full, req_id)
