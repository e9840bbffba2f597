"""Order entry: the ticket (two steps, so a stray Enter never sends an order) and the orders panel."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Select

from havterm.screens import bindings
from havterm.trading_controller import ORDER_KINDS, TradingController, parse_decimal


class OrderTicket(ModalScreen[dict[str, str] | None]):
    """Side, price, quantity and kind; Enter asks to confirm, ``y`` sends, Escape cancels."""

    DEFAULT_CSS = """
    OrderTicket { align: center middle; }
    OrderTicket > Vertical {
        width: 60; height: auto; border: round #7fb2ff; background: #141a22; padding: 0 1;
    }
    OrderTicket.buy > Vertical { border: round #3fb950; }
    OrderTicket.sell > Vertical { border: round #f85149; }
    OrderTicket Horizontal { height: auto; }
    OrderTicket Label.field { width: 10; padding: 1 0 0 0; }
    OrderTicket Input, OrderTicket Select { width: 1fr; }
    OrderTicket #confirm { color: #ffd866; height: auto; }
    OrderTicket #error { color: #ff6b6b; height: auto; }
    """
    BINDINGS: ClassVar = bindings("ticket.cancel", "ticket.send")

    def __init__(self, side: str, symbol: str, price: str, qty: str = "") -> None:
        super().__init__(classes=side)
        self.side = side
        self.symbol = symbol
        self.price = price
        self.qty = qty
        self.armed: dict[str, str] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.side.upper()} {self.symbol}  (enter: review · y: send · escape: cancel)")
            with Horizontal():
                yield Label("quantity", classes="field")
                yield Input(value=self.qty, placeholder="0.01", id="qty")
            with Horizontal():
                yield Label("price", classes="field")
                yield Input(value=self.price, id="price")
            with Horizontal():
                yield Label("kind", classes="field")
                yield Select([(k, k) for k in ORDER_KINDS], value="limit", id="kind", allow_blank=False)
            yield Label("", id="confirm")
            yield Label("", id="error")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._disarm()

    def on_select_changed(self, event: Select.Changed) -> None:
        self._disarm()

    def _disarm(self) -> None:
        # Any edit after the review takes the confirmation back: `y` sends only what was shown.
        self.armed = None
        self.query_one("#confirm", Label).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.review()

    def review(self) -> None:
        """Check the fields and show exactly what ``y`` would send."""
        qty = self.query_one("#qty", Input).value.strip()
        price = self.query_one("#price", Input).value.strip()
        kind = str(self.query_one("#kind", Select).value)
        try:
            parse_decimal(qty, "quantity")
            if kind != "market":
                parse_decimal(price, "price")
        except ValueError as exc:
            self.query_one("#error", Label).update(str(exc))
            return
        self.query_one("#error", Label).update("")
        where = "at market" if kind == "market" else f"@ {price} ({kind})"
        self.query_one("#confirm", Label).update(
            f"send {self.side.upper()} {qty} {self.symbol} {where}?  y: send · escape: cancel"
        )
        self.armed = {"side": self.side, "symbol": self.symbol, "qty": qty, "price": price, "kind": kind}
        self.set_focus(None)  # so that `y` is a key for the screen, not a character in a field

    def action_send(self) -> None:
        """Send what the review showed (nothing before a review)."""
        if self.armed is not None:
            self.dismiss(self.armed)

    def action_cancel(self) -> None:
        """Close without sending."""
        self.dismiss(None)


class AmendPrompt(ModalScreen[dict[str, str] | None]):
    """New quantity and/or price for one order."""

    DEFAULT_CSS = """
    AmendPrompt { align: center middle; }
    AmendPrompt > Vertical {
        width: 56; height: auto; border: round #7fb2ff; background: #141a22; padding: 0 1;
    }
    AmendPrompt Horizontal { height: auto; }
    AmendPrompt Label.field { width: 10; padding: 1 0 0 0; }
    AmendPrompt Input { width: 1fr; }
    """
    BINDINGS: ClassVar = bindings("amend.cancel")

    def __init__(self, order_id: str, qty: str, price: str) -> None:
        super().__init__()
        self.order_id, self.qty, self.price = order_id, qty, price

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"amend {self.order_id} (enter sends, escape cancels)")
            with Horizontal():
                yield Label("quantity", classes="field")
                yield Input(value=self.qty, id="qty")
            with Horizontal():
                yield Label("price", classes="field")
                yield Input(value=self.price, id="price")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(
            {"qty": self.query_one("#qty", Input).value, "price": self.query_one("#price", Input).value}
        )

    def action_cancel(self) -> None:
        """Close without amending."""
        self.dismiss(None)


COLUMNS = ("Order", "Symbol", "Side", "Price", "Qty", "Filled", "Status")


class OrdersScreen(ModalScreen[None]):
    """Open and recent orders and balances; cancel, amend, cancel all."""

    DEFAULT_CSS = """
    OrdersScreen { align: center middle; }
    OrdersScreen > Vertical { width: 96%; height: 90%; border: round #7fb2ff; background: #0b0f14; }
    OrdersScreen DataTable { height: 1fr; }
    OrdersScreen #balances, OrdersScreen #state { height: auto; color: #9fb3c8; padding: 0 1; }
    """
    BINDINGS: ClassVar = bindings("orders.close", "orders.cancel", "orders.amend", "orders.cancel_all")

    def __init__(self) -> None:
        super().__init__()
        self._shown = -1

    @property
    def trading(self) -> TradingController | None:
        """The bridge's order entry (None without an API key)."""
        return getattr(getattr(self.app, "bridge", None), "trading", None)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Orders  (c cancel · a amend · C cancel all · escape close)")
            yield Label("", id="state")
            yield DataTable(id="orders", cursor_type="row", zebra_stripes=True)
            yield Label("", id="balances")

    def on_mount(self) -> None:
        self.query_one("#orders", DataTable).add_columns(*COLUMNS)
        self.refresh_rows()
        self.set_interval(0.25, self.refresh_rows)

    def refresh_rows(self) -> None:
        """Redraw when the orders or balances changed."""
        trading = self.trading
        state = self.query_one("#state", Label)
        if trading is None:
            reason = getattr(getattr(self.app, "bridge", None), "trading_reason", "trading is off")
            state.update(reason)
            return
        view = trading.view()
        state.update("ready" if view.ready else view.reason)
        if trading.version == self._shown and self.query_one("#orders", DataTable).row_count:
            return
        self._shown = trading.version
        table = self.query_one("#orders", DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in view.orders:
            table.add_row(r.order_id, r.symbol, r.side, r.price, r.qty, r.filled, r.status, key=r.order_id)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        bal = "   ".join(f"{a} {q}" for a, q in view.balances)
        self.query_one("#balances", Label).update(f"balances: {bal}" if bal else "balances: -")

    def _selected(self) -> str | None:
        table = self.query_one("#orders", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def _bridge(self) -> Any:
        return getattr(self.app, "bridge", None)

    def action_cancel_order(self) -> None:
        """Cancel the selected order."""
        oid = self._selected()
        bridge = self._bridge()
        if oid and bridge is not None:
            bridge.trade(lambda t: t.cancel(oid))

    def action_amend_order(self) -> None:
        """Change the selected order's quantity or price."""
        oid = self._selected()
        trading = self.trading
        bridge = self._bridge()
        if not oid or trading is None or bridge is None:
            return
        row = next((r for r in trading.view().orders if r.order_id == oid), None)

        def done(values: dict[str, str] | None) -> None:
            if values is not None:
                bridge.trade(lambda t: t.amend(oid, values["qty"], values["price"]))

        self.app.push_screen(AmendPrompt(oid, row.qty if row else "", row.price if row else ""), done)

    def action_cancel_all(self) -> None:
        """Cancel every open order."""
        bridge = self._bridge()
        if bridge is not None:
            bridge.trade(lambda t: t.cancel_all())

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)
