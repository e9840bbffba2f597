"""Own orders, fills, balances and Kraken's trading rate counter, kept from the private streams (sans-I/O).

Nothing here reads a clock or touches a socket: every method that depends on
time takes ``now`` (monotonic seconds). ``trading.py`` feeds it.

Order lifecycle (PROTOCOL.md §3.7). A status only moves forward; a report
that would move it back (a late ``new`` after a fill) is merged for its
fields but leaves the status alone:

================= ============================================== ==============================
status            meaning                                        left for
================= ============================================== ==============================
pending_new       sent or accepted, not yet live                 any other status
new               live on the book                               partially_filled and terminal
partially_filled  some quantity filled, the rest live            partially_filled, terminal
filled            terminal: all filled                           (none)
canceled          terminal: user, post-only, STP, DMS, replaced  (none)
expired           terminal: IOC not filled, GTD passed           (none)
rejected          terminal: refused by the exchange or by us,    (none)
                  or sent and not found after a reconnect
closed            terminal: left the book while disconnected,    (none)
                  and the snapshot does not say how
================= ============================================== ==============================

A terminal status *inferred* by reconciliation (``Order.inferred``) is soft:
a later report about the same order wins, so a guess can never hide a live
order.

Reconciliation: an ``executions`` snapshot (sent after every (re)connect)
lists every open order. Orders are matched by ``order_id`` first, then by
``cl_ord_id``, so an order the exchange knows and we know appears once. Open
orders we hold that the snapshot lacks left the book during the gap; fills
in the snapshot (``snap_trades``) are merged once each by ``exec_id``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from havterm.engine.events import BalancesMessage, ExecutionReport, ExecutionsMessage, Fee

ZERO = Decimal(0)


class OrderStatus(enum.Enum):
    """The statuses of the table above."""

    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    CLOSED = "closed"

    @property
    def terminal(self) -> bool:
        """True once the order can no longer trade."""
        return _RANK[self] >= 3


_RANK = {
    OrderStatus.PENDING_NEW: 0,
    OrderStatus.NEW: 1,
    OrderStatus.PARTIALLY_FILLED: 2,
    OrderStatus.FILLED: 3,
    OrderStatus.CANCELED: 3,
    OrderStatus.EXPIRED: 3,
    OrderStatus.REJECTED: 3,
    OrderStatus.CLOSED: 3,
}

_FROM_EXEC_TYPE = {
    "pending_new": OrderStatus.PENDING_NEW,
    "new": OrderStatus.NEW,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
}


def _status(text: str | None) -> OrderStatus | None:
    if text is None:
        return None
    try:
        return OrderStatus(text)
    except ValueError:
        return None  # e.g. "triggered": not a lifecycle step we track


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders."""

    exec_id: str | None
    order_id: str
    symbol: str | None
    side: str | None
    qty: Decimal
    price: Decimal
    cost: Decimal | None
    fees: tuple[Fee, ...]
    liquidity: str | None
    trade_id: int | None
    timestamp: str | None


@dataclass(slots=True)
class Order:
    """One order as merged from requests, acks and ``executions`` reports."""

    cl_ord_id: str | None
    order_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    time_in_force: str | None = None
    post_only: bool = False
    reduce_only: bool = False
    status: OrderStatus = OrderStatus.PENDING_NEW
    cum_qty: Decimal = ZERO
    cum_cost: Decimal = ZERO
    reported_avg_price: Decimal | None = None
    fees: dict[str, Decimal] = field(default_factory=dict)
    fee_usd_equiv: Decimal | None = None
    fills: list[Fill] = field(default_factory=list)
    reason: str | None = None
    amended: bool = False
    inferred: bool = False  # the status is a reconciliation guess (see the module docstring)
    created_at: float = 0.0  # first seen (monotonic)
    age_anchor: float = 0.0  # created or last amended: the rate counter's "age" starts here
    updated_at: float = 0.0
    timestamp: str | None = None

    @property
    def is_open(self) -> bool:
        """Pending, live or partially filled."""
        return not self.status.terminal

    @property
    def remaining(self) -> Decimal | None:
        """Quantity still to fill, when the order quantity is known."""
        return None if self.order_qty is None else max(ZERO, self.order_qty - self.cum_qty)

    @property
    def avg_price(self) -> Decimal | None:
        """Volume-weighted fill price: the exchange's figure if given, else cost / quantity."""
        if self.reported_avg_price is not None and self.reported_avg_price > 0:
            return self.reported_avg_price
        return self.cum_cost / self.cum_qty if self.cum_qty else None

    def age(self, now: float) -> float:
        """Seconds since placed or last amended, as the rate counter counts it."""
        return max(0.0, now - self.age_anchor)


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What one report did to one order (for notifications: fills, closes)."""

    order: Order
    old_status: OrderStatus | None  # None: the order is new to us
    fill: Fill | None = None

    @property
    def closed(self) -> bool:
        """This update made the order terminal."""
        return self.order.status.terminal and (self.old_status is None or not self.old_status.terminal)


class OrderTracker:
    """Every order of the account we know of, indexed by ``order_id`` and ``cl_ord_id``."""

    def __init__(self, keep_closed: int = 500) -> None:
        self.keep_closed = keep_closed
        self._orders: list[Order] = []
        self._by_id: dict[str, Order] = {}
        self._by_cl: dict[str, Order] = {}
        self._exec_ids: dict[str, None] = {}  # insertion-ordered, so the oldest can be forgotten
        self.fills: list[Fill] = []
        self.snapshots = 0
        self.sequence: int | None = None
        self.sequence_gaps = 0

    # ---------------------------------------------------------------- queries

    def __len__(self) -> int:
        return len(self._orders)

    def all(self) -> list[Order]:
        """Every order, oldest first."""
        return list(self._orders)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, optionally of one symbol."""
        return [o for o in self._orders if o.is_open and (symbol is None or o.symbol == symbol)]

    def get(self, order_id: str | None = None, cl_ord_id: str | None = None) -> Order | None:
        """An order by exchange id or by our client id."""
        if order_id is not None and order_id in self._by_id:
            return self._by_id[order_id]
        if cl_ord_id is not None:
            return self._by_cl.get(cl_ord_id)
        return None

    # ---------------------------------------------------------------- our requests

    def expect(
        self,
        cl_ord_id: str,
        now: float,
        *,
        symbol: str,
        side: str,
        order_type: str,
        order_qty: Decimal | None,
        limit_price: Decimal | None = None,
        time_in_force: str | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> Order:
        """Record an order we are about to send (pending_new, no exchange id yet)."""
        o = Order(
            cl_ord_id,
            symbol=symbol,
            side=side,
            order_type=order_type,
            order_qty=order_qty,
            limit_price=limit_price,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            created_at=now,
            age_anchor=now,
            updated_at=now,
        )
        self._insert(o)
        return o

    def acknowledged(self, cl_ord_id: str, order_id: str, now: float) -> Order | None:
        """The exchange accepted our order: link its id (executions may have done it already)."""
        o = self._by_cl.get(cl_ord_id)
        if o is None:
            return None
        self._link(o, order_id)
        # The exchange's clock for the age penalty started before its ack reached us; starting
        # ours at the ack makes our penalties never smaller than the exchange's.
        o.age_anchor = now
        o.updated_at = now
        return o

    def rejected(self, cl_ord_id: str, error: str, now: float, inferred: bool = False) -> Order | None:
        """The exchange (or we) refused the order before it existed; ``inferred`` if that is a guess."""
        o = self._by_cl.get(cl_ord_id)
        if o is None or o.order_id is not None:
            return o
        o.status = OrderStatus.REJECTED
        o.reason = error
        o.inferred = inferred
        o.updated_at = now
        self._prune()
        return o

    def amend_acknowledged(self, order: Order, now: float) -> None:
        """An amend was accepted: the age penalties restart from now."""
        order.age_anchor = now
        order.updated_at = now

    # ---------------------------------------------------------------- the executions stream

    def apply(self, msg: ExecutionsMessage, now: float) -> list[OrderUpdate]:
        """Merge one ``executions`` message; a snapshot reconciles (see the module docstring)."""
        if msg.snapshot:
            self.sequence = msg.sequence
            return self._reconcile(msg.reports, now)
        if msg.sequence is not None and self.sequence is not None and msg.sequence != self.sequence + 1:
            self.sequence_gaps += 1  # reports were lost; the next snapshot (reconnect) repairs it
        if msg.sequence is not None:
            self.sequence = msg.sequence
        out: list[OrderUpdate] = []
        for r in msg.reports:
            up = self._apply_report(r, now, in_snapshot=False)
            if up is not None:
                out.append(up)
        self._prune()
        return out

    def _reconcile(self, reports: Iterable[ExecutionReport], now: float) -> list[OrderUpdate]:
        self.snapshots += 1
        out: list[OrderUpdate] = []
        seen_open: set[int] = set()
        for r in reports:
            up = self._apply_report(r, now, in_snapshot=True)
            if up is None:
                continue
            out.append(up)
            if r.exec_type != "trade" and up.order.is_open:
                seen_open.add(id(up.order))
        for o in self._orders:
            if not o.is_open or id(o) in seen_open:
                continue
            old = o.status
            if o.order_id is None:
                o.status, o.reason = OrderStatus.REJECTED, "not on the exchange after reconnect"
            elif o.order_qty is not None and o.cum_qty >= o.order_qty:
                o.status, o.reason = OrderStatus.FILLED, "filled while disconnected"
            else:
                o.status, o.reason = OrderStatus.CLOSED, "left the book while disconnected"
            o.inferred = True
            o.updated_at = now
            out.append(OrderUpdate(o, old))
        self._prune()
        return out

    def _find(self, r: ExecutionReport) -> Order | None:
        o = self._by_id.get(r.order_id)
        if o is not None:
            return o
        if r.cl_ord_id is not None:
            cand = self._by_cl.get(r.cl_ord_id)
            # A cl_ord_id names one *open* order; a closed order may see it reused.
            if cand is not None and (cand.order_id is None or cand.order_id == r.order_id):
                return cand
        return None

    def _apply_report(self, r: ExecutionReport, now: float, in_snapshot: bool) -> OrderUpdate | None:
        # An open order in a snapshot is the exchange's word on its status now.
        authoritative = in_snapshot and r.exec_type != "trade"
        fill = None
        if r.exec_type == "trade":
            if r.exec_id is not None:
                if r.exec_id in self._exec_ids:
                    return None  # already counted (a snapshot repeating a fill we saw live)
                _remember(self._exec_ids, r.exec_id)
            fill = _fill_of(r)
        o = self._find(r)
        old: OrderStatus | None
        if o is None:
            if fill is not None and in_snapshot:
                # History (snap_trades) of an order closed before we started: a fill, not an order.
                self._record_fill(fill)
                return None
            o = Order(r.cl_ord_id, created_at=now, age_anchor=now)
            old = None
            self._insert(o)
        else:
            old = o.status
        self._link(o, r.order_id)
        _merge_fields(o, r)
        if fill is not None:
            o.fills.append(fill)
            self._record_fill(fill)
            if r.cum_qty is None:
                o.cum_qty += fill.qty
            if r.cum_cost is None and fill.cost is not None:
                o.cum_cost += fill.cost
            for fee in fill.fees:
                o.fees[fee.asset] = o.fees.get(fee.asset, ZERO) + fee.qty
        if r.exec_type == "amended" or r.exec_type == "restated":
            o.amended = True
            o.age_anchor = now
        new = _status(r.order_status) or (_FROM_EXEC_TYPE.get(r.exec_type) if r.exec_type else None)
        if new is not None and (o.inferred or authoritative or _RANK[new] >= _RANK[o.status]):
            if not (o.status.terminal and new.terminal and not o.inferred):
                o.status = new  # the first terminal status wins; a later one (late report) does not
            o.inferred = False
        if r.reason is not None and o.status.terminal:
            o.reason = r.reason
        o.updated_at = now
        return OrderUpdate(o, old, fill)

    # ---------------------------------------------------------------- bookkeeping

    def _record_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        if len(self.fills) > self.keep_closed:
            del self.fills[: len(self.fills) - self.keep_closed]

    def _insert(self, o: Order) -> None:
        self._orders.append(o)
        if o.cl_ord_id is not None:
            self._by_cl[o.cl_ord_id] = o
        if o.order_id is not None:
            self._by_id[o.order_id] = o

    def _link(self, o: Order, order_id: str) -> None:
        if order_id and o.order_id != order_id:
            o.order_id = order_id
            self._by_id[order_id] = o

    def _prune(self) -> None:
        closed = [o for o in self._orders if not o.is_open]
        extra = len(closed) - self.keep_closed
        if extra <= 0:
            return
        drop = {id(o) for o in closed[:extra]}
        self._orders = [o for o in self._orders if id(o) not in drop]
        self._by_id = {k: v for k, v in self._by_id.items() if id(v) not in drop}
        self._by_cl = {k: v for k, v in self._by_cl.items() if id(v) not in drop}


SEEN_IDS_LIMIT = 20_000
"""Exec and ledger ids remembered for de-duplication; a snapshot repeats at most the last 50 fills."""


def _remember(seen: dict[str, None], key: str) -> None:
    seen[key] = None
    if len(seen) > SEEN_IDS_LIMIT:
        for old in list(seen)[: SEEN_IDS_LIMIT // 2]:
            del seen[old]


def _fill_of(r: ExecutionReport) -> Fill:
    qty = r.last_qty if r.last_qty is not None else ZERO
    price = r.last_price if r.last_price is not None else ZERO
    return Fill(
        r.exec_id,
        r.order_id,
        r.symbol,
        r.side,
        qty,
        price,
        r.cost if r.cost is not None else qty * price,
        r.fees or (),
        r.liquidity_ind,
        r.trade_id,
        r.timestamp,
    )


def _merge_fields(o: Order, r: ExecutionReport) -> None:
    """Copy what a (sparse) report carries; absent fields keep what we had."""
    if r.cl_ord_id is not None and o.cl_ord_id is None:
        o.cl_ord_id = r.cl_ord_id
    for name in ("symbol", "side", "order_type", "order_qty", "limit_price", "timestamp"):
        v = getattr(r, name)
        if v is not None:
            setattr(o, name, v)
    if r.time_in_force is not None:
        o.time_in_force = r.time_in_force.lower()  # executions says GTC, add_order takes gtc
    if r.post_only is not None:
        o.post_only = r.post_only
    if r.reduce_only is not None:
        o.reduce_only = r.reduce_only
    # Cumulative figures never go back: a stale snapshot must not undo a fill seen live.
    if r.cum_qty is not None and r.cum_qty > o.cum_qty:
        o.cum_qty = r.cum_qty
    if r.cum_cost is not None and r.cum_cost > o.cum_cost:
        o.cum_cost = r.cum_cost
    if r.avg_price is not None:
        o.reported_avg_price = r.avg_price
    if r.fee_usd_equiv is not None:
        o.fee_usd_equiv = r.fee_usd_equiv
    if r.amended:
        o.amended = True


# ====================================================================== balances


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """One asset's balance moved (from a ledger entry or a snapshot)."""

    asset: str
    balance: Decimal
    amount: Decimal | None = None
    fee: Decimal | None = None
    ref_id: str | None = None


class Balances:
    """Balances per asset, from the ``balances`` snapshot plus one ledger entry per update."""

    def __init__(self) -> None:
        self.totals: dict[str, Decimal] = {}
        self.wallets: dict[tuple[str, str, str], Decimal] = {}
        self._ledger_ids: dict[str, None] = {}
        self.sequence: int | None = None
        self.sequence_gaps = 0
        self.snapshots = 0

    def get(self, asset: str) -> Decimal:
        """The total balance of ``asset`` (zero if unknown)."""
        return self.totals.get(asset, ZERO)

    def as_dict(self) -> Mapping[str, Decimal]:
        """Every asset's total balance."""
        return dict(self.totals)

    def apply(self, msg: BalancesMessage) -> list[BalanceChange]:
        """Merge one message: a snapshot replaces everything; an update applies ledger entries once."""
        out: list[BalanceChange] = []
        if msg.snapshot:
            self.snapshots += 1
            self.totals.clear()
            self.wallets.clear()
            for e in msg.entries:
                self.totals[e.asset] = e.balance
                for w in e.wallets:
                    self.wallets[(e.asset, w.type, w.id)] = w.balance
                out.append(BalanceChange(e.asset, e.balance))
            self.sequence = msg.sequence
            return out
        if msg.sequence is not None and self.sequence is not None and msg.sequence != self.sequence + 1:
            self.sequence_gaps += 1
        if msg.sequence is not None:
            self.sequence = msg.sequence
        for e in msg.entries:
            if e.ledger_id is not None:
                if e.ledger_id in self._ledger_ids:
                    continue
                _remember(self._ledger_ids, e.ledger_id)
            if e.wallet_type is not None and e.wallet_id is not None:
                # ``balance`` is the wallet's balance after this entry; the total is over wallets.
                self.wallets[(e.asset, e.wallet_type, e.wallet_id)] = e.balance
                self.totals[e.asset] = sum((v for (a, _, _), v in self.wallets.items() if a == e.asset), ZERO)
            else:
                self.totals[e.asset] = e.balance
            out.append(BalanceChange(e.asset, self.totals[e.asset], e.amount, e.fee, e.ref_id))
        return out


# ====================================================================== rate counter


@dataclass(frozen=True, slots=True)
class Tier:
    """One verification tier's trading-counter numbers (PROTOCOL.md §2.7)."""

    name: str
    decay_per_s: float
    threshold: float
    max_open_orders: int


TIERS: dict[str, Tier] = {
    "starter": Tier("starter", 1.0, 60.0, 60),
    "intermediate": Tier("intermediate", 2.34, 125.0, 80),
    "pro": Tier("pro", 3.75, 180.0, 225),
}

# (age below which the penalty applies, penalty); the first row whose bound is not reached wins.
_AMEND_PENALTY = ((5.0, 3), (10.0, 2), (15.0, 1))
_EDIT_PENALTY = ((5.0, 6), (10.0, 5), (15.0, 4), (45.0, 2), (90.0, 1))
_CANCEL_PENALTY = ((5.0, 8), (10.0, 6), (15.0, 5), (45.0, 4), (90.0, 2), (300.0, 1))


def _penalty(table: tuple[tuple[float, int], ...], age_s: float) -> int:
    for bound, cost in table:
        if age_s < bound:
            return cost
    return 0


def add_cost() -> float:
    """add_order: a fixed +1."""
    return 1.0


def amend_cost(age_s: float) -> float:
    """amend_order: +1 plus 3/2/1 for an order younger than 5/10/15 s."""
    return 1.0 + _penalty(_AMEND_PENALTY, age_s)


def edit_cost(age_s: float) -> float:
    """edit_order: +1 plus 6/5/4/2/1 for an order younger than 5/10/15/45/90 s."""
    return 1.0 + _penalty(_EDIT_PENALTY, age_s)


def cancel_cost(age_s: float) -> float:
    """cancel_order: 8/6/5/4/2/1 for an order younger than 5/10/15/45/90/300 s."""
    return float(_penalty(_CANCEL_PENALTY, age_s))


def batch_add_cost(n: int) -> float:
    """batch_add of ``n`` orders: n/2."""
    return n / 2


def batch_cancel_cost(ages_s: Iterable[float]) -> float:
    """batch_cancel: the cancel penalty of each order."""
    return sum(cancel_cost(a) for a in ages_s)


@dataclass(frozen=True, slots=True)
class RateRefusal:
    """Why the meter refused a request, and when it would pass."""

    symbol: str
    value: float
    cost: float
    limit: float
    threshold: float
    wait_s: float

    def one_line(self) -> str:
        """For the caller's error and the status bar."""
        return (
            f"{self.symbol} rate counter {self.value:.1f} + {self.cost:g} would pass {self.limit:.1f} "
            f"(Kraken refuses above {self.threshold:g}); retry in {self.wait_s:.1f}s"
        )


class RateMeter:
    """Kraken's per-pair trading rate counter, modelled from the published table (PROTOCOL.md §2.7).

    The counter rises by each request's cost and decays continuously at the
    tier's rate. We charge when we send and Kraken when it receives, so our
    copy decays a little earlier than the exchange's; ``headroom_s`` seconds
    of decay are kept in reserve to cover that lag, and age penalties are
    counted from our ack (never older than the exchange's view). The meter
    therefore refuses before Kraken would answer ``EOrder:Rate limit exceeded``.
    """

    def __init__(self, tier: str = "intermediate", headroom_s: float = 1.0, warn_at: float = 0.8) -> None:
        self.tier = TIERS[tier]
        self.headroom_s = headroom_s
        self.warn_at = warn_at
        self._value: dict[str, tuple[float, float]] = {}

    @property
    def limit(self) -> float:
        """The highest counter we let a request reach."""
        return self.tier.threshold - self.tier.decay_per_s * self.headroom_s

    def set_tier(self, name: str) -> None:
        """Switch tier (values already charged are kept)."""
        self.tier = TIERS[name]

    def set_threshold(self, maxratecount: int | float | Decimal) -> None:
        """Pick the tier from the ``maxratecount`` of the executions ack (60, 125 or 180)."""
        for t in TIERS.values():
            if t.threshold == float(maxratecount):
                self.tier = t
                return

    def value(self, symbol: str, now: float) -> float:
        """The counter of ``symbol`` at ``now``."""
        v, at = self._value.get(symbol, (0.0, now))
        return max(0.0, v - self.tier.decay_per_s * max(0.0, now - at))

    def level(self, symbol: str, now: float) -> float:
        """The counter as a fraction of Kraken's threshold (for a meter on screen)."""
        return self.value(symbol, now) / self.tier.threshold

    def warning(self, symbol: str, now: float) -> bool:
        """True when the counter is high enough to show a warning."""
        return self.level(symbol, now) >= self.warn_at

    def check(self, symbol: str, cost: float, now: float) -> RateRefusal | None:
        """``None`` if a request costing ``cost`` may go now, else why not."""
        v = self.value(symbol, now)
        if v + cost <= self.limit:
            return None
        wait = (v + cost - self.limit) / self.tier.decay_per_s
        return RateRefusal(symbol, v, cost, self.limit, self.tier.threshold, wait)

    def charge(self, symbol: str, cost: float, now: float) -> None:
        """Count a request that was sent (Kraken charges the fixed part even when it refuses)."""
        self._value[symbol] = (self.value(symbol, now) + cost, now)

    def saturate(self, symbol: str, now: float) -> None:
        """Kraken said ``EOrder:Rate limit exceeded``: our copy was low; assume the counter is full."""
        self._value[symbol] = (max(self.value(symbol, now), self.tier.threshold), now)
