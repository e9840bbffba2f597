"""Screen 1: the price ladder of the selected symbol."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

from rich.text import Text
from textual.app import ComposeResult
from textual.geometry import Size

from havterm.screens import BaseScreen, Header, Panel, bindings
from havterm.widgets.ladder import Ladder
from havterm.widgets.queue import queue_panel_lines
from havterm.widgets.status import symbol_header
from havterm.widgets.views import QueueLine, SymbolView, ViewSource


class _QueuePanel(Panel):
    """The queue read-out: as tall as its lines (``height: auto`` would measure it at its old height)."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.draw(width, 8))


def _touch(view: SymbolView | None) -> tuple[Decimal | None, Decimal | None]:
    """The best bid and ask of a symbol's book now (None for a side it lacks, or no book)."""
    book = view.book if view is not None else None
    if book is None:
        return None, None
    pp = book.price_precision

    def at(levels: tuple[tuple[int, int], ...]) -> Decimal | None:
        return Decimal(levels[0][0]).scaleb(-pp) if levels else None

    return at(book.bids), at(book.asks)


class LadderScreen(BaseScreen):
    """Bids and asks around the spread with bars, cumulative size, grouping, cursor and flashes."""

    BINDINGS = bindings(
        "ladder.cursor_up",
        "ladder.cursor_down",
        "ladder.page_up",
        "ladder.page_down",
        "ladder.center",
        "ladder.group_coarser",
        "ladder.group_finer",
        "ladder.buy",
        "ladder.sell",
    )

    DEFAULT_CSS = """
    LadderScreen #queue { height: auto; max-height: 8; background: #10151c; }
    """

    def __init__(self) -> None:
        super().__init__(name="ladder")
        self._shown: tuple[object, ...] = ()
        self._queue: tuple[list[QueueLine], QueueLine | None] = ([], None)
        self.ticket_qty: dict[str, str] = {}
        """The last size the exchange accepted from the ticket, per symbol: the size the read-out assumes."""

    def body(self) -> ComposeResult:
        yield Ladder(id="ladder")
        yield _QueuePanel(self._draw_queue, id="queue")

    def _draw_queue(self, width: int, height: int) -> list[Text]:
        own, cursor = self._queue
        return queue_panel_lines(own, cursor, width, height)

    def _hypothetical_qty(self, view: SymbolView | None) -> Decimal | None:
        """The ticket's last size, else the median size of recent trades (a typical order)."""
        try:
            if self.symbol in self.ticket_qty:
                return Decimal(self.ticket_qty[self.symbol])
        except InvalidOperation:
            pass
        sizes = sorted(t.qty for t in view.trades) if view is not None else []
        if not sizes or sizes[len(sizes) // 2] <= 0:
            return None
        # One significant digit (0.0111777 -> 0.01): a stable size, not one that moves with every print.
        median = sizes[len(sizes) // 2]
        exp = median.adjusted()
        return median.scaleb(-exp).to_integral_value(ROUND_DOWN).scaleb(exp)

    def _queue_frame(self, src: ViewSource, view: SymbolView | None) -> None:
        queue_lines = getattr(src, "queue_lines", None)
        own = queue_lines(self.symbol) if queue_lines is not None else []
        m = self.ladder.model
        cursor = None
        qty = self._hypothetical_qty(view)
        hypothetical = getattr(src, "hypothetical", None)
        if hypothetical is not None and m.cursor_price and qty is not None:
            side = "sell" if m.cursor < 0 else "buy"  # asks above the spread, bids below: a resting order
            cursor = hypothetical(self.symbol, side, m.cursor_price, qty)
        state = (own, cursor)
        if state != self._queue:
            self._queue = state
            # The read-out grows and shrinks with its lines (at most 8): re-measure, not just repaint.
            self.query_one("#queue", Panel).refresh(layout=True)

    @property
    def ladder(self) -> Ladder:
        """The ladder widget."""
        return self.query_one(Ladder)

    def frame(self, src: ViewSource, now: float) -> None:
        view = src.symbol_view(self.symbol)
        ladder = self.ladder
        trading = getattr(self.app.bridge, "trading", None) if hasattr(self.app, "bridge") else None
        own = (
            trading.own_by_price(self.symbol, view.book.price_precision)
            if trading is not None and view is not None and view.book is not None
            else {}
        )
        m = ladder.model
        m.use_symbol(self.symbol)
        key = (view, m.group_index, m.cursor, m.cursor_ticks, ladder.size, tuple(own.items()))
        # Redraw on a new view or a UI change, and keep drawing while a flash fades.
        if key != self._shown or m.flashing(now):
            self._shown = key
            ladder.show(view.book if view else None, now, own)
        self._queue_frame(src, view)
        self.query_one(Header).show(symbol_header(self.symbol, view, self.header_extra(view)))

    def header_extra(self, view: SymbolView | None) -> str:
        m = self.ladder.model
        book = view.book if view else None
        group = book.price(m.group) if book and book.price_precision is not None else str(m.group)
        price = m.cursor_price
        # What fits after the symbol, badge and last price: the cursor's price matters most (an order
        # opens at it), so shorter wording comes first, then the group is dropped.
        width = self.size.width
        room = width - symbol_header(self.symbol, view).cell_len - 3 if width else 10**6
        choices = (
            (f"group {group}   cursor {price}", f"grp {group}  @ {price}", f"@ {price}")
            if price
            else (f"group {group}", f"grp {group}")
        )
        return next((c for c in choices if len(c) <= room), "")

    def action_cursor(self, delta: int) -> None:
        """Move the cursor by ``delta`` rows; it then holds that price (``center`` lets go)."""
        self.ladder.model.move_cursor(delta)
        self._repaint()

    def action_center(self) -> None:
        """Let go of the held price: the cursor follows the best ask again."""
        self.ladder.model.follow()
        self._repaint()

    def action_group(self, delta: int) -> None:
        """Coarser (+1) or finer (-1) price grouping."""
        m = self.ladder.model
        m.set_group(m.group_index + delta)
        self._repaint()

    def _book_state(self, bridge: object) -> str | None:
        """The state of this symbol's book (``synced``, ``disabled``, ...); None when not known."""
        state = getattr(bridge, "state", None)
        st = state.symbols.get(self.symbol) if state is not None else None
        return st.book_state.value if st is not None else None

    def action_ticket(self, side: str) -> None:
        """Open the order ticket at the cursor's price (two steps: review, then ``y``)."""
        from havterm.screens.orders import OrderTicket
        from havterm.trading_controller import disabled_refusal, futures_refusal

        bridge = getattr(self.app, "bridge", None)
        refused = futures_refusal(self.symbol) or disabled_refusal(self.symbol, self._book_state(bridge))
        if refused is not None:
            # Said now, not after a ticket was filled in and `y` pressed.
            self.app.notify(refused, severity="error")
            return
        if bridge is None or bridge.trading is None:
            self.app.notify(getattr(bridge, "trading_reason", "trading is off"), severity="warning")
            return
        trading = bridge.trading
        symbol = self.symbol

        def done(order: dict[str, str] | None) -> None:
            if order is None:
                return

            def accepted() -> None:
                # Only a size the exchange took becomes the next ticket's: not a refused typo.
                self.ticket_qty[order["symbol"]] = order["qty"]

            bridge.trade(
                lambda t: t.place(
                    order["symbol"],
                    order["side"],
                    order["qty"],
                    order["price"],
                    order["kind"],
                    on_accepted=accepted,
                )
            )

        # The size the read-out below the ladder assumes (the last size sent here, else a typical
        # trade's), at least the smallest size the exchange takes: the ticket opens on the order
        # whose queue and P(fill) the trader was just reading. A placeholder would send nothing.
        inst = trading.instrument(symbol)
        typical = self._hypothetical_qty(bridge.symbol_view(symbol))
        least = inst.qty_min if inst is not None else None
        if typical is not None and least is not None and typical < least:
            typical = least
        size = typical if typical is not None else least
        qty = self.ticket_qty.get(symbol) or (f"{size.normalize():f}" if size is not None else "")
        base = inst.base if inst is not None else symbol.partition("/")[0]
        ticket = OrderTicket(
            side,
            symbol,
            self.ladder.model.cursor_price,
            qty,
            qty_hint=f"size in {base}",
            check=lambda q, p: trading.check(symbol, q, p, side),
            touch=lambda: _touch(bridge.symbol_view(symbol)),
        )
        self.app.push_screen(ticket, done)

    def _repaint(self) -> None:
        # Keys repaint at once instead of waiting for the next frame: keystroke latency matters.
        src = getattr(self.app, "bridge", None)
        if src is not None:
            self.frame(src, src.monotonic())
