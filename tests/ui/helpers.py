"""Helpers for the dashboard tests: a seeded exchange, the app wired to it, and waiting on conditions."""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.book import BookState
from havterm.engine.metrics import LatencyWindow, RateMeter
from havterm.engine.state import MarketHealth, MarketState
from havterm.sim import Exchange, SimConfig

SYMBOLS = ("BTC/USD", "ETH/USD")
FROZEN_WALL = 1_780_000_000.0
"""2026-05-28 20:26:40 UTC: the clock every snapshot shows."""
FROZEN_MONO = 1000.0


def endpoints(ex: Exchange) -> dict[str, str]:
    """The exchange's endpoints under the client's names."""
    ep = ex.endpoints
    return {"url": ep["ws"], "auth_url": ep["ws_auth"], "l3_url": ep["ws_l3"], "rest_url": ep["rest"]}


def make_app(ex: Exchange, symbols: tuple[str, ...] = SYMBOLS, depth: int = 25, **cfg: Any) -> HavtermApp:
    """The real app and the real client, pointed at the embedded exchange."""
    source = Source(list(symbols), depth, endpoints(ex))
    client = make_client(source, source.urls)
    mark_trades(ex)
    return HavtermApp(source, UiConfig(depth=depth, **cfg), client=client)


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> None:
    """Let the app run until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.01)


def in_sync(ex: Exchange, state: MarketState, symbol: str, levels: int = 10) -> bool:
    """True when the client's book and tape equal the exchange's own."""
    st = state.symbols.get(symbol)
    if st is None or st.book is None or st.book_state.value != "synced":
        return False
    eng = ex.book(symbol)
    bids = [(lv.price, lv.total) for lv in eng.sides[0].top(levels)]
    asks = [(lv.price, lv.total) for lv in eng.sides[1].top(levels)]
    if st.book.bids(levels) != bids or st.book.asks(levels) != asks:
        return False
    if st.trades:
        return bool(st.trades[-1].trade_id == eng.trade_seq)
    # No trade seen yet: fine only if none happened since the client subscribed.
    return eng.trade_seq == _TRADES_AT_CONNECT.get((id(ex), symbol), 0)


_TRADES_AT_CONNECT: dict[tuple[int, str], int] = {}


def mark_trades(ex: Exchange) -> None:
    """Remember each symbol's trade count before a client connects (the exchange sends no trade snapshot)."""
    for sym in ex.symbols():
        _TRADES_AT_CONNECT[(id(ex), sym)] = ex.book(sym).trade_seq


def frame(app: HavtermApp) -> None:
    """Run one frame now instead of waiting for the timer."""
    app.bridge.frame()


def shown(app: HavtermApp) -> str:
    """The text on the terminal, rebuilt from the SVG screenshot by each text run's position."""
    svg = app.export_screenshot()
    runs = re.findall(
        r'<text [^>]*?x="([0-9.]+)" y="([0-9.]+)" textLength="([0-9.]+)"[^>]*>([^<]*)</text>', svg
    )
    lines: dict[float, dict[int, str]] = {}
    cw = 0.0
    for x, y, length, raw in runs:
        text = html.unescape(raw).replace("\xa0", " ")
        if text and not cw:
            cw = float(length) / len(text)
        if not text or not cw:
            continue
        row = lines.setdefault(float(y), {})
        col = round(float(x) / cw)
        for i, ch in enumerate(text):
            row[col + i] = ch
    out = []
    for y in sorted(lines):
        row = lines[y]
        out.append("".join(row.get(i, " ") for i in range(max(row) + 1)) if row else "")
    return "\n".join(out)


class FrozenClient:
    """A client whose state never changes: the snapshot tests draw a fixed market."""

    def __init__(self, state: MarketState) -> None:
        self.state = state

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def events(self) -> AsyncIterator[object]:
        await asyncio.Event().wait()
        yield None

    async def add_symbol(self, symbol: str) -> None:
        return None

    async def remove_symbol(self, symbol: str) -> None:
        return None


def _patch_sim_clock() -> Callable[[], None]:
    """Make the exchange's timestamps a deterministic sequence (1 ms per call)."""
    # Every module that took ``now_ns`` by name, imported here, before the patch: a module first
    # imported while patched would keep this build's fake for good, and the next build's ticks
    # (and so every timestamp in a snapshot) would then depend on which test ran first.
    import havterm.sim.exchange as sim_exchange
    import havterm.sim.futures as sim_futures
    import havterm.sim.rest as sim_rest
    import havterm.sim.server as sim_server
    import havterm.sim.trading as sim_trading
    import havterm.sim.wire as sim_wire

    counter = itertools.count()
    base = int(FROZEN_WALL * 1e9) - 300_000_000_000

    def fake() -> int:
        # 40 ms per call spreads the seeded trades over a few minutes, as a real tape would be.
        return base + next(counter) * 40_000_000

    modules = (sim_exchange, sim_futures, sim_rest, sim_server, sim_trading, sim_wire)
    saved = [(m, m.now_ns) for m in modules]
    for m, _ in saved:
        m.now_ns = fake  # type: ignore[attr-defined]

    def restore() -> None:
        for m, f in saved:
            m.now_ns = f  # type: ignore[attr-defined]

    return restore


def frozen_state(
    steps: int = 400, more: int = 120, symbols: tuple[str, ...] = SYMBOLS, depth: int = 25
) -> MarketState:
    """A market state built from a seeded, paused exchange and then frozen (no clocks left in it)."""

    async def build() -> MarketState:
        async with Exchange(SimConfig(seed=7, market=False, symbols=symbols)) as ex:
            ex.step(steps)
            source = Source(list(symbols), depth, endpoints(ex))
            client = make_client(source, source.urls)
            mark_trades(ex)
            await client.start()
            try:
                deadline = time.monotonic() + 15
                while not all(in_sync(ex, client.state, s) for s in symbols):
                    if time.monotonic() > deadline:
                        raise AssertionError("client never caught up with the exchange")
                    await asyncio.sleep(0.01)
                ex.step(more)
                while not all(in_sync(ex, client.state, s) for s in symbols):
                    if time.monotonic() > deadline:
                        raise AssertionError("client never caught up with the exchange")
                    await asyncio.sleep(0.01)
            finally:
                await client.stop()
            state: MarketState = client.state
        for st in state.symbols.values():
            # Rates and latencies measure this machine; a picture must not depend on them.
            st.messages = RateMeter()
            st.latency = LatencyWindow()
            st.last_update_at = FROZEN_MONO - 1.0
            # Stopping the client marked the books stale; the picture is of a live market.
            st.book_state = BookState.SYNCED
            st.book_reason = None
            st.health = MarketHealth.ACTIVE
            if st.book is not None:
                st.book.state = BookState.SYNCED
            st.version += 1
        state.phase = "subscribed"
        state.phase_cause = ""
        state.reconnects = 0
        return state

    restore = _patch_sim_clock()
    try:
        return asyncio.run(build())
    finally:
        restore()


def frozen_app(state: MarketState, symbols: tuple[str, ...] = SYMBOLS) -> HavtermApp:
    """The app over a frozen state, with a frozen clock."""
    source = Source(list(symbols), 25, {"url": "ws://127.0.0.1:1/v2"})
    return HavtermApp(
        source,
        UiConfig(depth=25),
        client=FrozenClient(state),
        clock=lambda: FROZEN_WALL,
        monotonic=lambda: FROZEN_MONO,
    )
