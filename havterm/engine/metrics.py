"""Rolling message rates and latency percentiles, with time passed in.

Both keep fixed-size memory whatever the message rate: the rate meter counts
into one-second buckets, and the latency window keeps the last N samples in
a ring and sorts a copy only when asked for percentiles.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque


class RateMeter:
    """Events per second over a rolling window of whole seconds."""

    __slots__ = ("_buckets", "_window", "total")

    def __init__(self, window_s: int = 5) -> None:
        self._window = window_s
        self._buckets: deque[list[int]] = deque()  # [second, count]
        self.total = 0

    def add(self, now: float, n: int = 1) -> None:
        """Count ``n`` events at time ``now`` (seconds)."""
        sec = int(now)
        buckets = self._buckets
        if buckets and buckets[-1][0] == sec:
            buckets[-1][1] += n
        else:
            buckets.append([sec, n])
            while buckets and buckets[0][0] <= sec - self._window:
                buckets.popleft()
        self.total += n

    def rate(self, now: float) -> float:
        """Events per second over the last full window ending at ``now``."""
        sec = int(now)
        lo = sec - self._window
        count = sum(c for s, c in self._buckets if lo <= s < sec)
        # The current, unfinished second counts only once it has begun to fill.
        current = sum(c for s, c in self._buckets if s == sec)
        span = self._window + (now - sec)
        return (count + current) / span if span > 0 else 0.0


LATENCY_BUCKETS_MS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0)
"""Histogram bounds for exported latencies (milliseconds)."""


class LatencyWindow:
    """The last ``size`` samples (milliseconds) and their percentiles.

    With ``enable_histogram()`` it also keeps cumulative bucket counts over
    every sample ever added (for Prometheus); off by default, so the hot path
    pays for it only when metrics are exported.
    """

    __slots__ = ("_bounds", "_counts", "_samples", "count", "total")

    def __init__(self, size: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._bounds: tuple[float, ...] | None = None
        self._counts: list[int] = []
        self.count = 0
        self.total = 0.0

    def enable_histogram(self, bounds: tuple[float, ...] = LATENCY_BUCKETS_MS) -> None:
        """Start counting samples into cumulative buckets."""
        if self._bounds is None:
            self._bounds = bounds
            self._counts = [0] * (len(bounds) + 1)

    def add(self, value_ms: float) -> None:
        """Record one sample."""
        self._samples.append(value_ms)
        bounds = self._bounds
        if bounds is not None:
            self._counts[bisect_left(bounds, value_ms)] += 1
            self.count += 1
            self.total += value_ms

    def histogram(self) -> list[tuple[str, int]]:
        """Cumulative ``(le, count)`` pairs ending with ``+Inf``; empty when not enabled."""
        if self._bounds is None:
            return []
        out: list[tuple[str, int]] = []
        running = 0
        for bound, n in zip((*map(str, self._bounds), "+Inf"), self._counts, strict=True):
            running += n
            out.append((bound, running))
        return out

    def __len__(self) -> int:
        return len(self._samples)

    def percentiles(self, *ps: float) -> tuple[float | None, ...]:
        """Nearest-rank percentiles (0-100) of the window; None when empty."""
        if not self._samples:
            return tuple(None for _ in ps)
        data = sorted(self._samples)
        n = len(data)
        return tuple(data[min(n - 1, max(0, round(p / 100 * n + 0.5) - 1))] for p in ps)
