"""The dashboard's order entry: a ``Trader`` on the client, turned into rows the screens can draw.

UI-free (no textual, no rich): the bridge owns one, screens read its views and
call its actions, and every action answers with one line for a toast. Orders
go only over the authenticated WebSocket of the client the dashboard uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from havterm.analytics_controller import OwnOrder
from havterm.engine.alerts import AlertInputs, OrderGauge, OwnFill
from havterm.engine.events import ExecutionsMessage, InstrumentMessage, PairInfo
from havterm.engine.futures import is_futures_symbol
from havterm.engine.orders import Fill, Order, OrderStatus, OrderUpdate
from havterm.engine.trading import Trader, TraderConfig, TradingError

log = logging.getLogger("havterm.trading")

ORDER_KINDS = ("limit", "post-only", "ioc", "market")
"""What the order ticket offers: a plain limit, a maker-only limit, immediate-or-cancel, market."""


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One order as the orders panel shows it."""

    order_id: str
    symbol: str
    side: str
    price: str
    qty: str
    filled: str
    status: str
    avg: str = ""
    """Average fill price (empty before the first fill)."""
    reason: str = ""
    """Why a finished order ended, when said (``filled while disconnected``)."""
    kind: str = "limit"
    """As the ticket names it: ``limit``, ``post-only`` or ``market`` (an amend's review needs it)."""


@dataclass(frozen=True, slots=True)
class TradingView:
    """Whether orders can be sent, the orders, and the balances."""

    ready: bool
    reason: str
    orders: tuple[OrderRow, ...]
    balances: tuple[tuple[str, str], ...]


PLAIN_ERRORS = {
    "EOrder:Unknown order": "the order is no longer open (filled or cancelled)",
    "EOrder:Tick size check failed": "the price is not a multiple of the tick size",
    "EOrder:Order minimum not met": "the size is below the minimum order size",
    "EOrder:Insufficient funds": "not enough balance for this order",
}
"""Exchange refusals a trader should not have to decode, in plain words (the code is kept after them)."""


def refusal(action: str, exc: TradingError | ValueError) -> str:
    """One line for a refused action: plain words first, the raw code in brackets when we reworded it."""
    if isinstance(exc, TradingError):
        plain = PLAIN_ERRORS.get(exc.error)
        if plain is not None:
            return f"{action} refused: {plain} [{exc.error}]"
        if exc.error in ("havterm:futures", "havterm:book not synced"):
            return f"{action} refused: {exc.detail} [{exc.error}]"
    return f"{action} refused: {exc}"


def futures_refusal(symbol: str) -> str | None:
    """Why no order ticket opens on a Futures product (the engine refuses these on send anyway)."""
    if not is_futures_symbol(symbol):
        return None
    # The engine's own error, so the line is the same whether refused at `b`/`s` or after `y`.
    exc = TradingError("add_order", "havterm:futures", f"{symbol} is Futures: havterm trades Spot only")
    return refusal("order", exc)


def disabled_refusal(symbol: str, book_state: str | None) -> str | None:
    """Why no order ticket opens on a symbol whose book is DISABLED (the engine refuses it on send anyway).

    A disabled book (a pair the exchange does not list, or one given up on) never syncs again, so
    the ticket would only be refused after ``y``.
    """
    if book_state != "disabled":
        return None
    # The engine's own error, so the line is the same whether refused at `b`/`s` or after `y`.
    return refusal("order", TradingError("add_order", "havterm:book not synced", f"{symbol} is disabled"))


def _plain(d: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``0.0100`` -> ``0.01``)."""
    return f"{d.normalize():f}"


def trim_zeros(text: str) -> str:
    """``1.5000000000`` -> ``1.5``, ``0.0000000000`` -> ``0``: only zeros after the point go, exactly.

    Text, not arithmetic: no digit that is not a trailing zero is ever touched
    (``Decimal.normalize`` would round past 28 digits).
    """
    if "." not in text or "e" in text.lower():
        return text
    return text.rstrip("0").rstrip(".") or "0"


@dataclass(frozen=True, slots=True)
class Instrument:
    """What the exchange allows on one pair: tick size, size step and minimums (None when not said)."""

    symbol: str
    base: str
    tick: Decimal | None
    qty_step: Decimal | None
    qty_min: Decimal | None
    cost_min: Decimal | None = None
    """The smallest order value (price × quantity), in the ``quote`` currency."""
    quote: str = ""

    @classmethod
    def of(cls, pair: PairInfo) -> Instrument:
        """From the ``instrument`` channel's pair."""
        tick = pair.tick_size or pair.price_increment
        step = pair.qty_increment
        if step is None:
            step = Decimal(1).scaleb(-pair.qty_precision)
        return cls(pair.symbol, pair.base, tick, step, pair.qty_min, pair.cost_min, pair.quote)

    def check(
        self, qty: Decimal | None, price: Decimal | None, touch: tuple[str, Decimal] | None = None
    ) -> str | None:
        """The first reason the exchange would refuse this size or price, in one line; None if fine.

        ``touch`` (``("ask", 63000.1)``) is where a market order would trade: its value is
        estimated there against the minimum order value, and the line says it is an estimate.
        """
        if price is not None and self.tick and price % self.tick != 0:
            return f"price {_plain(price)} is not a multiple of the tick size {_plain(self.tick)}"
        if qty is not None and self.qty_min is not None and qty < self.qty_min:
            return f"quantity {_plain(qty)} is below the minimum of {_plain(self.qty_min)} {self.base}"
        if qty is not None and self.qty_step and qty % self.qty_step != 0:
            decimals = len(_plain(self.qty_step).partition(".")[2])
            return f"quantity {_plain(qty)} has too many decimals ({self.symbol} takes {decimals})"
        return self._check_value(qty, price, touch)

    def _check_value(
        self, qty: Decimal | None, price: Decimal | None, touch: tuple[str, Decimal] | None
    ) -> str | None:
        least = self.cost_min
        if qty is None or least is None or least <= 0:
            return None
        quote = f" {self.quote}" if self.quote else ""
        minimum = f"is below the minimum of {_plain(least)}{quote}"
        if price is not None:
            value = qty * price
            return f"order value {_plain(value)}{quote} {minimum}" if value < least else None
        if touch is None:
            return None  # a market order with no book to price it: the exchange decides
        side, at = touch
        value = qty * at
        if value >= least:
            return None
        return f"estimated value {_plain(value)}{quote} (at the {side} {at:f}) {minimum}"


def parse_decimal(text: str, what: str) -> Decimal:
    """A user-typed number, exactly; ``ValueError`` with one line otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {text!r}")
    return value


def _avg_text(avg: Decimal, places: int) -> str:
    """An average price with no zeros past what it needs, but at least the price's ``places``."""
    whole, _, frac = f"{avg:f}".partition(".")
    frac = frac.rstrip("0").ljust(places, "0")
    return f"{whole}.{frac}" if frac else whole


def _avg_like(avg: Decimal, price: Decimal | None) -> str:
    """An average next to a price as the exchange writes it (``price``): two decimals finer at most.

    An average is rarely on a tick, but 28 digits help nobody.
    """
    exp = price.as_tuple().exponent if price is not None else 0
    places = -exp if isinstance(exp, int) and exp < 0 else 0
    return _avg_text(avg.quantize(Decimal(1).scaleb(-places - 2)), places)


def fill_line(update: OrderUpdate) -> str:
    """A fill of an own order (``BUY 0.01 of 0.05 BTC/USD filled @ 63000.5``); the total once done."""
    o, f = update.order, update.fill
    assert f is not None
    side = (f.side or o.side or "").upper()
    symbol = f.symbol or o.symbol or ""
    total = o.order_qty
    # Listeners hear of a message's fills once all of them are merged, so the order already shows
    # the last one: this fill's running total is the order's less the fills that came after it.
    later = o.fills[next((i for i, x in enumerate(o.fills) if x is f), len(o.fills)) + 1 :]
    cum = o.cum_qty - sum((x.qty for x in later), Decimal(0))
    last = not later
    done = (total is not None and cum >= total) or (last and o.status is OrderStatus.FILLED)
    price = f"{f.price:f}"  # as the exchange wrote it: the pair's price decimals
    if done:
        avg = o.avg_price
        tail = ""
        if avg is not None and last:  # the order's average is of every fill: it belongs to the last
            tail = f" (avg {_avg_like(avg, f.price)})"
        return f"{side} {_plain(total or cum)} {symbol} filled @ {price}{tail}"
    of = f" of {_plain(total)}" if total is not None else ""
    return f"{side} {_plain(cum)}{of} {symbol} filled @ {price}"


def avg_text(o: Order) -> str:
    """An order's average fill price, two decimals finer than its prices at most (empty before a fill)."""
    avg = o.avg_price if o.cum_qty > 0 else None
    return "" if avg is None else _avg_like(avg, o.fills[-1].price if o.fills else o.limit_price)


def gap_line(o: Order, qty: Decimal, cost: Decimal, fills: list[Fill]) -> str:
    """An order that filled ``qty`` in a disconnect.

    ``BTC/USD buy 0.01 filled while disconnected, avg 63000.1``, and ``(0.01 of 0.05 so far)``
    after it when some is still open.

    The average is of what filled in the gap: the snapshot's fills when they account for all
    of it, else the change in the order's filled cost, else the order's own average.
    """
    avg: Decimal | None = None
    if fills and sum((f.qty for f in fills), Decimal(0)) == qty:
        avg = sum((f.qty * f.price for f in fills), Decimal(0)) / qty
    elif cost > 0:
        avg = cost / qty
    elif o.avg_price is not None:
        avg = o.avg_price
    price = fills[-1].price if fills else o.limit_price
    tail = "" if avg is None else f", avg {_avg_like(avg, price)}"
    so_far = ""
    if o.order_qty is not None and o.cum_qty < o.order_qty:
        so_far = f" ({_plain(o.cum_qty)} of {_plain(o.order_qty)} so far)"
    return f"{o.symbol or '?'} {o.side or '?'} {_plain(qty)} filled while disconnected{tail}{so_far}"


class TradingController:
    """Order entry for one dashboard (``None`` of these when there is no API key)."""

    def __init__(self, client: Any, config: TraderConfig | None = None) -> None:
        self.client = client
        self.trader = Trader(client, config or TraderConfig())
        self.version = 0
        # Queue positions and fill probabilities come from the bridge's AnalyticsController.
        self.analytics: Any = None
        self._fills_seen: dict[int, int] = {}  # fills already handed to the alert engine, per order
        self.on_notice: Callable[[str], object] | None = None
        """Where a fill's one line goes (the bridge makes it a toast)."""
        self.instruments: dict[str, Instrument] = {}
        self._fresh: list[tuple[str, str]] = []  # (fill key, line) of the executions message being applied
        self._told: set[str] = set()  # fills already announced (exec ids), so none is said twice
        self._updates: list[OrderUpdate] = []  # the updates of the executions message being applied
        self._snapshots = 0  # executions snapshots seen: the first is at connect, the others reconnects
        # Each order's filled quantity and cost once the last executions message was applied (the
        # order is held too, so its id() cannot be reused): what a reconnect's snapshot is compared with.
        self._filled_before: dict[int, tuple[Order, Decimal, Decimal]] = {}
        self.trader.on_order(self._on_order)
        self.trader.on_balance(lambda _b: self._bump())
        # Registered after the Trader's own handler, so it runs once the message's updates are in.
        client.on(ExecutionsMessage, self._after_executions)
        client.on(InstrumentMessage, self._on_instrument)

    def _bump(self) -> None:
        self.version += 1

    def _on_order(self, update: OrderUpdate) -> None:
        self._bump()
        self._updates.append(update)
        fill = update.fill
        if fill is not None:
            key = fill.exec_id or f"{fill.order_id}/{fill.trade_id}/{fill.qty}/{fill.price}/{fill.timestamp}"
            self._fresh.append((key, fill_line(update)))

    def _after_executions(self, msg: ExecutionsMessage) -> None:
        fresh, self._fresh = self._fresh, []
        updates, self._updates = self._updates, []
        if msg.snapshot:
            # The snapshot's fills are never toasted one by one: at connect they are history the
            # user has seen; after a reconnect, what filled in the gap is said once per order.
            self._snapshots += 1
            self._told.update(key for key, _ in fresh)
            if self._snapshots > 1:
                for line in self._filled_in_gap(updates):
                    self._tell(line)
        else:
            for key, line in fresh:
                if key in self._told:
                    continue
                self._told.add(key)
                self._tell(line)
        self._filled_before = {id(o): (o, o.cum_qty, o.cum_cost) for o in self.trader.orders.all()}

    def _tell(self, line: str) -> None:
        log.info("%s", line)
        if self.on_notice is not None:
            self.on_notice(line)

    def _filled_in_gap(self, updates: list[OrderUpdate]) -> list[str]:
        """One line per own order that filled (or partly) while disconnected, from a reconnect's snapshot."""
        fills: dict[int, tuple[Order, list[Fill]]] = {}
        for up in updates:
            entry = fills.setdefault(id(up.order), (up.order, []))
            if up.fill is not None:
                entry[1].append(up.fill)
        lines = []
        for o, new_fills in fills.values():
            _, qty_before, cost_before = self._filled_before.get(id(o), (o, Decimal(0), Decimal(0)))
            qty = o.cum_qty - qty_before
            if qty > 0:
                lines.append(gap_line(o, qty, o.cum_cost - cost_before, new_fills))
        return lines

    def _on_instrument(self, msg: InstrumentMessage) -> None:
        for pair in msg.pairs:
            self.instruments[pair.symbol] = Instrument.of(pair)

    def instrument(self, symbol: str) -> Instrument | None:
        """The exchange's rules for ``symbol``; None until the instrument channel has said them."""
        return self.instruments.get(symbol)

    def check(
        self, symbol: str, qty: Decimal | None, price: Decimal | None, side: str | None = None
    ) -> str | None:
        """Size, price and value checked before anything is sent; unknown rules pass (the exchange decides).

        A market order (no ``price``) with its ``side`` is valued at the best opposite price now.
        """
        inst = self.instruments.get(symbol)
        if inst is None:
            return None
        touch = None
        if price is None and side in ("buy", "sell"):
            name = "ask" if side == "buy" else "bid"
            best = getattr(self.client, f"best_{name}", None)
            level = best(symbol) if best is not None else None
            touch = (name, level[0]) if level else None
        return inst.check(qty, price, touch)

    def touch(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """The best bid and ask of ``symbol`` now (None for a side the book lacks, or no synced book)."""
        bid = getattr(self.client, "best_bid", None)
        ask = getattr(self.client, "best_ask", None)
        b = bid(symbol) if bid is not None else None
        a = ask(symbol) if ask is not None else None
        return (b[0] if b else None), (a[0] if a else None)

    def open_limit_orders(self) -> list[OwnOrder]:
        """Open own limit orders with what is left of them (what the queue analytics follow)."""
        out = []
        for o in self.trader.orders.open_orders():
            if o.order_id is None or o.symbol is None or o.limit_price is None or o.side is None:
                continue
            left = (o.order_qty or Decimal(0)) - o.cum_qty
            if left > 0:
                out.append(OwnOrder(o.order_id, o.symbol, o.side, o.limit_price, left))
        return out

    def queue_position(self, symbol: str, order_id: str) -> int | None:
        """Orders ahead of one of ours at its price (exact, from level3); None without level3."""
        return None if self.analytics is None else self.analytics.orders_ahead(symbol, order_id)

    # ------------------------------------------------------------------ views

    def view(self) -> TradingView:
        """Open orders first (newest first), then the last finished ones, and balances."""
        t = self.trader
        orders = t.orders.all()
        open_ = [o for o in reversed(orders) if o.is_open]
        done = [o for o in reversed(orders) if not o.is_open][:10]
        rows = tuple(
            OrderRow(
                o.order_id or o.cl_ord_id or "?",
                o.symbol or "",
                o.side or "",
                "market" if o.limit_price is None else str(o.limit_price),
                _plain(o.order_qty) if o.order_qty is not None else "",
                _plain(o.cum_qty),
                o.status.value,
                avg_text(o),
                (o.reason or "") if o.status.terminal else "",
                "market" if o.limit_price is None else "post-only" if o.post_only else "limit",
            )
            for o in (*open_, *done)
        )
        balances = tuple(
            (asset, trim_zeros(f"{qty:f}")) for asset, qty in sorted(t.balances.as_dict().items()) if qty
        )
        reason = "" if t.ready else (t.stream_error or "connecting the authenticated session…")
        return TradingView(t.ready, reason, rows, balances)

    def own_by_price(self, symbol: str, price_precision: int | None) -> dict[str, str]:
        """Own open orders at each price text (as the ladder writes prices): ``"B 0.0100"``."""
        out: dict[str, str] = {}
        for o in self.trader.orders.open_orders(symbol):
            if o.limit_price is None or price_precision is None:
                continue
            key = f"{o.limit_price:.{price_precision}f}"
            left = (o.order_qty or Decimal(0)) - o.cum_qty
            tag = f"{'B' if o.side == 'buy' else 'S'} {left.normalize():f}"
            ahead = self.queue_position(symbol, o.order_id) if o.order_id else None
            if ahead is not None:
                tag += f" #{ahead}"
            p = self._p_fill.get(o.order_id or "")
            if p is not None:
                tag += f" {round(p[1] * 100)}%"
            out[key] = f"{out[key]}+" if key in out else tag
        return out

    def alert_inputs(self, symbols: list[str]) -> AlertInputs:
        """Own fills (the alert engine ignores repeats) and each symbol's rate counter in percent."""
        fills = [
            OwnFill(
                f.order_id,
                f.symbol or o.symbol or "",
                f.side or o.side or "",
                f.qty,
                f.price,
                o.cum_qty,
                o.order_qty or o.cum_qty,
                f.exec_id or str(f.trade_id or ""),
            )
            for o in self.trader.orders.all()
            for f in o.fills
        ]
        rates = {}
        for sym in symbols:
            status = self.trader.rate(sym)
            if status.threshold:
                rates[sym] = 100.0 * status.value / status.threshold
        queue: dict[str, OrderGauge] = {}
        for o in self.trader.orders.open_orders():
            if o.order_id is None or o.symbol is None:
                continue
            ahead = self.queue_position(o.symbol, o.order_id)
            if ahead is not None:
                queue[o.order_id] = OrderGauge(o.symbol, float(ahead))
        # P(fill within 30 s), as the ladder shows it: the newest finished background estimate.
        p_fill = {oid: OrderGauge(sym, p) for oid, (sym, p) in self._p_fill.items()}
        return AlertInputs(fills=fills, queue_positions=queue, rate_counters=rates, fill_probabilities=p_fill)

    @property
    def _p_fill(self) -> dict[str, tuple[str, float]]:
        return {} if self.analytics is None else self.analytics.fill_probabilities()

    # ------------------------------------------------------------------ actions (one line back)

    async def place(
        self,
        symbol: str,
        side: str,
        qty: str,
        price: str,
        kind: str,
        *,
        on_accepted: Callable[[], object] | None = None,
    ) -> str:
        """Send one order; the answer is a line for a toast.

        ``on_accepted`` is called once the exchange took the order (never for one refused,
        here or by the exchange): what the ticket remembers is only ever an order that went in.
        """
        try:
            q = parse_decimal(qty, "quantity")
            p = None if kind == "market" else parse_decimal(price, "price")
            problem = self.check(symbol, q, p, side)
            if problem is not None:
                raise ValueError(problem)
            result = await self.trader.add_order(
                symbol,
                side,
                q,
                price=p,
                order_type="market" if kind == "market" else "limit",
                time_in_force="ioc" if kind == "ioc" else "gtc",
                post_only=kind == "post-only",
            )
        except (TradingError, ValueError) as exc:
            return refusal("order", exc)
        if on_accepted is not None:
            on_accepted()
        where = "at market" if p is None else f"@ {p}"
        return f"{side} {q} {symbol} {where} sent ({result.order_id})"

    async def cancel(self, order_id: str) -> str:
        """Cancel one order."""
        try:
            await self.trader.cancel_order([order_id])
        except TradingError as exc:
            return refusal("cancel", exc)
        return f"cancel sent for {order_id}"

    async def amend(self, order_id: str, qty: str, price: str) -> str:
        """Change an order's quantity and/or price in place (keeps queue priority where it can)."""
        try:
            q = parse_decimal(qty, "quantity") if qty.strip() else None
            p = parse_decimal(price, "price") if price.strip() else None
            o = self.trader.orders.get(order_id=order_id)
            if q is None and o is not None:
                q = o.order_qty  # Kraken's amend_order always needs the (new) total quantity
            await self.trader.amend_order(order_id=order_id, qty=q, price=p)
        except (TradingError, ValueError) as exc:
            return refusal("amend", exc)
        return f"amend sent for {order_id}"

    async def cancel_all(self) -> str:
        """Cancel every open order of the account."""
        try:
            n = await self.trader.cancel_all()
        except TradingError as exc:
            return refusal("cancel all", exc)
        return f"cancelled {n} order(s)"

    async def close(self) -> None:
        """Stop the dead man's switch refresher, if any."""
        await self.trader.close()
