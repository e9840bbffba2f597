"""The public Kraken client: sessions, transports, market state and event fan-out in one object.

    async with KrakenClient(ClientConfig(symbols=["BTC/USD"], depth=10)) as client:
        async for event in client.events():
            ...
        client.book("BTC/USD").best_bid()

Market data lands in ``client.state`` (a ``MarketState`` updated in place,
with versions a UI can poll at its frame rate). Discrete events go to every
``events()`` iterator through a bounded queue with its own overflow policy,
and to per-type callbacks. Book deltas are always applied in order and never
dropped; only what a consumer is *shown* can be dropped or coalesced.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from havterm.engine.credentials import Credentials, CredentialsError
from havterm.engine.events import Event
from havterm.engine.market import MarketEngine
from havterm.engine.protocol import Session, SessionConfig, SessionEvent, Subscription
from havterm.engine.queries import MarketQueries
from havterm.engine.rest import RestError, get_ws_token
from havterm.engine.state import MarketState
from havterm.engine.transport import AuthError, Backoff, CircuitBreaker, TokenProvider, Transport

KRAKEN_WS = "wss://ws.kraken.com/v2"
KRAKEN_WS_AUTH = "wss://ws-auth.kraken.com/v2"
KRAKEN_WS_L3 = "wss://ws-l3.kraken.com/v2"
KRAKEN_REST = "https://api.kraken.com"

ClientEvent = Event | SessionEvent


class Overflow(enum.Enum):
    """What a full consumer queue does with a new event."""

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    COALESCE = "coalesce"  # keep only the latest event per (type, symbol)


def _coalesce_key(ev: object) -> tuple[str, str | None]:
    return type(ev).__name__, getattr(ev, "symbol", None)


class EventStream:
    """A bounded queue of client events for one consumer, with counters for what it lost."""

    def __init__(self, maxsize: int = 10_000, policy: Overflow = Overflow.DROP_OLDEST) -> None:
        self.maxsize = maxsize
        self.policy = policy
        self.dropped = 0
        self.coalesced = 0
        self._items: OrderedDict[object, ClientEvent] = OrderedDict()
        self._seq = 0
        self._ready = asyncio.Event()
        self.closed = False

    def put(self, ev: ClientEvent) -> None:
        """Offer one event; never blocks the producer."""
        if self.policy is Overflow.COALESCE:
            key: object = _coalesce_key(ev)
            if key in self._items:
                self.coalesced += 1
                self._items[key] = ev
                self._ready.set()
                return
        else:
            self._seq += 1
            key = self._seq
        if len(self._items) >= self.maxsize:
            if self.policy is Overflow.DROP_NEWEST:
                self.dropped += 1
                return
            self._items.popitem(last=False)
            self.dropped += 1
        self._items[key] = ev
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self) -> ClientEvent | None:
        """The next event, or None once the stream is closed and empty."""
        while not self._items:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        _, ev = self._items.popitem(last=False)
        return ev

    def close(self) -> None:
        """Wake the consumer; it drains what is left, then stops."""
        self.closed = True
        self._ready.set()


class Recorder:
    """Writes every received frame as a JSON line ``{"ts_ns", "src", "frame"|"text"}``."""

    def __init__(self, path: str | Path) -> None:
        self._fh: IO[bytes] = open(path, "ab")  # noqa: SIM115 (closed in close())
        self.frames = 0

    def __call__(self, frame: str | bytes, src: str) -> None:
        raw = frame.encode("utf-8") if isinstance(frame, str) else frame
        head = f'{{"ts_ns":{time.time_ns()},"src":"{src}",'.encode()
        stripped = raw.strip()
        if stripped[:1] in (b"{", b"[") and _is_json(stripped):
            self._fh.write(head + b'"frame":' + stripped + b"}\n")
        else:
            self._fh.write(head + b'"text":' + json.dumps(raw.decode("utf-8", "replace")).encode() + b"}\n")
        self.frames += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw, parse_float=Decimal)
    except ValueError:
        return False
    return True


@dataclass
class ClientConfig:
    """What to subscribe to and where; the defaults are Kraken's real endpoints."""

    symbols: Sequence[str] = ("BTC/USD",)
    depth: int = 10
    channels: Sequence[str] = ("book", "trade", "ticker")
    ohlc_interval: int = 1
    url: str = KRAKEN_WS
    auth_url: str = KRAKEN_WS_AUTH
    l3_url: str = KRAKEN_WS_L3
    rest_url: str = KRAKEN_REST
    session: SessionConfig = field(default_factory=SessionConfig)
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 30.0
    breaker_threshold: int = 8
    breaker_cooldown_s: float = 60.0
    stale_after_s: float = 15.0
    record_path: str | None = None
    measure_apply_time: bool = True
    credentials: Credentials | None = field(default=None, repr=False)
    l3: bool = False
    l3_depth: int = 10
    private: Sequence[str] = ()  # "executions", "balances" on the authenticated endpoint


class KrakenClient(MarketQueries):
    """A self-healing Kraken v2 market-data client (public endpoint)."""

    def __init__(self, config: ClientConfig | None = None, state: MarketState | None = None) -> None:
        """``state`` lets the client share one ``MarketState`` with another (Spot and Futures together)."""
        self.config = config or ClientConfig()
        cfg = self.config
        self.market = MarketEngine(
            state,
            stale_after_s=cfg.stale_after_s,
            clock=time.perf_counter if cfg.measure_apply_time else None,
        )
        self.state: MarketState = self.market.state
        self.recorder = Recorder(cfg.record_path) if cfg.record_path else None
        self.session = Session(
            self._subscriptions_for(cfg.symbols, ("instrument",)), self.market, cfg.session, "public"
        )
        self.transport = self._transport(cfg.url, self.session, None)
        self.sessions: list[Session] = [self.session]
        self.transports: list[Transport] = [self.transport]
        if (cfg.l3 or cfg.private) and cfg.credentials is None:
            raise CredentialsError(
                "level3 and private channels need an API key: set KRAKEN_API_KEY and KRAKEN_API_SECRET"
            )
        auth_cfg = replace(cfg.session, needs_token=True)
        if cfg.l3:
            self.l3_session: Session | None = Session(
                [Subscription("level3", sym, depth=cfg.l3_depth) for sym in cfg.symbols],
                self.market,
                auth_cfg,
                "l3",
                primary=False,
            )
            self._add(cfg.l3_url, self.l3_session)
        else:
            self.l3_session = None
        if cfg.private:
            self.auth_session: Session | None = Session(
                [Subscription(ch, None, params=_private_params(ch)) for ch in cfg.private],
                self.market,
                auth_cfg,
                "auth",
                primary=False,
            )
            self._add(cfg.auth_url, self.auth_session)
        else:
            self.auth_session = None
        self._streams: list[EventStream] = []
        self._callbacks: dict[type, list[Callable[[Any], None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.counts: dict[str, int] = {}

    def _transport(self, url: str, session: Session, token: TokenProvider | None) -> Transport:
        cfg = self.config
        return Transport(
            url,
            session,
            self._dispatch,
            token_provider=token,
            backoff=Backoff(cfg.backoff_base_s, cfg.backoff_cap_s),
            breaker=CircuitBreaker(cfg.breaker_threshold, cfg.breaker_cooldown_s),
            recorder=self.recorder,
        )

    def _add(self, url: str, session: Session) -> None:
        self.sessions.append(session)
        self.transports.append(self._transport(url, session, self._fresh_token))

    async def _fresh_token(self) -> str:
        """A new token for every authenticated (re)connect; bad keys are fatal, the rest retried."""
        creds = self.config.credentials
        assert creds is not None
        try:
            return await get_ws_token(self.config.rest_url, creds)
        except RestError as exc:
            if exc.is_auth:
                raise AuthError(str(exc)) from None
            raise OSError(f"token request failed: {exc}") from None

    def _subscriptions_for(self, symbols: Sequence[str], extra: Sequence[str] = ()) -> list[Subscription]:
        cfg = self.config
        subs = [Subscription(ch) for ch in extra]
        for sym in symbols:
            for ch in cfg.channels:
                if ch == "book":
                    subs.append(Subscription("book", sym, depth=cfg.depth))
                elif ch == "ohlc":
                    subs.append(Subscription("ohlc", sym, interval=cfg.ohlc_interval))
                else:
                    subs.append(Subscription(ch, sym))
        return subs

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect in the background; network errors are retried, never raised."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(t.run(), name=f"havterm-{t.session.name}") for t in self.transports
            ]

    async def stop(self) -> None:
        """Close every connection and end every ``events()`` iterator."""
        for t in self.transports:
            await t.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        for stream in self._streams:
            stream.close()
        if self.recorder is not None:
            self.recorder.close()

    async def __aenter__(self) -> KrakenClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ symbols

    async def add_symbol(self, symbol: str) -> None:
        """Subscribe one more symbol on every configured channel."""
        now = time.monotonic()
        for sub in self._subscriptions_for([symbol]):
            self.session.add(sub, now)
        self._flush()

    async def remove_symbol(self, symbol: str) -> None:
        """Unsubscribe a symbol; the others are untouched."""
        now = time.monotonic()
        for ch in self.config.channels:
            self.session.remove(ch, symbol, now)
        self.state.symbols.pop(symbol, None)
        self.state.version += 1
        self._flush()

    def send_private(self, frame: str) -> bool:
        """Send a request on the authenticated connection; False when it is not connected."""
        session = self.auth_session
        if session is None or not session.connected:
            return False
        session.send(frame)
        self.transports[self.sessions.index(session)].kick()
        return True

    def _flush(self) -> None:
        events = self.session.events_received()
        if events:
            self._dispatch(events)
        self.transport.kick()

    # ------------------------------------------------------------------ events

    def events(
        self, maxsize: int = 10_000, policy: Overflow | str = Overflow.DROP_OLDEST
    ) -> AsyncIterator[ClientEvent]:
        """Iterate over events as they come, through a bounded queue of its own."""
        stream = EventStream(maxsize, Overflow(policy))
        self._streams.append(stream)
        return self._iterate(stream)

    def stream(self, maxsize: int = 10_000, policy: Overflow | str = Overflow.DROP_OLDEST) -> EventStream:
        """Like ``events()``, but returns the stream (to read its drop counters)."""
        stream = EventStream(maxsize, Overflow(policy))
        self._streams.append(stream)
        return stream

    def attach(self, stream: EventStream) -> None:
        """Deliver this client's events into ``stream`` too (the consumers of a client built on this one)."""
        if stream not in self._streams:
            self._streams.append(stream)

    def detach(self, stream: EventStream) -> None:
        """Stop delivering into ``stream``."""
        if stream in self._streams:
            self._streams.remove(stream)

    async def _iterate(self, stream: EventStream) -> AsyncIterator[ClientEvent]:
        try:
            while True:
                ev = await stream.get()
                if ev is None:
                    return
                yield ev
        finally:
            if stream in self._streams:
                self._streams.remove(stream)

    def on(self, event_type: type, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` for every event of ``event_type`` (synchronously)."""
        self._callbacks.setdefault(event_type, []).append(callback)

    def _dispatch(self, events: list[ClientEvent]) -> None:
        counts = self.counts
        for ev in events:
            name = type(ev).__name__
            counts[name] = counts.get(name, 0) + 1
            for cb in self._callbacks.get(type(ev), ()):
                cb(ev)
            for stream in self._streams:
                stream.put(ev)

    def stats(self) -> dict[str, Any]:
        """Counters for ``havterm tail --stats`` and the README."""
        latencies = [v for st in self.state.symbols.values() for v in st.latency._samples]
        from havterm.engine.metrics import LatencyWindow

        window = LatencyWindow(max(1, len(latencies)))
        for v in latencies:
            window.add(v)
        p50, p90, p99 = window.percentiles(50, 90, 99)
        return {
            "messages": {
                k: v for k, v in sorted(self.counts.items()) if k.endswith("Message") or k == "Heartbeat"
            },
            "checksums_verified": sum(st.checksums_verified for st in self.state.symbols.values()),
            "checksum_mismatches": sum(st.mismatches for st in self.state.symbols.values()),
            "resyncs": sum(s.resubscribes for s in self.session.subs.values() if s.channel == "book"),
            "reconnects": max(0, self.transport.stats.connects - 1),
            "books": {s: st.book_state.value for s, st in sorted(self.state.symbols.items())},
            "latency_ms": {
                "p50": _round(p50),
                "p90": _round(p90),
                "p99": _round(p99),
            },
            "decode_errors": self.counts.get("DecodeError", 0),
            "phase": self.session.phase.value,
        }


def _private_params(channel: str) -> dict[str, Any]:
    if channel == "executions":
        # snap_trades: an order that filled while we were disconnected is settled as filled
        # (with its fills) from the snapshot, not left as "outcome unknown".
        return {"snap_orders": True, "snap_trades": True}
    return {}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
