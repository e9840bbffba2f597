"""Order entry against the embedded exchange: amend review, fill toasts, Futures refusal, sizes, ticks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input, Select

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.credentials import Credentials
from havterm.screens.ladder import LadderScreen
from havterm.screens.orders import AmendPrompt, OrdersScreen, OrderTicket
from havterm.sim import Exchange
from havterm.trading_controller import TradingController

from .helpers import endpoints, shown, wait_for

EXACT_UNKNOWN = "the order is no longer open (filled or cancelled) [EOrder:Unknown order]"


def trading_app(ex: Exchange, symbols: tuple[str, ...] = ("BTC/USD", "ETH/USD")) -> HavtermApp:
    source = Source(list(symbols), 25, endpoints(ex), alerts=False)
    creds = Credentials(ex.endpoints["api_key"], ex.endpoints["api_secret"])
    return HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls, creds))


def notices(app: HavtermApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def ready(pilot: Any, app: HavtermApp, *symbols: str) -> TradingController:
    """Authenticated, reconciled, every book synced and the instrument rules known."""

    def ok() -> bool:
        t = app.bridge.trading
        state = app.bridge.state
        return (
            t is not None
            and t.trader.ready
            and state is not None
            and all(
                s in state.symbols and state.symbols[s].book_state.value == "synced" and t.instrument(s)
                for s in symbols
            )
        )

    await wait_for(pilot, ok, 10, "ready")
    trading = app.bridge.trading
    assert trading is not None
    return trading


def price_text(ex: Exchange, symbol: str, ticks: int, decimals: int) -> str:
    return str(Decimal(ticks).scaleb(-decimals))


def ex_orders(ex: Exchange, status: tuple[str, ...] = ("new", "partially_filled")) -> list[Any]:
    return [o for o in ex.trading.account.orders.values() if o.status in status]


async def open_ticket(pilot: Any, app: HavtermApp, key: str = "b") -> OrderTicket:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5, "the ticket")
    screen = app.screen
    assert isinstance(screen, OrderTicket)
    return screen


async def buy_through_the_best_ask(exchange: Exchange, trading: TradingController) -> str:
    """A limit buy at the best ask for three times its size: it takes that level at once, the rest rests."""
    ask = exchange.book("BTC/USD").best_ask()
    assert ask is not None
    total = Decimal(ask.total).scaleb(-8) * 3
    return await trading.place(
        "BTC/USD", "buy", f"{total:f}", price_text(exchange, "BTC/USD", ask.price, 1), "limit"
    )


# ---------------------------------------------------------------------- 1. amend: review, then y


async def test_amend_enter_only_reviews_y_sends_escape_cancels(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(160, 40)) as pilot:
        trading = await ready(pilot, app, "BTC/USD")
        bid = exchange.book("BTC/USD").best_bid().price
        line = await trading.place(
            "BTC/USD", "buy", "0.01", price_text(exchange, "BTC/USD", bid - 30, 1), "limit"
        )
        assert "sent" in line, line
        (placed,) = ex_orders(exchange)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "the orders panel")
        table = app.screen.query_one("#orders", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1 and table.get_row_at(0)[6] == "new", 5, "row")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AmendPrompt), 5, "the amend prompt")
        prompt = app.screen
        assert isinstance(prompt, AmendPrompt)
        # At 160 columns the title and its keys are shown whole.
        text = shown(app)
        assert f"amend {placed.order_id}" in text and "enter: review · y: send · escape: cancel" in text
        prompt.query_one("#qty", Input).value = "0.02"
        prompt.query_one("#qty", Input).focus()
        await pilot.press("enter")
        # Enter showed old -> new and sent nothing.
        assert "qty 0.01 → 0.02" in str(prompt.query_one("#confirm").render())
        assert prompt.armed == {"qty": "0.02", "price": ""}
        assert isinstance(app.screen, AmendPrompt) and placed.qty == 1_000_000
        assert "y: send · escape: cancel" in shown(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "back to the panel")
        assert placed.qty == 1_000_000 and not any("amend" in n for n in notices(app))
        # Review, then y: the amend reaches the exchange.
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AmendPrompt), 5)
        app.screen.query_one("#qty", Input).value = "0.02"
        app.screen.query_one("#qty", Input).focus()
        await pilot.press("y")  # typed into the field before any review: a character, not a send
        assert isinstance(app.screen, AmendPrompt) and app.screen.query_one("#qty", Input).value.endswith("y")
        assert placed.qty == 1_000_000
        app.screen.query_one("#qty", Input).value = "0.02"
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: placed.qty == 2_000_000, 5, "the amend on the exchange")
        await wait_for(pilot, lambda: any(n == f"amend sent for {placed.order_id}" for n in notices(app)), 5)


async def test_amend_review_checks_the_tick_size_locally(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(160, 40)) as pilot:
        trading = await ready(pilot, app, "BTC/USD")
        bid = exchange.book("BTC/USD").best_bid().price
        await trading.place("BTC/USD", "buy", "0.01", price_text(exchange, "BTC/USD", bid - 30, 1), "limit")
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5)
        table = app.screen.query_one("#orders", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1, 5, "row")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AmendPrompt), 5)
        prompt = app.screen
        assert isinstance(prompt, AmendPrompt)
        prompt.query_one("#price", Input).value = "60000.05"
        prompt.query_one("#price", Input).focus()
        await pilot.press("enter")
        error = str(prompt.query_one("#error").render())
        assert error == "price 60000.05 is not a multiple of the tick size 0.1"
        assert prompt.armed is None


async def test_amend_and_cancel_of_a_closed_order_say_so_in_plain_words(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        trading = await ready(pilot, app, "BTC/USD")
        bid = exchange.book("BTC/USD").best_bid().price
        line = await trading.place(
            "BTC/USD", "buy", "0.01", price_text(exchange, "BTC/USD", bid - 30, 1), "limit"
        )
        oid = line.rsplit("(", 1)[1].rstrip(")")
        assert (await trading.cancel(oid)) == f"cancel sent for {oid}"
        await wait_for(pilot, lambda: not ex_orders(exchange), 5, "cancelled on the exchange")
        assert await trading.amend(oid, "0.02", "") == f"amend refused: {EXACT_UNKNOWN}"
        assert await trading.cancel(oid) == f"cancel refused: {EXACT_UNKNOWN}"
        # From the orders panel nothing is even sent: the panel knows the order is closed.
        await wait_for(pilot, lambda: any(r.status == "canceled" for r in trading.view().orders), 5, "closed")
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "the orders panel")
        before = len(notices(app))
        await pilot.press("c")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, OrdersScreen)  # no amend dialog
        said = notices(app)[before:]
        assert len(said) == 2 and said[0].startswith("nothing to cancel: ") and said[1].startswith(
            "nothing to amend: "
        )
        assert all(line.endswith(" is canceled, not open") for line in said)
        assert not any("refused" in n for n in said)


# ---------------------------------------------------------------------- 2. fills are toasts, once each


async def test_each_fill_is_one_toast_partial_then_complete_never_repeated(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        trading = await ready(pilot, app, "BTC/USD")
        # A marketable buy of the whole best ask level and more: fills, then rests partly filled.
        ask = exchange.book("BTC/USD").best_ask()
        level = Decimal(ask.total).scaleb(-8)
        price = price_text(exchange, "BTC/USD", ask.price, 1)
        total = level * 3
        line = await trading.place("BTC/USD", "buy", f"{total:f}", price, "limit")
        assert "sent" in line, line
        order = next(o for o in trading.trader.orders.all() if o.order_qty == total)
        await wait_for(pilot, lambda: order.cum_qty == level, 5, "the level taken")
        fills = list(order.fills)
        assert fills, "the order traded"
        await wait_for(pilot, lambda: sum("filled @" in n for n in notices(app)) == len(fills), 5, "toasts")
        cum = Decimal(0)
        expected = []
        for f in fills:
            cum += f.qty
            expected.append(f"BUY {cum.normalize():f} of {total.normalize():f} BTC/USD filled @ {price}")
        assert [n for n in notices(app) if "filled @" in n] == expected
        # An IOC through the next ask level and into the one after: complete, one line with the average.
        # (The exchange's levels are live objects: read them before they trade.)
        first, second = [(lv.price, lv.total) for lv in exchange.book("BTC/USD").sides[1].top(2)]
        qty = Decimal(first[1]).scaleb(-8) + Decimal(second[1] // 2).scaleb(-8)
        last_price = price_text(exchange, "BTC/USD", second[0], 1)
        line = await trading.place("BTC/USD", "buy", f"{qty:f}", last_price, "ioc")
        assert "sent" in line, line
        ioc = next(o for o in trading.trader.orders.all() if o.order_qty == qty)
        await wait_for(pilot, lambda: ioc.status.value == "filled", 5, "the IOC filled")
        avg = ioc.avg_price
        assert avg is not None and len(ioc.fills) >= 2
        done = f"BUY {qty.normalize():f} BTC/USD filled @ {last_price} (avg "
        await wait_for(pilot, lambda: any(n.startswith(done) for n in notices(app)), 5, "the complete toast")
        (complete,) = [n for n in notices(app) if n.startswith(done)]
        shown_avg = Decimal(complete.removeprefix(done).rstrip(")"))
        assert abs(shown_avg - avg) < Decimal("0.01")
        assert Decimal(first[0]) / 10 <= shown_avg <= Decimal(second[0]) / 10
        assert sum(f"of {qty.normalize():f} BTC/USD" in n for n in notices(app)) == len(ioc.fills) - 1
        # Redraws and frames do not repeat any of it.
        frames = app.bridge.frames
        await wait_for(pilot, lambda: app.bridge.frames >= frames + 10, 5, "ten more frames")
        told = [n for n in notices(app) if " filled @ " in n]
        assert len(told) == len(set(told)) and told.count(complete) == 1


async def test_fills_in_the_snapshot_at_connect_are_not_toasts(exchange: Exchange) -> None:
    first = trading_app(exchange, ("BTC/USD",))
    async with first.run_test(size=(120, 40)) as pilot:
        trading = await ready(pilot, first, "BTC/USD")
        await buy_through_the_best_ask(exchange, trading)
        await wait_for(pilot, lambda: any(" filled @ " in n for n in notices(first)), 5, "a fill toast")
    # A new session on the same account: the snapshot carries the open, partly filled order and its fills.
    second = trading_app(exchange, ("BTC/USD",))
    async with second.run_test(size=(120, 40)) as pilot:
        trading = await ready(pilot, second, "BTC/USD")
        await wait_for(pilot, lambda: any(o.cum_qty > 0 for o in trading.trader.orders.all()), 5, "snapshot")
        frames = second.bridge.frames
        await wait_for(pilot, lambda: second.bridge.frames >= frames + 5, 5, "frames")
        assert [n for n in notices(second) if " filled @ " in n] == []


# ---------------------------------------------------------------------- 3. Futures: refused at b/s


async def test_futures_symbol_is_refused_when_b_is_pressed(tmp_path: Path) -> None:
    pf = "PF_XBTUSD"
    source = Source(
        [pf, "BTC/USD"],
        25,
        demo=True,
        demo_paused=True,
        rules_path=str(tmp_path / "rules.toml"),
        history_path=str(tmp_path / "alerts.jsonl"),
    )
    app = HavtermApp(source, UiConfig(depth=25))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge.trading is not None and app.bridge.trading.trader.ready, 10)
        assert app.symbol == pf
        await pilot.press("b")
        await pilot.press("s")
        assert not isinstance(app.screen, OrderTicket)
        line = f"order refused: {pf} is Futures: havterm trades Spot only [havterm:futures]"
        assert notices(app).count(line) == 2
        # The same line as the engine's refusal after `y`.
        trading = app.bridge.trading
        assert trading is not None
        assert await trading.place(pf, "buy", "1", "60000", "limit") == line


# ---------------------------------------------------------------------- 4, 5. quantity prefill, local checks


def read_out_size(app: HavtermApp, symbol: str) -> Decimal | None:
    """The size the ladder's cursor read-out assumes for a new order on ``symbol``."""
    ladder = app.screen
    assert isinstance(ladder, LadderScreen)
    return ladder._hypothetical_qty(app.bridge.symbol_view(symbol))


async def test_first_ticket_starts_at_the_read_outs_size_and_checks_ticks_and_sizes(
    exchange: Exchange,
) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(160, 40)) as pilot:
        trading = await ready(pilot, app, "BTC/USD", "ETH/USD")
        app.action_select_symbol("ETH/USD")
        await pilot.pause()
        # The order whose queue and P(fill) the read-out showed, at least the pair's minimum.
        for _ in range(100):  # some trades, so there is a typical size to assume
            if read_out_size(app, "ETH/USD") is not None:
                break
            exchange.step(5, symbol="ETH/USD")
            await exchange.drain()
            await pilot.pause()
        typical = read_out_size(app, "ETH/USD")
        assert typical is not None
        want = max(typical, Decimal("0.002"))
        ticket = await open_ticket(pilot, app)
        qty = ticket.query_one("#qty", Input)
        assert qty.value == f"{want.normalize():f}" and qty.placeholder == "size in ETH"
        price = ticket.query_one("#price", Input)
        cases = [
            ("0.002", "3099.123", "price 3099.123 is not a multiple of the tick size 0.01"),
            ("0.001", "3099.12", "quantity 0.001 is below the minimum of 0.002 ETH"),
            ("0.0020000001", "3099.12", "quantity 0.0020000001 has too many decimals (ETH/USD takes 8)"),
            ("", "3099.12", "quantity needed (size in ETH)"),
            ("abc", "3099.12", "quantity must be a number, got 'abc'"),
        ]
        for q, p, error in cases:
            qty.value, price.value = q, p
            qty.focus()
            await pilot.press("enter")
            assert str(ticket.query_one("#error").render()) == error
            assert ticket.armed is None
            await pilot.press("y")  # nothing armed: `y` is typed, never sent
            assert isinstance(app.screen, OrderTicket)
        qty.value, price.value = "0.002", "3099.12"
        qty.focus()
        await pilot.press("enter")
        assert str(ticket.query_one("#error").render()) == ""
        # At 160 columns the review line is whole.
        assert "send BUY 0.002 ETH/USD @ 3099.12 (limit)?" in shown(app)
        assert "y: send · escape: cancel" in shown(app)
        # Numbers are reviewed (and sent) as plain text; a price through the ask says so.
        ask = exchange.book("ETH/USD").best_ask()
        assert ask is not None
        through = price_text(exchange, "ETH/USD", ask.price + 5, 2)
        qty.value, price.value = "2e-3", through
        qty.focus()
        await pilot.press("enter")
        assert ticket.armed is not None and ticket.armed["qty"] == "0.002"
        assert f"send BUY 0.002 ETH/USD @ {through} (limit)?" in shown(app)
        best = price_text(exchange, "ETH/USD", ask.price, 2)
        assert f"crosses the book: fills at once against the ask {best}" in shown(app)
        await pilot.press("escape")
        assert ex_orders(exchange) == []
        # Without the instrument rules: an empty field that says what it needs, and no local blocking.
        del trading.instruments["ETH/USD"]
        typical = read_out_size(app, "ETH/USD")
        ticket = await open_ticket(pilot, app, "s")
        qty = ticket.query_one("#qty", Input)
        assert qty.value == (f"{typical.normalize():f}" if typical is not None else "")
        assert qty.placeholder == "size in ETH"
        qty.value = "0.001"
        ticket.query_one("#price", Input).value = "3099.123"
        ticket.query_one("#kind", Select).value = "limit"
        qty.focus()
        await pilot.press("enter")
        assert ticket.armed is not None  # the exchange decides
        await pilot.press("escape")


# ---------------------------------------------------------------------- 6. fits at 80 columns


async def test_orders_panel_fits_80_columns(exchange: Exchange) -> None:
    app = trading_app(exchange, ("BTC/USD",))
    async with app.run_test(size=(80, 30)) as pilot:
        trading = await ready(pilot, app, "BTC/USD")
        await buy_through_the_best_ask(exchange, trading)
        await wait_for(pilot, lambda: any(o.cum_qty > 0 for o in trading.trader.orders.all()), 5, "a fill")
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5)
        table = app.screen.query_one("#orders", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1, 5, "row")
        await wait_for(pilot, lambda: "USD" in str(app.screen.query_one("#balances").render()), 5, "balances")
        text = shown(app)
        for header in ("Order", "Symbol", "Side", "Price", "Qty", "Filled", "Status"):
            assert f"{header} " in text, header
        assert "partial" in text and "…" in text  # a short status and a short id; the row key stays whole
        # Every balance is on screen whole, and USD is among them.
        balances = dict(trading.view().balances)
        assert "USD" in balances
        for asset, qty in balances.items():
            assert f"{asset} {qty}" in text, asset
        # Every line of the panel ends at its border: nothing runs past it.
        for line in text.splitlines():
            assert len(line.rstrip()) <= 80
        (oid,) = [o.order_id for o in trading.trader.orders.open_orders()]
        assert app.screen._selected() == oid  # type: ignore[attr-defined]


def test_balance_lines_wrap_between_assets() -> None:
    from havterm.screens.orders import balance_lines

    bal = (("BTC", "10.0095364500"), ("ETH", "200.0000000000"), ("USD", "100000.0000000000"))
    assert balance_lines(bal, 200) == "balances: BTC 10.00953645   ETH 200   USD 100000"
    assert balance_lines(bal, 40).splitlines() == [
        "balances: BTC 10.00953645   ETH 200",
        "  USD 100000",
    ]
    assert balance_lines((), 50) == "balances: -"
