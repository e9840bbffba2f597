"""The order ticket and the amend prompt against the embedded exchange: what they remember, refuse and say."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Select

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.credentials import Credentials
from havterm.screens.orders import AmendPrompt, OrdersScreen, OrderTicket
from havterm.sim import Exchange, SimConfig
from havterm.trading_controller import TradingController
from tests.ui.helpers import endpoints, shown, wait_for

BTC = "BTC/USD"


@pytest.fixture
async def exchange() -> AsyncIterator[Exchange]:
    """A paused exchange with a seeded book; tests step it by hand."""
    async with Exchange(SimConfig(seed=7, market=False, symbols=(BTC,))) as ex:
        ex.step(300)
        yield ex


def trading_app(ex: Exchange) -> HavtermApp:
    source = Source([BTC], 25, endpoints(ex), alerts=False)
    creds = Credentials(ex.endpoints["api_key"], ex.endpoints["api_secret"])
    return HavtermApp(source, UiConfig(depth=25), client=make_client(source, source.urls, creds))


def notices(app: HavtermApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def ready(pilot: Any, app: HavtermApp) -> TradingController:
    """Authenticated, reconciled, the book synced and the instrument rules known."""

    def ok() -> bool:
        t = app.bridge.trading
        st = app.bridge.state.symbols.get(BTC) if app.bridge.state is not None else None
        return (
            t is not None
            and t.trader.ready
            and st is not None
            and st.book_state.value == "synced"
            and t.instrument(BTC) is not None
            and bool(app.screen.ladder.model.cursor_price)  # type: ignore[attr-defined]
        )

    await wait_for(pilot, ok, 10, "ready, the ladder's cursor on a price")
    trading = app.bridge.trading
    assert trading is not None
    return trading


def px(ticks: int) -> str:
    return f"{Decimal(ticks).scaleb(-1):f}"  # BTC/USD: one price decimal


def plain(price: str) -> str:
    """A price as a review writes what was typed: ``62998.0`` is ``62998``."""
    d = Decimal(price)
    return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d:f}"


async def open_ticket(pilot: Any, app: HavtermApp, key: str = "b") -> OrderTicket:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5, "the ticket")
    ticket = app.screen
    assert isinstance(ticket, OrderTicket)
    return ticket


async def close(pilot: Any, app: HavtermApp) -> None:
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, OrderTicket), 5, "the ticket closed")


def text(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector).render())


# ---------------------------------------------------------------------- 2. a refused size is forgotten


async def test_only_a_size_the_exchange_accepted_becomes_the_next_tickets_size(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await ready(pilot, app)
        ticket = await open_ticket(pilot, app)
        first = ticket.query_one("#qty", Input).value
        assert first != ""
        # The price typed in the size field: sent, and refused by the exchange.
        ticket.query_one("#qty", Input).value = "62990"
        ticket.query_one("#qty", Input).focus()
        await pilot.press("enter")
        assert ticket.armed is not None and ticket.armed["qty"] == "62990"
        await pilot.press("y")
        refused = "order refused: not enough balance for this order [EOrder:Insufficient funds]"
        await wait_for(pilot, lambda: refused in notices(app), 5, "the refusal")
        # The next ticket opens at the size it opened at before, not at the refused one.
        ticket = await open_ticket(pilot, app)
        assert ticket.query_one("#qty", Input).value == first
        # A size the exchange takes is remembered.
        ticket.query_one("#qty", Input).value = "0.0002"
        ticket.query_one("#kind", Select).value = "post-only"
        bid = exchange.book(BTC).best_bid()
        assert bid is not None
        ticket.query_one("#price", Input).value = px(bid.price - 30)
        ticket.query_one("#qty", Input).focus()
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: any(" sent (" in n for n in notices(app)), 5, "the order sent")
        ticket = await open_ticket(pilot, app)
        assert ticket.query_one("#qty", Input).value == "0.0002"
        await close(pilot, app)


# ---------------------------------------------------------------------- 3. a disabled symbol: no ticket


async def test_a_disabled_symbol_is_refused_when_b_or_s_is_pressed(tmp_path: Path) -> None:
    nope = "NOPE/USD"
    source = Source(
        [nope],
        25,
        demo=True,
        demo_paused=True,
        rules_path=str(tmp_path / "rules.toml"),
        history_path=str(tmp_path / "alerts.jsonl"),
    )
    app = HavtermApp(source, UiConfig(depth=25))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:

        def disabled() -> bool:
            t = app.bridge.trading
            st = app.bridge.state.symbols.get(nope) if app.bridge.state is not None else None
            return t is not None and t.trader.ready and st is not None and st.book_state.value == "disabled"

        await wait_for(pilot, disabled, 10, "trading ready, the book disabled")
        assert app.symbol == nope
        await pilot.press("b")
        await pilot.press("s")
        line = f"order refused: {nope} is disabled [havterm:book not synced]"
        await wait_for(pilot, lambda: notices(app).count(line) == 2, 5, "two refusals")
        assert not isinstance(app.screen, OrderTicket)
        # The same line as the engine's refusal after `y`.
        trading = app.bridge.trading
        assert trading is not None
        assert await trading.place(nope, "buy", "1", "100", "limit") == line


# ---------------------------------------------------------------------- 4. an edit clears the last error


async def test_editing_a_field_clears_the_last_reviews_error(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        ticket = await open_ticket(pilot, app)
        qty = ticket.query_one("#qty", Input)
        qty.value = "0.00001"
        qty.focus()
        await pilot.press("enter")
        below = "quantity 0.00001 is below the minimum of 0.0001 BTC"
        assert text(ticket, "#error") == below and ticket.query_one("#error").has_class("shown")
        assert ticket.armed is None
        # The trader fixes the size: the error about the old one goes at once.
        qty.focus()
        await pilot.press("end", "backspace", "backspace", "1")
        assert qty.value == "0.0001"
        await wait_for(pilot, lambda: text(ticket, "#error") == "", 5, "the error cleared")
        assert not ticket.query_one("#error").has_class("shown")
        assert below not in shown(app)
        # A changed kind takes a review's error back too.
        qty.value = "0.00001"
        qty.focus()
        await pilot.press("enter")
        assert text(ticket, "#error") == below
        ticket.query_one("#kind", Select).value = "ioc"
        await wait_for(pilot, lambda: text(ticket, "#error") == "", 5, "the error cleared by the kind")
        assert ticket.armed is None
        await close(pilot, app)


async def test_editing_an_amend_clears_the_last_reviews_error(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        trading = await ready(pilot, app)
        bid = exchange.book(BTC).best_bid()
        assert bid is not None
        assert " sent (" in await trading.place(BTC, "buy", "0.01", px(bid.price - 30), "limit")
        prompt = await open_amend(pilot, app)
        qty = prompt.query_one("#qty", Input)
        qty.value = "0.00001"
        qty.focus()
        await pilot.press("enter")
        assert text(prompt, "#error") == "quantity 0.00001 is below the minimum of 0.0001 BTC"
        qty.focus()
        await pilot.press("end", "backspace", "backspace", "2")
        assert qty.value == "0.0002"
        await wait_for(pilot, lambda: text(prompt, "#error") == "", 5, "the error cleared")
        assert prompt.armed is None


# ---------------------------------------------------------------------- 5. amend reviewed like the ticket


async def open_amend(pilot: Any, app: HavtermApp) -> AmendPrompt:
    await pilot.press("o")
    await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "the orders panel")
    table = app.screen.query_one("#orders", DataTable)
    await wait_for(pilot, lambda: table.row_count == 1 and table.get_row_at(0)[6] == "new", 5, "the row")
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, AmendPrompt), 5, "the amend prompt")
    prompt = app.screen
    assert isinstance(prompt, AmendPrompt)
    return prompt


async def amend_review(pilot: Any, prompt: AmendPrompt, qty: str, price: str) -> str:
    prompt.query_one("#qty", Input).value = qty
    prompt.query_one("#price", Input).value = price
    prompt.query_one("#qty", Input).focus()
    await pilot.press("enter")
    return text(prompt, "#confirm")


async def test_the_amend_review_says_the_value_and_warns_like_the_ticket(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        trading = await ready(pilot, app)
        book = exchange.book(BTC)
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None and ask is not None
        old = px(bid.price - 30)
        assert " sent (" in await trading.place(BTC, "buy", "0.01", old, "limit")
        prompt = await open_amend(pilot, app)
        keys = "\ny: send · escape: cancel"
        # The size alone: the order's new value at its price.
        value = (Decimal("0.02") * Decimal(old)).quantize(Decimal("0.01"))
        assert (
            await amend_review(pilot, prompt, "0.02", old) == f"amend qty 0.01 → 0.02?\n≈ {value} USD{keys}"
        )
        assert prompt.armed == {"qty": "0.02", "price": ""}
        # A price through the ask: it would trade at once.
        through = px(ask.price + 5)
        value = (Decimal("0.01") * Decimal(through)).quantize(Decimal("0.01"))
        assert await amend_review(pilot, prompt, "0.01", through) == (
            f"amend price {old} → {plain(through)}?\n≈ {value} USD"
            f"\ncrosses the book: fills at once against the ask {px(ask.price)}{keys}"
        )
        assert prompt.armed == {"qty": "0.01", "price": plain(through)}
        # A price 10 % below the mid: most likely a typo.
        mid = Decimal(bid.price + ask.price).scaleb(-1) / 2
        far = px(int(Decimal(bid.price) * Decimal("0.9")))
        off = (mid - Decimal(far)) / mid * 100
        assert round(off) == 10
        mid_text = f"{mid.normalize():f}" if mid == mid.to_integral_value() else f"{mid:f}"
        value = (Decimal("0.01") * Decimal(far)).quantize(Decimal("0.01"))
        assert await amend_review(pilot, prompt, "0.01", far) == (
            f"amend price {old} → {plain(far)}?\n≈ {value} USD\n10 % below the mid {mid_text}{keys}"
        )
        # Shown whole in the prompt.
        assert f"10 % below the mid {mid_text}" in shown(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen), 5, "back to the panel")


# ---------------------------------------------------------------------- 6. the ticket spans the terminal


async def test_the_ticket_is_docked_across_the_whole_width_at_120x40(exchange: Exchange) -> None:
    app = trading_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        ticket = await open_ticket(pilot, app)
        box = ticket.query_one("Vertical").region
        assert (box.x, box.width, box.bottom) == (0, 120, 40)
        # Border to border: no bit of the status bar or the footer shows at its sides.
        lines = [line for line in shown(app).splitlines() if line]
        assert lines[-1] == f"╰{'─' * 118}╯"
        title = next(line for line in lines if "BUY BTC/USD" in line)
        assert title.startswith("│ BUY BTC/USD") and title.endswith("escape: cancel │") and len(title) == 120
        await close(pilot, app)
