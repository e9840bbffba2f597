"""The WebSocket side: one handler per endpoint (public, auth, level3) speaking Kraken v2."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from havterm.engine.codec import TRADING_METHODS
from havterm.sim.feeds import BOOK_DEPTHS, L3_DEPTHS, OHLC_INTERVALS, Sub
from havterm.sim.session import Session
from havterm.sim.wire import dumps, method_error, method_ok, now_ns

if TYPE_CHECKING:
    from havterm.sim.exchange import Exchange

log = logging.getLogger("havterm.sim")

PUBLIC_CHANNELS = ("book", "ticker", "trade", "ohlc", "instrument")
PRIVATE_CHANNELS = ("executions", "balances")

CHANNEL_FIELDS: dict[str, frozenset[str]] = {
    "book": frozenset({"channel", "symbol", "depth", "snapshot"}),
    "ticker": frozenset({"channel", "symbol", "event_trigger", "snapshot"}),
    "trade": frozenset({"channel", "symbol", "snapshot"}),
    "ohlc": frozenset({"channel", "symbol", "interval", "snapshot"}),
    "instrument": frozenset({"channel", "snapshot", "include_tokenized_assets", "execution_venue"}),
    "level3": frozenset({"channel", "symbol", "depth", "snapshot", "token"}),
    "executions": frozenset(
        {
            "channel",
            "token",
            "snap_orders",
            "snap_trades",
            "order_status",
            "ratecounter",
            "users",
            "rebased",
            "snapshot",
            "snapshot_trades",
        }
    ),
    "balances": frozenset({"channel", "token", "snapshot", "users", "rebased"}),
}
SNAPSHOT_DEFAULT = {"trade": False}

WRONG_HOST_PRIVATE = "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
WRONG_HOST_PUBLIC = "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"
WRONG_HOST_L3 = "Level3 data is unavailable on this endpoint. Try ws-l3.kraken.com"


class BadRequest(Exception):
    """A request we refuse; ``args[0]`` is Kraken's error text."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Gateway:
    """Accepts connections for one endpoint kind and dispatches their requests."""

    def __init__(self, ex: Exchange, kind: str) -> None:
        self.ex = ex
        self.kind = kind

    async def handler(self, ws: ServerConnection) -> None:
        """The websockets connection handler."""
        ex = self.ex
        if ws.request is not None and ws.request.path.split("?")[0].rstrip("/") != "/v2":
            await ws.close(1008, "unknown path; use /v2")
            return
        s = ex.open_session(self.kind, ws)
        try:
            s.push(ex.status_frame(s.id), "ctl")
            async for text in ws:
                if isinstance(text, bytes):
                    text = text.decode("utf-8", "replace")
                self.on_text(s, text)
        except ConnectionClosed:
            pass
        finally:
            ex.close_session(s)

    # -- dispatch -------------------------------------------------------------

    def on_text(self, s: Session, text: str) -> None:
        """Handle one client frame (synchronously: the engine is single-threaded)."""
        time_in = now_ns()
        try:
            msg = json.loads(text, parse_float=Decimal)
        except ValueError:
            s.push(dumps({"error": "Malformed request", "success": False}), "ack")
            return
        if not isinstance(msg, dict):
            s.push(dumps({"error": "Malformed request", "success": False}), "ack")
            return
        method = msg.get("method")
        req_id = msg.get("req_id")
        m = method if isinstance(method, str) else ""
        if s.over_rate(asyncio.get_running_loop().time()):
            s.push(method_error(m, "Exceeded msg rate", req_id, time_in), "ack")
            return
        for k in msg:
            if k not in ("method", "params", "req_id"):
                s.push(
                    method_error(m, f"Unsupported field: '{k}' for the given msg type: {m}", req_id, time_in),
                    "ack",
                )
                return
        params = msg.get("params", {})
        if method == "ping":
            if "params" in msg:
                s.push(
                    method_error(
                        "ping", "Unsupported field: 'params' for the given msg type: ping", req_id, time_in
                    ),
                    "ack",
                )
            else:
                s.push(method_ok("pong", None, req_id, time_in), "ack")
            return
        if not isinstance(params, dict):
            s.push(method_error(m, "EGeneral:Invalid arguments", req_id, time_in), "ack")
            return
        if method in ("subscribe", "unsubscribe"):
            self._subscribe(s, method, params, req_id, time_in)
        elif method in TRADING_METHODS:
            if self.kind != "auth":
                s.push(method_error(m, WRONG_HOST_PRIVATE, req_id, time_in), "ack")
                return
            self.ex.trading.handle(s, m, params, req_id, time_in)
        else:
            s.push(method_error(m, "Unsupported event", req_id, time_in), "ack")

    def _subscribe(self, s: Session, method: str, params: dict[str, Any], req_id: Any, t_in: int) -> None:
        channel = params.get("channel")
        if not isinstance(channel, str) or channel not in CHANNEL_FIELDS:
            s.push(method_error(method, "Subscription name invalid", req_id, t_in), "ack")
            return
        # Which host serves which channel (PROTOCOL.md §1).
        if channel == "level3" and self.kind != "l3":
            s.push(method_error(method, WRONG_HOST_L3, req_id, t_in), "ack")
            return
        if channel in PRIVATE_CHANNELS and self.kind != "auth":
            s.push(method_error(method, WRONG_HOST_PRIVATE, req_id, t_in), "ack")
            return
        if channel in PUBLIC_CHANNELS and self.kind != "public":
            s.push(method_error(method, WRONG_HOST_PUBLIC, req_id, t_in), "ack")
            return
        for k in params:
            if k not in CHANNEL_FIELDS[channel]:
                s.push(
                    method_error(
                        method, f"Unsupported field: '{k}' for the given msg type: {method}", req_id, t_in
                    ),
                    "ack",
                )
                return
        try:
            opts = self._options(channel, params)
        except BadRequest as e:
            s.push(method_error(method, e.error, req_id, t_in, extra=e.extra or None), "ack")
            return
        if channel in ("level3", *PRIVATE_CHANNELS):
            token = params.get("token")
            if token is None:
                s.push(method_error(method, "Token(s) not found", req_id, t_in), "ack")
                return
            if not self.ex.tokens.valid(token, s.id):
                s.push(
                    method_error(
                        method,
                        "ESession:Invalid session",
                        req_id,
                        t_in,
                        extra={"channel": channel, "status": "error"},
                    ),
                    "ack",
                )
                return
            if method == "subscribe":
                self.ex.tokens.bind(token, s.id)
        if channel in PRIVATE_CHANNELS:
            self.ex.trading.subscribe(s, method, channel, params, req_id, t_in)
            return
        if channel == "instrument":
            self._instrument(s, method, opts, req_id, t_in)
            return
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols or not all(isinstance(x, str) for x in symbols):
            s.push(
                method_error(
                    method, "EGeneral:Invalid arguments:symbol must be a list of strings", req_id, t_in
                ),
                "ack",
            )
            return
        for sym in symbols:
            feed = self.ex.feeds.get(sym)
            if feed is None:
                s.push(
                    method_error(
                        method, f"Currency pair not supported {sym}", req_id, t_in, extra={"symbol": sym}
                    ),
                    "ack",
                )
                continue
            if method == "subscribe":
                self._sub_one(s, channel, sym, opts, req_id, t_in)
            else:
                self._unsub_one(s, channel, sym, opts, req_id, t_in)

    @staticmethod
    def _options(channel: str, params: dict[str, Any]) -> dict[str, Any]:
        snap = params.get("snapshot", SNAPSHOT_DEFAULT.get(channel, True))
        if not isinstance(snap, bool):
            raise BadRequest("EGeneral:Invalid arguments:snapshot must be a boolean")
        opts: dict[str, Any] = {"snapshot": snap}
        if channel in ("book", "level3"):
            depth = params.get("depth", 10)
            allowed = BOOK_DEPTHS if channel == "book" else L3_DEPTHS
            if not _is_int(depth) or depth not in allowed:
                raise BadRequest(
                    f"EGeneral:Invalid arguments:depth must be one of {', '.join(map(str, allowed))}"
                )
            opts["depth"] = depth
        elif channel == "ohlc":
            interval = params.get("interval", 1)
            if not _is_int(interval) or interval not in OHLC_INTERVALS:
                raise BadRequest(
                    "EGeneral:Invalid arguments:interval must be one of "
                    + ", ".join(map(str, OHLC_INTERVALS))
                )
            opts["interval"] = interval
        elif channel == "ticker":
            trig = params.get("event_trigger", "trades")
            if trig not in ("trades", "bbo"):
                raise BadRequest("EGeneral:Invalid arguments:event_trigger must be trades or bbo")
            opts["event_trigger"] = trig
        return opts

    def _result(self, channel: str, sym: str, opts: dict[str, Any], sub: bool) -> dict[str, Any]:
        r: dict[str, Any] = {"channel": channel}
        if "depth" in opts:
            r["depth"] = opts["depth"]
        if "event_trigger" in opts:
            r["event_trigger"] = opts["event_trigger"]
        if "interval" in opts:
            r["interval"] = opts["interval"]
        if sub:
            r["snapshot"] = opts["snapshot"]
        r["symbol"] = sym
        if sub and channel == "ohlc":
            r["warnings"] = ["timestamp is deprecated, use interval_begin"]
        return r

    def _sub_one(
        self, s: Session, channel: str, sym: str, opts: dict[str, Any], req_id: Any, t_in: int
    ) -> None:
        ex = self.ex
        feed = ex.feeds[sym]
        key: tuple[Any, ...] = (channel, sym, opts["interval"]) if channel == "ohlc" else (channel, sym)
        if key in s.subs:
            s.push(
                method_error("subscribe", "Already subscribed", req_id, t_in, extra={"symbol": sym}), "ack"
            )
            return
        spec = s.faults
        silent = bool(spec.silent_subscription) and s.rng.random() < spec.silent_subscription
        sub = Sub(s, silent)
        s.subs[key] = dict(opts)
        s.push(method_ok("subscribe", self._result(channel, sym, opts, True), req_id, t_in), "ack")
        ts = now_ns()
        snap = opts["snapshot"] and not silent
        if channel == "book":
            feed.add_book(opts["depth"], s.id, sub)
            if snap:
                text, ck = feed.book_snapshot(opts["depth"], ts)
                s.push(text, "data", ck)
        elif channel == "level3":
            feed.add_l3(opts["depth"], s.id, sub)
            if snap:
                text, ck = feed.l3_snapshot(opts["depth"], ts)
                s.push(text, "data", ck)
        elif channel == "trade":
            feed.trade_subs[s.id] = sub
            if snap:
                s.push(feed.trade_snapshot())
        elif channel == "ticker":
            feed.ticker_subs[opts["event_trigger"]][s.id] = sub
            if snap:
                s.push(feed.ticker_frame("snapshot", ts))
        elif channel == "ohlc":
            feed.ohlc_subs.setdefault(opts["interval"], {})[s.id] = sub
            if snap:
                s.push(feed.ohlc_frame(opts["interval"], "snapshot", ts))

    def _unsub_one(
        self, s: Session, channel: str, sym: str, opts: dict[str, Any], req_id: Any, t_in: int
    ) -> None:
        feed = self.ex.feeds[sym]
        key: tuple[Any, ...] = (channel, sym, opts["interval"]) if channel == "ohlc" else (channel, sym)
        have = s.subs.get(key)
        match = have is not None and all(
            have.get(k) == opts[k] for k in ("depth", "event_trigger") if k in opts
        )
        if not match:
            # Kraken labels this refusal "subscribe" even for an unsubscribe (§2.6).
            s.push(
                method_error("subscribe", "Subscription Not Found", req_id, t_in, extra={"symbol": sym}),
                "ack",
            )
            return
        del s.subs[key]
        if channel in ("book", "level3"):
            feed.remove_book(opts["depth"], s.id, level3=channel == "level3")
        elif channel == "trade":
            feed.trade_subs.pop(s.id, None)
        elif channel == "ticker":
            feed.ticker_subs[opts["event_trigger"]].pop(s.id, None)
        elif channel == "ohlc":
            feed.ohlc_subs.get(opts["interval"], {}).pop(s.id, None)
        s.push(method_ok("unsubscribe", self._result(channel, sym, opts, False), req_id, t_in), "ack")

    def _instrument(self, s: Session, method: str, opts: dict[str, Any], req_id: Any, t_in: int) -> None:
        key = ("instrument",)
        if method == "subscribe":
            if key in s.subs:
                s.push(method_error(method, "Already subscribed", req_id, t_in), "ack")
                return
            s.subs[key] = dict(opts)
            s.push(
                method_ok(
                    method,
                    {
                        "channel": "instrument",
                        "snapshot": opts["snapshot"],
                        "warnings": ["tick_size is deprecated, use price_increment"],
                    },
                    req_id,
                    t_in,
                ),
                "ack",
            )
            if opts["snapshot"]:
                s.push(self.ex.instrument_frame())
        else:
            if key not in s.subs:
                s.push(method_error("subscribe", "Subscription Not Found", req_id, t_in), "ack")
                return
            del s.subs[key]
            s.push(method_ok(method, {"channel": "instrument"}, req_id, t_in), "ack")
