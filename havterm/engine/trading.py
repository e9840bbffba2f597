"""Order entry over the authenticated WebSocket: typed trading methods with acks, safety and reconciliation.

    trader = Trader(client)              # a KrakenClient with private=("executions", "balances")
    await trader.wait_ready()
    placed = await trader.add_order("BTC/USD", "buy", Decimal("0.01"), price=Decimal("60000"))
    await trader.cancel_order(cl_ord_ids=[placed.cl_ord_id])

Every new order carries a ``cl_ord_id`` we make, and every request a
``req_id`` that its response is matched by. Orders, fills and balances are
kept by ``orders.py`` from the ``executions`` and ``balances`` streams, which
are the truth; acks only tell us that a request was accepted.

Safety: requests go out only while the executions snapshot of the current
connection has been seen (so reconciliation cannot race a new order); the
rate meter refuses locally before Kraken would; an add whose ack never comes
is cancelled by ``cl_ord_id`` (never an orphan order); a request cut by a
disconnect is settled from the snapshot after the reconnect and never resent
(never a duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from havterm.engine import codec
from havterm.engine.events import BalancesMessage, DecodeError, ExecutionsMessage, MethodResponse
from havterm.engine.futures import is_futures_symbol
from havterm.engine.orders import (
    BalanceChange,
    Balances,
    Order,
    OrderTracker,
    OrderUpdate,
    RateMeter,
    add_cost,
    amend_cost,
    batch_add_cost,
    cancel_cost,
    edit_cost,
)
from havterm.engine.protocol import StateChange
from havterm.engine.trading_types import (
    ORDER_TYPES,
    RATE_LIMIT_ERROR,
    TIME_IN_FORCE,
    AckTimeout,
    AddOrderResult,
    AmendResult,
    CancelResult,
    DeadManSwitch,
    Disconnected,
    EditResult,
    LocalRateLimit,
    NotReady,
    OrderError,
    OrderSpec,
    RateStatus,
    TraderConfig,
    TradingError,
    _decimal,
    _opt_decimal,
    new_cl_ord_id,
)

if TYPE_CHECKING:
    from havterm.engine.client import KrakenClient
    from havterm.engine.protocol import Session

__all__ = [  # the trading vocabulary lives in trading_types; callers import it from here
    "ORDER_TYPES",
    "RATE_LIMIT_ERROR",
    "TIME_IN_FORCE",
    "AckTimeout",
    "AddOrderResult",
    "AmendResult",
    "CancelResult",
    "DeadManSwitch",
    "Disconnected",
    "EditResult",
    "LocalRateLimit",
    "NotReady",
    "OrderError",
    "OrderSpec",
    "RateStatus",
    "Trader",
    "TraderConfig",
    "TradingError",
    "new_cl_ord_id",
]

log = logging.getLogger("havterm.trading")

@dataclass(eq=False)
class _Pending:
    method: str
    req_id: int
    expected: int
    generation: int
    responses: list[MethodResponse] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.responses) >= self.expected


class _Interrupted(Exception):
    """Internal: the connection dropped while a request waited for its response."""


class _NoAck(Exception):
    """Internal: the response did not come within the ack timeout."""


class Trader:
    """Trading methods on a ``KrakenClient``'s authenticated connection, plus its orders and balances."""

    def __init__(
        self,
        client: KrakenClient,
        config: TraderConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client.auth_session is None or "executions" not in client.config.private:
            raise ValueError(
                'trading needs the executions stream: use ClientConfig(private=("executions", "balances"))'
            )
        self.client = client
        self.config = config or TraderConfig()
        self.clock = clock
        self.orders = OrderTracker()
        self.balances = Balances()
        self.meter = RateMeter(self.config.tier, self.config.headroom_s)
        self.generation = 0  # executions snapshots seen: one per (re)connect
        self._synced = False  # the current connection's snapshot has been applied
        self._pending: dict[int, _Pending] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._listeners: list[Callable[[OrderUpdate], None]] = []
        self._balance_listeners: list[Callable[[BalanceChange], None]] = []
        self._dms_task: asyncio.Task[None] | None = None
        self.dms: DeadManSwitch | None = None
        self.dms_refreshes = 0
        self.dms_error: str | None = None
        client.on(MethodResponse, self._on_response)
        client.on(ExecutionsMessage, self._on_executions)
        client.on(BalancesMessage, self._on_balances)
        client.on(StateChange, self._on_state)
        client.on(DecodeError, self._on_decode_error)
        self.stream_error: str | None = None  # an executions frame we could not read, if any

    # ------------------------------------------------------------------ state

    @property
    def session(self) -> Session:
        """The authenticated session (protocol level)."""
        session = self.client.auth_session
        assert session is not None
        return session

    @property
    def ready(self) -> bool:
        """Connected, authenticated and reconciled: orders may be sent."""
        s = self.session
        return s.connected and s.token is not None and self._synced

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until ``ready``; raises ``NotReady`` after ``timeout``."""
        if not await self._wait_until(lambda: self.ready, timeout):
            raise NotReady("connect", "havterm:not connected", f"not ready after {timeout:g}s")

    def on_order(self, callback: Callable[[OrderUpdate], None]) -> None:
        """Call ``callback(update)`` for every order change and fill (synchronously)."""
        self._listeners.append(callback)

    def on_balance(self, callback: Callable[[BalanceChange], None]) -> None:
        """Call ``callback(change)`` for every balance change."""
        self._balance_listeners.append(callback)

    def rate(self, symbol: str) -> RateStatus:
        """The rate meter of ``symbol`` now, for a gauge on screen."""
        now = self.clock()
        m = self.meter
        return RateStatus(m.value(symbol, now), m.limit, m.tier.threshold, m.warning(symbol, now))

    async def close(self) -> None:
        """Stop the dead man's switch refresher (the switch itself stays as the exchange has it)."""
        await self.stop_dead_man_switch(disarm=False)

    # ------------------------------------------------------------------ inputs (client callbacks)

    def _on_response(self, ev: MethodResponse) -> None:
        if ev.method == "subscribe" and ev.success and ev.result_channel == "executions":
            limit = ev.result.get("maxratecount") if isinstance(ev.result, dict) else None
            if isinstance(limit, int | Decimal):
                self.meter.set_threshold(limit)  # the account's real tier
            return
        if ev.method not in codec.TRADING_METHODS or ev.req_id is None:
            return  # public/subscribe acks share req_id numbers with other sessions
        p = self._pending.get(ev.req_id)
        if p is None or p.method != ev.method:
            log.debug("late or unknown %s response req_id=%s", ev.method, ev.req_id)
            return
        p.responses.append(ev)
        self._notify()

    def _on_executions(self, msg: ExecutionsMessage) -> None:
        now = self.clock()
        updates = self.orders.apply(msg, now)
        if msg.snapshot:
            self.generation += 1
            self._synced = True
            self.stream_error = None
            log.info(
                "executions snapshot %d: %d open orders", self.generation, len(self.orders.open_orders())
            )
        for up in updates:
            _call_all(self._listeners, up)
        self._notify()

    def _on_balances(self, msg: BalancesMessage) -> None:
        for change in self.balances.apply(msg):
            _call_all(self._balance_listeners, change)

    def _on_decode_error(self, ev: DecodeError) -> None:
        if ev.channel in ("executions", "balances"):
            # Orders cannot be trusted without it; ``ready`` stays false until a snapshot decodes.
            self.stream_error = ev.reason
            log.error("unreadable %s frame: %s", ev.channel, ev.reason)

    def _on_state(self, ev: StateChange) -> None:
        # StateChange carries no session name, so look at ours directly.
        s = self.session
        if not s.connected:
            self._synced = False
        self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for f in waiters:
            if not f.done():
                f.set_result(None)

    async def _wait_until(self, pred: Callable[[], bool], timeout: float) -> bool:
        """Await ``pred()`` re-checked on every input; False after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not pred():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, remaining)
        return True

    # ------------------------------------------------------------------ sending

    def _check_ready(self, method: str) -> Session:
        if not self.ready:
            raise NotReady(method, "havterm:not connected", "the authenticated connection is not ready")
        return self.session

    def _check_rate(self, method: str, symbol: str | None, cost: float) -> None:
        if symbol is None or cost <= 0:
            return
        refusal = self.meter.check(symbol, cost, self.clock())
        if refusal is not None:
            raise LocalRateLimit(method, "havterm:rate limit would be exceeded", refusal.one_line())

    async def _request(self, method: str, params: dict[str, Any], expected: int = 1) -> list[MethodResponse]:
        session = self._check_ready(method)
        token = session.token
        assert token is not None
        rid = session.next_req_id()
        p = _Pending(method, rid, expected, self.generation)
        frame = codec.trading_request(method, token, params, rid)
        self._pending[rid] = p
        if not self.client.send_private(frame):
            del self._pending[rid]
            raise NotReady(method, "havterm:not connected", "the authenticated connection dropped")
        log.debug("sent %s req_id=%d %s", method, rid, _loggable(params))
        gen = p.generation
        try:
            await self._wait_until(
                lambda: p.complete or self.generation != gen or not self.session.connected,
                self.config.ack_timeout_s,
            )
        finally:
            del self._pending[rid]
        if p.complete:
            for r in p.responses:
                log.debug("%s req_id=%d %s", method, rid, "ok" if r.success else f"error {r.error}")
            return p.responses
        if self.generation != gen or not self.session.connected:
            raise _Interrupted
        raise _NoAck

    async def _settle_after_reconnect(self, gen: int) -> bool:
        """Wait for the snapshot of the next connection; True once it has been reconciled."""
        return await self._wait_until(lambda: self.generation > gen, self.config.reconnect_timeout_s)

    def _failed(self, method: str, r: MethodResponse, symbol: str | None) -> TradingError:
        error = r.error or "refused"
        if error.startswith(RATE_LIMIT_ERROR) and symbol is not None:
            self.meter.saturate(symbol, self.clock())
        return TradingError(method, error)

    # ------------------------------------------------------------------ add

    async def add_order(
        self,
        symbol: str,
        side: str,
        qty: Decimal | str | int,
        *,
        price: Decimal | str | int | None = None,
        order_type: str | None = None,
        time_in_force: str = "gtc",
        post_only: bool = False,
        reduce_only: bool = False,
        expire_time: datetime | str | None = None,
        validate: bool = False,
    ) -> AddOrderResult:
        """Place one order (limit when a price is given, else market); see ``OrderSpec``."""
        spec = OrderSpec(
            side,
            _decimal(qty, "qty"),
            None if price is None else _decimal(price, "price"),
            order_type or ("limit" if price is not None else "market"),
            time_in_force,
            post_only,
            reduce_only,
            expire_time,
        )
        return await self.place(symbol, spec, validate=validate)

    async def place(self, symbol: str, spec: OrderSpec, *, validate: bool = False) -> AddOrderResult:
        """Place the order ``spec`` on ``symbol``."""
        method = "add_order"
        params = spec.params()
        self._check_ready(method)
        self._check_market(method, symbol, spec.side, spec.qty, spec.price)
        self._check_open_limit(method, symbol, 1)
        self._check_rate(method, symbol, add_cost())
        cl = new_cl_ord_id()
        params.update(symbol=symbol, cl_ord_id=cl)
        if validate:
            params["validate"] = True
        now = self.clock()
        if not validate:
            self._expect(cl, symbol, spec, now)
        self.meter.charge(symbol, add_cost(), now)  # charged even if Kraken then refuses (§2.7)
        gen = self.generation
        try:
            (r,) = await self._request(method, params)
        except NotReady as exc:
            self.orders.rejected(cl, exc.error, self.clock())  # never sent
            raise
        except _NoAck:
            outcome = await self._compensate(method, [cl])
            raise AckTimeout(
                method, "havterm:no ack", f"{self.config.ack_timeout_s:g}s; cancelled by cl_ord_id: {outcome}"
            ) from None
        except _Interrupted:
            return await self._add_after_disconnect(method, cl, gen)
        if not r.success:
            self.orders.rejected(cl, r.error or "refused", self.clock())
            raise self._failed(method, r, symbol)
        result = r.result if isinstance(r.result, dict) else {}
        order_id = str(result.get("order_id", ""))
        if order_id and not validate:
            self.orders.acknowledged(cl, order_id, self.clock())
        return AddOrderResult(order_id, cl, tuple(str(w) for w in result.get("warnings", ())))

    def _expect(self, cl: str, symbol: str, spec: OrderSpec, now: float) -> Order:
        return self.orders.expect(
            cl,
            now,
            symbol=symbol,
            side=spec.side,
            order_type=spec.order_type,
            order_qty=spec.qty,
            limit_price=spec.price,
            time_in_force=spec.time_in_force,
            post_only=spec.post_only,
            reduce_only=spec.reduce_only,
        )

    def _check_market(
        self, method: str, symbol: str, side: str | None, qty: Decimal | None, price: Decimal | None
    ) -> None:
        """The pre-trade rails: a Spot symbol, a synced book, the maximum notional, the band around mid."""
        if is_futures_symbol(symbol):
            # Kraken Futures orders go over REST or FIX, not this WebSocket: never send one to Spot.
            raise TradingError(method, "havterm:futures", f"{symbol} is Futures: havterm trades Spot only")
        cfg = self.config
        client = self.client
        if cfg.require_synced_book and client.book(symbol) is None:
            state = client.book_state(symbol)
            raise TradingError(
                method, "havterm:book not synced", f"{symbol} is {state.value if state else 'not subscribed'}"
            )
        mid = client.mid(symbol)
        if price is None and side is not None:  # a market order trades around the touch
            touch = client.best_ask(symbol) if side == "buy" else client.best_bid(symbol)
            price = touch[0] if touch else mid
        if cfg.max_notional is not None and qty is not None and price is not None:
            notional = qty * price
            if notional > cfg.max_notional:
                raise TradingError(
                    method, "havterm:max notional", f"{notional:f} is over the limit of {cfg.max_notional:f}"
                )
        if cfg.price_band is not None and price is not None and mid:
            off = abs(price - mid) / mid
            if off > cfg.price_band:
                raise TradingError(
                    method,
                    "havterm:outside price band",
                    f"{price:f} is {off * 100:.2f}% from mid {mid:f}; the band is {cfg.price_band * 100:f}%",
                )

    def _check_open_limit(self, method: str, symbol: str, n: int) -> None:
        cap = self.meter.tier.max_open_orders
        if len(self.orders.open_orders(symbol)) + n > cap:
            raise TradingError(method, "havterm:open orders limit", f"{symbol} allows {cap} open orders")

    async def _add_after_disconnect(self, method: str, cl: str, gen: int) -> AddOrderResult:
        if not await self._settle_after_reconnect(gen):
            raise Disconnected(
                method, "havterm:connection lost", "outcome unknown until reconnect; it will be reconciled"
            )
        o = self.orders.get(cl_ord_id=cl)
        if o is not None and o.order_id is not None:
            # It reached the exchange (live, or already done: see its status); tracked, never resent.
            return AddOrderResult(o.order_id, cl, reconciled=True)
        raise Disconnected(method, "havterm:connection lost", "the order is not on the exchange; not resent")

    async def _compensate(self, method: str, cls: Sequence[str]) -> str:
        """After a lost ack: cancel by ``cl_ord_id``, then wait until the stream shows the orders closed."""
        log.warning("%s: no ack; cancelling %d order(s) by cl_ord_id", method, len(cls))
        try:
            responses = await self._request("cancel_order", {"cl_ord_id": list(cls)}, expected=len(cls))
            summary = "; ".join("cancelled" if r.success else (r.error or "refused") for r in responses)
        except (_NoAck, _Interrupted, TradingError) as exc:
            summary = f"cancel not acknowledged ({type(exc).__name__.strip('_')})"

        def settled() -> bool:
            for cl in cls:
                o = self.orders.get(cl_ord_id=cl)
                if o is not None and o.order_id is not None and o.is_open:
                    return False
            return True

        if await self._wait_until(settled, self.config.ack_timeout_s):
            for cl in cls:
                o = self.orders.get(cl_ord_id=cl)
                if o is not None and o.is_open:  # never reached the exchange
                    # A guess (inferred): a later report about it would still win.
                    self.orders.rejected(cl, "no ack; not on the exchange", self.clock(), inferred=True)
            states = [self._state_of(cl) for cl in cls]
            return f"{summary}; now {', '.join(states)}"
        return f"{summary}; still open, will be reconciled"

    def _state_of(self, cl: str) -> str:
        o = self.orders.get(cl_ord_id=cl)
        return "unknown" if o is None else o.status.value

    # ------------------------------------------------------------------ amend / edit

    def _order(self, method: str, order_id: str | None, cl_ord_id: str | None) -> Order | None:
        if (order_id is None) == (cl_ord_id is None):
            raise ValueError(f"{method}: give exactly one of order_id or cl_ord_id")
        return self.orders.get(order_id, cl_ord_id)

    async def amend_order(
        self,
        *,
        order_id: str | None = None,
        cl_ord_id: str | None = None,
        qty: Decimal | str | int | None = None,
        price: Decimal | str | int | None = None,
        post_only: bool = False,
    ) -> AmendResult:
        """Change price and/or size in place (queue priority kept where possible)."""
        method = "amend_order"
        o = self._order(method, order_id, cl_ord_id)
        new_qty = _decimal(qty, "qty") if qty is not None else (o.order_qty if o else None)
        if new_qty is None:
            raise ValueError("amend_order: qty is required for an order we do not track")
        self._check_ready(method)
        now = self.clock()
        cost = amend_cost(o.age(now) if o else 0.0)
        symbol = o.symbol if o else None
        if symbol is not None:
            new_price = _opt_decimal(price, "price") or (o.limit_price if o else None)
            self._check_market(method, symbol, o.side if o else None, new_qty, new_price)
        self._check_rate(method, symbol, cost)
        params: dict[str, Any] = {"order_qty": new_qty}
        if order_id is not None:
            params["order_id"] = order_id
        else:
            params["cl_ord_id"] = cl_ord_id
        if price is not None:
            params["limit_price"] = _decimal(price, "price")
        if post_only:
            params["post_only"] = True
        if symbol is not None:
            self.meter.charge(symbol, cost, now)
        r = await self._one(method, params)
        if not r.success:
            raise self._failed(method, r, symbol)
        if o is not None:
            self.orders.amend_acknowledged(o, self.clock())
        result = r.result if isinstance(r.result, dict) else {}
        return AmendResult(str(result.get("amend_id", "")), result.get("order_id"), result.get("cl_ord_id"))

    async def edit_order(
        self,
        order_id: str,
        symbol: str,
        *,
        qty: Decimal | str | int | None = None,
        price: Decimal | str | int | None = None,
        post_only: bool = False,
    ) -> EditResult:
        """Cancel and replace (a new order id, queue position lost); prefer ``amend_order``."""
        method = "edit_order"
        self._check_ready(method)
        o = self.orders.get(order_id)
        self._check_market(
            method,
            symbol,
            o.side if o else None,
            _opt_decimal(qty, "qty") or (o.order_qty if o else None),
            _opt_decimal(price, "price") or (o.limit_price if o else None),
        )
        now = self.clock()
        cost = edit_cost(o.age(now) if o else 0.0)
        self._check_rate(method, symbol, cost)
        params: dict[str, Any] = {"order_id": order_id, "symbol": symbol}
        if qty is not None:
            params["order_qty"] = _decimal(qty, "qty")
        if price is not None:
            params["limit_price"] = _decimal(price, "price")
        if post_only:
            params["post_only"] = True
        self.meter.charge(symbol, cost, now)
        r = await self._one(method, params)
        if not r.success:
            raise self._failed(method, r, symbol)
        result = r.result if isinstance(r.result, dict) else {}
        return EditResult(str(result.get("order_id", "")), str(result.get("original_order_id", order_id)))

    async def _one(self, method: str, params: dict[str, Any]) -> MethodResponse:
        """A request about existing orders: a lost ack is reported; the stream has the truth."""
        gen = self.generation
        try:
            (r,) = await self._request(method, params)
        except _NoAck:
            raise AckTimeout(
                method,
                "havterm:no ack",
                f"{self.config.ack_timeout_s:g}s; the executions stream has the outcome",
            ) from None
        except _Interrupted:
            settled = await self._settle_after_reconnect(gen)
            raise Disconnected(
                method,
                "havterm:connection lost",
                "reconciled from the snapshot" if settled else "will be reconciled on reconnect",
            ) from None
        return r

    # ------------------------------------------------------------------ cancels

    async def cancel_order(
        self,
        order_ids: Iterable[str] = (),
        cl_ord_ids: Iterable[str] = (),
        *,
        force: bool = False,
    ) -> CancelResult:
        """Cancel orders by id; one response per order. ``force`` skips the local rate meter."""
        method = "cancel_order"
        ids, cls = list(order_ids), list(cl_ord_ids)
        if not ids and not cls:
            raise ValueError("cancel_order: no order given")
        self._check_ready(method)
        now = self.clock()
        costs = self._cancel_costs(ids, cls, now)
        if not force:
            for symbol, cost in costs.items():
                self._check_rate(method, symbol, cost)
        params: dict[str, Any] = {}
        if ids:
            params["order_id"] = ids
        if cls:
            params["cl_ord_id"] = cls
        for symbol, cost in costs.items():
            self.meter.charge(symbol, cost, now)
        gen = self.generation
        try:
            responses = await self._request(method, params, expected=len(ids) + len(cls))
        except _NoAck:
            raise AckTimeout(
                method,
                "havterm:no ack",
                f"{self.config.ack_timeout_s:g}s; the executions stream has the outcome",
            ) from None
        except _Interrupted:
            await self._settle_after_reconnect(gen)
            raise Disconnected(method, "havterm:connection lost", "reconciled from the snapshot") from None
        done: list[str] = []
        errors: list[str] = []
        for r in responses:
            if r.success:
                res = r.result if isinstance(r.result, dict) else {}
                done.append(str(res.get("order_id") or res.get("cl_ord_id") or ""))
            else:
                errors.append(r.error or "refused")
                if (r.error or "").startswith(RATE_LIMIT_ERROR):
                    for symbol in costs:
                        self.meter.saturate(symbol, self.clock())
        if not done:
            raise TradingError(method, errors[0] if errors else "refused")
        return CancelResult(tuple(done), tuple(errors))

    def _cancel_costs(self, ids: Sequence[str], cls: Sequence[str], now: float) -> dict[str, float]:
        costs: dict[str, float] = {}
        for oid, cl in [(i, None) for i in ids] + [(None, c) for c in cls]:
            o = self.orders.get(oid, cl)
            if o is None or o.symbol is None:
                continue  # not ours to meter: the exchange will say Unknown order
            costs[o.symbol] = costs.get(o.symbol, 0.0) + cancel_cost(o.age(now))
        return costs

    async def cancel_all(self) -> int:
        """Cancel every open order of the account (not rate-limited); returns how many."""
        r = await self._one("cancel_all", {})
        if not r.success:
            raise self._failed("cancel_all", r, None)
        result = r.result if isinstance(r.result, dict) else {}
        return int(result.get("count", 0))

    async def cancel_all_orders_after(self, timeout_s: int) -> DeadManSwitch:
        """Arm (or with 0 disarm) the dead man's switch: everything is cancelled ``timeout_s`` from now."""
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int) or not 0 <= timeout_s < 86400:
            raise ValueError("timeout_s must be whole seconds, 0 (disarm) to 86399")
        method = "cancel_all_orders_after"
        r = await self._one(method, {"timeout": timeout_s})
        if not r.success:
            raise self._failed(method, r, None)
        result = r.result if isinstance(r.result, dict) else {}
        self.dms = DeadManSwitch(str(result.get("currentTime", "")), str(result.get("triggerTime", "")))
        return self.dms

    # ------------------------------------------------------------------ batches

    async def batch_add(self, symbol: str, specs: Sequence[OrderSpec]) -> list[AddOrderResult | OrderError]:
        """Place 2 to 15 orders on one pair; each result lines up with its spec."""
        method = "batch_add"
        if not 2 <= len(specs) <= 15:
            raise ValueError("batch_add takes 2 to 15 orders")
        orders = [s.params() for s in specs]
        self._check_ready(method)
        for spec in specs:
            self._check_market(method, symbol, spec.side, spec.qty, spec.price)
        self._check_open_limit(method, symbol, len(specs))
        cost = batch_add_cost(len(specs))
        self._check_rate(method, symbol, cost)
        cls = [new_cl_ord_id() for _ in specs]
        for o, cl in zip(orders, cls, strict=True):
            o["cl_ord_id"] = cl
        now = self.clock()
        for spec, cl in zip(specs, cls, strict=True):
            self._expect(cl, symbol, spec, now)
        self.meter.charge(symbol, cost, now)
        gen = self.generation
        try:
            (r,) = await self._request(method, {"symbol": symbol, "orders": orders})
        except NotReady as exc:
            for cl in cls:
                self.orders.rejected(cl, exc.error, self.clock())  # never sent
            raise
        except _NoAck:
            outcome = await self._compensate(method, cls)
            raise AckTimeout(
                method, "havterm:no ack", f"{self.config.ack_timeout_s:g}s; cancelled by cl_ord_id: {outcome}"
            ) from None
        except _Interrupted:
            settled = await self._settle_after_reconnect(gen)
            raise Disconnected(
                method,
                "havterm:connection lost",
                "orders reconciled from the snapshot, none resent" if settled else "will be reconciled",
            ) from None
        if not r.success:
            for cl in cls:
                self.orders.rejected(cl, r.error or "refused", self.clock())
            raise self._failed(method, r, symbol)
        items = r.result if isinstance(r.result, list) else []
        out: list[AddOrderResult | OrderError] = []
        for i, cl in enumerate(cls):
            item = items[i] if i < len(items) and isinstance(items[i], dict) else {}
            if item.get("order_id"):
                self.orders.acknowledged(cl, str(item["order_id"]), self.clock())
                out.append(AddOrderResult(str(item["order_id"]), cl))
            else:
                error = str(item.get("error", "refused"))
                self.orders.rejected(cl, error, self.clock())
                out.append(OrderError(cl, error))
        return out

    async def batch_cancel(self, order_ids: Iterable[str] = (), cl_ord_ids: Iterable[str] = ()) -> int:
        """Cancel 2 to 50 orders in one request; returns how many were cancelled."""
        method = "batch_cancel"
        ids, cls = list(order_ids), list(cl_ord_ids)
        if not 2 <= len(ids) + len(cls) <= 50:
            raise ValueError("batch_cancel takes 2 to 50 ids")
        self._check_ready(method)
        now = self.clock()
        costs = self._cancel_costs(ids, cls, now)
        for symbol, cost in costs.items():
            self._check_rate(method, symbol, cost)
        params: dict[str, Any] = {}
        if ids:
            params["orders"] = ids
        if cls:
            params["cl_ord_id"] = cls
        for symbol, cost in costs.items():
            self.meter.charge(symbol, cost, now)
        r = await self._one(method, params)
        if not r.success:
            raise self._failed(method, r, next(iter(costs), None))
        result = r.result if isinstance(r.result, dict) else {}
        count = result.get("count", result.get("orders_cancelled", 0))
        return int(count) if isinstance(count, int | Decimal | str) else 0

    # ------------------------------------------------------------------ dead man's switch

    def start_dead_man_switch(self, timeout_s: int = 60, refresh_s: float = 20.0) -> None:
        """Arm the switch now and re-arm it every ``refresh_s``; if we stop, Kraken cancels everything."""
        if not 0 < refresh_s < timeout_s:
            raise ValueError("refresh_s must be shorter than timeout_s")
        if self._dms_task is not None and not self._dms_task.done():
            self._dms_task.cancel()
        self._dms_task = asyncio.create_task(self._dms_loop(timeout_s, refresh_s), name="havterm-dms")

    async def stop_dead_man_switch(self, disarm: bool = True) -> None:
        """Stop refreshing; with ``disarm`` also switch it off on the exchange."""
        task, self._dms_task = self._dms_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if disarm and self.ready:
            await self.cancel_all_orders_after(0)

    @property
    def dms_running(self) -> bool:
        """True while the refresher runs."""
        return self._dms_task is not None and not self._dms_task.done()

    async def _dms_loop(self, timeout_s: int, refresh_s: float) -> None:
        while True:
            try:
                await self.wait_ready(self.config.reconnect_timeout_s)
                await self.cancel_all_orders_after(timeout_s)
                self.dms_refreshes += 1
                self.dms_error = None
            except TradingError as exc:
                # Keep trying: the switch fires on the exchange if we cannot refresh it, as intended.
                self.dms_error = str(exc)
                log.warning("dead man's switch refresh failed: %s", exc)
            await asyncio.sleep(refresh_s)


def _call_all(callbacks: Iterable[Callable[[Any], None]], arg: object) -> None:
    """Run listeners; one that raises is logged and must not stop the connection's reader."""
    for cb in callbacks:
        try:
            cb(arg)
        except Exception:
            log.exception("trading listener %r failed", cb)


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    """Request fields for a DEBUG log: never the token."""
    return {k: v for k, v in params.items() if k != "token"}
