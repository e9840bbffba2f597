"""Order entry polish on the embedded exchange: minimum order value, fills in a disconnect, balances, avg."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Select

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.credentials import Credentials
from havterm.engine.protocol import StateChange
from havterm.screens.orders import OrdersScreen, OrderTicket, balance_lines
from havterm.sim import Exchange, SimConfig
from havterm.sim.matching import ASK
from havterm.trading_controller import TradingController

from .helpers import endpoints, shown, wait_for

BTC = "BTC/USD"


def trading_app(ex: Exchange, symbols: tuple[str, ...] = (BTC,)) -> HavtermApp:
    source = Source(list(symbols), 25, endpoints(ex), alerts=False)
    creds = Credentials(ex.endpoints["api_key"], ex.endpoints["api_secret"])
    return HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls, creds))


def notices(app: HavtermApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def ready(pilot: Any, app: HavtermApp, symbol: str = BTC) -> TradingController:
    """Authenticated, reconciled, the book synced and the instrument rules known."""

    def ok() -> bool:
        t = app.bridge.trading
        st = app.bridge.state.symbols.get(symbol) if app.bridge.state is not None else None
        return (
            t is not None
            and t.trader.ready
            and st is not None
            and st.book_state.value == "synced"
            and t.instrument(symbol) is not None
        )

    await wait_for(pilot, ok, 10, "ready")
    trading = app.bridge.trading
    assert trading is not None
    return trading


def ex_orders(ex: Exchange) -> list[Any]:
    return list(ex.trading.account.orders.values())


def px(ticks: int) -> str:
    return f"{Decimal(ticks).scaleb(-1):f}"  # BTC/USD: one price decimal


async def open_ticket(pilot: Any, app: HavtermApp, key: str) -> OrderTicket:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5, "the ticket")
    ticket = app.screen
    assert isinstance(ticket, OrderTicket)
    return ticket


async def review(pilot: Any, ticket: OrderTicket, qty: str, price: str, kind: str) -> str:
    """Fill the ticket in, press Enter; the error line (empty when the review passed)."""
    ticket.query_one("#kind", Select).value = kind
    ticket.query_one("#qty", Input).value = qty
    ticket.query_one("#price", Input).value = price
    ticket.query_one("#qty", Input).focus()
    await pilot.press("enter")
    return str(ticket.query_one("#error").render())


# ---------------------------------------------------------------------- 1. minimum order value


async def test_a_limit_order_below_the_minimum_value_is_refused_at_review(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        trading = await ready(pilot, app)
        inst = trading.instrument(BTC)
        # The exchange's instrument channel says it: BTC/USD takes orders worth 0.5 USD or more.
        assert inst is not None and inst.cost_min == Decimal("0.5") and inst.quote == "USD"
        ticket = await open_ticket(pilot, app, "b")
        # 0.0001 BTC (the minimum size) at 1000.0 is worth 0.1 USD.
        error = await review(pilot, ticket, "0.0001", "1000.0", "limit")
        assert error == "order value 0.1 USD is below the minimum of 0.5 USD"
        assert ticket.armed is None
        await pilot.press("y")  # nothing armed: never sent
        assert isinstance(app.screen, OrderTicket)
        # Exactly the minimum passes (the exchange refuses only below it).
        assert await review(pilot, ticket, "0.0001", "5000.0", "limit") == ""
        assert ticket.armed is not None
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderTicket), 5, "the ticket closed")
        # The same line if it reaches place() some other way, and nothing goes to the exchange.
        line = await trading.place(BTC, "buy", "0.0001", "1000.0", "limit")
        assert line == "order refused: order value 0.1 USD is below the minimum of 0.5 USD"
        assert ex_orders(exchange) == []


@pytest.fixture
async def dear_exchange() -> AsyncIterator[Exchange]:
    """BTC/USD with a 10 USD minimum order value: the minimum size (0.0001 BTC) is worth less."""
    async with Exchange(SimConfig(seed=7, market=False, symbols=(BTC,))) as ex:
        ex.instruments[BTC] = replace(ex.instruments[BTC], cost_min="10")
        ex.step(300)
        yield ex


async def test_a_market_order_is_valued_at_the_touch_and_says_it_is_an_estimate(
    dear_exchange: Exchange,
) -> None:
    ex = dear_exchange
    app = trading_app(ex)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        trading = await ready(pilot, app)
        inst = trading.instrument(BTC)
        assert inst is not None and inst.cost_min == Decimal("10")
        ask, bid = px(ex.book(BTC).best_ask().price), px(ex.book(BTC).best_bid().price)
        buy_value = f"{(Decimal('0.0001') * Decimal(ask)).normalize():f}"
        sell_value = f"{(Decimal('0.0001') * Decimal(bid)).normalize():f}"
        ticket = await open_ticket(pilot, app, "b")
        error = await review(pilot, ticket, "0.0001", "", "market")
        assert error == f"estimated value {buy_value} USD (at the ask {ask}) is below the minimum of 10 USD"
        assert ticket.armed is None
        # Enough size: the review passes and sends at market.
        assert await review(pilot, ticket, "0.001", "", "market") == ""
        assert ticket.armed is not None and ticket.armed["kind"] == "market"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderTicket), 5, "the ticket closed")
        # A sell is valued at the bid.
        ticket = await open_ticket(pilot, app, "s")
        error = await review(pilot, ticket, "0.0001", "", "market")
        assert error == f"estimated value {sell_value} USD (at the bid {bid}) is below the minimum of 10 USD"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderTicket), 5, "the ticket closed")
        line = await trading.place(BTC, "sell", "0.0001", "", "market")
        assert line == f"order refused: {error}"
        assert ex_orders(ex) == []


# ---------------------------------------------------------------------- 2. a fill in a disconnect


async def test_a_fill_while_disconnected_is_one_toast_after_the_reconnect(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        trading = await ready(pilot, app)
        trader = trading.trader
        bid, ask = exchange.book(BTC).best_bid().price, exchange.book(BTC).best_ask().price
        price = px(bid + 1 if ask - bid >= 2 else bid)  # rests at the top of the bids
        assert "sent" in await trading.place(BTC, "buy", "0.01", price, "limit")
        await wait_for(pilot, lambda: len(trader.orders.open_orders()) == 1, 5, "the order")
        (order,) = trader.orders.open_orders()
        assert order.cum_qty == 0
        lots = exchange.book(BTC).best_bid().total  # the whole level, ours with it
        gen = trader.generation
        done: list[object] = []

        def fill_while_down(_: StateChange) -> None:
            if not trader.session.connected and not done:
                done.append(exchange.apply(BTC, lambda e: e.submit("X1", ASK, lots, order_type="market")))

        trader.client.on(StateChange, fill_while_down)
        (cid,) = exchange.connections("auth")
        exchange.disconnect(cid, 1006)
        await wait_for(pilot, lambda: done and trader.generation == gen + 1 and trader.ready, 10, "reconnect")
        line = f"BTC/USD buy 0.01 filled while disconnected, avg {price}"
        await wait_for(pilot, lambda: line in notices(app), 5, "the toast")
        frames = app.bridge.frames
        await wait_for(pilot, lambda: app.bridge.frames >= frames + 5, 5, "five more frames")
        assert notices(app).count(line) == 1
        assert not any(" filled @ " in n for n in notices(app))  # no per-fill toast for it as well


# ---------------------------------------------------------------------- 3. balances without the zeros


def test_balances_drop_trailing_zeros_and_nothing_else() -> None:
    bal = (
        ("BTC", "10.0095364500"),
        ("ETH", "200.0000000000"),
        ("SOL", "0.0000000001"),
        ("USD", "100000"),
        # 32 significant digits: arithmetic at the default 28 would round the last ones away.
        ("XRP", "1234567890123456789012.3456789012000"),
    )
    assert balance_lines(bal, 200) == (
        "balances: BTC 10.00953645   ETH 200   SOL 0.0000000001   USD 100000"
        "   XRP 1234567890123456789012.3456789012"
    )
    assert balance_lines((("USD", "1000000.0000000000"),), 50) == "balances: USD 1000000"


async def test_orders_panel_balances_show_no_trailing_zeros(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(80, 30), notifications=True) as pilot:
        trading = await ready(pilot, app)
        await wait_for(pilot, lambda: trading.trader.balances.snapshots >= 1, 5, "balances")
        # Kraken's (and the exchange's) balances come with 10 decimals.
        assert f"{trading.trader.balances.get('BTC'):f}" == "10.0000000000"
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "the orders panel")
        await wait_for(pilot, lambda: "USD" in str(app.screen.query_one("#balances").render()), 5, "balances")
        text = str(app.screen.query_one("#balances").render())
        assert text.splitlines() == [
            "balances: BTC 10   ETH 200   EUR 100000   SOL 5000   USD 1000000",
            "  XRP 1000000",
        ]


# ---------------------------------------------------------------------- 4. the average fill price


async def test_orders_panel_shows_the_selected_orders_average_fill_price_in_80_columns(
    exchange: Exchange,
) -> None:
    app = trading_app(exchange)
    # No toasts here: the fill toasts would be drawn over the panel's last lines.
    async with app.run_test(size=(80, 30)) as pilot:
        trading = await ready(pilot, app)
        # A limit buy through the two best ask levels for more than they hold: two fills, the rest rests.
        (p1, q1), (p2, q2) = [(lv.price, lv.total) for lv in exchange.book(BTC).sides[1].top(2)]
        qty = Decimal(q1 + q2).scaleb(-8) * 2
        assert "sent" in await trading.place(BTC, "buy", f"{qty:f}", px(p2), "limit")
        filled = Decimal(q1 + q2).scaleb(-8)
        (order,) = [o for o in trading.trader.orders.all() if o.order_qty == qty]
        await wait_for(pilot, lambda: order.cum_qty == filled, 5, "two levels taken")
        # The exchange's own average (it writes it to the pair's price decimals, rounded down).
        want = px((p1 * q1 + p2 * q2) // (q1 + q2))
        assert order.avg_price == Decimal(want) and Decimal(px(p1)) <= Decimal(want) < Decimal(px(p2))
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "the orders panel")
        table = app.screen.query_one("#orders", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1, 5, "the row")
        oid = order.order_id
        assert oid is not None
        amounts = f"{filled.normalize():f} of {qty.normalize():f}"
        detail = f"{oid[:6]}…{oid[-4:]} buy BTC/USD filled {amounts}, avg {want}"
        await wait_for(pilot, lambda: detail in shown(app), 5, "the detail line")
        for line in shown(app).splitlines():
            assert len(line.rstrip()) <= 80
        # Cancelled, it keeps its average; an order with no fill says so.
        await pilot.press("c")
        await wait_for(pilot, lambda: order.status.value == "canceled", 5, "cancelled")
        await wait_for(pilot, lambda: detail in str(app.screen.query_one("#detail").render()), 5, "kept")
        await pilot.press("escape")
        bid = exchange.book(BTC).best_bid().price
        assert "sent" in await trading.place(BTC, "buy", "0.01", px(bid - 100), "limit")
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "the orders panel")
        (resting,) = trading.trader.orders.open_orders()
        rid = resting.order_id
        assert rid is not None
        line = f"{rid[:6]}…{rid[-4:]} buy BTC/USD nothing filled"
        await wait_for(pilot, lambda: str(app.screen.query_one("#detail").render()) == line, 5, "no fill")
        # Down to the cancelled order: its line follows the cursor.
        await pilot.press("down")
        await wait_for(pilot, lambda: str(app.screen.query_one("#detail").render()).startswith(detail), 5)


# ---------------------------------------------------------------------- 5. the ladder stays in sight


async def test_the_ticket_docks_below_the_ladder_rows_around_the_cursor_at_80x24(exchange: Exchange) -> None:
    from havterm.sim.matching import BID

    app = trading_app(exchange)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        ladder = app.screen.ladder  # type: ignore[attr-defined]
        for _ in range(3):  # from the best ask down to the second best bid
            await pilot.press("down")
        await wait_for(
            pilot, lambda: any(r.cursor and r.kind == "bid" for r in ladder._rows), 5, "cursor on a bid"
        )
        rows = ladder._rows
        at = next(i for i, r in enumerate(rows) if r.cursor)
        cursor = rows[at].price
        assert cursor == ladder.model.cursor_price
        near = [rows[i].price for i in (at - 1, at + 1)]
        assert all(near), near
        ticket = await open_ticket(pilot, app, "b")
        assert await review(pilot, ticket, "0.01", cursor, "limit") == ""
        assert ticket.armed is not None and ticket.armed["price"] == cursor

        def above_the_ticket() -> list[str]:
            lines = shown(app).splitlines()
            top = next(i for i, line in enumerate(lines) if line.startswith("╭"))
            return lines[:top]

        # Docked at the bottom, whole at 80 columns, the review on it ...
        box = ticket.query_one("Vertical").region
        assert box.bottom == 24 and box.x == 0 and box.width == 80
        text = shown(app)
        assert f"send BUY 0.01 BTC/USD @ {cursor} (limit)?" in text
        assert all(len(line.rstrip()) <= 80 for line in text.splitlines())
        # ... and above it the cursor's price and the prices either side of it.
        for price in (cursor, *near):
            assert any(price in line for line in above_the_ticket()), price
        # The ladder stays live under the ticket: more size at the cursor's price shows at once.
        ticks = int(Decimal(cursor).scaleb(1))
        exchange.apply(BTC, lambda e: e.submit("X9", BID, 12_345_678, price=ticks))
        level = next(lv for lv in exchange.book(BTC).sides[0].top(10) if lv.price == ticks)
        size = f"{Decimal(level.total).scaleb(-8):.8f}"
        await wait_for(
            pilot,
            lambda: any(cursor in line and size in line for line in above_the_ticket()),
            5,
            "the new size on the ladder",
        )
        assert isinstance(app.screen, OrderTicket) and ticket.armed is not None
        # The kind is picked from the keyboard on the one-line form too.
        ticket.query_one("#kind", Select).focus()
        await pilot.press("enter", "down", "enter")
        await wait_for(pilot, lambda: ticket.query_one("#kind", Select).value == "post-only", 5, "post-only")
        assert ticket.armed is None  # a changed field takes the review back
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderTicket), 5, "the ticket closed")
        assert ex_orders(exchange) == []
