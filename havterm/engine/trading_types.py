"""The trading layer's vocabulary: errors, configuration, order specs and results (no I/O, no state).

``trading.Trader`` speaks it; everything here is re-exported from
``havterm.engine.trading``, so callers import from there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

RATE_LIMIT_ERROR = "EOrder:Rate limit exceeded"
ORDER_TYPES = ("limit", "market")
TIME_IN_FORCE = ("gtc", "gtd", "ioc", "fok")


class TradingError(Exception):
    """A trading request failed; ``error`` is Kraken's error string (or ours, prefixed ``havterm:``)."""

    def __init__(self, method: str, error: str, detail: str = "") -> None:
        self.method = method
        self.error = error
        self.detail = detail
        super().__init__(f"{method}: {error}" + (f" ({detail})" if detail else ""))


class NotReady(TradingError):
    """Not connected and reconciled on the authenticated endpoint: nothing was sent."""


class LocalRateLimit(TradingError):
    """The rate meter refused the request before Kraken would have: nothing was sent."""


class AckTimeout(TradingError):
    """No response in time; for new orders a compensating cancel by ``cl_ord_id`` was sent."""


class Disconnected(TradingError):
    """The connection dropped before the response; the outcome came from the next snapshot."""


@dataclass(frozen=True)
class TraderConfig:
    """Timeouts (seconds), the rate-meter tier and the pre-trade checks; see each use in ``Trader``."""

    ack_timeout_s: float = 5.0
    reconnect_timeout_s: float = 30.0
    tier: str = "intermediate"  # replaced by the executions ack's maxratecount when it arrives
    headroom_s: float = 1.0
    require_synced_book: bool = True  # no new order or amend on a book we cannot trust
    max_notional: Decimal | None = None  # quote currency, per order
    price_band: Decimal | None = None  # a fraction of mid, e.g. Decimal("0.05") for 5 %


@dataclass(frozen=True)
class AddOrderResult:
    """An accepted order (accepted, not yet live: watch ``trader.orders``)."""

    order_id: str
    cl_ord_id: str
    warnings: tuple[str, ...] = ()
    reconciled: bool = False  # the ack was lost to a disconnect; the snapshot showed the order


@dataclass(frozen=True)
class OrderError:
    """One order of a batch that the exchange refused."""

    cl_ord_id: str
    error: str


@dataclass(frozen=True)
class AmendResult:
    """An accepted amend (the ids stay the same)."""

    amend_id: str
    order_id: str | None
    cl_ord_id: str | None


@dataclass(frozen=True)
class EditResult:
    """An accepted cancel-and-replace: a new order id."""

    order_id: str
    original_order_id: str


@dataclass(frozen=True)
class CancelResult:
    """Which ids were cancelled, and the errors of those that were not."""

    cancelled: tuple[str, ...]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeadManSwitch:
    """The dead man's switch as the exchange reports it (``trigger_time`` "0": disarmed)."""

    current_time: str
    trigger_time: str

    @property
    def armed(self) -> bool:
        """True while a trigger time is set."""
        return bool(self.trigger_time) and self.trigger_time != "0"


@dataclass(frozen=True)
class RateStatus:
    """One pair's trading rate counter as we model it: refused above ``limit``; Kraken's is ``threshold``."""

    value: float
    limit: float
    threshold: float
    warning: bool


@dataclass(frozen=True)
class OrderSpec:
    """One order for ``add_order`` or ``batch_add``; checked locally before anything is sent."""

    side: str
    qty: Decimal
    price: Decimal | None = None
    order_type: str = "limit"
    time_in_force: str = "gtc"
    post_only: bool = False
    reduce_only: bool = False
    expire_time: datetime | str | None = None
    stp_type: str | None = None

    def params(self) -> dict[str, Any]:
        """The request fields (no symbol, token or cl_ord_id); raises ``ValueError`` for a bad order."""
        if self.side not in ("buy", "sell"):
            raise ValueError(f"side must be buy or sell, not {self.side!r}")
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"order_type must be one of {', '.join(ORDER_TYPES)}, not {self.order_type!r}")
        if self.time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"time_in_force must be one of {', '.join(TIME_IN_FORCE)}")
        qty = _decimal(self.qty, "qty")
        if qty <= 0:
            raise ValueError("qty must be positive")
        p: dict[str, Any] = {"order_type": self.order_type, "side": self.side, "order_qty": qty}
        if self.order_type == "limit":
            if self.price is None:
                raise ValueError("a limit order needs a price")
            price = _decimal(self.price, "price")
            if price <= 0:
                raise ValueError("price must be positive")
            p["limit_price"] = price
        else:
            if self.price is not None:
                raise ValueError("a market order takes no price")
            if self.post_only:
                raise ValueError("post_only is for limit orders only")
            if self.time_in_force in ("gtd", "fok"):
                raise ValueError(f"{self.time_in_force} is for limit orders only")
        if self.time_in_force != "gtc":
            p["time_in_force"] = self.time_in_force
        if self.time_in_force == "gtd":
            if self.expire_time is None:
                raise ValueError("a gtd order needs expire_time")
            p["expire_time"] = _rfc3339(self.expire_time)
        elif self.expire_time is not None:
            raise ValueError("expire_time is for gtd orders only")
        if self.post_only:
            p["post_only"] = True
        if self.reduce_only:
            p["reduce_only"] = True
        if self.stp_type is not None:
            p["stp_type"] = self.stp_type
        return p


def _decimal(v: object, what: str) -> Decimal:
    if isinstance(v, float | bool):
        raise TypeError(f"{what}: floats are not accepted for prices or quantities; pass a Decimal or str")
    if isinstance(v, Decimal):
        d = v
    elif isinstance(v, int | str):
        d = Decimal(v)
    else:
        raise TypeError(f"{what} must be a Decimal, int or str")
    if not d.is_finite():
        raise ValueError(f"{what} must be a finite number")
    return d


def _opt_decimal(v: object, what: str) -> Decimal | None:
    return None if v is None else _decimal(v, what)


def _rfc3339(v: datetime | str) -> str:
    if isinstance(v, str):
        return v
    if v.tzinfo is None:
        raise ValueError("expire_time must be timezone-aware")
    return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # Kraken: to the second


def new_cl_ord_id() -> str:
    """A fresh client order id: a 32-hex short UUID, one of the formats Kraken accepts."""
    return uuid.uuid4().hex
