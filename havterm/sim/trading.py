"""The private side of ws-auth: executions, balances and the trading methods (PROTOCOL.md §3.7-3.8, §5).

One account trades through every API key. Its orders rest in the same books
as the synthetic flow (owner ``"main"``), so their queue position is real and
they fill against synthetic takers. Amounts are integers: quantities in lots,
costs in ``price_precision + qty_precision`` decimals, and balances in
:data:`LEDGER_DP` decimals.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from havterm.engine.fixed import POW10, PrecisionError, from_decimal
from havterm.sim.ids import IdFactory
from havterm.sim.matching import ASK, BID, SIDE_NAMES, MatchingEngine, MatchResult, OpLog, Trade
from havterm.sim.ratelimit import RateCounter, amend_cost, cancel_cost, edit_cost
from havterm.sim.wire import dumps, method_error, method_ok, now_ns, num, ts_s, ts_us

if TYPE_CHECKING:
    from havterm.sim.exchange import Exchange
    from havterm.sim.instruments import Instrument
    from havterm.sim.session import Session

OWNER = "main"
LEDGER_DP = 10
TAKER_BPS = 26
MAKER_BPS = 16
DEFAULT_BALANCES = {
    "USD": "1000000",
    "BTC": "10",
    "ETH": "200",
    "SOL": "5000",
    "XRP": "1000000",
    "EUR": "100000",
}

ADD_FIELDS = frozenset(
    {
        "order_type",
        "side",
        "order_qty",
        "symbol",
        "limit_price",
        "limit_price_type",
        "triggers",
        "time_in_force",
        "margin",
        "post_only",
        "reduce_only",
        "effective_time",
        "expire_time",
        "deadline",
        "cl_ord_id",
        "order_userref",
        "conditional",
        "display_qty",
        "fee_preference",
        "no_mpp",
        "stp_type",
        "cash_order_qty",
        "validate",
        "sender_sub_id",
        "stop_price",
        "trigger",
        "token",
    }
)
BATCH_ORDER_FIELDS = ADD_FIELDS - {"symbol", "token", "validate", "deadline"}
AMEND_FIELDS = frozenset(
    {
        "order_id",
        "cl_ord_id",
        "order_qty",
        "display_qty",
        "limit_price",
        "limit_price_type",
        "post_only",
        "trigger_price",
        "trigger_price_type",
        "deadline",
        "symbol",
        "token",
    }
)
EDIT_FIELDS = frozenset(
    {
        "order_id",
        "symbol",
        "order_qty",
        "limit_price",
        "display_qty",
        "fee_preference",
        "order_userref",
        "post_only",
        "reduce_only",
        "triggers",
        "deadline",
        "validate",
        "token",
    }
)
CANCEL_FIELDS = frozenset({"order_id", "cl_ord_id", "order_userref", "token"})
SUPPORTED_TYPES = ("limit", "market")
KNOWN_TYPES = (
    "limit",
    "market",
    "iceberg",
    "stop-loss",
    "stop-loss-limit",
    "take-profit",
    "take-profit-limit",
    "trailing-stop",
    "trailing-stop-limit",
    "settle-position",
)


class Reject(Exception):
    """A refused request; ``error`` is Kraken's text."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(slots=True)
class UserOrder:
    """An order of the account, open or just closed."""

    order_id: str
    symbol: str
    side: int
    order_type: str
    qty: int
    price: int | None
    tif: str
    post_only: bool
    cl_ord_id: str | None
    userref: int
    stp: str
    cash: int | None
    created: float  # monotonic, for the rate counter's age penalties
    ts_ns: int
    cum_qty: int = 0
    cum_cost: int = 0
    fees: int = 0  # ledger units
    status: str = "pending_new"
    expire: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class _Fill:
    order: UserOrder
    trade: Trade
    maker: bool


@dataclass(eq=False, slots=True)
class _Feed:
    session: Session
    seq: int = 0
    all_status: bool = True


@dataclass(slots=True)
class Account:
    """Balances (ledger units) and orders."""

    balances: dict[str, int] = field(default_factory=dict)
    orders: dict[str, UserOrder] = field(default_factory=dict)
    fills: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))


def _ledger(units: int, scale: int, up: bool) -> int:
    """Convert ``units / 10**scale`` to ledger units, rounding up or down."""
    if scale <= LEDGER_DP:
        return units * POW10[LEDGER_DP - scale]
    q, r = divmod(units, POW10[scale - LEDGER_DP])
    return q + 1 if up and r else q


def _number(params: dict[str, Any], key: str, method: str) -> Decimal | int | None:
    v = params.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, Decimal | int):
        raise Reject(f"{key.capitalize()} field must be a number_float")
    return v


def _bool(params: dict[str, Any], key: str) -> bool:
    v = params.get(key, False)
    if not isinstance(v, bool):
        raise Reject(f"EGeneral:Invalid arguments:{key} must be a boolean")
    return v


class Trading:
    """Executes the trading methods and feeds executions and balances."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.account = Account()
        balances = ex.config.balances or DEFAULT_BALANCES
        for asset, text in balances.items():
            self.account.balances[asset] = from_decimal(text, LEDGER_DP)
        self.rate = RateCounter(ex.config.tier)
        self.oids = IdFactory("O", 0x5EED ^ ex.config.seed)
        self.exec_ids = IdFactory("T", 0xE4EC ^ ex.config.seed)
        self.ledger_ids = IdFactory("L", 0x1ED6 ^ ex.config.seed)
        self.amend_ids = IdFactory("T", 0xA3E4 ^ ex.config.seed)
        self.exec_feeds: dict[int, _Feed] = {}
        self.bal_feeds: dict[int, _Feed] = {}
        self._fills: list[_Fill] = []
        self._engine_cancels: list[tuple[UserOrder, str]] = []
        self._in_action = False
        self._dms: asyncio.TimerHandle | None = None
        self.dms_fired = 0

    # -- lifecycle hooks from the exchange -------------------------------------------

    def on_op(self, symbol: str, log: OpLog) -> None:
        """Collect the account's fills from one engine operation."""
        orders = self.account.orders
        for t in log.trades:
            if t.maker_owner == OWNER and t.maker_id in orders:
                self._fills.append(_Fill(orders[t.maker_id], t, True))
            if t.taker_owner == OWNER and t.taker_id in orders:
                self._fills.append(_Fill(orders[t.taker_id], t, False))
        for o, reason in log.engine_cancels:
            if o.owner == OWNER and o.order_id in orders:
                self._engine_cancels.append((orders[o.order_id], reason))
        if not self._in_action:
            self._flush()

    def on_close(self, s: Session) -> None:
        """A connection went away."""
        self.exec_feeds.pop(s.id, None)
        self.bal_feeds.pop(s.id, None)

    def shutdown(self) -> None:
        """Cancel timers."""
        if self._dms:
            self._dms.cancel()
        for o in self.account.orders.values():
            if o.expire:
                o.expire.cancel()

    # -- subscriptions ----------------------------------------------------------------

    def subscribe(
        self, s: Session, method: str, channel: str, params: dict[str, Any], req_id: Any, t_in: int
    ) -> None:
        """Subscribe or unsubscribe ``executions`` / ``balances`` (token already checked)."""
        table = self.exec_feeds if channel == "executions" else self.bal_feeds
        key = (channel,)
        if method == "unsubscribe":
            if s.id not in table:
                s.push(method_error("subscribe", "Subscription Not Found", req_id, t_in), "ack")
                return
            del table[s.id]
            s.subs.pop(key, None)
            s.push(method_ok(method, {"channel": channel}, req_id, t_in), "ack")
            return
        if s.id in table:
            s.push(
                method_error(method, "Already subscribed", req_id, t_in, extra={"channel": channel}), "ack"
            )
            return
        try:
            flags: dict[str, bool] = {
                k: _bool(params, k)
                for k in ("snap_orders", "snap_trades", "order_status", "snapshot", "ratecounter")
                if k in params
            }
        except Reject as e:
            s.push(method_error(method, e.error, req_id, t_in), "ack")
            return
        feed = _Feed(s, 0, flags.get("order_status", True))
        table[s.id] = feed
        s.subs[key] = dict(flags)
        if channel == "executions":
            snap_orders = flags.get("snap_orders", flags.get("snapshot", True))
            snap_trades = flags.get("snap_trades", False)
            s.push(
                method_ok(
                    method,
                    {
                        "channel": "executions",
                        "maxratecount": int(self.rate.threshold),
                        "snap_orders": snap_orders,
                        "snap_trades": snap_trades,
                    },
                    req_id,
                    t_in,
                ),
                "ack",
            )
            data: list[dict[str, Any]] = []
            if snap_orders:
                data.extend(
                    self._full(o, o.status)
                    for o in self.account.orders.values()
                    if o.status in ("new", "partially_filled")
                )
            if snap_trades:
                data.extend(self.account.fills)
            feed.seq = 1
            s.push(dumps({"channel": "executions", "type": "snapshot", "data": data, "sequence": 1}))
        else:
            snap = flags.get("snapshot", True)
            s.push(method_ok(method, {"channel": "balances", "snapshot": snap}, req_id, t_in), "ack")
            if snap:
                feed.seq = 1
                rows = [
                    {
                        "asset": a,
                        "asset_class": "currency",
                        "balance": num(v, LEDGER_DP),
                        "wallets": [{"type": "spot", "id": "main", "balance": num(v, LEDGER_DP)}],
                    }
                    for a, v in sorted(self.account.balances.items())
                ]
                s.push(dumps({"channel": "balances", "type": "snapshot", "data": rows, "sequence": 1}))

    def _exec(self, report: dict[str, Any], status_change: bool = False) -> None:
        for f in list(self.exec_feeds.values()):
            if status_change and not f.all_status:
                continue
            f.seq += 1
            f.session.push(
                dumps({"channel": "executions", "type": "update", "data": [report], "sequence": f.seq})
            )

    def _bal(self, entry: dict[str, Any]) -> None:
        for f in list(self.bal_feeds.values()):
            f.seq += 1
            f.session.push(
                dumps({"channel": "balances", "type": "update", "data": [entry], "sequence": f.seq})
            )

    # -- request entry ------------------------------------------------------------------

    def handle(self, s: Session, method: str, params: dict[str, Any], req_id: Any, t_in: int) -> None:
        """One trading request from connection ``s`` (on ws-auth)."""
        if "token" not in params:
            s.push(method_error(method, "Token(s) not found", req_id, t_in), "ack")
            return
        if not self.ex.tokens.valid(params["token"], s.id):
            s.push(method_error(method, "ESession:Invalid session", req_id, t_in), "ack")
            return
        out = _Replies(s)
        try:
            fn = getattr(self, "_" + method)
            fn(params, req_id, t_in, out)
        except Reject as e:
            out.append(method_error(method, e.error, req_id, t_in))
        finally:
            self._in_action = False
            self._flush()

    def _check_fields(self, params: dict[str, Any], allowed: frozenset[str], method: str) -> None:
        for k in params:
            if k not in allowed:
                raise Reject(f"Unsupported field: '{k}' for the given msg type: {method}")

    def _check_system(self, post_only: bool = False, cancel: bool = False) -> None:
        state = self.ex.system
        if state == "maintenance":
            raise Reject("EService:Unavailable")
        if cancel:
            return
        if state == "cancel_only":
            raise Reject("EService:Market in cancel_only mode")
        if state == "post_only" and not post_only:
            raise Reject("EService:Market in post_only mode")

    def _inst(self, symbol: object) -> Instrument:
        if not isinstance(symbol, str) or not symbol:
            raise Reject("EGeneral:Invalid arguments:symbol")
        inst = self.ex.instruments.get(symbol)
        if inst is None:
            raise Reject("EQuery:Unknown asset pair")
        return inst

    # -- add_order ----------------------------------------------------------------------

    def _parse_order(self, p: dict[str, Any], inst: Instrument, method: str) -> UserOrder:
        """Validate one order's fields (schema and exchange rules, not funds)."""
        order_type = p.get("order_type")
        if order_type not in KNOWN_TYPES:
            raise Reject("EGeneral:Invalid arguments:order_type")
        if order_type not in SUPPORTED_TYPES:
            raise Reject(f"EGeneral:Invalid arguments:order_type {order_type} is not simulated")
        side = p.get("side")
        if side not in ("buy", "sell"):
            raise Reject("EGeneral:Invalid arguments:side")
        qty_v = _number(p, "order_qty", method)
        cash_v = _number(p, "cash_order_qty", method)
        price_v = _number(p, "limit_price", method)
        if qty_v is None and cash_v is None:
            raise Reject("EGeneral:Invalid arguments:order_qty")
        tif = p.get("time_in_force", "gtc")
        if tif not in ("gtc", "gtd", "ioc", "fok"):
            raise Reject("EGeneral:Invalid arguments:time_in_force")
        post_only = _bool(p, "post_only")
        for flag in ("margin", "reduce_only"):
            if _bool(p, flag):
                raise Reject("EGeneral:Invalid arguments:margin trading is not simulated")
        if "no_mpp" in p and order_type != "market":
            raise Reject(
                "EGeneral:Invalid arguments:no_mpp order option is only available when ordertype = market"
            )
        stp = p.get("stp_type", "cancel_newest")
        if stp not in ("cancel_newest", "cancel_oldest", "cancel_both"):
            raise Reject("EGeneral:Invalid arguments:stp_type")
        cl = p.get("cl_ord_id")
        ref = p.get("order_userref", 0)
        if cl is not None:
            if "order_userref" in p:
                raise Reject("EGeneral:Invalid arguments:cl_ord_id and order_userref cannot be combined")
            if not isinstance(cl, str) or not _valid_cl_ord_id(cl):
                raise Reject("EGeneral:Invalid arguments:cl_ord_id")
            if any(o.cl_ord_id == cl for o in self.account.orders.values()):
                raise Reject("EOrder:Duplicate cl_ord_id")
        if not isinstance(ref, int) or isinstance(ref, bool):
            raise Reject("EGeneral:Invalid arguments:order_userref")
        price: int | None = None
        if order_type == "limit":
            if price_v is None:
                raise Reject("EGeneral:Invalid arguments:limit_price")
            try:
                price = from_decimal(price_v, inst.price_precision)
            except PrecisionError:
                raise Reject("EOrder:Tick size check failed") from None
            if price <= 0:
                raise Reject("EOrder:Invalid price")
            if tif == "gtd" and "expire_time" not in p:
                raise Reject("EGeneral:Invalid arguments:expire_time")
        else:
            if post_only:
                raise Reject("EGeneral:Invalid arguments:post_only")
            if tif == "fok" or tif == "gtd":
                raise Reject("EGeneral:Invalid arguments:time_in_force")
            tif = "ioc"
        qty = 0
        cash: int | None = None
        if qty_v is not None:
            try:
                qty = from_decimal(qty_v, inst.qty_precision)
            except PrecisionError:
                raise Reject("EGeneral:Invalid arguments:order_qty") from None
            if qty <= 0:
                raise Reject("EGeneral:Invalid arguments:order_qty")
            if qty < inst.qty_min:
                raise Reject("EOrder:Order minimum not met")
        if cash_v is not None:
            if order_type != "market" or side != "buy" or qty_v is not None:
                raise Reject("EGeneral:Invalid arguments:cash_order_qty")
            try:
                cash = from_decimal(cash_v, inst.price_precision + inst.qty_precision)
            except PrecisionError:
                raise Reject("EGeneral:Invalid arguments:cash_order_qty") from None
            if cash <= 0:
                raise Reject("EGeneral:Invalid arguments:cash_order_qty")
            qty = 10**18  # bounded by cash, not by quantity
        if price is not None and qty:
            cost_min = from_decimal(inst.cost_min, inst.price_precision + inst.qty_precision)
            if price * qty < cost_min:
                raise Reject("EOrder:Cost minimum not met")
        o = UserOrder(
            order_id="",
            symbol=inst.symbol,
            side=BID if side == "buy" else ASK,
            order_type=order_type,
            qty=qty,
            price=price,
            tif=tif,
            post_only=post_only,
            cl_ord_id=cl,
            userref=ref,
            stp=stp,
            cash=cash,
            created=time.monotonic(),
            ts_ns=now_ns(),
        )
        if tif == "gtd" and _parse_time(p.get("expire_time")) is None:
            raise Reject("EGeneral:Invalid arguments:expire_time")
        return o

    def _add_order(self, p: dict[str, Any], req_id: Any, t_in: int, out: _Replies) -> None:
        self._check_fields(p, ADD_FIELDS, "add_order")
        inst = self._inst(p.get("symbol"))
        # The fixed part is charged even when validation then fails (§2.7).
        if not self.rate.charge(inst.symbol, 1):
            raise Reject("EOrder:Rate limit exceeded")
        o = self._parse_order(p, inst, "add_order")
        self._check_system(post_only=o.post_only)
        if _bool(p, "validate"):
            out.append(method_ok("add_order", {"order_id": ""}, req_id, t_in))
            return
        self._check_open_limit(inst.symbol, 1)
        self._check_funds(o, inst)
        o.order_id = self.oids.next()
        out.append(method_ok("add_order", self._ack_result(o), req_id, t_in))
        self._enter(o, inst, p.get("expire_time"))

    def _ack_result(self, o: UserOrder) -> dict[str, Any]:
        r: dict[str, Any] = {"order_id": o.order_id}
        if o.cl_ord_id is not None:
            r["cl_ord_id"] = o.cl_ord_id
        elif o.userref:
            r["order_userref"] = o.userref
        return r

    def _check_open_limit(self, symbol: str, n: int) -> None:
        open_n = sum(1 for o in self.account.orders.values() if o.symbol == symbol)
        if open_n + n > self.rate.max_open:
            raise Reject("EOrder:Orders limit exceeded")

    def _available(self, asset: str) -> int:
        held = 0
        for o in self.account.orders.values():
            inst = self.ex.instruments[o.symbol]
            held += self._hold(o, inst, asset)
        return self.account.balances.get(asset, 0) - held

    def _hold(self, o: UserOrder, inst: Instrument, asset: str) -> int:
        left = o.qty - o.cum_qty
        if o.status not in ("new", "partially_filled", "pending_new") or left <= 0 or o.price is None:
            return 0
        if o.side == BID and asset == inst.quote:
            cost = _ledger(o.price * left, inst.price_precision + inst.qty_precision, True)
            return cost + (cost * TAKER_BPS + 9999) // 10000
        if o.side == ASK and asset == inst.base:
            return _ledger(left, inst.qty_precision, True)
        return 0

    def _check_funds(self, o: UserOrder, inst: Instrument) -> None:
        if o.side == ASK:
            need = _ledger(o.qty, inst.qty_precision, True)
            if need > self._available(inst.base):
                raise Reject("EOrder:Insufficient funds")
            return
        scale = inst.price_precision + inst.qty_precision
        if o.cash is not None:
            cost = o.cash
        elif o.price is not None:
            cost = o.price * o.qty
        else:
            # A market buy: price it against the book as it stands.
            cost, left = 0, o.qty
            for lvl in self.ex.engines[inst.symbol].sides[ASK].levels.values():
                take = min(left, lvl.total)
                cost += take * lvl.price
                left -= take
                if not left:
                    break
        c = _ledger(cost, scale, True)
        if c + (c * TAKER_BPS + 9999) // 10000 > self._available(inst.quote):
            raise Reject("EOrder:Insufficient funds")

    def _enter(self, o: UserOrder, inst: Instrument, expire_time: object = None) -> MatchResult:
        """Put an accepted order into the book and report its life on executions."""
        acct = self.account
        acct.orders[o.order_id] = o
        self._exec(self._full(o, "pending_new"), status_change=True)
        self._in_action = True
        try:
            _, res = self.ex.apply(inst.symbol, lambda e: self._submit(e, o))
        finally:
            self._in_action = False
        if res.post_only_rejected or res.fok_rejected:
            reason = "Post only order" if res.post_only_rejected else "Fill or kill order could not be filled"
            self._close(o, "canceled", reason)
            return res
        o.status = "new"
        self._exec(self._sparse(o, "new", "new"))
        self._flush()
        if o.order_id in acct.orders and o.status != "filled" and not res.rested:
            if res.stp_stopped:
                self._close(o, "canceled", "Self trade prevention")
            elif o.order_type == "market":
                self._close(
                    o, "canceled", "Insufficient liquidity" if o.cum_qty == 0 else "Market order remainder"
                )
            else:
                self._close(o, "expired", "Immediate or cancel order not filled")
        elif res.rested and o.tif == "gtd":
            at = _parse_time(expire_time)
            if at is not None:
                loop = asyncio.get_running_loop()
                o.expire = loop.call_later(max(0.0, at - time.time()), self._expire, o.order_id)
        return res

    @staticmethod
    def _submit(e: MatchingEngine, o: UserOrder) -> MatchResult:
        return e.submit(
            o.order_id,
            o.side,
            o.qty,
            price=o.price,
            order_type=o.order_type,
            tif=o.tif,
            post_only=o.post_only,
            owner=OWNER,
            stp=o.stp,
            cash=o.cash,
        )

    def _expire(self, oid: str) -> None:
        o = self.account.orders.get(oid)
        if o is None:
            return
        self.ex.apply(o.symbol, lambda e: e.cancel(oid))
        self._close(o, "expired", "Order expired")

    # -- fills -------------------------------------------------------------------------

    def _flush(self) -> None:
        fills, self._fills = self._fills, []
        for f in fills:
            self._apply_fill(f)
        cancels, self._engine_cancels = self._engine_cancels, []
        for o, reason in cancels:
            if o.order_id in self.account.orders:
                self._close(o, "canceled", "Self trade prevention" if reason == "self_trade" else reason)

    def _apply_fill(self, f: _Fill) -> None:
        o, t = f.order, f.trade
        inst = self.ex.instruments[o.symbol]
        pp, qp = inst.price_precision, inst.qty_precision
        scale = pp + qp
        cost = t.price * t.qty
        o.cum_qty += t.qty
        o.cum_cost += cost
        if o.cash is not None:
            o.qty = o.cum_qty if o.cum_qty else o.qty
        bps = MAKER_BPS if f.maker else TAKER_BPS
        buy = o.side == BID
        cost_l = _ledger(cost, scale, buy)
        fee = (cost_l * bps + 9999) // 10000
        o.fees += fee
        bal = self.account.balances
        base_amt = _ledger(t.qty, qp, False)
        base_delta = base_amt if buy else -base_amt
        quote_delta = -cost_l if buy else cost_l
        bal[inst.base] = bal.get(inst.base, 0) + base_delta
        bal[inst.quote] = bal.get(inst.quote, 0) + quote_delta - fee
        filled = o.cum_qty >= o.qty
        o.status = "filled" if filled else "partially_filled"
        exec_id = self.exec_ids.next()
        report = {
            "order_id": o.order_id,
            **({"cl_ord_id": o.cl_ord_id} if o.cl_ord_id is not None else {}),
            "order_userref": o.userref,
            "exec_id": exec_id,
            "exec_type": "trade",
            "trade_id": t.trade_id,
            "symbol": o.symbol,
            "side": SIDE_NAMES[o.side],
            "last_qty": num(t.qty, qp),
            "last_price": num(t.price, pp),
            "liquidity_ind": "m" if f.maker else "t",
            "cost": num(cost, scale),
            "order_type": o.order_type,
            "timestamp": ts_us(t.ts_ns),
            "order_status": o.status,
            "cum_qty": num(o.cum_qty, qp),
            "cum_cost": num(o.cum_cost, scale),
            "avg_price": num(o.cum_cost // o.cum_qty, pp),
            "fee_usd_equiv": num(o.fees, LEDGER_DP),
            "fees": [{"asset": inst.quote, "qty": num(fee, LEDGER_DP)}],
        }
        self.account.fills.append(report)
        self._exec(report)
        ts = ts_us(t.ts_ns)
        for asset, amount, fee_amt in ((inst.base, base_delta, 0), (inst.quote, quote_delta, fee)):
            self._bal(
                {
                    "ledger_id": self.ledger_ids.next(),
                    "ref_id": exec_id,
                    "timestamp": ts,
                    "type": "trade",
                    "asset": asset,
                    "asset_class": "currency",
                    "category": "trade",
                    "wallet_type": "spot",
                    "wallet_id": "main",
                    "amount": num(amount, LEDGER_DP),
                    "fee": num(fee_amt, LEDGER_DP),
                    "balance": num(bal[asset], LEDGER_DP),
                }
            )
        if filled:
            del self.account.orders[o.order_id]
            if o.expire:
                o.expire.cancel()
            self._exec(self._sparse(o, "filled", "filled", cum=True))

    # -- reports -----------------------------------------------------------------------

    def _full(self, o: UserOrder, exec_type: str | None) -> dict[str, Any]:
        inst = self.ex.instruments[o.symbol]
        pp, qp = inst.price_precision, inst.qty_precision
        r: dict[str, Any] = {"order_id": o.order_id}
        if o.cl_ord_id is not None:
            r["cl_ord_id"] = o.cl_ord_id
        r["order_userref"] = o.userref
        r["symbol"] = o.symbol
        if o.cash is not None:
            r["cash_order_qty"] = num(o.cash, pp + qp)
        else:
            r["order_qty"] = num(o.qty, qp)
        r["cum_qty"] = num(o.cum_qty, qp)
        r["cum_cost"] = num(o.cum_cost, pp + qp)
        r["time_in_force"] = o.tif.upper()
        if exec_type is not None:
            r["exec_type"] = exec_type
        r["side"] = SIDE_NAMES[o.side]
        r["order_type"] = o.order_type
        if o.price is not None:
            r["limit_price_type"] = "static"
            r["limit_price"] = num(o.price, pp)
        r["post_only"] = o.post_only
        r["order_status"] = o.status
        r["fee_usd_equiv"] = num(o.fees, LEDGER_DP)
        r["fee_ccy_pref"] = "fciq"
        r["timestamp"] = ts_us(o.ts_ns)
        return r

    def _sparse(self, o: UserOrder, exec_type: str, status: str, cum: bool = False) -> dict[str, Any]:
        r: dict[str, Any] = {"timestamp": ts_us(now_ns()), "order_status": status, "exec_type": exec_type}
        if cum:
            inst = self.ex.instruments[o.symbol]
            pp, qp = inst.price_precision, inst.qty_precision
            r["cum_qty"] = num(o.cum_qty, qp)
            r["cum_cost"] = num(o.cum_cost, pp + qp)
            r["fee_usd_equiv"] = num(o.fees, LEDGER_DP)
            r["avg_price"] = num(o.cum_cost // o.cum_qty if o.cum_qty else 0, pp)
        r["order_userref"] = o.userref
        if o.cl_ord_id is not None:
            r["cl_ord_id"] = o.cl_ord_id
        r["order_id"] = o.order_id
        return r

    def _close(self, o: UserOrder, status: str, reason: str) -> None:
        """Report an order leaving the account's open orders (canceled or expired)."""
        self.account.orders.pop(o.order_id, None)
        if o.expire:
            o.expire.cancel()
        o.status = status
        r = self._sparse(o, status, status, cum=True)
        r["cancel_reason"] = reason
        r["reason"] = reason
        self._exec(r)

    # -- amend / edit -----------------------------------------------------------------------

    def _find(self, p: dict[str, Any]) -> UserOrder:
        oid, cl = p.get("order_id"), p.get("cl_ord_id")
        if (oid is None) == (cl is None):
            raise Reject("EGeneral:Invalid arguments:order_id or cl_ord_id")
        for o in self.account.orders.values():
            if (oid is not None and o.order_id == oid) or (cl is not None and o.cl_ord_id == cl):
                return o
        raise Reject("EOrder:Unknown order")

    def _amend_order(self, p: dict[str, Any], req_id: Any, t_in: int, out: _Replies) -> None:
        self._check_fields(p, AMEND_FIELDS, "amend_order")
        o = self._find(p)
        inst = self.ex.instruments[o.symbol]
        if not self.rate.charge(o.symbol, amend_cost(time.monotonic() - o.created)):
            raise Reject("EOrder:Rate limit exceeded")
        self._check_system(post_only=True)
        qty_v = _number(p, "order_qty", "amend_order")
        if qty_v is None:
            raise Reject("EGeneral:Invalid arguments:order_qty")
        price_v = _number(p, "limit_price", "amend_order")
        try:
            new_qty = from_decimal(qty_v, inst.qty_precision)
        except PrecisionError:
            raise Reject("EGeneral:Invalid arguments:order_qty") from None
        new_price = None
        if price_v is not None:
            try:
                new_price = from_decimal(price_v, inst.price_precision)
            except PrecisionError:
                raise Reject("EOrder:Tick size check failed") from None
            if new_price <= 0:
                raise Reject("EOrder:Invalid price")
        post_only = _bool(p, "post_only")
        if o.price is None:
            raise Reject("EOrder:Unknown order")
        if new_qty > o.cum_qty:
            self._check_funds_delta(o, inst, new_qty, new_price if new_price is not None else o.price)
        amend_id = self.amend_ids.next()
        self._in_action = True
        try:
            _, (outcome, _res) = self.ex.apply(
                o.symbol,
                lambda e: e.amend(o.order_id, new_qty - o.cum_qty, new_price, post_only=post_only, stp=o.stp),
            )
        finally:
            self._in_action = False
        if outcome == "post_only":
            raise Reject("EOrder:Post only order would take liquidity")
        if outcome == "unknown":
            raise Reject("EOrder:Unknown order")
        result: dict[str, Any] = {"amend_id": amend_id}
        if p.get("order_id") is not None:
            result["order_id"] = o.order_id
        if p.get("cl_ord_id") is not None:
            result["cl_ord_id"] = o.cl_ord_id
        out.append(method_ok("amend_order", result, req_id, t_in))
        o.qty = new_qty
        if new_price is not None:
            o.price = new_price
        o.created = time.monotonic()
        if outcome == "canceled":
            self._close(o, "canceled", "User requested")
            return
        r = {
            "timestamp": ts_us(now_ns()),
            "exec_type": "amended",
            "order_status": o.status,
            "cum_qty": num(o.cum_qty, inst.qty_precision),
            "reason": "User requested",
            "amended": True,
            "order_qty": num(o.qty, inst.qty_precision),
            "limit_price": num(o.price, inst.price_precision),
            "limit_price_type": "static",
            "order_userref": o.userref,
        }
        if o.cl_ord_id is not None:
            r["cl_ord_id"] = o.cl_ord_id
        r["order_id"] = o.order_id
        self._exec(r)
        self._flush()
        if o.order_id in self.account.orders and o.order_id not in self.ex.engines[o.symbol].orders:
            self._close(o, "canceled", "Self trade prevention")

    def _check_funds_delta(self, o: UserOrder, inst: Instrument, qty: int, price: int) -> None:
        """An amend may only raise the order's hold by what is still available."""
        asset = inst.quote if o.side == BID else inst.base
        old_hold = self._hold(o, inst, asset)
        avail = self._available(asset)  # already net of old_hold
        saved = (o.qty, o.price)
        o.qty, o.price = qty, price
        try:
            new_hold = self._hold(o, inst, asset)
        finally:
            o.qty, o.price = saved
        if new_hold - old_hold > avail:
            raise Reject("EOrder:Insufficient funds")

    def _edit_order(self, p: dict[str, Any], req_id: Any, t_in: int, out: _Replies) -> None:
        self._check_fields(p, EDIT_FIELDS, "edit_order")
        if "order_id" not in p:
            raise Reject("EGeneral:Invalid arguments:order_id")
        inst = self._inst(p.get("symbol"))
        old = self._find({"order_id": p["order_id"]})
        if old.symbol != inst.symbol:
            raise Reject("EGeneral:Invalid arguments:symbol")
        if not self.rate.charge(old.symbol, edit_cost(time.monotonic() - old.created)):
            raise Reject("EOrder:Rate limit exceeded")
        self._check_system(post_only=_bool(p, "post_only"))
        qty_v = _number(p, "order_qty", "edit_order")
        price_v = _number(p, "limit_price", "edit_order")
        try:
            total = old.qty if qty_v is None else from_decimal(qty_v, inst.qty_precision)
            price = old.price if price_v is None else from_decimal(price_v, inst.price_precision)
        except PrecisionError:
            raise Reject("EGeneral:Invalid arguments:order_qty or limit_price precision") from None
        if total <= old.cum_qty:
            raise Reject("EGeneral:Invalid arguments:order_qty is below the executed quantity")
        if price is None or price <= 0:
            raise Reject("EOrder:Invalid price")
        ref = p.get("order_userref", old.userref)
        new = UserOrder(
            order_id="",
            symbol=old.symbol,
            side=old.side,
            order_type="limit",
            qty=total - old.cum_qty,
            price=price,
            tif=old.tif,
            post_only=_bool(p, "post_only"),
            cl_ord_id=None,
            userref=ref if isinstance(ref, int) else old.userref,
            stp=old.stp,
            cash=None,
            created=time.monotonic(),
            ts_ns=now_ns(),
        )
        if _bool(p, "validate"):
            out.append(
                method_ok("edit_order", {"order_id": "", "original_order_id": old.order_id}, req_id, t_in)
            )
            return
        # Funds: the old order's hold is released by the replacement.
        self.account.orders.pop(old.order_id)
        try:
            self._check_funds(new, inst)
        finally:
            self.account.orders[old.order_id] = old
        self.ex.apply(old.symbol, lambda e: e.cancel(old.order_id))
        self._close(old, "canceled", "Order replaced")
        new.order_id = self.oids.next()
        out.append(
            method_ok(
                "edit_order", {"order_id": new.order_id, "original_order_id": old.order_id}, req_id, t_in
            )
        )
        self._enter(new, inst)

    # -- cancels ----------------------------------------------------------------------------

    def _cancel_one(self, o: UserOrder, reason: str = "User requested", charge: bool = True) -> bool:
        if charge and not self.rate.charge(o.symbol, cancel_cost(time.monotonic() - o.created)):
            return False
        self.ex.apply(o.symbol, lambda e: e.cancel(o.order_id))
        self._close(o, "canceled", reason)
        return True

    def _cancel_order(self, p: dict[str, Any], req_id: Any, t_in: int, out: _Replies) -> None:
        self._check_fields(p, CANCEL_FIELDS, "cancel_order")
        self._check_system(cancel=True)
        targets: list[tuple[str, Any]] = []
        for key in ("order_id", "cl_ord_id", "order_userref"):
            v = p.get(key)
            if v is None:
                continue
            if not isinstance(v, list) or not v:
                raise Reject(f"EGeneral:Invalid arguments:{key} must be a list")
            targets.extend((key, x) for x in v)
        if not targets:
            raise Reject("EGeneral:Invalid arguments:order_id, cl_ord_id or order_userref")
        for key, val in targets:
            if key == "order_userref":
                hits = [o for o in self.account.orders.values() if o.userref == val]
            else:
                attr = "order_id" if key == "order_id" else "cl_ord_id"
                hits = [o for o in self.account.orders.values() if getattr(o, attr) == val]
            if not hits:
                out.append(method_error("cancel_order", "EOrder:Unknown order", req_id, t_in))
                continue
            for o in hits:
                if not self._cancel_one(o):
                    out.append(method_error("cancel_order", "EOrder:Rate limit exceeded", req_id, t_in))
                    continue
                res = {"cl_ord_id": o.cl_ord_id} if key == "cl_ord_id" else {"order_id": o.order_id}
                out.append(method_ok("cancel_order", res, req_id, t_in))

    def _cancel_all(self, p: dict[str, Any], req_id: Any, t_in: int, out: _Replies) -> None:
        self._check_fields(p, frozenset({"token"}), "cancel_all")
        self._check_system(cancel=True)
        n = self.cancel_everything("User requested")
        out.append(method_ok("cancel_all", {"count": n}, req_id, t_in))

    def cancel_everything(self, reason: str) -> int:
        """Cancel every open order of the account (no rate charge); returns how many."""
        orders = list(self.account.orders.values())
        for o in orders:
            self._cancel_one(o, reason, charge=False)
        return len(orders)

    def _cancel_all_orders_after(self, p: dict[str, Any], req_id: Any, t_in: int, out: _Replies) -> None:
        self._check_fields(p, frozenset({"timeout", "token"}), "cancel_all_orders_after")
        timeout = p.get("timeout")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 0 <= timeout < 86400:
            raise Reject("EGeneral:Invalid arguments:timeout")
        if self._dms:
            self._dms.cancel()
            self._dms = None
        now = now_ns()
        if timeout == 0:
            trigger = "0"
        else:
            self._dms = asyncio.get_running_loop().call_later(timeout, self._dms_fire)
            trigger = ts_s(now + timeout * 1_000_000_000)
        out.append(
            method_ok(
                "cancel_all_orders_after", {"currentTime": ts_s(now), "triggerTime": trigger}, req_id, t_in
            )
        )

    def _dms_fire(self) -> None:
        # The switch fires once and stays off until the next call (§5.6).
        self._dms = None
        self.dms_fired += 1
        self.cancel_everything("Dead man's switch")

    # -- batches ------------------------------------------------------------------------------

    def _batch_add(self, p: dict[str, Any], req_id: Any, t_in: int, out: _Replies) -> None:
        self._check_fields(p, frozenset({"symbol", "orders", "deadline", "validate", "token"}), "batch_add")
        inst = self._inst(p.get("symbol"))
        orders = p.get("orders")
        if not isinstance(orders, list) or not 2 <= len(orders) <= 15:
            raise Reject("EGeneral:Invalid arguments:orders must hold 2 to 15 orders")
        if not self.rate.charge(inst.symbol, len(orders) / 2):
            raise Reject("EOrder:Rate limit exceeded")
        parsed: list[UserOrder] = []
        seen_cl: set[str] = set()
        for spec in orders:
            if not isinstance(spec, dict):
                raise Reject("EGeneral:Invalid arguments:orders")
            self._check_fields(spec, BATCH_ORDER_FIELDS, "batch_add")
            o = self._parse_order(spec, inst, "batch_add")
            if o.cl_ord_id is not None:
                if o.cl_ord_id in seen_cl:
                    raise Reject("EOrder:Duplicate cl_ord_id")
                seen_cl.add(o.cl_ord_id)
            parsed.append(o)
        self._check_system(post_only=all(o.post_only for o in parsed))
        if _bool(p, "validate"):
            out.append(method_ok("batch_add", [{"order_id": ""} for _ in parsed], req_id, t_in))
            return
        self._check_open_limit(inst.symbol, len(parsed))
        results: list[dict[str, Any]] = []
        accepted: list[UserOrder] = []
        for o in parsed:
            try:
                self._check_funds(o, inst)
            except Reject as e:
                results.append({"error": e.error})
                continue
            o.order_id = self.oids.next()
            # Reserve now so that the next order of the batch sees this hold.
            o.status = "pending_new"
            self.account.orders[o.order_id] = o
            accepted.append(o)
            results.append(self._ack_result(o))
        for o in accepted:
            del self.account.orders[o.order_id]
        out.append(method_ok("batch_add", results, req_id, t_in))
        for o in accepted:
            self._enter(o, inst)

    def _batch_cancel(self, p: dict[str, Any], req_id: Any, t_in: int, out: _Replies) -> None:
        self._check_fields(p, frozenset({"orders", "cl_ord_id", "token"}), "batch_cancel")
        self._check_system(cancel=True)
        ids = p.get("orders", [])
        cls = p.get("cl_ord_id", [])
        if (
            not isinstance(ids, list)
            or not isinstance(cls, list)
            or not all(isinstance(x, str) for x in ids + cls)
        ):
            raise Reject("EGeneral:Invalid arguments:orders must be a list of strings")
        if not 2 <= len(ids) + len(cls) <= 50:
            raise Reject("EGeneral:Invalid arguments:batch_cancel takes 2 to 50 ids")
        targets: dict[str, UserOrder] = {}
        for x in ids:
            for o in self.account.orders.values():
                if o.order_id == x or (x.isdigit() and o.userref == int(x)):
                    targets[o.order_id] = o
        for x in cls:
            for o in self.account.orders.values():
                if o.cl_ord_id == x:
                    targets[o.order_id] = o
        now = time.monotonic()
        cost = sum(cancel_cost(now - o.created) for o in targets.values())
        if not self.rate.charge(next(iter(targets.values())).symbol if targets else "", cost):
            raise Reject("EOrder:Rate limit exceeded")
        for o in targets.values():
            self._cancel_one(o, charge=False)
        out.append(method_ok("batch_cancel", {"count": len(targets)}, req_id, t_in))


class _Replies:
    """Where a trading method's responses go: straight out, through the ack faults.

    Responses leave as soon as they are made, so an ``add_order`` response
    precedes the order's ``pending_new`` on executions (unless delayed).
    """

    def __init__(self, s: Session) -> None:
        self.s = s

    def append(self, text: str) -> None:
        """Send one response (or lose or delay it, per the connection's faults)."""
        s = self.s
        spec = s.faults
        if spec.ack_drop and s.rng.random() < spec.ack_drop:
            return
        if spec.ack_delay_ms:
            s.push_later(spec.ack_delay_ms / 1000, text)
        else:
            s.push(text, "ack")


def _valid_cl_ord_id(s: str) -> bool:
    """A long UUID, a 32-hex short UUID, or up to 18 printable ASCII characters (§5.1)."""
    import re

    if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", s):
        return True
    if re.fullmatch(r"[0-9a-fA-F]{32}", s):
        return True
    return 0 < len(s) <= 18 and s.isascii() and s.isprintable()


def _parse_time(v: object) -> float | None:
    """RFC3339 text to epoch seconds, or ``None``."""
    if not isinstance(v, str):
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
