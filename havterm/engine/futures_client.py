"""A Kraken Futures v1 market-data session and client: books by ``seq``, tickers with funding, trades.

The session is sans-I/O with the same contract as the Spot ``Session`` (the
transport feeds it frames and the time), so the same ``Transport`` runs it,
with the same reconnects and backoff. A sequence gap resnapshots only that
product's book.

Each product is subscribed with requests of its own, so an unknown product
fails alone instead of taking the others' subscriptions with it. Kraken's
``error`` answers do not name the product; the connection answers in order, so
an error belongs to the oldest request still unanswered.
"""

from __future__ import annotations

import asyncio
import time
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
    ProductRejected,
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


FuturesSessionEvent = FuturesMessage | SequenceGap | ProductRejected | StateChange | ReconnectWanted


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
        # (event, feed, product) of requests sent and not answered yet, oldest first.
        self._unanswered: deque[tuple[str, str, str]] = deque()
        self.rejected: dict[str, str] = {}
        """Products the exchange refused, with its reason; they are not subscribed again."""

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
        self._unanswered.clear()
        for pid in self.products:
            if pid not in self.rejected:
                self._request("subscribe", pid)
        self._out.append(subscribe_futures("heartbeat"))
        for p in self.products.values():
            if p.book.state is not BookState.DISABLED:
                p.book.state = BookState.AWAITING_SNAPSHOT
        self._set_phase(Phase.SUBSCRIBING, "connected")

    def _request(self, event: str, product_id: str, feeds: Sequence[str] | None = None) -> None:
        for feed in self.feeds if feeds is None else feeds:
            encode = subscribe_futures if event == "subscribe" else unsubscribe_futures
            self._out.append(encode(feed, [product_id]))
            self._unanswered.append((event, feed, product_id))

    def add_product(self, product_id: str, now: float) -> None:
        """Follow one more product (subscribed at once when connected, else on connect)."""
        if product_id in self.products:
            return
        self.rejected.pop(product_id, None)
        self.products[product_id] = FuturesProduct(product_id, FuturesBook(product_id))
        if self.connected:
            self._request("subscribe", product_id)
            self._recompute(f"{product_id} subscribing")

    def remove_product(self, product_id: str, now: float) -> None:
        """Stop following a product; the others are untouched."""
        p = self.products.pop(product_id, None)
        if p is None:
            return
        if self.connected and p.book.state is not BookState.DISABLED:
            self._request("unsubscribe", product_id)
        self._recompute(f"{product_id} removed")

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
                self._request("unsubscribe", ev.product_id, ("book",))
                self._request("subscribe", ev.product_id, ("book",))
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
        elif isinstance(ev, FuturesEvent):
            self._answer(ev)

    def _answer(self, ev: FuturesEvent) -> None:
        """Match an ack or an error to the request it answers; refuse products the exchange does not know."""
        event = ev.event.strip()  # the docs show "subscribed " with a trailing space
        if event in ("subscribed", "unsubscribed", "subscribed_failed", "unsubscribed_failed"):
            asked = "subscribe" if event.startswith("subscribed") else "unsubscribe"
            for pid in ev.product_ids:
                key = (asked, ev.feed or "", pid)
                if key in self._unanswered:
                    self._unanswered.remove(key)
            if event.endswith("_failed") and asked == "subscribe":
                for pid in ev.product_ids:
                    self._reject(pid, f"{ev.feed} subscription failed")
        elif event == "error":
            oldest = self._unanswered.popleft() if self._unanswered else None
            if oldest is not None and oldest[0] == "subscribe" and "product" in (ev.message or "").lower():
                self._reject(oldest[2], ev.message or "refused")
            else:
                self._recompute(f"error: {ev.message}")
        elif event == "alert" and ev.message:
            # "Couldn't subscribe to invalid product `PF_X`": this one names the product.
            for pid in list(self.products):
                if f"`{pid}`" in ev.message:
                    oldest = next((r for r in self._unanswered if r[0] == "subscribe" and r[2] == pid), None)
                    if oldest is not None:
                        self._unanswered.remove(oldest)
                    self._reject(pid, ev.message)

    def _reject(self, product_id: str, reason: str) -> None:
        p = self.products.get(product_id)
        if p is None or product_id in self.rejected:
            return
        # Its other requests stay unanswered on purpose: their errors are still to come, in order.
        self.rejected[product_id] = reason
        p.book.state = BookState.DISABLED
        p.version += 1
        self._events.append(ProductRejected(product_id, reason))
        self._recompute(f"{product_id} refused: {reason}")

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
        live = [s for s in states if s is not BookState.DISABLED]
        if any(s is BookState.RESYNCING for s in live):
            self._set_phase(Phase.RESYNCING, cause)
        elif any(s is not BookState.SYNCED for s in live):
            self._set_phase(Phase.SUBSCRIBING, cause)
        elif len(live) < len(states):
            # A refused product, like a failed Spot subscription; the cause names it, whatever moved last.
            refused = [f"{pid} refused: {why}" for pid, why in self.rejected.items() if pid in self.products]
            self._set_phase(Phase.DEGRADED, "; ".join(refused) or cause)
        else:
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

    def add_product(self, product_id: str) -> None:
        """Follow one more product."""
        self.session.add_product(product_id, time.monotonic())
        self._flush()

    def remove_product(self, product_id: str) -> None:
        """Stop following a product."""
        self.session.remove_product(product_id, time.monotonic())
        self._flush()

    def _flush(self) -> None:
        events = self.session.events_received()
        if events:
            self._dispatch(list(events))
        self.transport.kick()

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
