"""Kraken's per-pair trading rate counter (PROTOCOL.md §2.7): fixed costs, age penalties, decay."""

from __future__ import annotations

import time
from collections.abc import Callable

TIERS: dict[str, tuple[float, float, int]] = {
    # tier: (decay per second, threshold, open orders per pair)
    "starter": (1.0, 60.0, 60),
    "intermediate": (2.34, 125.0, 80),
    "pro": (3.75, 180.0, 225),
}

# (max age in seconds, penalty) rows; the first row whose age bound is not reached applies.
_CANCEL = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))
_AMEND = ((5, 3), (10, 2), (15, 1))
_EDIT = ((5, 6), (10, 5), (15, 4), (45, 2), (90, 1))


def _penalty(table: tuple[tuple[int, int], ...], age: float) -> int:
    for bound, cost in table:
        if age < bound:
            return cost
    return 0


def cancel_cost(age: float) -> int:
    """Counter charge for cancelling an order ``age`` seconds old."""
    return _penalty(_CANCEL, age)


def amend_cost(age: float) -> int:
    """Fixed +1 plus the amend age penalty."""
    return 1 + _penalty(_AMEND, age)


def edit_cost(age: float) -> int:
    """Fixed +1 plus the edit age penalty."""
    return 1 + _penalty(_EDIT, age)


class RateCounter:
    """One counter per pair; decays continuously at the tier's rate."""

    def __init__(self, tier: str = "intermediate", clock: Callable[[], float] = time.monotonic) -> None:
        self.decay, self.threshold, self.max_open = TIERS[tier]
        self.clock = clock
        self._value: dict[str, tuple[float, float]] = {}

    def value(self, symbol: str) -> float:
        """The counter for ``symbol`` now."""
        v, at = self._value.get(symbol, (0.0, self.clock()))
        return max(0.0, v - self.decay * (self.clock() - at))

    def charge(self, symbol: str, cost: float) -> bool:
        """Add ``cost``; ``False`` (and no change) if that would pass the threshold."""
        v = self.value(symbol)
        if v + cost > self.threshold:
            return False
        self._value[symbol] = (v + cost, self.clock())
        return True

    def force(self, symbol: str, cost: float) -> None:
        """Add ``cost`` unconditionally (charges that apply even when refused)."""
        self._value[symbol] = (self.value(symbol) + cost, self.clock())
