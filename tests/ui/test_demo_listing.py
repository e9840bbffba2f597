"""The demo exchange lists a fixed set of instruments and refuses any other symbol, as live Kraken does."""

from __future__ import annotations

from typing import Any

import pytest

from havterm.app import HavtermApp
from havterm.bridge import Source
from havterm.engine.book import BookState
from havterm.sim import Exchange, SimConfig

from .helpers import frame, shown, wait_for

DEMO_LISTING = [
    "BTC/USD",
    "ETH/USD",
    "SOL/USD",
    "XRP/USD",
    "PF_XBTUSD",
    "PF_ETHUSD",
    "PF_SOLUSD",
    "PF_XRPUSD",
]


def notices(app: HavtermApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_demo_with_an_unknown_symbol_shows_it_disabled_with_krakens_reason_and_no_book() -> None:
    app = HavtermApp(Source(["NOPE/USD", "BTC/USD"], 25, demo=True, demo_rate=200))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.bridge.exchange is not None and app.bridge.state is not None)
        ex, state = app.bridge.exchange, app.bridge.state
        assert "NOPE/USD" not in ex.instruments and ex.listing() == DEMO_LISTING

        def refused() -> bool:
            return "NOPE/USD" in state.symbols and state.symbols["NOPE/USD"].book_state is BookState.DISABLED

        await wait_for(pilot, refused, what="NOPE/USD refused")
        await wait_for(pilot, lambda: state.symbols["BTC/USD"].synced, what="BTC/USD synced")
        nope = state.symbols["NOPE/USD"]
        assert nope.book is None or nope.book.bids(1) == []
        # Kraken's own words, as recorded from live (tests/test_protocol.py): the pair follows the reason.
        assert nope.book_reason == "Currency pair not supported NOPE/USD"
        await wait_for(pilot, lambda: any("demo exchange lists" in n for n in notices(app)), what="the hint")
        hint = next(n for n in notices(app) if "demo exchange lists" in n)
        assert hint == "NOPE/USD: not listed; the demo exchange lists " + ", ".join(DEMO_LISTING)
        refusal = "NOPE/USD book disabled: Currency pair not supported NOPE/USD"
        await wait_for(pilot, lambda: refusal in notices(app), what="the refusal's notice")
        frame(app)
        await pilot.pause()
        assert "DISABLED" in shown(app)


async def test_demo_with_listed_symbols_says_nothing_about_the_listing() -> None:
    app = HavtermApp(Source(["ETH/USD", "PF_XBTUSD"], 25, demo=True, demo_rate=200))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.bridge.state is not None)
        state = app.bridge.state
        await wait_for(
            pilot,
            lambda: all(s in state.symbols and state.symbols[s].synced for s in ("ETH/USD", "PF_XBTUSD")),
            what="both synced",
        )
        assert not any("demo exchange lists" in n for n in notices(app))


@pytest.mark.parametrize("symbols", [("DOGE/USD",), ("LINK/USD", "BTC/USD")])
async def test_a_configured_exchange_lists_exactly_its_configuration(symbols: Any) -> None:
    async with Exchange(SimConfig(seed=3, market=False, symbols=symbols)) as ex:
        assert ex.listing() == [*symbols, "PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "PF_XRPUSD"]
