"""Order entry from the keyboard against the embedded exchange: place, amend, cancel, fill, no stray sends."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import DataTable, Input, Select

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.credentials import Credentials
from havterm.screens.orders import AmendPrompt, OrdersScreen, OrderTicket
from havterm.sim import Exchange

from .helpers import endpoints, wait_for


def trading_app(ex: Exchange) -> HavtermApp:
    source = Source(["BTC/USD"], 25, endpoints(ex))
    creds = Credentials(ex.endpoints["api_key"], ex.endpoints["api_secret"])
    return HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls, creds))


def open_orders(ex: Exchange) -> list[object]:
    return [o for o in ex.trading.account.orders.values() if o.status in ("new", "partially_filled")]


async def test_place_amend_cancel_and_fill_from_the_keyboard(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot,
            lambda: (
                app.bridge.trading is not None
                and app.bridge.trading.trader.ready
                and app.bridge.state.symbols["BTC/USD"].book_state.value == "synced"
            ),
            10,
            "ready",
        )
        trading = app.bridge.trading
        assert trading is not None
        ladder = app.screen.ladder  # type: ignore[attr-defined]
        # The cursor starts on the best ask; three rows down is the third best bid: a resting buy.
        for _ in range(4):
            await pilot.press("down")
        await pilot.pause()
        price = ladder.model.cursor_price
        best_bid = exchange.book("BTC/USD").best_bid().price
        assert Decimal(price) < Decimal(best_bid) / 10  # a price in ticks of 0.1 vs exchange ticks
        # Enter alone only reviews: escape afterwards sends nothing.
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5, "the ticket")
        app.screen.query_one("#qty", Input).value = "0.01"
        app.screen.query_one("#qty", Input).focus()
        await pilot.press("enter")
        assert "send BUY 0.01 BTC/USD @" in str(app.screen.query_one("#confirm").render())
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert open_orders(exchange) == []
        # Now for real: review, then y.
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5)
        app.screen.query_one("#qty", Input).value = "0.01"
        app.screen.query_one("#qty", Input).focus()
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: len(open_orders(exchange)) == 1, 5, "the order on the exchange")
        (placed,) = open_orders(exchange)
        assert placed.side == 0 and placed.qty == 1_000_000 and placed.price == int(Decimal(price) * 10)
        await wait_for(pilot, lambda: any(r.own.startswith("B 0.01") for r in ladder._rows), 5, "own column")
        # The queue read-out under the ladder lists it (no level3 here: an L2 estimate of the queue).
        from havterm.widgets.queue import queue_panel_lines

        def readout() -> str:
            own, cursor = app.screen._queue  # type: ignore[attr-defined]
            return "\n".join(t.plain for t in queue_panel_lines(own, cursor, 200, 10))

        await wait_for(pilot, lambda: f"BUY 0.01 @ {price}" in readout(), 5, "the queue read-out")
        assert "ahead (L2 estimate)" in readout()
        # The next ticket on this symbol starts from the size just sent; escape sends nothing.
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5, "the second ticket")
        assert app.screen.query_one("#qty", Input).value == "0.01"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderTicket), 5, "the ticket closed")
        assert len(open_orders(exchange)) == 1
        # The orders panel lists it; amend to 0.02, then cancel it.
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5)
        table = app.screen.query_one("#orders", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1 and table.get_row_at(0)[6] == "new", 5, "row")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AmendPrompt), 5)
        app.screen.query_one("#qty", Input).value = "0.02"
        app.screen.query_one("#qty", Input).focus()
        await pilot.press("enter", "y")  # as on the ticket: enter reviews, y sends
        await wait_for(pilot, lambda: placed.qty == 2_000_000, 5, "the amend on the exchange")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5)
        await pilot.press("c")
        await wait_for(pilot, lambda: placed.status == "canceled", 5, "the cancel on the exchange")
        await wait_for(pilot, lambda: table.get_row_at(0)[6] == "canceled", 5, "canceled in the panel")
        await pilot.press("escape")
        # A marketable buy at the best ask fills: the order and the balances show it.
        btc_before = trading.trader.balances.get("BTC")
        await pilot.press("c")  # ladder: cursor back to the best ask
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5)
        app.screen.query_one("#qty", Input).value = "0.001"
        app.screen.query_one("#kind", Select).value = "ioc"
        app.screen.query_one("#qty", Input).focus()
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: any(o.status.value == "filled" for o in trading.trader.orders.all()), 5)
        await wait_for(pilot, lambda: trading.trader.balances.get("BTC") > btc_before, 5, "balances")
        assert trading.trader.balances.get("BTC") - btc_before == Decimal("0.001")
        # A bigger IOC at the best ask only partly fills: the panel shows the fill and the balances.
        ask = exchange.book("BTC/USD").best_ask()
        size = Decimal(ask.total) / Decimal(10**8)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5)
        app.screen.query_one("#qty", Input).value = str(size * 3)
        app.screen.query_one("#price", Input).value = str(Decimal(ask.price) / 10)
        app.screen.query_one("#kind", Select).value = "ioc"
        app.screen.query_one("#qty", Input).focus()
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: sum(1 for o in trading.trader.orders.all() if not o.is_open) >= 3, 5)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5)
        table = app.screen.query_one("#orders", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 3 and table.get_row_at(0)[5] != "0", 5)
        newest = table.get_row_at(0)
        assert Decimal(newest[4]) == size * 3 and Decimal(newest[5]) == size  # qty, filled
        assert newest[6] in ("expired", "canceled")
        assert table.get_row_at(1)[6] == "filled"
        balances = str(app.screen.query_one("#balances").render())
        assert f"BTC {trading.trader.balances.get('BTC').normalize():f}" in balances


async def test_without_a_key_trading_says_how_to_get_one(exchange: Exchange) -> None:
    source = Source(["BTC/USD"], 25, endpoints(exchange))
    app = HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.bridge.state is not None, 5)
        await pilot.press("b")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, OrderTicket)
        assert app.bridge.trading is None and "havterm keys set" in app.bridge.trading_reason


async def test_an_own_fill_fires_its_alert_rule(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot,
            lambda: (
                app.bridge.trading is not None
                and app.bridge.trading.trader.ready
                and app.bridge.alerts is not None
                and app.bridge.state.symbols["BTC/USD"].book_state.value == "synced"
            ),
            10,
            "ready",
        )
        alerts = app.bridge.alerts
        alerts.upsert({"name": "filled", "symbol": "*", "kind": "own_order_filled", "level": 1})
        ask = exchange.book("BTC/USD").best_ask()
        await app.bridge.trading.place("BTC/USD", "buy", "0.001", str(Decimal(ask.price) / 10), "ioc")
        await wait_for(pilot, lambda: alerts.fired_count.get("filled", 0) == 1, 5, "the own-fill alert")
        assert alerts.recent[0].symbol == "BTC/USD"


async def test_own_order_shows_its_exact_queue_position_on_the_ladder(exchange: Exchange) -> None:
    source = Source(["BTC/USD"], 25, endpoints(exchange))
    creds = Credentials(exchange.endpoints["api_key"], exchange.endpoints["api_secret"])
    app = HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls, creds, l3=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot,
            lambda: (
                app.bridge.trading is not None
                and app.bridge.trading.trader.ready
                and app.bridge.state.symbols["BTC/USD"].l3_state.value == "synced"
                and app.bridge.state.symbols["BTC/USD"].book_state.value == "synced"
            ),
            10,
            "ready",
        )
        trading = app.bridge.trading
        alerts = app.bridge.alerts
        level = exchange.book("BTC/USD").best_bid()
        price = str(Decimal(level.price) / 10)
        ahead = len(level.orders)
        alerts.upsert(
            {"name": "front", "symbol": "BTC/USD", "kind": "queue_position_at_most", "level": ahead}
        )
        line = await trading.place("BTC/USD", "buy", "0.01", price, "limit")
        assert "sent" in line, line
        oid = line.rsplit("(", 1)[1].rstrip(")")
        ladder = app.screen.ladder  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: trading.queue_position("BTC/USD", oid) == ahead, 5, "queue position")
        await wait_for(pilot, lambda: any(r.own == f"B 0.01 #{ahead}" for r in ladder._rows), 5, "own column")
        # The alert engine is fed the same position: a rule at that many orders ahead fires.
        await wait_for(pilot, lambda: alerts.fired_count.get("front", 0) >= 1, 5, "queue alert")
        assert alerts.recent[0].value == str(ahead)
