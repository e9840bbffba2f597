"""Run an Exchange on its own event loop in a thread (for clients that block their loop)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from havterm.sim import Exchange, SimConfig


class ThreadedExchange:
    """``with ThreadedExchange(SimConfig(...)) as ex:``; ``ex.call(fn)`` runs ``fn(exchange)`` on its loop."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.exchange: Exchange | None = None
        self.endpoints: dict[str, Any] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="sim-exchange", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with Exchange(self.config) as ex:
            self.exchange = ex
            self.endpoints = ex.endpoints
            self._ready.set()
            await self._stop.wait()

    def call(self, fn: Any) -> Any:
        """Run ``fn(exchange)`` on the exchange's loop and return its result."""

        async def run() -> Any:
            return fn(self.exchange)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def __enter__(self) -> ThreadedExchange:
        self._thread.start()
        if not self._ready.wait(20):
            raise TimeoutError("exchange did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)
        self._loop.close()
