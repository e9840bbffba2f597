"""One client connection: an outgoing frame queue, a writer task with faults, subscription keys."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from havterm.sim.faults import FaultController, FaultSpec

MAX_QUEUE = 200_000
"""Frames queued for one client before it is dropped as a slow consumer."""

HEARTBEAT = '{"channel":"heartbeat"}'


class Session:
    """Server-side state of one WebSocket connection."""

    def __init__(
        self,
        cid: int,
        kind: str,
        ws: ServerConnection,
        faults: FaultController,
        rng_seed: int,
    ) -> None:
        self.id = cid
        self.kind = kind  # "public", "auth" or "l3"
        self.ws = ws
        self._faults = faults
        self.rng = random.Random(rng_seed)
        self._out: deque[tuple[str, str, int | None, float]] = deque()
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.subs: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.sent = 0
        self.closed = False
        self.tokens: set[str] = set()  # tokens bound by a private subscription here
        self._rate_window: deque[float] = deque()
        self._disconnect_handle: asyncio.TimerHandle | None = None
        self._bg: asyncio.Future[None] | None = None  # a pending close, kept referenced
        self.writer = asyncio.create_task(self._writer(), name=f"sim-writer-{cid}")

    @property
    def faults(self) -> FaultSpec:
        """The faults in force on this connection now."""
        return self._faults.for_connection(self.id)

    # -- outgoing -------------------------------------------------------------

    def push(self, text: str, kind: str = "data", checksum: int | None = None) -> None:
        """Queue one frame. ``kind`` is ``data`` (channel), ``ack`` or ``ctl``."""
        if self.closed:
            return
        if len(self._out) >= MAX_QUEUE:
            self.closed = True
            self._bg = asyncio.ensure_future(self.ws.close(1008, "slow consumer"))
            return
        self._out.append((text, kind, checksum, self._loop.time()))
        if len(self._out) == 1:
            self._wake.set()

    def push_later(self, delay_s: float, text: str, kind: str = "ack") -> None:
        """Queue a frame after ``delay_s`` (slow acks)."""
        self._loop.call_later(delay_s, self.push, text, kind)

    def pending(self) -> int:
        """Frames not yet handed to the socket."""
        return len(self._out)

    async def _writer(self) -> None:
        ws = self.ws
        out = self._out
        held: str | None = None  # a frame held back by the reorder fault
        try:
            while True:
                if not out:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                text, kind, ck, t_enq = out.popleft()
                spec = self.faults
                if not spec.frame_faults:
                    await ws.send(text)
                    self.sent += 1
                    continue
                if spec.delay_ms:
                    wait = t_enq + spec.delay_ms / 1000 - self._loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                if kind == "data":
                    rng = self.rng
                    if spec.drop and rng.random() < spec.drop:
                        continue
                    if ck is not None and spec.corrupt_checksum and rng.random() < spec.corrupt_checksum:
                        text = text.replace(f'"checksum":{ck}', f'"checksum":{ck ^ 0x5A5A5A5A}', 1)
                    if held is None and spec.reorder and rng.random() < spec.reorder:
                        held = text
                        continue
                    await ws.send(text)
                    self.sent += 1
                    if spec.duplicate and rng.random() < spec.duplicate:
                        await ws.send(text)
                        self.sent += 1
                    if held is not None:
                        await ws.send(held)
                        self.sent += 1
                        held = None
                else:
                    await ws.send(text)
                    self.sent += 1
        except ConnectionClosed:
            pass
        finally:
            self.closed = True

    # -- inbound rate ---------------------------------------------------------

    def over_rate(self, now: float) -> bool:
        """Count one client message; ``True`` if it exceeds ``msg_rate_limit``."""
        limit = self.faults.msg_rate_limit
        if not limit:
            return False
        w = self._rate_window
        w.append(now)
        while w and w[0] <= now - 1.0:
            w.popleft()
        return len(w) > limit

    # -- disconnects ----------------------------------------------------------

    def arm_disconnect(self) -> None:
        """(Re)start the ``disconnect_every`` timer from the faults now in force."""
        if self._disconnect_handle is not None:
            self._disconnect_handle.cancel()
            self._disconnect_handle = None
        every = self.faults.disconnect_every
        if every > 0 and not self.closed:
            self._disconnect_handle = self._loop.call_later(every, self._fault_disconnect)

    def _fault_disconnect(self) -> None:
        self._disconnect_handle = None
        self.disconnect(self.faults.close_code)

    def disconnect(self, code: int | None) -> None:
        """Close now: 1001 with a close frame; 1006 by abort; ``None`` by TCP close, no frame."""
        if self.closed:
            return
        self.closed = True
        if code == 1006:
            self.ws.transport.abort()
        elif code is None:
            self.ws.transport.close()
        else:
            self._bg = asyncio.ensure_future(self.ws.close(code, "Going away" if code == 1001 else ""))

    def stop(self) -> None:
        """Release timers and the writer (the connection is gone)."""
        self.closed = True
        if self._disconnect_handle is not None:
            self._disconnect_handle.cancel()
        self.writer.cancel()
