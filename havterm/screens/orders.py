"""Order entry: the ticket (two steps, so a stray Enter never sends an order) and the orders panel."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Select
from textual.widgets._toast import ToastRack

from havterm.screens import bindings
from havterm.trading_controller import ORDER_KINDS, OrderRow, TradingController, parse_decimal, trim_zeros

Check = Callable[[Decimal | None, Decimal | None], str | None]
"""The instrument's local check of (quantity, price): a one-line reason, or None when it passes."""
Touch = Callable[[], tuple[Decimal | None, Decimal | None]]
"""The best bid and ask now (None for a side with no book)."""


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:  # InvalidOperation: "market", or empty
        return None


FAR_FROM_MID = Decimal("0.05")
"""A limit price this far (5 %) from the mid is pointed out at review: most likely a typo."""


def _plain(d: Decimal) -> str:
    return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d:f}"


def order_notes(
    side: str,
    qty: Decimal,
    price: Decimal | None,
    kind: str,
    bid: Decimal | None,
    ask: Decimal | None,
    quote: str,
) -> str:
    """What a trader should see before ``y``: the order's value and whether it trades at once.

    ``\n≈ 630.01 USD\ncrosses the book: fills at once against the ask 62999.1`` (a line
    each; empty without a book). A limit price far from the mid is pointed out, and so is a
    post-only order that the exchange would refuse because it would take liquidity.
    """
    touch = ask if side == "buy" else bid
    at = price if price is not None else touch
    parts = [] if at is None else [f"≈ {(qty * at).quantize(Decimal('0.01')):f} {quote}".rstrip()]
    if price is not None and touch is not None:
        crosses = price >= touch if side == "buy" else price <= touch
        other = f"{'ask' if side == 'buy' else 'bid'} {touch}"
        if crosses and kind == "post-only":
            parts.append(f"post-only would take the {other}: refused")
        elif crosses:
            parts.append(f"crosses the book: fills at once against the {other}")
    if price is not None and bid is not None and ask is not None:
        mid = (bid + ask) / 2
        off = (price - mid) / mid
        if abs(off) >= FAR_FROM_MID:
            parts.append(f"{abs(off) * 100:.0f} % {'above' if off > 0 else 'below'} the mid {_plain(mid)}")
    return "".join(f"\n{part}" for part in parts)  # a line each: the dialog is 60 columns


class _Dialog(ModalScreen[dict[str, str] | None]):
    """A modal where the trader confirms an order: no toasts are drawn over it.

    At 80 columns a fill toast covered the price on the review line being
    confirmed. Notifications wait, and show on the screen below once the
    dialog closes.
    """

    def _extend_compose(self, widgets: list[Widget]) -> None:
        super()._extend_compose(widgets)
        widgets[:] = [w for w in widgets if not isinstance(w, ToastRack)]


class OrderTicket(_Dialog):
    """Side, price, quantity and kind; Enter asks to confirm, ``y`` sends, Escape cancels."""

    # Docked at the bottom, the fields on one line: at 80x24 the ladder's rows around the cursor
    # (the price being traded, and its neighbours) stay in sight above the ticket, undimmed. The
    # full width at any size: a narrower box left bits of the status bar and footer at its sides.
    DEFAULT_CSS = """
    OrderTicket { align: center bottom; }
    OrderTicket > Vertical {
        width: 100%; height: auto; border: round #7fb2ff; background: #141a22; padding: 0 1;
    }
    OrderTicket.buy > Vertical { border: round #3fb950; }
    OrderTicket.sell > Vertical { border: round #f85149; }
    OrderTicket Horizontal { height: auto; }
    OrderTicket #title { width: auto; text-style: bold; }
    OrderTicket #hint { width: 1fr; color: #9fb3c8; text-align: right; }
    OrderTicket Label.field { width: auto; padding: 0 1 0 0; }
    OrderTicket Input { width: 1fr; margin: 0 2 0 0; }
    OrderTicket Select { width: 16; }
    OrderTicket #confirm { color: #ffd866; height: auto; width: 100%; }
    OrderTicket #error { color: #ff6b6b; height: auto; width: 100%; display: none; }
    OrderTicket #error.shown { display: block; }
    """
    BINDINGS: ClassVar = bindings("ticket.cancel", "ticket.send")
    LIVE_BELOW: ClassVar = True
    """The app keeps repainting the screen below (the ladder) while the ticket is open."""

    def __init__(
        self,
        side: str,
        symbol: str,
        price: str,
        qty: str = "",
        *,
        qty_hint: str = "",
        check: Check | None = None,
        touch: Touch | None = None,
    ) -> None:
        super().__init__(classes=side)
        self.side = side
        self.symbol = symbol
        self.price = price
        self.qty = qty
        # Says what the field wants (``size in BTC``); never a number that looks like a value.
        self.qty_hint = qty_hint or f"size in {symbol.partition('/')[0] or symbol}"
        self.check = check
        self.touch = touch
        """The best bid and ask now, for the review's warnings (None: no book to compare with)."""
        self.armed: dict[str, str] | None = None
        # Inline, so the app's opaque ``Screen`` background does not win: the ladder shows through.
        self.styles.background = "transparent"

    def compose(self) -> ComposeResult:
        with Vertical():
            with Horizontal():
                yield Label(f"{self.side.upper()} {self.symbol}", id="title")
                yield Label("enter: review · y: send · escape: cancel", id="hint")
            with Horizontal():
                yield Label("qty", classes="field")
                yield Input(value=self.qty, placeholder=self.qty_hint, id="qty", compact=True)
                yield Label("price", classes="field")
                yield Input(value=self.price, id="price", compact=True)
                yield Label("kind", classes="field")
                yield Select(
                    [(k, k) for k in ORDER_KINDS], value="limit", id="kind", allow_blank=False, compact=True
                )
            yield Label("", id="confirm")
            yield Label("", id="error")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._disarm()

    def on_select_changed(self, event: Select.Changed) -> None:
        self._disarm()

    def _disarm(self) -> None:
        # Any edit after the review takes the confirmation back: `y` sends only what was shown.
        # The last review's error goes too: it was about the values just edited.
        self.armed = None
        self.query_one("#confirm", Label).update("")
        self._error("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.review()

    def _error(self, text: str) -> None:
        """Say why the review stopped (a line only while there is something to say)."""
        error = self.query_one("#error", Label)
        error.update(text)
        error.set_class(bool(text), "shown")

    def review(self) -> None:
        """Check the fields and show exactly what ``y`` would send."""
        qty = self.query_one("#qty", Input).value.strip()
        price = self.query_one("#price", Input).value.strip()
        kind = str(self.query_one("#kind", Select).value)
        if not qty:
            self._error(f"quantity needed ({self.qty_hint})")
            return
        try:
            q = parse_decimal(qty, "quantity")
            p = None if kind == "market" else parse_decimal(price, "price")
        except ValueError as exc:
            self._error(str(exc))
            return
        problem = self.check(q, p) if self.check is not None else None
        if problem is not None:
            self._error(problem)  # caught here, not refused by the exchange after `y`
            return
        self._error("")
        # The numbers as they will be sent, in plain notation (``1e-2`` is reviewed as ``0.01``).
        qty, price = _plain(q), price if p is None else _plain(p)
        where = "at market" if kind == "market" else f"@ {price} ({kind})"
        bid, ask = self.touch() if self.touch is not None else (None, None)
        notes = order_notes(self.side, q, p, kind, bid, ask, self.symbol.partition("/")[2])
        self.query_one("#confirm", Label).update(
            f"send {self.side.upper()} {qty} {self.symbol} {where}?{notes}\ny: send · escape: cancel"
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


class AmendPrompt(_Dialog):
    """New quantity and/or price for one order; like the ticket, Enter reviews and ``y`` sends."""

    DEFAULT_CSS = """
    AmendPrompt { align: center middle; }
    AmendPrompt > Vertical {
        width: 64; height: auto; border: round #7fb2ff; background: #141a22; padding: 0 1;
    }
    AmendPrompt Horizontal { height: auto; }
    AmendPrompt Label.field { width: 10; padding: 1 0 0 0; }
    AmendPrompt Input { width: 1fr; }
    AmendPrompt #hint { color: #9fb3c8; }
    AmendPrompt #confirm { color: #ffd866; height: auto; width: 100%; }
    AmendPrompt #error { color: #ff6b6b; height: auto; width: 100%; }
    """
    BINDINGS: ClassVar = bindings("amend.cancel", "amend.send")

    def __init__(
        self,
        order_id: str,
        qty: str,
        price: str,
        *,
        check: Check | None = None,
        side: str = "",
        symbol: str = "",
        kind: str = "limit",
        touch: Touch | None = None,
    ) -> None:
        super().__init__()
        self.order_id, self.qty, self.price = order_id, qty, price
        self.check = check
        self.side, self.symbol, self.kind = side, symbol, kind
        self.touch = touch
        """The best bid and ask now, for the review's notes, as on the ticket (None: no book)."""
        self.armed: dict[str, str] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"amend {self.order_id}")
            yield Label("enter: review · y: send · escape: cancel", id="hint")
            with Horizontal():
                yield Label("quantity", classes="field")
                yield Input(value=self.qty, id="qty")
            with Horizontal():
                yield Label("price", classes="field")
                yield Input(value=self.price, id="price")
            yield Label("", id="confirm")
            yield Label("", id="error")

    def on_input_changed(self, event: Input.Changed) -> None:
        # As on the ticket: `y` sends only what the last review showed, and its error goes with it.
        self.armed = None
        self.query_one("#confirm", Label).update("")
        self.query_one("#error", Label).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.review()

    def review(self) -> None:
        """Check the fields and show the change (old → new) that ``y`` would send."""
        qty = self.query_one("#qty", Input).value.strip()
        price = self.query_one("#price", Input).value.strip()
        error = self.query_one("#error", Label)
        try:
            q = parse_decimal(qty, "quantity") if qty else None
            p = parse_decimal(price, "price") if price and price != "market" else None
        except ValueError as exc:
            error.update(str(exc))
            return
        # Reviewed and sent in plain notation (``2e-2`` is ``0.02``).
        qty = qty if q is None else _plain(q)
        price = price if p is None else _plain(p)
        new_qty = q is not None and q != _number(self.qty)
        new_price = p is not None and p != _number(self.price)
        changes = []
        if new_qty:
            changes.append(f"qty {self.qty or '?'} → {qty}")
        if new_price:
            changes.append(f"price {self.price or '?'} → {price}")
        if not changes:
            error.update("nothing to change: edit the quantity or the price")
            return
        problem = self.check(q, p) if self.check is not None else None
        if problem is not None:
            error.update(problem)
            return
        error.update("")
        # The order as it would stand: what is not edited stays as it was.
        after_qty = q if q is not None else _number(self.qty)
        notes = self._notes(after_qty, p if p is not None else _number(self.price))
        self.query_one("#confirm", Label).update(
            f"amend {', '.join(changes)}?{notes}\ny: send · escape: cancel"
        )
        # Only what changed is sent (the quantity goes anyway when given: Kraken's amend needs it).
        self.armed = {"qty": qty, "price": price if new_price else ""}
        self.set_focus(None)  # `y` is then the screen's key, not a character in a field

    def _notes(self, qty: Decimal | None, price: Decimal | None) -> str:
        """The ticket's review notes for the order as amended: its value, and a price that crosses
        the book or is far from the mid (empty without a side, a quantity or a book)."""
        if self.side not in ("buy", "sell") or qty is None:
            return ""
        bid, ask = self.touch() if self.touch is not None else (None, None)
        return order_notes(self.side, qty, price, self.kind, bid, ask, self.symbol.partition("/")[2])

    def action_send(self) -> None:
        """Send the amend the review showed (nothing before a review)."""
        if self.armed is not None:
            self.dismiss(self.armed)

    def action_cancel(self) -> None:
        """Close without amending."""
        self.dismiss(None)


COLUMNS = ("Order", "Symbol", "Side", "Price", "Qty", "Filled", "Status")
CLOSED_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "closed"})
"""Order statuses the panel lists but cannot cancel or amend: the exchange would only refuse."""
SHORT_STATUS = {"partially_filled": "partial", "pending_new": "pending"}
"""Statuses too long for an 80-column panel, and the word shown instead."""
NARROW = 100
"""Below this many terminal columns, order ids are shortened so every column fits."""


def short_id(order_id: str) -> str:
    """``OQHRK3-T2SN2-P4SO6B`` -> ``OQHRK3…SO6B``: still tells orders apart, in 11 columns."""
    return order_id if len(order_id) <= 12 else f"{order_id[:6]}…{order_id[-4:]}"


def balance_lines(balances: tuple[tuple[str, str], ...], width: int) -> str:
    """``balances: BTC 1.5   USD 100`` wrapped between assets, never inside one, to ``width`` columns.

    Kraken writes every balance to 10 decimals (``1.5000000000``): the trailing zeros are
    dropped, and nothing else (no digit is rounded away).
    """
    if not balances:
        return "balances: -"
    lines: list[str] = []
    line = "balances:"
    for asset, qty in balances:
        item = f"{asset} {trim_zeros(qty)}"
        if line != "balances:" and len(line) + 3 + len(item) > width:
            lines.append(line)
            line = f"  {item}"
        else:
            line = f"{line} {item}" if line == "balances:" else f"{line}   {item}"
    lines.append(line)
    return "\n".join(lines)


def order_detail(row: OrderRow | None, narrow: bool) -> str:
    """The selected order in one line, with what the columns have no room for: its average fill price.

    ``OQHRK3…SO6B buy BTC/USD filled 0.03 of 0.05, avg 63000.62`` (and why it ended, when said).
    """
    if row is None:
        return ""
    oid = short_id(row.order_id) if narrow else row.order_id
    of = f" of {row.qty}" if row.qty else ""
    filled = f"filled {row.filled}{of}, avg {row.avg}" if row.avg else "nothing filled"
    why = f" · {row.reason}" if row.reason else ""
    return f"{oid} {row.side} {row.symbol} {filled}{why}"


class OrdersScreen(ModalScreen[None]):
    """Open and recent orders and balances; cancel, amend, cancel all."""

    DEFAULT_CSS = """
    OrdersScreen { align: center middle; }
    OrdersScreen > Vertical { width: 96%; height: 90%; border: round #7fb2ff; background: #0b0f14; }
    OrdersScreen DataTable { height: 1fr; }
    OrdersScreen #balances, OrdersScreen #state, OrdersScreen #detail {
        height: auto; width: 100%; color: #9fb3c8; padding: 0 1;
    }
    """
    BINDINGS: ClassVar = bindings("orders.close", "orders.cancel", "orders.amend", "orders.cancel_all")

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[int, int] = (-1, -1)
        self._rows: dict[str, OrderRow] = {}

    @property
    def trading(self) -> TradingController | None:
        """The bridge's order entry (None without an API key)."""
        return getattr(getattr(self.app, "bridge", None), "trading", None)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Orders  (c cancel · a amend · C cancel all · escape close)")
            yield Label("", id="state")
            yield DataTable(id="orders", cursor_type="row", zebra_stripes=True)
            yield Label("", id="detail")
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
        width = self.app.size.width
        key = (trading.version, width)
        if key == self._shown and self.query_one("#orders", DataTable).row_count:
            return
        self._shown = key
        table = self.query_one("#orders", DataTable)
        # The selection is an order, not a row: when another order fills (or is cancelled) the rows
        # reorder, and `c` / `a` must still act on the order the trader picked and the detail shows.
        selected = self._selected()
        cursor = table.cursor_row
        table.clear()
        narrow = width < NARROW
        for r in view.orders:
            # The row key keeps the full id: cancel and amend act on it, whatever is shown.
            oid = short_id(r.order_id) if narrow else r.order_id
            status = SHORT_STATUS.get(r.status, r.status)
            table.add_row(oid, r.symbol, r.side, r.price, r.qty, r.filled, status, key=r.order_id)
        self._rows = {r.order_id: r for r in view.orders}
        if table.row_count:
            if selected is not None and selected in self._rows:
                row = table.get_row_index(selected)
            else:  # the order left the list: the row now where it was (the detail line says which)
                row = min(max(cursor, 0), table.row_count - 1)
            table.move_cursor(row=row)
        self._show_detail()
        # The panel is 96% of the terminal, less its border and padding.
        text = balance_lines(view.balances, max(20, int(width * 0.96) - 4))
        self.query_one("#balances", Label).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        oid = self._selected()
        row = self._rows.get(oid) if oid is not None else None
        self.query_one("#detail", Label).update(order_detail(row, self.app.size.width < NARROW))

    def _selected(self) -> str | None:
        table = self.query_one("#orders", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def _bridge(self) -> Any:
        return getattr(self.app, "bridge", None)

    def _not_open(self, oid: str, action: str) -> bool:
        """True (and says so in one line) when the selected order is no longer open: nothing is sent."""
        trading = self.trading
        row = next((r for r in trading.view().orders if r.order_id == oid), None) if trading else None
        if row is None or row.status not in CLOSED_STATUSES:
            return False
        self.app.notify(f"{action}: {short_id(oid)} is {row.status}, not open", severity="warning")
        return True

    def action_cancel_order(self) -> None:
        """Cancel the selected order."""
        oid = self._selected()
        bridge = self._bridge()
        if oid and bridge is not None and not self._not_open(oid, "nothing to cancel"):
            bridge.trade(lambda t: t.cancel(oid))

    def action_amend_order(self) -> None:
        """Change the selected order's quantity or price."""
        oid = self._selected()
        trading = self.trading
        bridge = self._bridge()
        if not oid or trading is None or bridge is None or self._not_open(oid, "nothing to amend"):
            return
        row = next((r for r in trading.view().orders if r.order_id == oid), None)

        def done(values: dict[str, str] | None) -> None:
            if values is not None:
                bridge.trade(lambda t: t.amend(oid, values["qty"], values["price"]))

        symbol = row.symbol if row else ""
        prompt = AmendPrompt(
            oid,
            row.qty if row else "",
            row.price if row else "",
            check=lambda q, p: trading.check(symbol, q, p),
            side=row.side if row else "",
            symbol=symbol,
            kind=row.kind if row else "limit",
            touch=lambda: trading.touch(symbol),
        )
        self.app.push_screen(prompt, done)

    def action_cancel_all(self) -> None:
        """Cancel every open order."""
        bridge = self._bridge()
        if bridge is not None:
            bridge.trade(lambda t: t.cancel_all())

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)
