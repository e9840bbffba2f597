"""A Kraken Futures v1 market-data session and client: books by ``seq``, tickers with funding, trades.

The session is sans-I/O with the same contract as the Spot ``Session`` (the
transport feeds it frames and the time), so the same ``Transport`` runs it,
with the same reconnects and backoff. A sequence gap resnapshots only that
product's book.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from havterm.engine.futures import (
    FUTURES_WS,
    FuturesBook,
    FuturesBookDelta,
    FuturesBookSnapshot,
    FuturesDecodeError,
    FuturesEvent,
    FuturesMessage,
    FuturesTicker,
    FuturesTrade,
    SequenceGap,
    decode_futures,
    subscribe_futures,
    unsubscribe_futures,
)
from havterm.engine.integrity import BookState
from havterm.engine.protocol import ALLOWED, Phase, ReconnectWanted, StateChange
from havterm.engine.transport import Backoff, Transport

FUTURES_FEEDS = ("book", "ticker", "trade")


@dataclass
class FuturesProduct:
    """What the client knows about one Futures product."""

    product_id: str
    book: FuturesBook
    ticker: FuturesTicker | None = None
    trades: deque[FuturesTrade] = field(default_factory=lambda: deque(maxlen=500))
    resnapshots: int = 0
    version: int = 0


FuturesSessionEvent = FuturesMessage | SequenceGap | StateChange | ReconnectWanted


class FuturesSession:
    """Sans-I/O: subscribes ticker, book and trade for each product; resnapshots on a seq gap."""

    def __init__(
        self,
        products: Sequence[str],
        feeds: Sequence[str] = FUTURES_FEEDS,
        heartbeat_timeout_s: float = 10.0,
        name: str = "futures",
    ) -> None:
        self.name = name
        self.feeds = tuple(feeds)
        self.products = {p: FuturesProduct(p, FuturesBook(p)) for p in products}
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.phase = Phase.DISCONNECTED
        self.connected = False
        self.reconnect_cause: str | None = None
        self.gaps = 0
        self._out: list[str] = []
        self._events: list[FuturesSessionEvent] = []
        self._last_frame_at: float | None = None

    def data_to_send(self) -> list[str]:
        """Frames to send now."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[FuturesSessionEvent]:
        """What happened since the last call."""
        out, self._events = self._events, []
        return out

    def connecting(self, now: float) -> None:
        """A socket is being opened."""
        self.reconnect_cause = None
        self._set_phase(Phase.CONNECTING, "connecting")

    def authenticating(self, now: float) -> None:
        """Public feeds need no authentication."""

    def auth_failed(self, now: float, error: str) -> None:
        """Not used by public feeds; closes like the Spot session would."""
        self._set_phase(Phase.CLOSED, f"authentication failed: {error}")

    def connection_opened(self, now: float, token: str | None = None) -> None:
        """Subscribe every feed for every product."""
        self.connected = True
        self._last_frame_at = now
        ids = list(self.products)
        for feed in self.feeds:
            self._out.append(subscribe_futures(feed, ids))
        self._out.append(subscribe_futures("heartbeat"))
        for p in self.products.values():
            p.book.state = BookState.AWAITING_SNAPSHOT
        self._set_phase(Phase.SUBSCRIBING, "connected")

    def connection_lost(self, now: float, cause: str) -> None:
        """Books go stale until the next snapshot."""
        self.connected = False
        for p in self.products.values():
            if p.book.state is BookState.SYNCED:
                p.book.state = BookState.STALE
        if self.phase is not Phase.CLOSED:
            self._set_phase(Phase.DISCONNECTED, cause)

    def close(self, now: float, cause: str = "closed by user") -> None:
        """Final."""
        self.connected = False
        self._set_phase(Phase.CLOSED, cause)

    def receive_frame(self, frame: str | bytes, now: float, wall: float) -> None:
        """Handle one frame."""
        self._last_frame_at = now
        for ev in decode_futures(frame):
            self._handle(ev)
            self._events.append(ev)

    def _handle(self, ev: FuturesMessage) -> None:
        if isinstance(ev, FuturesBookSnapshot):
            p = self.products.get(ev.product_id)
            if p is not None:
                p.book.apply_snapshot(ev)
                p.version += 1
                self._recompute(f"{ev.product_id} book synced")
        elif isinstance(ev, FuturesBookDelta):
            p = self.products.get(ev.product_id)
            if p is None:
                return
            gap = p.book.apply_delta(ev)
            p.version += 1
            if gap is not None:
                self.gaps += 1
                p.resnapshots += 1
                self._events.append(gap)
                # Only this product's book: unsubscribe and subscribe again for a new snapshot.
                self._out.append(unsubscribe_futures("book", [ev.product_id]))
                self._out.append(subscribe_futures("book", [ev.product_id]))
                self._recompute(f"{ev.product_id} seq gap: expected {gap.expected}, got {gap.got}")
        elif isinstance(ev, FuturesTicker):
            p = self.products.get(ev.product_id)
            if p is not None:
                p.ticker = ev
                p.version += 1
        elif isinstance(ev, FuturesTrade):
            p = self.products.get(ev.product_id)
            if p is not None:
                p.trades.append(ev)
                p.version += 1
        elif isinstance(ev, FuturesEvent) and ev.event == "error":
            self._recompute(f"error: {ev.message}")

    def tick(self, now: float) -> None:
        """A connection with no frame (not even a heartbeat) for too long is replaced."""
        if (
            self.connected
            and self._last_frame_at is not None
            and (now - self._last_frame_at > self.heartbeat_timeout_s)
        ):
            self.reconnect_cause = f"no data or heartbeat for {now - self._last_frame_at:.1f}s"
            self._events.append(ReconnectWanted(self.reconnect_cause))

    def _recompute(self, cause: str) -> None:
        if not self.connected:
            return
        states = [p.book.state for p in self.products.values()] if "book" in self.feeds else []
        if any(s is BookState.RESYNCING for s in states):
            self._set_phase(Phase.RESYNCING, cause)
        elif all(s is BookState.SYNCED for s in states):
            self._set_phase(Phase.SUBSCRIBED, cause)

    def _set_phase(self, new: Phase, cause: str) -> None:
        old = self.phase
        if new is old or new not in ALLOWED[old]:
            return
        self.phase = new
        self._events.append(StateChange(old, new, cause))


class FuturesClient:
    """Runs a ``FuturesSession`` over the shared ``Transport``."""

    def __init__(
        self, products: Sequence[str], url: str = FUTURES_WS, feeds: Sequence[str] = FUTURES_FEEDS
    ) -> None:
        self.session = FuturesSession(products, feeds)
        self._callbacks: list[Callable[[Any], None]] = []
        self.transport = Transport(
            url,
            self.session,
            self._dispatch,
            backoff=Backoff(0.1, 30.0),
        )
        self._task: asyncio.Task[None] | None = None
        self.counts: dict[str, int] = {}

    def on_event(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` for every event."""
        self._callbacks.append(callback)

    def _dispatch(self, events: list[Any]) -> None:
        for ev in events:
            name = type(ev).__name__
            self.counts[name] = self.counts.get(name, 0) + 1
            for cb in self._callbacks:
                cb(ev)

    async def start(self) -> None:
        """Connect in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self.transport.run(), name="havterm-futures")

    async def stop(self) -> None:
        """Close the connection."""
        await self.transport.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def product(self, product_id: str) -> FuturesProduct:
        """State of one product."""
        return self.session.products[product_id]

    def stats(self) -> dict[str, Any]:
        """Counters for ``havterm tail --stats``."""
        return {
            "messages": {k: v for k, v in sorted(self.counts.items()) if k.startswith("Futures")},
            "seq_gaps": self.session.gaps,
            "resnapshots": sum(p.resnapshots for p in self.session.products.values()),
            "reconnects": max(0, self.transport.stats.connects - 1),
            "books": {k: p.book.state.value for k, p in sorted(self.session.products.items())},
            "phase": self.session.phase.value,
        }


__all__ = ["FuturesClient", "FuturesDecodeError", "FuturesProduct", "FuturesSession"]
