"""Sans-I/O Kraken v2 session: phases, subscriptions, req_id correlation, resync decisions.

The transport feeds it what happened (``connecting``, ``connection_opened``,
``receive_frame``, ``tick``, ``connection_lost``) with the time passed in; it
answers with frames to send (``data_to_send``) and events
(``events_received``). It never reads a clock and never touches a socket,
so every decision below is testable with a fixed clock.

The session phase is derived from the connection and the subscriptions after
every input, and every change is emitted as a ``StateChange`` with its cause:

=============== ============================================ ===========================
phase           meaning                                      left for
=============== ============================================ ===========================
DISCONNECTED    no socket; the transport is backing off      CONNECTING, CLOSED
CONNECTING      a socket is being opened                     AUTHENTICATING,
                                                             SUBSCRIBING, DISCONNECTED
AUTHENTICATING  open, waiting for a fresh token (auth/L3)    SUBSCRIBING, CLOSED,
                                                             DISCONNECTED
SUBSCRIBING     requests sent; acks or snapshots missing     SUBSCRIBED, RESYNCING,
                                                             DEGRADED, DISCONNECTED
SUBSCRIBED      every subscription acked and live            RESYNCING, DEGRADED,
                                                             DISCONNECTED
RESYNCING       at least one book is being resubscribed;     SUBSCRIBED, DEGRADED,
                every other subscription is untouched         DISCONNECTED
DEGRADED        a subscription failed or is disabled, or     SUBSCRIBED, RESYNCING,
                the exchange is not online                   DISCONNECTED
CLOSED          closed by the user, or a fatal auth error    (final)
=============== ============================================ ===========================

Per-symbol integrity: a checksum mismatch resyncs only that book (unsubscribe
and subscribe again with a new ``req_id``; frames of the old generation are
dropped because a snapshot is accepted only after the new ack). After
``max_resyncs`` mismatches in a row, where a book that verified
``healthy_after`` updates since its last resync starts a new row, the book is
DISABLED with its reason instead of looping forever.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from havterm.engine import codec
from havterm.engine.book import BookState
from havterm.engine.events import (
    BookMessage,
    DecodeError,
    Event,
    Heartbeat,
    InstrumentMessage,
    Level3Message,
    MethodResponse,
    OhlcMessage,
    Status,
    TickerMessage,
    TradeMessage,
)
from havterm.engine.market import IntegrityFailure, MarketEngine


class Phase(enum.Enum):
    """The session phases of the table above."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    SUBSCRIBING = "subscribing"
    SUBSCRIBED = "subscribed"
    RESYNCING = "resyncing"
    DEGRADED = "degraded"
    CLOSED = "closed"


ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.DISCONNECTED: frozenset({Phase.CONNECTING, Phase.CLOSED}),
    Phase.CONNECTING: frozenset(
        {Phase.AUTHENTICATING, Phase.SUBSCRIBING, Phase.SUBSCRIBED, Phase.DISCONNECTED, Phase.CLOSED}
    ),
    Phase.AUTHENTICATING: frozenset({Phase.SUBSCRIBING, Phase.DISCONNECTED, Phase.CLOSED}),
    Phase.SUBSCRIBING: frozenset(
        {Phase.SUBSCRIBED, Phase.RESYNCING, Phase.DEGRADED, Phase.DISCONNECTED, Phase.CLOSED}
    ),
    Phase.SUBSCRIBED: frozenset(
        {Phase.SUBSCRIBING, Phase.RESYNCING, Phase.DEGRADED, Phase.DISCONNECTED, Phase.CLOSED}
    ),
    Phase.RESYNCING: frozenset(
        {Phase.SUBSCRIBING, Phase.SUBSCRIBED, Phase.DEGRADED, Phase.DISCONNECTED, Phase.CLOSED}
    ),
    Phase.DEGRADED: frozenset(
        {Phase.SUBSCRIBING, Phase.SUBSCRIBED, Phase.RESYNCING, Phase.DISCONNECTED, Phase.CLOSED}
    ),
    Phase.CLOSED: frozenset(),
}
"""Every transition the session may make; the session asserts each one against it."""


class SubState(enum.Enum):
    """Where one subscription stands."""

    WANTED = "wanted"  # not sent on this connection yet
    PENDING = "pending"  # sent, no ack yet
    ACKED = "acked"  # acked, no data yet
    LIVE = "live"
    RESYNCING = "resyncing"
    FAILED = "failed"  # the exchange refused it
    DISABLED = "disabled"  # given up after repeated mismatches


_SNAPSHOT_CHANNELS = frozenset({"book", "level3", "instrument", "ohlc", "ticker", "executions", "balances"})


@dataclass(eq=False)
class Subscription:
    """One channel for one symbol (or none), as the user wants it."""

    channel: str
    symbol: str | None = None
    depth: int | None = None
    interval: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    state: SubState = SubState.WANTED
    req_id: int | None = None
    sent_at: float | None = None
    acked_at: float | None = None
    error: str | None = None
    resync_streak: int = 0
    resync_at: float | None = None
    verified_since_resync: int = 0
    resubscribes: int = 0

    @property
    def key(self) -> tuple[str, str | None]:
        """How acks and data find this subscription."""
        return self.channel, self.symbol

    def encode(self, method: str, req_id: int | None, token: str | None) -> str:
        """The subscribe or unsubscribe frame for this subscription."""
        extra = dict(self.params)
        if token is not None:
            extra["token"] = token
        if (
            method == "subscribe"
            and self.channel in _SNAPSHOT_CHANNELS
            and self.channel not in ("executions",)
        ):
            extra.setdefault("snapshot", True)
        if method == "unsubscribe":
            extra.pop("snapshot", None)
        symbols = [self.symbol] if self.symbol else None
        fn = codec.subscribe if method == "subscribe" else codec.unsubscribe
        return fn(self.channel, symbols, req_id=req_id, depth=self.depth, interval=self.interval, **extra)


# ---------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class StateChange:
    """The session moved from one phase to another, and why."""

    old: Phase
    new: Phase
    cause: str


@dataclass(frozen=True, slots=True)
class BookIntegrity:
    """A book changed integrity state (synced, resyncing, disabled), and why."""

    symbol: str
    state: BookState
    reason: str
    channel: str = "book"


@dataclass(frozen=True, slots=True)
class SubscriptionFailed:
    """The exchange refused a subscription; the others are unaffected."""

    channel: str
    symbol: str | None
    error: str


@dataclass(frozen=True, slots=True)
class ReconnectWanted:
    """The session has given up on this socket (stale heartbeats and the like)."""

    cause: str


@dataclass(frozen=True, slots=True)
class Rtt:
    """A ping/pong round trip, in milliseconds."""

    ms: float


SessionEvent = StateChange | BookIntegrity | SubscriptionFailed | ReconnectWanted | Rtt


@dataclass
class SessionConfig:
    """Liveness and integrity limits (seconds); see each field's use in ``Session``."""

    heartbeat_timeout_s: float = 5.0
    silent_subscription_s: float = 5.0
    ack_timeout_s: float = 10.0
    ping_interval_s: float = 15.0
    max_resyncs: int = 3
    resync_backoff_s: float = 0.25
    healthy_after: int = 20
    needs_token: bool = False


class Session:
    """The control plane of one WebSocket connection (public, auth or L3)."""

    def __init__(
        self,
        subscriptions: Iterable[Subscription] = (),
        market: MarketEngine | None = None,
        config: SessionConfig | None = None,
        name: str = "public",
        primary: bool = True,
    ) -> None:
        self.name = name
        # Only the primary (public) session speaks for the connection in MarketState.
        self.primary = primary
        self.config = config or SessionConfig()
        self.market = market if market is not None else MarketEngine()
        self.subs: dict[tuple[str, str | None], Subscription] = {}
        self.phase = Phase.DISCONNECTED
        self.token: str | None = None
        self.connected = False
        self._out: list[str] = []
        self._events: list[Event | SessionEvent] = []
        self._req_id = 0
        self._pending: dict[int, Subscription] = {}
        self._unsub_pending: dict[int, Subscription] = {}
        self._last_frame_at: float | None = None
        self._last_ping_at: float | None = None
        self._ping_sent: dict[int, float] = {}
        self.reconnect_cause: str | None = None
        self.system_status = "unknown"
        self.connects = 0
        for sub in subscriptions:
            self.add(sub)

    # ------------------------------------------------------------------ outputs

    def data_to_send(self) -> list[str]:
        """Frames the transport must send now, in order."""
        out, self._out = self._out, []
        return out

    def send(self, frame: str) -> None:
        """Queue a request of the caller's (a trading method, say) behind the session's own."""
        self._out.append(frame)

    def next_req_id(self) -> int:
        """A ``req_id`` unique on this connection, for requests sent with ``send``."""
        return self._next_req_id()

    def events_received(self) -> list[Event | SessionEvent]:
        """Everything that happened since the last call, in order."""
        out, self._events = self._events, []
        return out

    # ------------------------------------------------------------------ subscriptions

    def _next_req_id(self) -> int:
        self._req_id += 1
        return self._req_id

    def add(self, sub: Subscription, now: float | None = None) -> Subscription:
        """Want a subscription; sent at once when connected."""
        existing = self.subs.get(sub.key)
        if existing is not None and existing.state is not SubState.FAILED:
            return existing
        self.subs[sub.key] = sub
        if sub.channel == "book" and sub.symbol:
            self.market.new_book(sub.symbol, sub.depth or 10)
        elif sub.channel == "level3" and sub.symbol:
            self.market.new_l3(sub.symbol, sub.depth or 10)
        elif sub.symbol:
            self.market.state.symbol(sub.symbol)
        if self.connected and now is not None:
            self._send_subscribe(sub, now)
            self._recompute(now, f"subscribing {sub.channel} {sub.symbol or ''}".strip())
        return sub

    def remove(self, channel: str, symbol: str | None, now: float) -> None:
        """Stop a subscription; other subscriptions are untouched."""
        sub = self.subs.pop((channel, symbol), None)
        if sub is None:
            return
        if self.connected and sub.state in (
            SubState.PENDING,
            SubState.ACKED,
            SubState.LIVE,
            SubState.RESYNCING,
        ):
            rid = self._next_req_id()
            self._unsub_pending[rid] = sub
            self._out.append(sub.encode("unsubscribe", rid, self.token))
        if sub.req_id is not None:
            self._pending.pop(sub.req_id, None)
        self._recompute(now, f"unsubscribed {channel} {symbol or ''}".strip())

    def _send_subscribe(self, sub: Subscription, now: float) -> None:
        rid = self._next_req_id()
        if sub.req_id is not None:
            self._pending.pop(sub.req_id, None)
        sub.req_id = rid
        sub.sent_at = now
        sub.acked_at = None
        if sub.state is not SubState.RESYNCING:
            sub.state = SubState.PENDING
        self._pending[rid] = sub
        if sub.channel == "book" and sub.symbol:
            st = self.market.state.symbols.get(sub.symbol)
            if st is None or st.book is None or st.book_state is not BookState.RESYNCING:
                self.market.new_book(sub.symbol, sub.depth or 10)
        elif sub.channel == "level3" and sub.symbol:
            st = self.market.state.symbols.get(sub.symbol)
            if st is None or st.l3 is None or st.l3_state is not BookState.RESYNCING:
                self.market.new_l3(sub.symbol, sub.depth or 10)
        self._out.append(sub.encode("subscribe", rid, self.token))

    def _resubscribe(self, sub: Subscription, now: float) -> None:
        """Unsubscribe and subscribe again for a fresh snapshot (one symbol only)."""
        rid = self._next_req_id()
        self._unsub_pending[rid] = sub
        self._out.append(sub.encode("unsubscribe", rid, self.token))
        sub.resubscribes += 1
        self._send_subscribe(sub, now)

    # ------------------------------------------------------------------ connection lifecycle

    def connecting(self, now: float) -> None:
        """The transport is opening a socket."""
        self.reconnect_cause = None
        self._set_phase(Phase.CONNECTING, "connecting", now)

    def connection_opened(self, now: float, token: str | None = None) -> None:
        """The socket is open (and, for private endpoints, a fresh token is in hand)."""
        self.connected = True
        self.token = token
        self.connects += 1
        if self.primary:
            self.market.state.reconnects = self.connects - 1
        self._last_frame_at = now
        self._last_ping_at = now
        self._pending.clear()
        self._unsub_pending.clear()
        for sub in self.subs.values():
            if sub.state is SubState.DISABLED:
                continue
            sub.state = SubState.WANTED
            sub.resync_at = None
            self._send_subscribe(sub, now)
        self._recompute(now, "connected")

    def authenticating(self, now: float) -> None:
        """The socket is open and a token is being fetched."""
        self._set_phase(Phase.AUTHENTICATING, "fetching a WebSocket token", now)

    def auth_failed(self, now: float, error: str) -> None:
        """Authentication is fatal: the session closes and says why."""
        self.connected = False
        self._set_phase(Phase.CLOSED, f"authentication failed: {error}", now)

    def connection_lost(self, now: float, cause: str) -> None:
        """The socket closed or failed; everything resubscribes on the next connect."""
        self.connected = False
        # Frames queued for the dead socket must not go out on the next one: a trading
        # request would carry a stale token and could be placed twice (the order is
        # settled from the executions snapshot instead); subscriptions are requeued on connect.
        self._out.clear()
        for sub in self.subs.values():
            if sub.state is not SubState.DISABLED:
                sub.state = SubState.WANTED
        for sub in self.subs.values():
            st = self.market.state.symbols.get(sub.symbol or "")
            if st is None:
                continue
            if sub.channel == "book" and st.book_state is BookState.SYNCED:
                st.book_state = BookState.STALE
                st.book_reason = f"disconnected: {cause}"
                st.version += 1
            elif sub.channel == "level3" and st.l3_state is BookState.SYNCED:
                st.l3_state = BookState.STALE
                st.l3_reason = f"disconnected: {cause}"
                st.version += 1
        if self.phase is not Phase.CLOSED:
            self._set_phase(Phase.DISCONNECTED, cause, now)

    def close(self, now: float, cause: str = "closed by user") -> None:
        """Final: nothing more will be sent or accepted."""
        self.connected = False
        self._set_phase(Phase.CLOSED, cause, now)

    # ------------------------------------------------------------------ input

    def receive_frame(self, frame: str | bytes, now: float, wall: float) -> None:
        """Handle one frame from the exchange."""
        self._last_frame_at = now
        for ev in codec.decode(frame):
            self._handle(ev, now, wall)

    def _handle(self, ev: Event, now: float, wall: float) -> None:
        t = type(ev)
        if t is BookMessage:
            assert isinstance(ev, BookMessage)
            self._handle_book(ev, "book", now, wall)
            return
        if t is Level3Message:
            assert isinstance(ev, Level3Message)
            self._handle_book(ev, "level3", now, wall)
            return
        if t is Heartbeat:
            return
        if t is MethodResponse:
            assert isinstance(ev, MethodResponse)
            self._handle_response(ev, now)
            self._events.append(ev)
            return
        if t is TradeMessage:
            assert isinstance(ev, TradeMessage)
            self.market.apply_trades(ev, now, wall)
            for tr in ev.trades[:1]:
                self._mark_data("trade", tr.symbol, now)
        elif t is TickerMessage:
            assert isinstance(ev, TickerMessage)
            self.market.apply_ticker(ev, now)
            for tk in ev.tickers[:1]:
                self._mark_data("ticker", tk.symbol, now)
        elif t is OhlcMessage:
            assert isinstance(ev, OhlcMessage)
            self.market.apply_ohlc(ev, now)
            for c in ev.candles[:1]:
                self._mark_data("ohlc", c.symbol, now)
        elif t is InstrumentMessage:
            assert isinstance(ev, InstrumentMessage)
            self.market.apply_instrument(ev, now)
            self._mark_data("instrument", None, now)
        elif t is Status:
            assert isinstance(ev, Status)
            self.system_status = ev.system
            self.market.apply_status(ev, now)
            self._recompute(now, f"exchange status {ev.system}")
        elif t is DecodeError:
            pass  # reported to the caller below; the session goes on
        else:
            channel = type(ev).__name__.replace("Message", "").lower()
            self._mark_data(channel, None, now)
        self._events.append(ev)

    def _handle_book(self, ev: BookMessage | Level3Message, channel: str, now: float, wall: float) -> None:
        """L2 and L3 books share the rules: generations, resync and the give-up limit."""
        sub = self.subs.get((channel, ev.symbol))
        if sub is None or sub.state in (SubState.PENDING, SubState.WANTED, SubState.DISABLED):
            return  # an old generation's frame, or one we no longer want
        if ev.snapshot and (sub.acked_at is None or sub.state is SubState.FAILED):
            return  # a snapshot counts only after the ack of the current request
        if isinstance(ev, BookMessage):
            failure = self.market.apply_book(ev, now, wall)
        else:
            failure = self.market.apply_l3(ev, now, wall)
        if failure is not None:
            self._integrity_failure(sub, failure, now)
            return
        st = self.market.state.symbols[ev.symbol]
        state = st.book_state if channel == "book" else st.l3_state
        if state is BookState.SYNCED:
            if sub.state is not SubState.LIVE:
                was = sub.state
                sub.state = SubState.LIVE
                if was is SubState.RESYNCING:
                    self._events.append(BookIntegrity(ev.symbol, BookState.SYNCED, "resynced", channel))
                self._recompute(now, f"{ev.symbol} {channel} synced")
            sub.verified_since_resync += 1
            if sub.verified_since_resync >= self.config.healthy_after:
                sub.resync_streak = 0
        self._events.append(ev)

    def _mark_data(self, channel: str, symbol: str | None, now: float) -> None:
        sub = self.subs.get((channel, symbol))
        if sub is None:
            return
        if sub.state is SubState.ACKED:
            sub.state = SubState.LIVE
            self._recompute(now, f"{channel} {symbol or ''} live".strip())

    def _handle_response(self, ev: MethodResponse, now: float) -> None:
        if ev.method == "pong":
            sent = self._ping_sent.pop(ev.req_id, None) if ev.req_id is not None else None
            if sent is not None:
                rtt = (now - sent) * 1000.0
                if self.primary:
                    self.market.state.rtt_ms = rtt
                self._events.append(Rtt(rtt))
            return
        if ev.method not in ("subscribe", "unsubscribe") or ev.req_id is None:
            return
        if ev.req_id in self._unsub_pending:
            self._unsub_pending.pop(ev.req_id)
            return
        sub = self._pending.get(ev.req_id)
        if sub is None:
            return  # a stale ack of an old generation
        del self._pending[ev.req_id]
        if ev.success:
            sub.acked_at = now
            sub.error = None
            if sub.state is SubState.PENDING:
                sub.state = SubState.ACKED
            self._recompute(now, f"{sub.channel} {sub.symbol or ''} acked".strip())
        elif self.config.needs_token and _is_token_error(ev.error):
            # A stale or unknown token: a fresh one comes with the next connect.
            sub.state = SubState.WANTED
            self.reconnect_cause = f"token refused ({ev.error}); reconnecting with a fresh token"
            self._events.append(ReconnectWanted(self.reconnect_cause))
        else:
            sub.state = SubState.FAILED
            sub.error = ev.error or "refused"
            self._events.append(SubscriptionFailed(sub.channel, sub.symbol, sub.error))
            if sub.channel in ("book", "level3") and sub.symbol:
                self._set_book_state(sub.symbol, BookState.DISABLED, sub.error, now, sub.channel)
            self._recompute(now, f"{sub.channel} {sub.symbol or ''} refused: {sub.error}")

    def _set_book_state(
        self, symbol: str, state: BookState, reason: str, now: float, channel: str = "book"
    ) -> None:
        st = self.market.state.symbols.get(symbol)
        if st is not None:
            if channel == "book":
                st.book_state, st.book_reason = state, reason
            else:
                st.l3_state, st.l3_reason = state, reason
            st.touch(now)
        self._events.append(BookIntegrity(symbol, state, reason, channel))

    def _integrity_failure(self, sub: Subscription, failure: IntegrityFailure, now: float) -> None:
        sub.resync_streak += 1
        sub.verified_since_resync = 0
        if sub.resync_streak > self.config.max_resyncs:
            reason = (
                f"{sub.resync_streak} checksum failures in a row ({failure.reason}); "
                "resync stopped - check the pair's precision"
            )
            sub.state = SubState.DISABLED
            rid = self._next_req_id()
            self._unsub_pending[rid] = sub
            self._out.append(sub.encode("unsubscribe", rid, self.token))
            self._set_book_state(failure.symbol, BookState.DISABLED, reason, now, sub.channel)
            self._recompute(now, f"{failure.symbol} {sub.channel} disabled")
            return
        sub.state = SubState.RESYNCING
        self._events.append(BookIntegrity(failure.symbol, BookState.RESYNCING, failure.reason, sub.channel))
        if sub.resync_streak == 1:
            self._resubscribe(sub, now)
        else:
            # Back off between repeated resyncs, so that a short burst of bad frames does not
            # use up the whole give-up budget within a few milliseconds (and so that we never
            # hammer the exchange with subscribe requests).
            sub.resync_at = now + resync_backoff(self.config.resync_backoff_s, sub.resync_streak)
        self._recompute(now, f"{failure.symbol} {failure.reason}")

    # ------------------------------------------------------------------ timers

    def tick(self, now: float) -> None:
        """Liveness: stale heartbeats, silent subscriptions, lost acks, pings."""
        if not self.connected:
            return
        cfg = self.config
        active = [s for s in self.subs.values() if s.state is not SubState.DISABLED]
        if (
            any(s.state in (SubState.ACKED, SubState.LIVE, SubState.RESYNCING) for s in active)
            and self._last_frame_at is not None
            and now - self._last_frame_at > cfg.heartbeat_timeout_s
        ):
            self.reconnect_cause = f"no data or heartbeat for {now - self._last_frame_at:.1f}s"
            self._events.append(ReconnectWanted(self.reconnect_cause))
            return
        for sub in active:
            if sub.resync_at is not None:
                if now >= sub.resync_at:
                    sub.resync_at = None
                    self._resubscribe(sub, now)
                continue
            if (
                sub.state is SubState.ACKED
                and sub.channel in _SNAPSHOT_CHANNELS
                and sub.acked_at is not None
                and now - sub.acked_at > cfg.silent_subscription_s
            ):
                self._resubscribe(sub, now)
                self._recompute(now, f"{sub.channel} {sub.symbol or ''} silent after ack".strip())
            elif (
                sub.state in (SubState.PENDING, SubState.RESYNCING)
                and sub.acked_at is None
                and (sub.sent_at is not None and now - sub.sent_at > cfg.ack_timeout_s)
            ):
                self._send_subscribe(sub, now)
            elif (
                sub.state is SubState.RESYNCING
                and sub.acked_at is not None
                and now - sub.acked_at > cfg.silent_subscription_s
            ):
                self._resubscribe(sub, now)
        if self._last_ping_at is None or now - self._last_ping_at >= cfg.ping_interval_s:
            self.ping(now)
        self.market.check_health(now)

    def ping(self, now: float) -> None:
        """Send an application ping; the pong gives the round-trip time."""
        rid = self._next_req_id()
        self._ping_sent[rid] = now
        if len(self._ping_sent) > 16:  # pongs that never came must not pile up
            self._ping_sent.pop(next(iter(self._ping_sent)))
        self._last_ping_at = now
        self._out.append(codec.ping(rid))

    # ------------------------------------------------------------------ phase

    def _derive(self) -> Phase:
        if self.phase is Phase.CLOSED:
            return Phase.CLOSED
        if not self.connected:
            return (
                self.phase if self.phase in (Phase.CONNECTING, Phase.AUTHENTICATING) else Phase.DISCONNECTED
            )
        states = [s.state for s in self.subs.values()]
        if any(s in (SubState.FAILED, SubState.DISABLED) for s in states) or self.system_status not in (
            "online",
            "unknown",
        ):
            return Phase.DEGRADED
        if any(s is SubState.RESYNCING for s in states):
            return Phase.RESYNCING
        if any(s in (SubState.WANTED, SubState.PENDING) for s in states):
            return Phase.SUBSCRIBING
        if any(s.state is SubState.ACKED and s.channel in _SNAPSHOT_CHANNELS for s in self.subs.values()):
            return Phase.SUBSCRIBING
        return Phase.SUBSCRIBED

    def _recompute(self, now: float, cause: str) -> None:
        self._set_phase(self._derive(), cause, now)

    def _set_phase(self, new: Phase, cause: str, now: float) -> None:
        old = self.phase
        if new is old:
            return
        assert new in ALLOWED[old], f"illegal transition {old.value} -> {new.value}"
        self.phase = new
        if self.primary:
            self.market.state.phase = new.value
            self.market.state.phase_cause = cause
            self.market.state.version += 1
        self._events.append(StateChange(old, new, cause))


def resync_backoff(base_s: float, streak: int) -> float:
    """The wait before resync number ``streak`` (2, 3, ...): doubling from ``base_s``, at most 10 s."""
    return float(min(10.0, base_s * 2 ** (streak - 2)))


_TOKEN_ERRORS = ("ESession:Invalid session", "EAPI:Invalid token", "Token(s) not found")


def _is_token_error(error: str | None) -> bool:
    return bool(error) and any(e in (error or "") for e in _TOKEN_ERRORS)
