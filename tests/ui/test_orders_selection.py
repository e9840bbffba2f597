"""The orders panel keeps its selection on an order, not on a row, while the rows reorder."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual.widgets import DataTable

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.credentials import Credentials
from havterm.screens.orders import OrdersScreen
from havterm.sim import Exchange
from havterm.sim.matching import ASK
from havterm.trading_controller import TradingController

from .helpers import endpoints, wait_for

BTC = "BTC/USD"


def trading_app(ex: Exchange) -> HavtermApp:
    source = Source([BTC], 25, endpoints(ex), alerts=False)
    creds = Credentials(ex.endpoints["api_key"], ex.endpoints["api_secret"])
    return HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls, creds))


async def ready(pilot: Any, app: HavtermApp) -> TradingController:
    def ok() -> bool:
        t = app.bridge.trading
        st = app.bridge.state.symbols.get(BTC) if app.bridge.state is not None else None
        return t is not None and t.trader.ready and st is not None and st.book_state.value == "synced"

    await wait_for(pilot, ok, 10, "ready")
    trading = app.bridge.trading
    assert trading is not None
    return trading


def px(ticks: int) -> str:
    return f"{Decimal(ticks).scaleb(-1):f}"  # BTC/USD: one price decimal


def row_ids(table: DataTable[Any]) -> list[str]:
    return [str(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(table.row_count)]


def client_status(trading: TradingController, order_id: str) -> str:
    order = trading.trader.orders.get(order_id=order_id)
    return order.status.value if order is not None else "unknown"


async def test_cancel_goes_to_the_selected_order_after_the_rows_reorder(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        trading = await ready(pilot, app)
        bid = exchange.book(BTC).best_bid().price
        # Three resting buys, oldest first: A and B deep in the book, C at the best bid.
        ids = []
        for ticks in (bid - 30, bid - 20, bid):
            line = await trading.place(BTC, "buy", "0.01", px(ticks), "limit")
            assert " sent (" in line, line
            ids.append(line.rsplit("(", 1)[1].rstrip(")"))
        a, b, c = ids
        # The exchange's own orders (held: a finished order leaves its open list).
        on_exchange = {oid: exchange.trading.account.orders[oid] for oid in ids}
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "the orders panel")
        panel = app.screen
        assert isinstance(panel, OrdersScreen)
        table = panel.query_one("#orders", DataTable)
        await wait_for(pilot, lambda: row_ids(table) == [c, b, a], 5, "open orders, newest first")
        # The trader picks B, the second row.
        await pilot.press("down")
        await wait_for(pilot, lambda: table.cursor_row == 1, 5, "the cursor on the second row")
        assert panel._selected() == b
        # C fills: it moves to the finished orders at the bottom, and the rows below it move up.
        lots = exchange.book(BTC).best_bid().total  # the whole level, C with it
        exchange.apply(BTC, lambda e: e.submit("X1", ASK, lots, order_type="market"))
        await wait_for(pilot, lambda: row_ids(table) == [b, a, c], 5, "the rows reordered")
        assert client_status(trading, c) == "filled"
        # The selection followed B, and so does the detail line.
        assert table.cursor_row == 0 and panel._selected() == b
        assert str(panel.query_one("#detail").render()) == f"{b} buy BTC/USD nothing filled"
        await pilot.press("c")
        await wait_for(pilot, lambda: on_exchange[b].status == "canceled", 5, "B cancelled")
        assert on_exchange[a].status == "new"
        said = f"cancel sent for {b}"
        await wait_for(pilot, lambda: said in [str(n.message) for n in app._notifications], 5, "the toast")


async def test_when_the_selected_order_leaves_the_list_the_detail_names_the_new_selection(
    exchange: Exchange,
) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        trading = await ready(pilot, app)
        bid = exchange.book(BTC).best_bid().price
        ids = []
        for ticks in (bid - 30, bid - 20):
            line = await trading.place(BTC, "buy", "0.01", px(ticks), "limit")
            assert " sent (" in line, line
            ids.append(line.rsplit("(", 1)[1].rstrip(")"))
        a, b = ids
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "the orders panel")
        panel = app.screen
        assert isinstance(panel, OrdersScreen)
        table = panel.query_one("#orders", DataTable)
        await wait_for(pilot, lambda: row_ids(table) == [b, a], 5, "open orders, newest first")
        await pilot.press("down")
        await wait_for(pilot, lambda: panel._selected() == a, 5, "A selected")
        # The list loses A (as when the finished orders are trimmed): the row at its place is picked,
        # and the detail line says which order that is.
        real_view = trading.view

        def without_a() -> Any:
            v = real_view()
            return type(v)(v.ready, v.reason, tuple(r for r in v.orders if r.order_id != a), v.balances)

        trading.view = without_a  # type: ignore[method-assign]
        trading._bump()
        await wait_for(pilot, lambda: row_ids(table) == [b], 5, "A gone")
        assert panel._selected() == b
        assert str(panel.query_one("#detail").render()) == f"{b} buy BTC/USD nothing filled"
