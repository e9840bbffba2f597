"""The one module that knows both the engine and Textual: owns the client, the frame timer and events.

The client updates ``MarketState`` in place at whatever rate the exchange
sends. This bridge never forwards frames: one timer at the frame rate pulls
the state, rebuilds the plain views (``havterm.widgets.views``) only for
symbols whose ``version`` moved, and asks the app to repaint the visible
screen. Discrete engine events (connection phases, integrity changes) become
Textual messages, because those must not be lost or coalesced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from textual.message import Message

from havterm.alerts_controller import AlertsController
from havterm.analytics_controller import AnalyticsController
from havterm.engine.state import MarketState, SymbolState
from havterm.trading_controller import TradingController
from havterm.widgets.analytics import FlowStats
from havterm.widgets.messages import AlertFired, ConnectionChanged, IntegrityChanged, Notice
from havterm.widgets.views import (
    BookStatsView,
    BookView,
    ConnView,
    CostView,
    FlowView,
    QueueLine,
    SymbolView,
    TradeView,
    at_places,
)

if TYPE_CHECKING:
    from textual.app import App

log = logging.getLogger("havterm.ui")

KRAKEN_URLS = {
    "url": "wss://ws.kraken.com/v2",
    "auth_url": "wss://ws-auth.kraken.com/v2",
    "l3_url": "wss://ws-l3.kraken.com/v2",
    "rest_url": "https://api.kraken.com",
}
"""Live endpoints, used unless the command line names others."""
STATS_EVERY_S = 0.5
"""Latency percentiles and message rates are recomputed at most this often (they sort a window)."""
TAPE = 200
"""Trades handed to the flow screen's tape."""
GRID_LEVELS = 10
"""Levels per side in the views of symbols that are not on screen (spread, imbalance)."""


class ReplayClient:
    """Plays a recording through the engine's ``Replayer`` with the client's contract (``state``, ``events``).

    Frames are applied at their recorded pace times ``speed`` (0: as fast as the
    loop allows, yielding to the UI every few hundred frames). Adding or
    removing symbols is not possible in a recording and says so.
    """

    def __init__(self, path: str, speed: float = 1.0) -> None:
        from havterm.engine.replayer import Replayer

        self.path = path
        self.speed = speed
        self.replayer = Replayer()
        self.state: MarketState = self.replayer.market.state
        self.frames = 0
        self._task: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    async def start(self) -> None:
        """Start playing in the background."""
        self._task = asyncio.create_task(self._run(), name="havterm-replay")

    async def stop(self) -> None:
        """Stop playing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def events(self) -> Any:
        """Integrity failures found while replaying, as ``BookIntegrity``-like events."""
        while True:
            yield await self._queue.get()

    async def add_symbol(self, symbol: str) -> None:
        """A recording holds what it holds."""
        raise RuntimeError("a replay cannot subscribe new symbols")

    async def remove_symbol(self, symbol: str) -> None:
        """Hide a symbol of the recording."""
        self.state.symbols.pop(symbol, None)
        self.state.version += 1

    def _phase(self, phase: str, cause: str = "") -> None:
        self.state.phase = phase
        self.state.phase_cause = cause
        self.state.version += 1

    async def _run(self) -> None:
        from havterm.engine.market import IntegrityFailure
        from havterm.engine.protocol import BookIntegrity
        from havterm.engine.replay import RecordingError, read_frames

        self._phase("replaying")
        first_ts: int | None = None
        start = time.monotonic()
        try:
            for frame in read_frames(self.path):
                if self.speed > 0 and frame.ts_ns:
                    if first_ts is None:
                        first_ts = frame.ts_ns
                    delay = start + (frame.ts_ns - first_ts) / 1e9 / self.speed - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif self.frames % 200 == 0:
                    await asyncio.sleep(0)  # as fast as possible, but the keyboard still answers
                wall = frame.ts_ns / 1e9 if frame.ts_ns else time.time()
                for ev in self.replayer.feed(frame, time.monotonic(), wall):
                    if isinstance(ev, IntegrityFailure):
                        st = self.state.symbols.get(ev.symbol)
                        state = st.book_state if st is not None else None
                        self._queue.put_nowait(BookIntegrity(ev.symbol, state, ev.reason))  # type: ignore[arg-type]
                self.frames += 1
        except RecordingError as exc:
            self._phase("failed", str(exc))
            return
        self._phase("finished", f"{self.frames} frames replayed")


@dataclass(slots=True)
class Source:
    """Where market data comes from: live endpoints, or an embedded exchange started in our loop."""

    symbols: list[str]
    depth: int = 100
    urls: dict[str, str] = field(default_factory=lambda: dict(KRAKEN_URLS))
    demo: bool = False
    demo_rate: float = 400.0
    demo_seed: int = 7
    demo_paused: bool = False
    """Start the embedded market paused (tests and screenshots step it by hand)."""
    replay: str | None = None
    """Play this recording instead of connecting."""
    replay_speed: float = 1.0
    rules_path: str | None = None
    """Alert rules file (default: the config file's ``[[rules]]``)."""
    history_path: str | None = None
    """Fired-alert history (default: ``alerts.jsonl`` in the data directory)."""
    alerts: bool = True
    """Evaluate alert rules (off for benchmarks that measure the feed alone)."""

    @property
    def live_kraken(self) -> bool:
        """True when pointed at Kraken itself (so failures suggest ``--demo``)."""
        return not self.demo and not self.replay and "kraken.com" in self.urls.get("url", "")


def make_client(source: Source, urls: dict[str, str], credentials: Any = None, l3: bool = False) -> Any:
    """Build the engine's ``MarketClient`` for ``urls`` (with the private streams when given a key).

    Spot symbols go to Kraken's v2 feed and Futures products (``PF_XBTUSD``) to
    ``urls["futures_url"]`` (Kraken Futures unless given), into one market state.
    ``l3`` adds the level3 feed, which gives own orders their exact queue position.
    """
    from havterm.engine.client import ClientConfig
    from havterm.engine.composite import MarketClient
    from havterm.engine.futures import FUTURES_WS

    private = ("executions", "balances") if credentials is not None else ()
    cfg = ClientConfig(
        credentials=credentials,
        private=private,
        l3=l3 and credentials is not None,
        symbols=list(source.symbols),
        depth=source.depth,
        channels=("book", "trade", "ticker"),
        url=urls["url"],
        auth_url=urls["auth_url"],
        l3_url=urls["l3_url"],
        rest_url=urls["rest_url"],
    )
    return MarketClient(cfg, futures_url=urls.get("futures_url", FUTURES_WS))


@dataclass(slots=True)
class _SymbolCache:
    """What the bridge remembers per symbol between frames."""

    seen_version: int = -1
    view: SymbolView | None = None
    full: bool = False
    flow: FlowStats = field(default_factory=FlowStats)
    spark: deque[float] = field(default_factory=lambda: deque(maxlen=240))
    spark_second: int = -1
    stats_at: float = -1e9
    rate: float = 0.0
    p50: float | None = None
    p99: float | None = None


class Bridge:
    """Owns the client (and the demo exchange); turns engine state into views at the frame rate."""

    def __init__(
        self,
        app: App[Any],
        source: Source,
        *,
        fps: float = 20.0,
        client: Any = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.source = source
        self.fps = fps
        self.client = client
        self.exchange: Any = None
        self.monotonic = monotonic
        self.focused = source.symbols[0] if source.symbols else ""
        self._cache: dict[str, _SymbolCache] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._timer: Any = None
        self._down_since: float | None = None
        self._last_phase = ""
        self._conn_view: ConnView | None = None
        self._conn_at = -1e9
        self.urls: dict[str, str] = dict(source.urls)
        self.frames = 0
        self.frame_hook: Callable[[float], None] | None = None
        self.error: str | None = None
        self.alerts: AlertsController | None = None
        self.trading: TradingController | None = None
        self.analytics: AnalyticsController | None = None
        self.trading_reason = "no API key: run `havterm keys set` (or use --demo)"
        self.wall: Callable[[], float] = time.time

    # ------------------------------------------------------------------ lifecycle

    def _start_alerts(self) -> None:
        """Load the rules and history; a bad rules file is one notice, never a crash."""
        if not self.source.alerts:
            return

        def report(msg: str) -> None:  # called from worker threads too: post_message is thread-safe
            self.app.post_message(Notice(msg, "warning"))

        self.alerts = AlertsController(
            self.source.rules_path, self.source.history_path, on_error=report, bell=self.app.bell
        )
        if self.alerts.error:
            report(f"alert rules not loaded: {self.alerts.error}")

    async def start(self) -> None:
        """Start the demo exchange (if any), the client, the event pump and the frame timer."""
        self._start_alerts()
        try:
            if self.source.demo and self.client is None:
                from havterm.sim import Exchange, SimConfig

                # The demo lists its own fixed instruments, as Kraken does: a symbol it does not
                # list is refused on subscription (DISABLED, "Currency pair not supported").
                self.exchange = Exchange(
                    SimConfig(
                        seed=self.source.demo_seed,
                        rate=self.source.demo_rate,
                        market=not self.source.demo_paused,
                    )
                )
                ep = await self.exchange.start()
                listed = self.exchange.listing()
                unlisted = [s for s in self.source.symbols if s not in listed]
                if unlisted:
                    self.app.post_message(
                        Notice(
                            f"{', '.join(unlisted)}: not listed; the demo exchange lists {', '.join(listed)}",
                            "warning",
                        )
                    )
                self.urls = {
                    "url": ep["ws"],
                    "auth_url": ep["ws_auth"],
                    "l3_url": ep["ws_l3"],
                    "rest_url": ep["rest"],
                    "futures_url": ep["futures_ws"],
                }
            if self.client is None and self.source.replay:
                self.client = ReplayClient(self.source.replay, self.source.replay_speed)
                self.urls = {"url": self.source.replay}
            if self.client is None:
                # Level3 needs a key with level3 access on Kraken; the demo's test key has it.
                self.client = make_client(
                    self.source, self.urls, self._credentials(), l3=self.exchange is not None
                )
            if getattr(self.client, "auth_session", None) is not None:
                self.trading = TradingController(self.client)
                # Fills arrive on the executions stream, not as answers to an action: each is a toast.
                self.trading.on_notice = lambda line: self.app.post_message(Notice(line, "information"))
            self._start_analytics()
            await self.client.start()
        except Exception as exc:  # a bad URL or a port in use: say so in the UI, never a traceback
            log.exception("could not start the market data client")
            self.error = f"{type(exc).__name__}: {exc}"
            self.app.post_message(Notice(f"cannot start: {self.error}", "error"))
        else:
            self._tasks.append(asyncio.create_task(self._pump_events(), name="havterm-events"))
        self._timer = self.app.set_interval(1.0 / self.fps, self.frame, name="havterm-frame")

    def _credentials(self) -> Any:
        """The demo exchange's test key, else the user's (environment, then keyring), else None."""
        from havterm.engine.credentials import Credentials

        if self.exchange is not None:
            ep = self.exchange.endpoints
            return Credentials(ep["api_key"], ep["api_secret"])
        if self.source.replay:
            return None
        try:
            from havterm.credentials_store import find_credentials

            found = find_credentials()
        except Exception as exc:  # no keyring backend, a locked keyring: trading is off, said once
            self.trading_reason = f"trading is off: {exc}"
            return None
        return found.credentials if found is not None else None

    def _start_analytics(self) -> None:
        """Queue trackers on the live client (a recording gets execution cost and book stats only)."""
        trading = self.trading
        self.analytics = AnalyticsController(
            self.client, trading.open_limit_orders if trading is not None else tuple, self.monotonic
        )
        if trading is not None:
            trading.analytics = self.analytics

    def trade(self, action: Callable[[TradingController], Any]) -> None:
        """Run one order action in the background; its one-line answer becomes a toast."""
        trading = self.trading
        if trading is None:
            self.app.post_message(Notice(self.trading_reason, "warning"))
            return

        async def runner() -> None:
            try:
                line = await action(trading)
            except Exception as exc:  # a bug here must not end the session
                log.exception("order action failed")
                line = f"order action failed: {type(exc).__name__}: {exc}"
            bad = "refused" in line or "failed" in line
            self.app.post_message(Notice(line, "error" if bad else "information"))

        self._tasks.append(asyncio.create_task(runner()))

    async def stop(self) -> None:
        """Stop everything this bridge started, newest first."""
        if self._timer is not None:
            self._timer.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.trading is not None:
            with contextlib.suppress(Exception):
                await self.trading.close()
        if self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.stop(), 3.0)
        if self.exchange is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.exchange.stop(), 3.0)
        if self.alerts is not None:
            await asyncio.to_thread(self.alerts.close)

    @property
    def state(self) -> MarketState | None:
        """The client's live state (None before the client exists)."""
        return getattr(self.client, "state", None)

    async def _pump_events(self) -> None:
        """Discrete events become Textual messages; nothing high-rate comes this way."""
        events = getattr(self.client, "events", None)
        if events is None:
            return
        try:
            async for ev in events():
                msg = self._message_for(ev)
                if msg is not None:
                    self.app.post_message(msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event stream ended")

    @staticmethod
    def _message_for(ev: Any) -> Message | None:
        kind = type(ev).__name__
        if kind == "StateChange":
            old, new = getattr(ev.old, "value", ev.old), getattr(ev.new, "value", ev.new)
            return ConnectionChanged(str(old), str(new), str(getattr(ev, "cause", "") or ""))
        if kind == "BookIntegrity":
            state = getattr(ev.state, "value", ev.state)
            return IntegrityChanged(str(ev.symbol), str(state), str(getattr(ev, "reason", "") or ""))
        return None

    # ------------------------------------------------------------------ symbols

    def add_symbol(self, symbol: str) -> None:
        """Subscribe ``symbol`` (in the background; failures arrive as a notice)."""
        if symbol in self.symbols():
            return
        self._run(self.client.add_symbol(symbol), f"add {symbol}")

    def remove_symbol(self, symbol: str) -> None:
        """Unsubscribe ``symbol``."""
        self._cache.pop(symbol, None)
        self._run(self.client.remove_symbol(symbol), f"remove {symbol}")

    def _run(self, coro: Any, what: str) -> None:
        async def runner() -> None:
            try:
                await coro
            except Exception as exc:
                self.app.post_message(Notice(f"could not {what}: {exc}", "error"))

        self._tasks.append(asyncio.create_task(runner()))

    # ------------------------------------------------------------------ the frame

    def frame(self) -> None:
        """One frame: fold new data into analytics, then let the app repaint the visible screen."""
        now = self.monotonic()
        state = self.state
        if state is not None:
            for sym, st in list(state.symbols.items()):
                self._fold(sym, st, now)
            if self.alerts is not None:
                inputs = self.trading.alert_inputs(list(state.symbols)) if self.trading is not None else None
                for alert in self.alerts.evaluate(state, now, self.wall(), inputs):
                    self.app.post_message(AlertFired(alert.name, alert.symbol, alert.message))
        if self.analytics is not None:
            self.analytics.focus(self.focused)
            self.analytics.refresh()
        self.frames += 1
        hook = self.frame_hook
        if hook is not None:
            hook(now)

    def _fold(self, sym: str, st: SymbolState, now: float) -> None:
        """Analytics that must see every frame of every symbol (cheap when nothing changed)."""
        c = self._cache.get(sym)
        if c is None:
            c = self._cache[sym] = _SymbolCache()
        sec = int(now)
        if sec != c.spark_second and st.book is not None:
            mid = st.book.mid()
            if mid is not None:
                c.spark_second = sec
                c.spark.append(float(mid))
        if st.version == c.seen_version:
            return
        if st.trades:
            last = c.flow.last_trade_id
            new: list[TradeView] = []
            for tr in reversed(st.trades):
                if last is not None and tr.trade_id <= last:
                    break
                new.append(TradeView(tr.trade_id, tr.side, tr.price, tr.qty, tr.timestamp))
                if len(new) >= 500:
                    break
            if new:
                c.flow.add_trades(tuple(new))

    # ------------------------------------------------------------------ views (ViewSource)

    def symbols(self) -> list[str]:
        """Subscribed symbols in subscription order."""
        state = self.state
        return list(state.symbols) if state is not None else list(self.source.symbols)

    def _book_view(self, st: SymbolState, levels: int | None) -> BookView:
        book = st.book
        assert book is not None
        return BookView(
            st.symbol,
            st.version,
            tuple(book.bids(levels)),
            tuple(book.asks(levels)),
            book.price_precision,
            book.qty_precision,
            st.book_state.value,
            st.book_reason,
            st.mismatches,
            st.resyncs,
        )

    def symbol_view(self, symbol: str, full: bool = True) -> SymbolView | None:
        """The view of ``symbol``: the whole book and tape when ``full``, else the top levels only."""
        state = self.state
        st = state.symbols.get(symbol) if state is not None else None
        if st is None:
            return None
        c = self._cache.get(symbol)
        if c is None:
            c = self._cache[symbol] = _SymbolCache()
        now = self.monotonic()
        stats_due = now - c.stats_at >= STATS_EVERY_S
        if c.view is not None and c.seen_version == st.version and (c.full or not full) and not stats_due:
            return c.view
        if stats_due:
            c.stats_at = now
            c.rate = st.messages.rate(now)
            # A recording's exchange timestamps are from another day: no latency to show.
            c.p50, c.p99 = (None, None) if self.source.replay else st.latency.percentiles(50, 99)
        book = self._book_view(st, None if full else GRID_LEVELS) if st.book is not None else None
        trades: tuple[TradeView, ...] = ()
        # Prices at the book's decimals, so the tape and the header line up (see ``at_places``). Only
        # the Futures feed drops trailing zeros; Spot v2 writes every price to the pair's decimals,
        # so its 200 tape prices a frame are left alone (1-2 us each).
        places = st.book.price_precision if st.book is not None and st.futures is not None else None
        if full and st.trades:
            recent = list(st.trades)[-TAPE:]
            trades = tuple(
                TradeView(t.trade_id, t.side, at_places(t.price, places) or t.price, t.qty, t.timestamp)
                for t in reversed(recent)
            )
        ticker = st.ticker
        fut = st.futures
        rel = fut.relative_funding if fut is not None else None
        c.view = SymbolView(
            symbol,
            st.version,
            book,
            trades,
            at_places(st.last_price, places),
            ticker.change_pct if ticker is not None else (fut.change if fut is not None else None),
            c.rate,
            c.p50,
            c.p99,
            st.health.value,
            None if st.last_update_at is None else max(0.0, now - st.last_update_at),
            tuple(c.spark),
            futures=fut is not None,
            funding_pct=None if rel is None else rel * 100,
            basis=fut.basis if fut is not None else None,
            open_interest=fut.openInterest if fut is not None else None,
        )
        c.seen_version = st.version
        c.full = full
        return c.view

    def queue_lines(self, symbol: str) -> list[QueueLine]:
        """Own open orders of ``symbol`` with their queue and P(fill) (empty without a key)."""
        if self.analytics is None or self.trading is None:
            return []
        return self.analytics.own_lines(symbol)

    def hypothetical(self, symbol: str, side: str, price: str, qty: Decimal) -> QueueLine | None:
        """Where a new order at the ladder cursor would queue, and its P(fill)."""
        return None if self.analytics is None else self.analytics.hypothetical_line(symbol, side, price, qty)

    def costs(self, symbol: str, qty_lots: int) -> tuple[CostView | None, CostView | None]:
        """Execution cost of ``qty_lots`` each way, from the engine (level3 when the demo has it)."""
        if self.analytics is None:
            return None, None
        return self.analytics.costs(symbol, qty_lots)

    def book_stats(self, symbol: str) -> BookStatsView | None:
        """Imbalance, microprice and pressure of ``symbol``'s book."""
        return None if self.analytics is None else self.analytics.book_stats(symbol)

    def flow_view(self, symbol: str) -> FlowView:
        """Order-flow analytics of ``symbol``: the tape's statistics and the engine's order flow."""
        c = self._cache.get(symbol)
        view = c.flow.view() if c is not None else FlowView()
        engine = self.analytics.flow_analytics(symbol, self.wall()) if self.analytics is not None else None
        if engine is None:
            return view
        at_price = tuple((p, float(b), float(s)) for p, b, s in engine.trades)
        return replace(
            view,
            version=view.version * 1_000_003 + engine.version,
            at_price=at_price,
            events=engine.events,
            engine=engine,
        )

    def conn_view(self) -> ConnView:
        """The connection as the status bar shows it (rates recomputed twice a second)."""
        now = self.monotonic()
        state = self.state
        if state is None:
            phase, cause = ("failed" if self.error else "starting"), (self.error or "")
            return ConnView(phase, cause, self.urls.get("url", ""), self.source.live_kraken)
        phase = str(getattr(state.phase, "value", state.phase))
        view = ConnView(phase)
        if view.up:
            self._down_since = None
        elif self._down_since is None:
            self._down_since = now
        if self._conn_view is not None and now - self._conn_at < STATS_EVERY_S and phase == self._last_phase:
            return self._conn_view
        self._last_phase = phase
        self._conn_at = now
        rate = sum(st.messages.rate(now) for st in state.symbols.values())
        focused = state.symbols.get(self.focused)
        p50: float | None = None
        p99: float | None = None
        if focused is not None and not self.source.replay:
            p50, p99 = focused.latency.percentiles(50, 99)
        self._conn_view = ConnView(
            phase,
            str(state.phase_cause or ""),
            self.urls.get("url", ""),
            self.source.live_kraken,
            0.0 if self._down_since is None else now - self._down_since,
            state.reconnects,
            state.rtt_ms,
            str(state.system_status),
            rate,
            p50,
            p99,
        )
        return self._conn_view
