"""Rolling message rates and latency percentiles, with time passed in.

Both keep fixed-size memory whatever the message rate: the rate meter counts
into one-second buckets, and the latency window keeps the last N samples in
a ring and sorts a copy only when asked for percentiles.
"""

from __future__ import annotations

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


class LatencyWindow:
    """The last ``size`` samples (milliseconds) and their percentiles."""

    __slots__ = ("_samples",)

    def __init__(self, size: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, value_ms: float) -> None:
        """Record one sample."""
        self._samples.append(value_ms)

    def __len__(self) -> int:
        return len(self._samples)

    def percentiles(self, *ps: float) -> tuple[float | None, ...]:
        """Nearest-rank percentiles (0-100) of the window; None when empty."""
        if not self._samples:
            return tuple(None for _ in ps)
        data = sorted(self._samples)
        n = len(data)
        return tuple(data[min(n - 1, max(0, round(p / 100 * n + 0.5) - 1))] for p in ps)
