"""The thin asyncio transport: one WebSocket, reconnected forever, feeding a sans-I/O Session.

Modelled on the reconnect loop of websockets' ``asyncio/client.py``:
exponential backoff with full jitter (100 ms doubling to 30 s), a circuit
breaker that stops hammering after N failures in a row and tries again after
a cooldown, and a fresh token before every authenticated connect. An
authentication failure is fatal and reported; everything else is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from havterm.engine.protocol import Phase, ReconnectWanted


class AuthError(Exception):
    """Credentials were refused: fatal, never retried."""


@dataclass
class Backoff:
    """Exponential backoff with full jitter: ``uniform(0, min(cap, base * 2**n))``."""

    base_s: float = 0.1
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; grows with each failure."""
        ceiling = min(self.cap_s, self.base_s * (2**self.attempt))
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        """A connection worked: start from the base again."""
        self.attempt = 0


@dataclass
class CircuitBreaker:
    """Open after ``threshold`` failures in a row; let one try through after ``cooldown_s``."""

    threshold: int = 8
    cooldown_s: float = 60.0
    failures: int = 0
    opened_at: float | None = None

    def failure(self, now: float) -> None:
        """Count a failed attempt."""
        self.failures += 1
        if self.failures >= self.threshold and self.opened_at is None:
            self.opened_at = now

    def success(self) -> None:
        """Close the breaker."""
        self.failures = 0
        self.opened_at = None

    def wait_s(self, now: float) -> float:
        """How long to wait before the next attempt is allowed (0 when closed)."""
        if self.opened_at is None:
            return 0.0
        remaining = self.opened_at + self.cooldown_s - now
        if remaining <= 0:
            self.opened_at = now  # half-open: one attempt, then a full cooldown if it fails
            return 0.0
        return remaining


class SessionLike(Protocol):
    """What the transport needs of a sans-I/O session (Spot ``Session``, ``FuturesSession``)."""

    name: str
    phase: Phase
    reconnect_cause: str | None

    def connecting(self, now: float) -> None: ...
    def authenticating(self, now: float) -> None: ...
    def auth_failed(self, now: float, error: str) -> None: ...
    def connection_opened(self, now: float, token: str | None = None) -> None: ...
    def connection_lost(self, now: float, cause: str) -> None: ...
    def close(self, now: float, cause: str = ...) -> None: ...
    def receive_frame(self, frame: str | bytes, now: float, wall: float) -> None: ...
    def tick(self, now: float) -> None: ...
    def data_to_send(self) -> list[str]: ...
    def events_received(self) -> Sequence[Any]: ...


TokenProvider = Callable[[], Awaitable[str]]


@dataclass
class TransportStats:
    """What the connection loop did, for ``--stats`` and the status bar."""

    connects: int = 0
    reconnects: int = 0
    failures: int = 0
    last_error: str | None = None
    frames_in: int = 0
    frames_out: int = 0


class Transport:
    """Runs one endpoint: connect, pump frames both ways, tick the session, reconnect."""

    def __init__(
        self,
        url: str,
        session: SessionLike,
        sink: Callable[[Any], None],
        *,
        token_provider: TokenProvider | None = None,
        backoff: Backoff | None = None,
        breaker: CircuitBreaker | None = None,
        tick_s: float = 0.25,
        open_timeout_s: float = 10.0,
        recorder: Callable[[str | bytes, str], None] | None = None,
    ) -> None:
        self.url = url
        self.session = session
        self.sink = sink
        self.token_provider = token_provider
        self.backoff = backoff or Backoff()
        self.breaker = breaker or CircuitBreaker()
        self.tick_s = tick_s
        self.open_timeout_s = open_timeout_s
        self.recorder = recorder
        self.stats = TransportStats()
        self._ws: ClientConnection | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ control

    async def run(self) -> None:
        """Connect and reconnect until ``stop()`` or a fatal authentication error."""
        session = self.session
        while not self._stopping.is_set() and session.phase is not Phase.CLOSED:
            wait = self.breaker.wait_s(time.monotonic())
            if wait > 0:
                self.stats.last_error = (
                    f"circuit open after {self.breaker.failures} failures; retry in {wait:.0f}s"
                )
                if await self._sleep(wait):
                    break
            session.connecting(time.monotonic())
            self._flush_events()
            try:
                await self._connect_and_pump()
            except AuthError as exc:
                session.auth_failed(time.monotonic(), str(exc))
                self.stats.last_error = str(exc)
                self._flush_events()
                return
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError, ConnectionClosed) as exc:
                cause = _describe(exc)
                self.stats.failures += 1
                self.stats.last_error = cause
                self.breaker.failure(time.monotonic())
                session.connection_lost(time.monotonic(), cause)
                self._flush_events()
            if self._stopping.is_set():
                break
            self.stats.reconnects += 1
            if await self._sleep(self.backoff.next_delay()):
                break
        session.close(time.monotonic())
        self._flush_events()

    async def stop(self) -> None:
        """Close the socket and end ``run()``."""
        self._stopping.set()
        self._wake.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    def kick(self) -> None:
        """Send what the session has queued (after ``session.add`` and the like)."""
        self._wake.set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on stop; True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()

    # ------------------------------------------------------------------ one connection

    async def _connect_and_pump(self) -> None:
        session = self.session
        async with connect(
            self.url,
            open_timeout=self.open_timeout_s,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
            max_size=2**24,
            max_queue=4096,
        ) as ws:
            self._ws = ws
            token = None
            if self.token_provider is not None:
                session.authenticating(time.monotonic())
                self._flush_events()
                token = await self.token_provider()  # a fresh token for every connect
            self.stats.connects += 1
            session.connection_opened(time.monotonic(), token)
            self.breaker.success()
            self._flush_events()
            await self._send_pending(ws)
            reader = asyncio.create_task(self._read(ws))
            ticker = asyncio.create_task(self._tick(ws))
            try:
                done, _ = await asyncio.wait({reader, ticker}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # re-raise what ended the connection
            finally:
                for task in (reader, ticker):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                self._ws = None
        cause = session.reconnect_cause or "connection closed"
        session.connection_lost(time.monotonic(), cause)
        self._flush_events()
        if session.reconnect_cause is None:
            self.backoff.reset()

    async def _read(self, ws: ClientConnection) -> None:
        session = self.session
        record = self.recorder
        try:
            async for frame in ws:
                self.stats.frames_in += 1
                if record is not None:
                    record(frame, session.name)
                session.receive_frame(frame, time.monotonic(), time.time())
                self._flush_events()
                await self._send_pending(ws)
        except ConnectionClosed as exc:
            session.reconnect_cause = session.reconnect_cause or _describe(exc)
        if session.reconnect_cause is None:
            session.reconnect_cause = "closed by the exchange"

    async def _tick(self, ws: ClientConnection) -> None:
        session = self.session
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            session.tick(time.monotonic())
            events = session.events_received()
            reconnect = any(isinstance(e, ReconnectWanted) for e in events)
            if events:
                self.sink(events)
            await self._send_pending(ws)
            if reconnect:
                await ws.close(code=1000, reason="stale")
                return

    async def _send_pending(self, ws: ClientConnection) -> None:
        frames = self.session.data_to_send()
        for frame in frames:
            self.stats.frames_out += 1
            await ws.send(frame)

    def _flush_events(self) -> None:
        events = self.session.events_received()
        if events:
            self.sink(events)


def _describe(exc: BaseException) -> str:
    """A one-line cause for the status bar."""
    if isinstance(exc, ConnectionClosed):
        rcvd = exc.rcvd
        if rcvd is None:
            return "connection lost (no close frame)"
        return f"closed by the exchange ({rcvd.code}{': ' + rcvd.reason if rcvd.reason else ''})"
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or exc}"
    if isinstance(exc, websockets.exceptions.InvalidStatus):
        return f"handshake refused: HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}"
