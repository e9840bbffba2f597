"""One client for Spot and Futures symbols together, with both landing in one ``MarketState``.

``MarketClient`` routes Futures product ids (``PF_XBTUSD``, ``PI_``, ``FI_``...)
to a ``FuturesClient`` and every other symbol to the Spot ``KrakenClient``,
and keeps the Spot client's contract (``state``, ``events()``, ``start``,
``stop``, ``add_symbol``, ``remove_symbol``, ``on``, ``auth_session``...), so a
reader of ``MarketState`` (the dashboard, alerts) needs no Futures code:

- a product is a ``SymbolState`` whose book is a ``FuturesL2Book`` (exact
  integer ticks and lots, like ``L2Book``), whose ``book_state`` follows the
  sequence checks (a gap is RESYNCING with its reason until the resnapshot,
  counted in ``mismatches`` and ``resyncs``), whose tape holds its trades and
  whose ``futures`` field holds mark, index, funding and open interest;
- a product the exchange refuses is DISABLED with the reason, alone;
- the connection phase shown is the worse of the two sessions'.

Each side is created only when a symbol needs it (or, for Spot, when private
channels are asked for), so a Futures-only dashboard opens no Spot socket.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

from havterm.engine.book import BookState
from havterm.engine.client import ClientConfig, ClientEvent, EventStream, KrakenClient, Overflow
from havterm.engine.events import Trade, TradeMessage
from havterm.engine.futures import (
    FUTURES_WS,
    FuturesBookDelta,
    FuturesBookSnapshot,
    FuturesL2Book,
    FuturesTicker,
    FuturesTrade,
    ProductRejected,
    SequenceGap,
    is_futures_symbol,
    ms_to_rfc3339,
)
from havterm.engine.futures_client import FuturesClient
from havterm.engine.market import MarketEngine
from havterm.engine.protocol import BookIntegrity, Phase, Session, StateChange
from havterm.engine.queries import MarketQueries
from havterm.engine.state import MarketState, SymbolState

WORST_FIRST = (
    Phase.CLOSED,
    Phase.DISCONNECTED,
    Phase.CONNECTING,
    Phase.AUTHENTICATING,
    Phase.SUBSCRIBING,
    Phase.DEGRADED,
    Phase.RESYNCING,
    Phase.SUBSCRIBED,
)
"""How the two sessions' phases combine: the one earlier in this list is shown."""
HEALTH_EVERY_S = 1.0
"""Without a Spot session, staleness is checked at most this often (on Futures frames and heartbeats)."""


class FuturesFold:
    """Folds Futures session events into ``MarketState``; pure apart from the state it is given.

    ``product`` answers the session's view of a product (its ``FuturesBook``
    decides what was applied); time is passed in, so tests use fixed clocks.
    """

    def __init__(self, state: MarketState, product: Callable[[str], Any]) -> None:
        self.state = state
        self.product = product
        self._trade_ids: dict[str, int] = {}
        self._newest_trade_ms: dict[str, int] = {}

    def prepare(self, product_id: str) -> SymbolState:
        """The ``SymbolState`` of a product about to be subscribed, with an empty book."""
        st = self.state.symbol(product_id)
        st.book = FuturesL2Book(product_id)
        st.book_state = BookState.AWAITING_SNAPSHOT
        st.book_reason = None
        st.version += 1
        return st

    def apply(self, ev: object, now: float, wall: float) -> list[ClientEvent]:
        """Apply one event; return the discrete events consumers must see (integrity changes)."""
        pid = getattr(ev, "product_id", None)
        st = self.state.symbols.get(pid) if isinstance(pid, str) else None
        if st is None:
            return []
        book = st.book
        if isinstance(ev, FuturesBookSnapshot) and isinstance(book, FuturesL2Book):
            was = st.book_state
            if book.journal is not None:
                book.journal.append(now)  # as MarketEngine.apply_book: the arrival time first
            book.load(ev)
            st.book_state, st.book_reason = BookState.SYNCED, None
            self._seen(st, "book", ev.timestamp, now, wall)
            if was is BookState.RESYNCING:
                return [BookIntegrity(ev.product_id, BookState.SYNCED, "resnapshot after a sequence gap")]
        elif isinstance(ev, FuturesBookDelta) and isinstance(book, FuturesL2Book):
            session_book = self.product(ev.product_id).book
            # Mirror what the session's book accepted: the next in sequence, once (a gap has already
            # moved both books to RESYNCING, and a duplicate is not the next).
            if (
                session_book.state is BookState.SYNCED
                and book.state is BookState.SYNCED
                and book.seq is not None
                and ev.seq == book.seq + 1
            ):
                if book.journal is not None:
                    book.journal.append(now)
                book.set_level(ev)
                self._seen(st, "book", ev.timestamp, now, wall)
        elif isinstance(ev, SequenceGap):
            reason = f"sequence gap: expected {ev.expected}, got {ev.got}; resnapshotting"
            st.book_state, st.book_reason = BookState.RESYNCING, reason
            if book is not None:
                book.state = BookState.RESYNCING
            st.mismatches += 1
            st.resyncs += 1
            st.touch(now)
            return [BookIntegrity(ev.product_id, BookState.RESYNCING, reason)]
        elif isinstance(ev, ProductRejected):
            reason = f"not a Kraken Futures product ({ev.reason})"
            st.book_state, st.book_reason = BookState.DISABLED, reason
            if book is not None:
                book.state = BookState.DISABLED
            st.touch(now)
            return [BookIntegrity(ev.product_id, BookState.DISABLED, reason)]
        elif isinstance(ev, FuturesTicker):
            st.futures = ev
            st.instrument_status = "suspended" if ev.suspended else "online"
            self._seen(st, "ticker", ev.time, now, wall)
        elif isinstance(ev, FuturesTrade):
            self._trade(st, ev, now, wall)
        return []

    def _seen(self, st: SymbolState, channel: str, ts_ms: int | None, now: float, wall: float) -> None:
        st.count(channel, now)
        if ts_ms:
            st.latency.add(wall * 1000.0 - ts_ms)
        st.touch(now)

    def _trade(self, st: SymbolState, ev: FuturesTrade, now: float, wall: float) -> None:
        ms = ev.time if ev.time is not None else int(wall * 1000)
        # A trade_snapshot lists the newest first: only what is newer than the tape is appended,
        # so the tape stays in time order and ``last_trade`` is the latest.
        if ms < self._newest_trade_ms.get(ev.product_id, 0):
            return
        self._newest_trade_ms[ev.product_id] = ms
        n = self._trade_ids[ev.product_id] = self._trade_ids.get(ev.product_id, 0) + 1
        side: Literal["buy", "sell"] = "buy" if ev.side == "buy" else "sell"
        tr = Trade(ev.product_id, side, ev.price, ev.qty, ev.type or "fill", n, ms_to_rfc3339(ms))
        st.trades.append(tr)
        st.last_trade = tr
        journal = st.book.journal if st.book is not None else None
        if journal is not None:  # as MarketEngine.apply_trades: in arrival order with the book's changes
            journal.append(now)
            journal.append(TradeMessage(False, (tr,)))
        st.count("trade", now)
        st.touch(now)

    def resync_states(self, now: float) -> None:
        """After a connection change, show each product's book state as its session sees it."""
        for pid, st in self.state.symbols.items():
            if not isinstance(st.book, FuturesL2Book):
                continue
            try:
                state = self.product(pid).book.state
            except KeyError:
                continue
            if state is not st.book_state and state in (BookState.STALE, BookState.AWAITING_SNAPSHOT):
                st.book_state = state
                st.book.state = state
                st.touch(now)


class MarketClient(MarketQueries):
    """Spot v2 and Futures v1 behind the Spot client's contract; see the module docstring."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        futures_url: str = FUTURES_WS,
        state: MarketState | None = None,
    ) -> None:
        cfg = config or ClientConfig()
        self.futures_url = futures_url
        self.state = state if state is not None else MarketState()
        symbols = list(dict.fromkeys(cfg.symbols))
        spot = [s for s in symbols if not is_futures_symbol(s)]
        products = [s.upper() for s in symbols if is_futures_symbol(s)]
        # The Spot side's config: its symbols only; level3 only with Spot symbols to follow.
        self._spot_cfg = replace(cfg, symbols=spot, l3=cfg.l3 and bool(spot))
        for s in (s.upper() if is_futures_symbol(s) else s for s in symbols):
            self.state.symbol(s)  # the user's order is the grid's order, whichever side connects first
        self._callbacks: dict[type, list[Callable[[Any], None]]] = {}
        self._streams: list[EventStream] = []
        self._started = False
        self._causes = {"spot": "", "futures": ""}
        self._health = MarketEngine(self.state, stale_after_s=cfg.stale_after_s)
        self._health_at = -1e9
        self.spot: KrakenClient | None = None
        self.futures: FuturesClient | None = None
        self.fold = FuturesFold(self.state, self._product)
        if spot or cfg.private:
            self.spot = self._make_spot(self._spot_cfg)
        if products:
            self.futures = self._make_futures(products)

    # ------------------------------------------------------------------ the two sides

    def _make_spot(self, cfg: ClientConfig) -> KrakenClient:
        client = KrakenClient(cfg, self.state)
        client.on(StateChange, self._on_spot_phase)
        for stream in self._streams:
            client.attach(stream)
        for event_type, callbacks in self._callbacks.items():
            for cb in callbacks:
                client.on(event_type, cb)
        return client

    def _make_futures(self, products: Sequence[str]) -> FuturesClient:
        for pid in products:
            self.fold.prepare(pid)
        client = FuturesClient(products, url=self.futures_url)
        client.on_event(self._on_futures)
        return client

    def _product(self, product_id: str) -> Any:
        assert self.futures is not None
        return self.futures.product(product_id)

    def _on_spot_phase(self, ev: StateChange) -> None:
        self._causes["spot"] = ev.cause
        self._combine_phase()

    def _on_futures(self, ev: object) -> None:
        now, wall = time.monotonic(), time.time()
        out: list[ClientEvent] = []
        if isinstance(ev, StateChange):
            self._causes["futures"] = f"futures: {ev.cause}"
            self.fold.resync_states(now)
            self._combine_phase()
            out.append(StateChange(ev.old, ev.new, f"futures: {ev.cause}"))
        else:
            out.extend(self.fold.apply(ev, now, wall))
        if self.spot is None and now - self._health_at >= HEALTH_EVERY_S:
            # The Spot session's timer checks every symbol's health; without one, this does.
            self._health_at = now
            self._health.check_health(now)
        for item in out:
            self._emit(item)

    def _combine_phase(self) -> None:
        phases: list[tuple[Phase, str]] = []
        if self.spot is not None:
            phases.append((self.spot.session.phase, self._causes["spot"]))
        if self.futures is not None:
            phases.append((self.futures.session.phase, self._causes["futures"]))
        if not phases:
            return
        phase, cause = min(phases, key=lambda pc: WORST_FIRST.index(pc[0]))
        st = self.state
        st.phase, st.phase_cause = phase.value, cause
        spot_rc = max(0, self.spot.transport.stats.connects - 1) if self.spot is not None else 0
        fut_rc = max(0, self.futures.transport.stats.connects - 1) if self.futures is not None else 0
        st.reconnects = spot_rc + fut_rc
        st.version += 1

    def _emit(self, ev: ClientEvent) -> None:
        for cb in self._callbacks.get(type(ev), ()):
            cb(ev)
        for stream in self._streams:
            stream.put(ev)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect both sides in the background; network errors are retried, never raised."""
        if self._started:
            return
        self._started = True
        if self.spot is not None:
            await self.spot.start()
        if self.futures is not None:
            await self.futures.start()

    async def stop(self) -> None:
        """Close every connection and end every ``events()`` iterator."""
        if self.futures is not None:
            await self.futures.stop()
        if self.spot is not None:
            await self.spot.stop()
        for stream in self._streams:
            stream.close()

    async def __aenter__(self) -> MarketClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ symbols

    async def add_symbol(self, symbol: str) -> None:
        """Subscribe one more symbol on the side it belongs to (starting that side if needed)."""
        if is_futures_symbol(symbol):
            pid = symbol.upper()
            if self.futures is None:
                self.futures = self._make_futures([pid])
                if self._started:
                    await self.futures.start()
            elif pid not in self.futures.session.products:
                self.fold.prepare(pid)
                self.futures.add_product(pid)
            self.state.version += 1
            return
        if self.spot is None:
            self.spot = self._make_spot(replace(self._spot_cfg, symbols=[symbol], l3=False))
            self.state.symbol(symbol)
            if self._started:
                await self.spot.start()
            return
        await self.spot.add_symbol(symbol)

    async def remove_symbol(self, symbol: str) -> None:
        """Unsubscribe a symbol; the others are untouched."""
        if is_futures_symbol(symbol) and self.futures is not None:
            self.futures.remove_product(symbol.upper())
        elif self.spot is not None:
            await self.spot.remove_symbol(symbol)
        self.state.symbols.pop(symbol.upper() if is_futures_symbol(symbol) else symbol, None)
        self.state.version += 1

    # ------------------------------------------------------------------ the Spot client's contract

    @property
    def config(self) -> ClientConfig:
        """The Spot side's config (its symbols are the Spot ones)."""
        return self.spot.config if self.spot is not None else self._spot_cfg

    @property
    def session(self) -> Session | None:
        """The Spot public session (None without Spot symbols)."""
        return self.spot.session if self.spot is not None else None

    @property
    def l3_session(self) -> Session | None:
        """The Spot level3 session, when there is one."""
        return self.spot.l3_session if self.spot is not None else None

    @property
    def auth_session(self) -> Session | None:
        """The Spot authenticated session (executions, balances, trading), when there is one."""
        return self.spot.auth_session if self.spot is not None else None

    def send_private(self, frame: str) -> bool:
        """Send on the authenticated Spot connection; False when there is none."""
        return self.spot.send_private(frame) if self.spot is not None else False

    def on(self, event_type: type, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` for every event of ``event_type``, from either side."""
        self._callbacks.setdefault(event_type, []).append(callback)
        if self.spot is not None:
            self.spot.on(event_type, callback)

    def events(
        self, maxsize: int = 10_000, policy: Overflow | str = Overflow.DROP_OLDEST
    ) -> AsyncIterator[ClientEvent]:
        """Iterate over both sides' events through a bounded queue of its own.

        The Spot client puts its events straight into the queue (no second hop
        for its high-rate book messages); Futures events arrive through this client.
        """
        stream = EventStream(maxsize, Overflow(policy))
        self._streams.append(stream)
        if self.spot is not None:
            self.spot.attach(stream)
        return self._iterate(stream)

    async def _iterate(self, stream: EventStream) -> AsyncIterator[ClientEvent]:
        try:
            while (ev := await stream.get()) is not None:
                yield ev
        finally:
            if stream in self._streams:
                self._streams.remove(stream)
            if self.spot is not None:
                self.spot.detach(stream)

    def stats(self) -> dict[str, Any]:
        """The Spot client's counters, with the Futures client's under ``futures``."""
        out: dict[str, Any] = self.spot.stats() if self.spot is not None else {}
        if self.futures is not None:
            out["futures"] = self.futures.stats()
        return out


__all__ = ["FuturesFold", "MarketClient"]
