"""Order analytics on screen against the embedded exchange with level3: ladder read-out and flow screen."""

from __future__ import annotations

from decimal import Decimal

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.credentials import Credentials
from havterm.engine.fixed import format_units
from havterm.sim import Exchange
from havterm.widgets.flow import level_rate_lines
from havterm.widgets.queue import queue_panel_lines

from .helpers import endpoints, wait_for

SYMBOL = "BTC/USD"


def level3_app(ex: Exchange) -> HavtermApp:
    source = Source([SYMBOL], 25, endpoints(ex))
    creds = Credentials(ex.endpoints["api_key"], ex.endpoints["api_secret"])
    return HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls, creds, l3=True))


async def test_ladder_readout_and_flow_screen_show_the_engines_numbers(exchange: Exchange) -> None:
    app = level3_app(exchange)
    async with app.run_test(size=(130, 44)) as pilot:
        bridge = app.bridge
        await wait_for(
            pilot,
            lambda: (
                bridge.trading is not None
                and bridge.trading.trader.ready
                and bridge.state.symbols[SYMBOL].l3_state.value == "synced"
            ),
            10,
            "level3 and trading",
        )
        trading = bridge.trading
        assert trading is not None and bridge.analytics is not None
        pp = exchange.instruments[SYMBOL].price_precision
        best = exchange.book(SYMBOL).best_bid()
        assert best is not None
        price = format_units(best.price - 4, pp)
        line = await trading.place(SYMBOL, "buy", "0.01", price, "limit")
        oid = line.rsplit("(", 1)[1].rstrip(")")
        for _ in range(20):  # some flow for the trackers
            exchange.step(1, symbol=SYMBOL)
            await exchange.drain()
            await pilot.pause(0.02)

        def readout() -> str:
            own, cursor = app.screen._queue  # type: ignore[attr-defined]
            return "\n".join(t.plain for t in queue_panel_lines(own, cursor, 200, 10))

        # The ladder's read-out: the exact queue of our order, as the tracker has it.
        tracker = bridge.analytics.trackers[SYMBOL]
        await wait_for(pilot, lambda: tracker.position(oid) is not None, 5, "our order in the level3 queue")

        def expected() -> str:
            pos = tracker.position(oid)
            if pos is None:
                return "?"
            n = pos.orders_ahead
            return "first in line" if n == 0 else f"after {n} order{'' if n == 1 else 's'} · "

        await wait_for(pilot, lambda: f"BUY 0.01 @ {price}  {expected()}" in readout(), 5, "the read-out")
        # A probability needs takers against our side; the demo's market may go a while without.
        for _ in range(400):
            if tracker.tape("buy", bridge.monotonic(), 60.0)[0]:
                break
            exchange.step(1, symbol=SYMBOL)
            await exchange.drain()
        assert tracker.tape("buy", bridge.monotonic(), 60.0)[0], "no seller in 400 steps"
        await wait_for(pilot, lambda: tracker.position(oid) is not None, 5, "our order still resting")
        await wait_for(pilot, lambda: "l3-exact/" in readout(), 10, "a fill probability")
        # The flow screen: the engine's events, and per-level rates equal to the flow tracker's.
        await pilot.press("3")
        flow = bridge.analytics.flows[SYMBOL]
        for _ in range(30):
            exchange.step(1, symbol=SYMBOL)
            await exchange.drain()
            await pilot.pause(0.02)
        await wait_for(pilot, lambda: app.screen.flow.engine is not None and app.screen.flow.engine.events, 5)
        view = app.screen.flow.engine  # type: ignore[attr-defined]
        assert view is not None and view.l3 and view.rates
        top = view.rates[0]
        now = bridge.monotonic()
        rates = flow.level_rates("buy", int(Decimal(top.price).scaleb(pp)), now)
        assert top.side == "bid" and rates.adds == top.n_adds and rates.cancels == top.n_cancels
        text = [t.plain for t in level_rate_lines(view, 60, 20)]
        assert any(r.split()[:2] == ["bid", top.price] for r in text)
        # The newest event on screen is the flow tracker's newest, converted for display.
        await wait_for(
            pilot,
            lambda: app.screen.flow.engine is not None and app.screen.flow.engine.version == flow.version,
            5,
            "the screen on the tracker's latest version",
        )
        newest = flow.events(1)[0]
        shown = app.screen.flow.engine.events[0]  # type: ignore[attr-defined]
        kind = "spoof?" if newest.kind == "spoof" else newest.kind
        ticks = newest.new_ticks if newest.kind == "best" else newest.price_ticks  # type: ignore[union-attr]
        side = "bid" if newest.side == "buy" else "ask"
        assert (shown.kind, shown.side, shown.price) == (kind, side, format_units(ticks, pp))
        await trading.cancel(oid)
