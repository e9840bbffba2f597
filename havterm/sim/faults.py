"""Fault injection: a ``name=value,...`` spec, global or per connection, switchable at runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

PROBABILITIES = ("drop", "duplicate", "reorder", "corrupt_checksum", "silent_subscription", "ack_drop")
DURATIONS = (
    "delay_ms",
    "disconnect_every",
    "maintenance_after",
    "msg_rate_limit",
    "ack_delay_ms",
    "token_ttl",
)
CLOSE_CODES = (1001, 1006, None)


class FaultSpecError(ValueError):
    """A ``--faults`` spec that cannot be understood; the message is one line for users."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """What to break. Zero means off. Probabilities are per frame or per subscription."""

    drop: float = 0.0  # data frames silently not sent
    duplicate: float = 0.0  # data frames sent twice
    reorder: float = 0.0  # data frame held back and sent after the next one
    corrupt_checksum: float = 0.0  # book/level3 frame with a wrong checksum
    delay_ms: float = 0.0  # every frame leaves this late (order kept)
    disconnect_every: float = 0.0  # seconds between forced disconnects
    close_code: int | None = 1001  # 1001 close frame; 1006 abort; None: TCP close, no frame
    silent_subscription: float = 0.0  # acked subscriptions that never send data
    maintenance_after: float = 0.0  # seconds after start until system=maintenance
    msg_rate_limit: float = 0.0  # client messages/s before "Exceeded msg rate"
    ack_delay_ms: float = 0.0  # trading responses leave this late
    ack_drop: float = 0.0  # trading responses lost (the order still goes ahead)
    token_ttl: float = 900.0  # seconds a fresh WebSocket token stays usable

    @property
    def frame_faults(self) -> bool:
        """Whether any per-frame fault is on (the writer's fast path checks this)."""
        return bool(self.drop or self.duplicate or self.reorder or self.corrupt_checksum or self.delay_ms)

    def spec_string(self) -> str:
        """The non-default settings as a ``--faults`` string."""
        default = FaultSpec()
        parts = []
        for f in fields(self):
            v = getattr(self, f.name)
            if v != getattr(default, f.name):
                parts.append(f"{f.name}={'none' if v is None else v}")
        return ",".join(parts)


def _coerce(name: str, value: Any) -> Any:
    if name == "close_code":
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return None
        try:
            code = int(value)
        except (TypeError, ValueError):
            raise FaultSpecError(f"close_code must be 1001, 1006 or none, not {value!r}") from None
        if code not in (1001, 1006):
            raise FaultSpecError(f"close_code must be 1001, 1006 or none, not {value!r}")
        return code
    if name not in PROBABILITIES and name not in DURATIONS:
        known = ", ".join((*PROBABILITIES, *DURATIONS, "close_code"))
        raise FaultSpecError(f"unknown fault {name!r} (known: {known})")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise FaultSpecError(f"{name} needs a number, not {value!r}") from None
    if x != x or x < 0 or x == float("inf"):
        raise FaultSpecError(f"{name} must be a finite number >= 0, not {value!r}")
    if name in PROBABILITIES and x > 1:
        raise FaultSpecError(f"{name} is a probability and must be between 0 and 1, not {value!r}")
    return x


def parse_faults(spec: str, base: FaultSpec | None = None) -> FaultSpec:
    """Parse ``"drop=0.01,close_code=1006"``; raise :class:`FaultSpecError` on any mistake."""
    changes: dict[str, Any] = {}
    for raw_item in spec.split(","):
        item = raw_item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not value.strip():
            raise FaultSpecError(f"expected name=value, got {item!r}")
        changes[name] = _coerce(name, value.strip())
    return replace(base or FaultSpec(), **changes)


def apply_changes(base: FaultSpec, **changes: Any) -> FaultSpec:
    """``base`` with keyword changes, validated like the spec string."""
    return replace(base, **{k: _coerce(k, v) for k, v in changes.items()})


class FaultController:
    """Global faults plus per-connection overrides; tells the exchange when they change."""

    def __init__(self, spec: FaultSpec | None = None) -> None:
        self.global_spec = spec or FaultSpec()
        self._overrides: dict[int, dict[str, Any]] = {}
        self._effective: dict[int, FaultSpec] = {}
        self.on_change: Callable[[int | None], None] = lambda cid: None
        # Actions the exchange provides (set by it); callable from tests.
        self.disconnect: Callable[[int, int | None], None] = lambda cid, code: None

    def for_connection(self, cid: int) -> FaultSpec:
        """The faults in force on connection ``cid``."""
        return self._effective.get(cid, self.global_spec)

    def set(self, spec: str | FaultSpec | None = None, **changes: Any) -> FaultSpec:
        """Change the global faults (a spec string, a FaultSpec, and/or keywords)."""
        base = self.global_spec
        if isinstance(spec, str):
            base = parse_faults(spec, base)
        elif isinstance(spec, FaultSpec):
            base = spec
        self.global_spec = apply_changes(base, **changes)
        self._recompute()
        self.on_change(None)
        return self.global_spec

    def set_connection(self, cid: int, spec: str | None = None, **changes: Any) -> FaultSpec:
        """Override faults on one connection (by its status ``connection_id``)."""
        ov = self._overrides.setdefault(cid, {})
        if spec:
            parsed = parse_faults(spec)
            default = FaultSpec()
            ov.update(
                {
                    f.name: getattr(parsed, f.name)
                    for f in fields(parsed)
                    if getattr(parsed, f.name) != getattr(default, f.name)
                }
            )
        for k, v in changes.items():
            ov[k] = _coerce(k, v)
        self._recompute()
        self.on_change(cid)
        return self._effective[cid]

    def clear(self, cid: int | None = None) -> None:
        """Remove one connection's overrides, or (``None``) every fault."""
        if cid is None:
            self._overrides.clear()
            self.global_spec = FaultSpec()
        else:
            self._overrides.pop(cid, None)
        self._recompute()
        self.on_change(cid)

    def forget(self, cid: int) -> None:
        """Drop state for a closed connection."""
        self._overrides.pop(cid, None)
        self._effective.pop(cid, None)

    def _recompute(self) -> None:
        self._effective = {cid: replace(self.global_spec, **ov) for cid, ov in self._overrides.items()}
