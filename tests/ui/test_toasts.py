"""Toasts stay clear of the status bar: the clock and latency must not vanish under every fill."""

from __future__ import annotations

from textual.widgets._toast import Toast

from havterm.screens.orders import OrderTicket
from havterm.sim import Exchange
from havterm.widgets.status import StatusBar

from .helpers import make_app, wait_for


async def test_a_toast_does_not_cover_the_status_bar(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        for i in range(3):
            app.notify(f"BUY 0.0{i} of 0.05 BTC/USD filled @ 63000.{i}")
        await wait_for(pilot, lambda: len(app.screen.query(Toast)) == 3, 5, "three toasts")
        await pilot.pause()
        status = app.screen.query_one(StatusBar).region
        toasts = [t.region for t in app.screen.query(Toast)]
        assert status.height == 1 and all(t.height > 0 for t in toasts)
        assert all(not t.overlaps(status) for t in toasts), (status, toasts)
        # No blank padding lines above and below the text (41 characters wrap to two lines at half
        # of 80 columns; with Textual's padding each toast was four lines tall).
        assert all(t.height == 2 for t in toasts), toasts


async def test_no_toast_covers_an_order_being_confirmed(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        app.push_screen(OrderTicket("buy", "BTC/USD", "63000.0", "0.01"))
        await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket), 5, "the ticket")
        app.notify("BUY 0.01 BTC/USD filled @ 62985.7")
        await pilot.pause(0.2)
        assert len(app.screen.query(Toast)) == 0 and len(app._notifications) == 1
        # Once the ticket closes the toast shows on the screen below.
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(app.screen.query(Toast)) == 1, 5, "the toast after the ticket")
