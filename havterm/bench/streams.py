"""Seeded generators of Kraken-shaped v2 book frames, for benchmarks and soak tests.

The frames are JSON text exactly as Kraken writes it (numbers padded to the
pair's precision) with correct checksums, produced from an independent
``SortedDict`` book, so the engine under test is never its own oracle.
"""

from __future__ import annotations

import random
from itertools import islice

from sortedcontainers import SortedDict

from havterm.engine.checksum import l2_checksum
from havterm.engine.fixed import format_units


class BookStreamGenerator:
    """An exchange-side book at ``depth`` that emits snapshot and update frames.

    Activity is concentrated near the touch (as on Kraken) but reaches every
    level; deletes on a full side carry the refill level in the same message
    and inserts push the worst level out with no delete, as PROTOCOL.md §4.3
    describes.
    """

    def __init__(
        self,
        symbol: str = "BTC/USD",
        depth: int = 10,
        seed: int = 7,
        price_precision: int = 1,
        qty_precision: int = 8,
        mid_ticks: int = 634_000,
    ) -> None:
        self.symbol = symbol
        self.depth = depth
        self.rng = random.Random(seed)
        self.pp = price_precision
        self.qp = qty_precision
        self.bids: SortedDict = SortedDict()  # key: -ticks
        self.asks: SortedDict = SortedDict()  # key: ticks
        # The exchange keeps more than the subscriber sees, so refills exist.
        self.reserve = depth + 20
        for i in range(self.reserve):
            self.bids[-(mid_ticks - 1 - 2 * i)] = self._qty()
            self.asks[mid_ticks + 1 + 2 * i] = self._qty()
        self.time = 1_754_100_000.0

    def _qty(self) -> int:
        r = self.rng.random()
        if r < 0.15:
            return 5100 * self.rng.randint(1, 9)
        return int(self.rng.paretovariate(1.3) * 10**6)

    def _checksum(self) -> int:
        asks = [(k, self.asks[k]) for k in islice(self.asks, 10)]
        bids = [(-k, self.bids[k]) for k in islice(self.bids, 10)]
        return l2_checksum(asks, bids)

    def _levels_json(self, levels: list[tuple[int, int]]) -> str:
        pp, qp = self.pp, self.qp
        return ",".join(
            f'{{"price":{format_units(p, pp)},"qty":{format_units(q, qp)}}}' for p, q in levels
        )

    def _timestamp(self) -> str:
        self.time += self.rng.expovariate(200.0)
        whole = int(self.time)
        micros = int((self.time - whole) * 1e6)
        return f"2026-08-02T03:{(whole // 60) % 60:02d}:{whole % 60:02d}.{micros:06d}Z"

    def snapshot(self) -> str:
        """A snapshot frame of the visible ``depth`` levels."""
        bids = [(-k, self.bids[k]) for k in islice(self.bids, self.depth)]
        asks = [(k, self.asks[k]) for k in islice(self.asks, self.depth)]
        return (
            f'{{"channel":"book","type":"snapshot","data":[{{"symbol":"{self.symbol}",'
            f'"bids":[{self._levels_json(bids)}],"asks":[{self._levels_json(asks)}],'
            f'"checksum":{self._checksum()},"timestamp":"{self._timestamp()}"}}]}}'
        )

    def _index(self) -> int:
        # Mostly near the touch, with a long tail into the deep book.
        return min(int(self.rng.expovariate(1.0 / max(2.0, self.depth / 6))), self.depth - 1)

    def update(self) -> str:
        """One update frame with its checksum."""
        rng = self.rng
        out_b: list[tuple[int, int]] = []
        out_a: list[tuple[int, int]] = []
        for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3))):
            is_bid = rng.random() < 0.5
            side = self.bids if is_bid else self.asks
            sign = -1 if is_bid else 1
            out = out_b if is_bid else out_a
            r = rng.random()
            i = self._index()
            key = side.keys()[i]
            if r < 0.3:
                del side[key]
                out.append((key * sign, 0))
                # the level that re-enters the visible window, in the same message
                if len(side) >= self.depth:
                    refill = side.keys()[self.depth - 1]
                    out.append((refill * sign, side[refill]))
                worst = side.keys()[-1]
                side[worst + rng.randint(1, 3)] = self._qty()  # keep the reserve full
            elif r < 0.75:
                side[key] = self._qty()
                out.append((key * sign, side[key]))
            else:
                nxt = side.keys()[i + 1] if i + 1 < len(side) else key + 3
                if nxt - key > 1:
                    new = key + 1
                    side[new] = self._qty()
                    out.append((new * sign, side[new]))
                    del side[side.keys()[-1]]  # pushed out: no delete is sent
                else:
                    side[key] = self._qty()
                    out.append((key * sign, side[key]))
        return (
            f'{{"channel":"book","type":"update","data":[{{"symbol":"{self.symbol}",'
            f'"bids":[{self._levels_json(out_b)}],"asks":[{self._levels_json(out_a)}],'
            f'"checksum":{self._checksum()},"timestamp":"{self._timestamp()}"}}]}}'
        )

    def frames(self, n: int) -> list[bytes]:
        """A snapshot followed by ``n - 1`` updates, as bytes."""
        out = [self.snapshot().encode()]
        out += [self.update().encode() for _ in range(n - 1)]
        return out
