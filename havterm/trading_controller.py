"""The dashboard's order entry: a ``Trader`` on the client, turned into rows the screens can draw.

UI-free (no textual, no rich): the bridge owns one, screens read its views and
call its actions, and every action answers with one line for a toast. Orders
go only over the authenticated WebSocket of the client the dashboard uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from havterm.analytics_controller import OwnOrder
from havterm.engine.alerts import AlertInputs, OrderGauge, OwnFill
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


@dataclass(frozen=True, slots=True)
class TradingView:
    """Whether orders can be sent, the orders, and the balances."""

    ready: bool
    reason: str
    orders: tuple[OrderRow, ...]
    balances: tuple[tuple[str, str], ...]


def parse_decimal(text: str, what: str) -> Decimal:
    """A user-typed number, exactly; ``ValueError`` with one line otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {text!r}")
    return value


class TradingController:
    """Order entry for one dashboard (``None`` of these when there is no API key)."""

    def __init__(self, client: Any, config: TraderConfig | None = None) -> None:
        self.client = client
        self.trader = Trader(client, config or TraderConfig())
        self.version = 0
        # Queue positions and fill probabilities come from the bridge's AnalyticsController.
        self.analytics: Any = None
        self._fills_seen: dict[int, int] = {}  # fills already handed to the alert engine, per order
        self.trader.on_order(lambda _u: self._bump())
        self.trader.on_balance(lambda _b: self._bump())

    def _bump(self) -> None:
        self.version += 1

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
                str(o.order_qty or ""),
                str(o.cum_qty),
                o.status.value,
            )
            for o in (*open_, *done)
        )
        balances = tuple((asset, str(qty)) for asset, qty in sorted(t.balances.as_dict().items()) if qty)
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

    async def place(self, symbol: str, side: str, qty: str, price: str, kind: str) -> str:
        """Send one order; the answer is a line for a toast."""
        try:
            q = parse_decimal(qty, "quantity")
            p = None if kind == "market" else parse_decimal(price, "price")
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
            return f"order refused: {exc}"
        where = "at market" if p is None else f"@ {p}"
        return f"{side} {q} {symbol} {where} sent ({result.order_id})"

    async def cancel(self, order_id: str) -> str:
        """Cancel one order."""
        try:
            await self.trader.cancel_order([order_id])
        except TradingError as exc:
            return f"cancel refused: {exc}"
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
            return f"amend refused: {exc}"
        return f"amend sent for {order_id}"

    async def cancel_all(self) -> str:
        """Cancel every open order of the account."""
        try:
            n = await self.trader.cancel_all()
        except TradingError as exc:
            return f"cancel all refused: {exc}"
        return f"cancelled {n} order(s)"

    async def close(self) -> None:
        """Stop the dead man's switch refresher, if any."""
        await self.trader.close()
