"""The ladder's held cursor, tick-sized grouping and 80-column header in the running app (Pilot)."""

from __future__ import annotations

import re
from decimal import Decimal

from textual.widgets import Input

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.credentials import Credentials
from havterm.screens import Header
from havterm.screens.ladder import LadderScreen
from havterm.screens.orders import OrderTicket
from havterm.sim import Exchange
from havterm.widgets.ladder import Ladder, Row

from .helpers import endpoints, frame, in_sync, make_app, mark_trades, wait_for

PF = "PF_XBTUSD"


def trading_app(ex: Exchange) -> HavtermApp:
    source = Source(["BTC/USD"], 25, endpoints(ex))
    creds = Credentials(ex.endpoints["api_key"], ex.endpoints["api_secret"])
    mark_trades(ex)
    return HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls, creds))


def cursor_row(ladder: Ladder) -> Row:
    (row,) = [r for r in ladder._rows if r.cursor]
    return row


def ask_rows(ladder: Ladder) -> list[Row]:
    """Ask rows, best first."""
    return [r for r in reversed(ladder._rows) if r.kind == "ask"]


async def test_the_cursor_stays_on_its_price_and_the_ticket_opens_there(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot,
            lambda: app.bridge.trading is not None and in_sync(exchange, app.bridge.state, "BTC/USD"),
            10,
            "trading ready and the book in sync",
        )
        frame(app)
        await pilot.pause()
        assert isinstance(app.screen, LadderScreen)
        ladder = app.screen.ladder
        for _ in range(5):
            await pilot.press("k")
        assert ladder.model.cursor == -6
        price = ladder.model.cursor_price
        book = app.bridge.state.symbols["BTC/USD"].book

        def sixth_ask() -> str:
            return str(book.format_price(book.asks(6)[5][0]))

        assert cursor_row(ladder).price == price == ask_rows(ladder)[5].price == sixth_ask()
        # Trade until the sixth ask (the row the cursor was on) is another price.
        for _ in range(60):
            exchange.step(10, symbol="BTC/USD")
            await wait_for(pilot, lambda: in_sync(exchange, app.bridge.state, "BTC/USD"), 10, "in sync")
            frame(app)
            await pilot.pause()
            if sixth_ask() != price:
                break
        assert sixth_ask() != price, "the book never moved under the cursor"
        assert ladder.model.cursor_price == price and cursor_row(ladder).price == price
        assert f"cursor {price}" in app.screen.query_one(Header).plain
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5, "the ticket")
        assert app.screen.query_one("#price", Input).value == price
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LadderScreen), 5, "back on the ladder")
        # Center lets the price go: the cursor is on the best ask again.
        await pilot.press("c")
        assert ladder.model.cursor == -1 and ladder.model.cursor_ticks is None
        assert ladder.model.cursor_price == book.format_price(book.best_ask()[0])
        assert cursor_row(ladder) == ask_rows(ladder)[0]


async def test_a_half_dollar_futures_tick_groups_in_whole_ticks_and_the_header_fits_80_columns() -> None:
    source = Source([PF], 25, demo=True, demo_paused=True)
    app = HavtermApp(source, UiConfig(depth=25))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.bridge.state is not None, 10, "the state")
        state = app.bridge.state
        assert state is not None
        await wait_for(pilot, lambda: PF in state.symbols and state.symbols[PF].synced, 10, "the book")
        frame(app)
        await pilot.pause()
        ladder = app.screen.query_one(Ladder)
        header = app.screen.query_one(Header)
        assert ladder.model.tick == 5  # 0.5 in units of 0.1
        for presses, group in ((0, "0.5"), (1, "1.0"), (2, "2.5"), (3, "5.0")):
            if presses:
                await pilot.press("plus")
            frame(app)
            await pilot.pause()
            units = int(Decimal(group) * 10)
            levels = [r for r in ladder._rows if r.kind in ("bid", "ask")]
            assert levels and all(int(Decimal(r.price) * 10) % units == 0 for r in levels)
            # The header names the group and the cursor's price, whole, within 80 columns.
            price = ladder.model.cursor_price
            shows = re.search(rf"(group|grp) {group} +(cursor|@) {price}$", header.plain)
            assert price and shows, header.plain
            assert len(header.plain) <= 80
        book = state.symbols[PF].book
        assert book is not None
        best_bid, best_ask = book.best_bid(), book.best_ask()
        assert best_bid is not None and best_ask is not None
        bids = [int(Decimal(r.price) * 10) for r in ladder._rows if r.kind == "bid"]
        asks = [int(Decimal(r.price) * 10) for r in ladder._rows if r.kind == "ask"]
        scale = 10 ** (1 - book.price_precision)
        assert max(bids) <= best_bid[0] * scale < best_ask[0] * scale <= min(asks)


async def test_the_spot_header_keeps_the_cursor_price_at_80_columns(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: in_sync(exchange, app.bridge.state, "BTC/USD"), 10, "in sync")
        frame(app)
        await pilot.pause()
        await pilot.press("j")
        price = app.screen.query_one(Ladder).model.cursor_price
        plain = app.screen.query_one(Header).plain
        assert price and plain.endswith(f"@ {price}") and len(plain) <= 80, plain
    app = make_app(exchange)
    async with app.run_test(size=(120, 24)) as pilot:
        await wait_for(pilot, lambda: in_sync(exchange, app.bridge.state, "BTC/USD"), 10, "in sync")
        frame(app)
        await pilot.pause()
        price = app.screen.query_one(Ladder).model.cursor_price
        assert app.screen.query_one(Header).plain.endswith(f"group 0.1   cursor {price}")
