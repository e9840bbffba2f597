"""JSON text for the wire: exact fixed-point numbers, Kraken timestamps and envelopes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from havterm.engine.fixed import format_units

_encoder = msgspec.json.Encoder()


def num(units: int, precision: int) -> msgspec.Raw:
    """A JSON number token with exactly ``precision`` decimals (``0.00005100``).

    ``msgspec.Raw`` is spliced into the output verbatim, so trailing zeros
    survive; a float would lose them and break every client checksum.
    """
    return msgspec.Raw(format_units(units, precision).encode("ascii"))


def raw(text: str) -> msgspec.Raw:
    """A JSON number token given as text (``1e-08``, ``0.5``)."""
    return msgspec.Raw(text.encode("ascii"))


def dumps(obj: Any) -> str:
    """Encode a message; key order is insertion order, as built."""
    return _encoder.encode(obj).decode("utf-8")


def now_ns() -> int:
    """Wall-clock time in nanoseconds (one place, so tests can see the source)."""
    return time.time_ns()


def ts_us(ns: int) -> str:
    """RFC3339 with microseconds and ``Z``: ``2026-08-02T03:35:51.660084Z``."""
    sec, rem = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{rem // 1000:06d}Z"


def ts_ns(ns: int) -> str:
    """RFC3339 with nanoseconds, as level3 orders and OHLC use."""
    sec, rem = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{rem:09d}Z"


def ts_s(ns: int) -> str:
    """RFC3339 to the second (``cancel_all_orders_after``'s camelCase keys)."""
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def method_ok(
    method: str,
    result: Any,
    req_id: Any,
    time_in: int,
    *,
    extra: dict[str, Any] | None = None,
) -> str:
    """A success response in Kraken's envelope."""
    msg: dict[str, Any] = {"method": method}
    if req_id is not None:
        msg["req_id"] = req_id
    if result is not None:
        msg["result"] = result
    msg["success"] = True
    if extra:
        msg.update(extra)
    msg["time_in"] = ts_us(time_in)
    msg["time_out"] = ts_us(now_ns())
    return dumps(msg)


def method_error(
    method: str,
    error: str,
    req_id: Any,
    time_in: int,
    *,
    extra: dict[str, Any] | None = None,
) -> str:
    """A failure response: ``success:false`` and a string ``error``."""
    msg: dict[str, Any] = {"error": error, "method": method}
    if req_id is not None:
        msg["req_id"] = req_id
    msg["success"] = False
    if extra:
        msg.update(extra)
    msg["time_in"] = ts_us(time_in)
    msg["time_out"] = ts_us(now_ns())
    return dumps(msg)
