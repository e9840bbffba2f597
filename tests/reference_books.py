"""Naive reference books for stress tests: obviously right, deliberately slow."""

from __future__ import annotations

import random

from havterm.engine.checksum import l2_checksum, l3_checksum
from havterm.engine.events import BookMessage, L3Order, Level, Level3Message


class NaiveBook:
    """An L2 book as two plain dicts, sorted from scratch on every question."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def apply(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        self.apply_levels(bids, asks)
        self.truncate()

    def apply_levels(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for p, q in levels:
                if q == 0:
                    side.pop(p, None)
                else:
                    side[p] = q

    def truncate(self) -> None:
        self.bids = dict(sorted(self.bids.items(), reverse=True)[: self.depth])
        self.asks = dict(sorted(self.asks.items())[: self.depth])

    def sorted_bids(self) -> list[tuple[int, int]]:
        return sorted(self.bids.items(), reverse=True)

    def sorted_asks(self) -> list[tuple[int, int]]:
        return sorted(self.asks.items())

    def checksum(self) -> int:
        return l2_checksum(self.sorted_asks(), self.sorted_bids())


def _level(p: int, q: int, pp: int, qp: int, rng: random.Random) -> Level:
    """A wire level, sometimes written with fewer digits (as a float round-trip does)."""
    ps, qs = pp, qp
    while ps > 0 and p % 10 == 0 and rng.random() < 0.3:
        p //= 10
        ps -= 1
    while qs > 0 and q % 10 == 0 and rng.random() < 0.3:
        q //= 10
        qs -= 1
    return Level(p, ps, q, qs)


class L2StreamGenerator:
    """A seeded stream of snapshots and updates shaped like Kraken's, plus the truth."""

    def __init__(self, seed: int, depth: int, pp: int = 1, qp: int = 8) -> None:
        self.rng = random.Random(seed)
        self.depth = depth
        self.pp, self.qp = pp, qp
        self.mid = 600_000
        self.truth = NaiveBook(depth)
        self.symbol = "TEST/USD"

    def _qty(self) -> int:
        r = self.rng.random()
        if r < 0.1:
            return self.rng.randint(1, 100)
        return int(self.rng.paretovariate(1.5) * 10**6)

    def snapshot(self) -> BookMessage:
        rng = self.rng
        self.truth = NaiveBook(self.depth)
        bids = [(self.mid - 1 - i * rng.randint(1, 3), self._qty()) for i in range(self.depth + 5)]
        asks = [(self.mid + 1 + i * rng.randint(1, 3), self._qty()) for i in range(self.depth + 5)]
        bids = list(dict(bids).items())
        asks = list(dict(asks).items())
        self.truth.apply(bids, asks)
        b = self.truth.sorted_bids()
        a = self.truth.sorted_asks()
        return BookMessage(
            self.symbol,
            True,
            tuple(_level(p, q, self.pp, self.qp, rng) for p, q in b),
            tuple(_level(p, q, self.pp, self.qp, rng) for p, q in a),
            self.truth.checksum(),
        )

    def update(self) -> BookMessage:
        rng = self.rng
        self.mid += rng.choice((-1, 0, 0, 1))
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        n_bids = n_asks = 0
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5))):
            is_bid = rng.random() < 0.5
            side = self.truth.bids if is_bid else self.truth.asks
            out = bids if is_bid else asks
            r = rng.random()
            if r < 0.35 and side:  # delete an existing level (refill comes as an insert)
                p = rng.choice(list(side))
                out.append((p, 0))
                worst = min(side) if is_bid else max(side)
                refill = worst - rng.randint(1, 3) if is_bid else worst + rng.randint(1, 3)
                if refill > 0:
                    out.append((refill, self._qty()))
            elif r < 0.7 and side:  # change an existing level
                out.append((rng.choice(list(side)), self._qty()))
            else:  # insert near the touch, maybe pushing the worst level out
                best_opposite = (
                    (min(self.truth.asks) if self.truth.asks else self.mid + 1)
                    if is_bid
                    else (max(self.truth.bids) if self.truth.bids else self.mid - 1)
                )
                p = best_opposite - rng.randint(1, 20) if is_bid else best_opposite + rng.randint(1, 20)
                if p > 0:
                    out.append((p, self._qty()))
            if rng.random() < 0.05 and out:  # the same price twice in one message
                out.append((out[-1][0], self._qty()))
            # apply as we go (no truncation until the end of the message, as Kraken does)
            # so that a later insert in this message is placed against the current book
            self.truth.apply_levels(bids[n_bids:], asks[n_asks:])
            n_bids, n_asks = len(bids), len(asks)
        self.truth.truncate()
        pp, qp = self.pp, self.qp
        return BookMessage(
            self.symbol,
            False,
            tuple(_level(p, q, pp, qp, rng) for p, q in bids),
            tuple(_level(p, q, pp, qp, rng) for p, q in asks),
            self.truth.checksum(),
        )


class NaiveL3:
    """An L3 book as lists of (order_id, qty) per price, sorted on every question."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.sides: dict[str, dict[int, list[list[object]]]] = {"buy": {}, "sell": {}}

    def find(self, oid: str) -> tuple[str, int, int] | None:
        for s, levels in self.sides.items():
            for p, orders in levels.items():
                for i, (o, _) in enumerate(orders):
                    if o == oid:
                        return s, p, i
        return None

    def truncate(self) -> None:
        b = self.sides["buy"]
        a = self.sides["sell"]
        self.sides["buy"] = {p: b[p] for p in sorted(b, reverse=True)[: self.depth]}
        self.sides["sell"] = {p: a[p] for p in sorted(a)[: self.depth]}

    def levels(self, side: str) -> list[tuple[int, list[int]]]:
        lv = self.sides[side]
        keys = sorted(lv, reverse=(side == "buy"))
        return [(p, [int(q) for _, q in lv[p]]) for p in keys]  # type: ignore[call-overload]

    def checksum(self) -> int:
        return l3_checksum(self.levels("sell"), self.levels("buy"))


class L3StreamGenerator:
    """A seeded level3 stream: adds, modifies (partial fills) and deletes, plus the truth."""

    def __init__(self, seed: int, depth: int, pp: int = 1, qp: int = 8) -> None:
        self.rng = random.Random(seed)
        self.depth = depth
        self.pp, self.qp = pp, qp
        self.truth = NaiveL3(depth)
        self.next_id = 0
        self.mid = 500_000

    def _oid(self) -> str:
        self.next_id += 1
        return f"O{self.next_id:06d}"

    def _order(self, event: str, oid: str, p: int, q: int) -> L3Order:
        return L3Order(oid, p, self.pp, q, self.qp, event)  # type: ignore[arg-type]

    def snapshot(self) -> Level3Message:
        rng = self.rng
        self.truth = NaiveL3(self.depth)
        for side, sign in (("buy", -1), ("sell", 1)):
            for i in range(self.depth + 3):
                p = self.mid + sign * (1 + i * rng.randint(1, 2))
                self.truth.sides[side].setdefault(p, [])
                for _ in range(rng.randint(1, 4)):
                    self.truth.sides[side][p].append([self._oid(), rng.randint(1, 10**8)])
        self.truth.truncate()
        out = {}
        for side in ("buy", "sell"):
            orders = []
            for p, lv in sorted(self.truth.sides[side].items(), reverse=side == "buy"):
                orders += [self._order("", o, p, q) for o, q in lv]  # type: ignore[arg-type]
            out[side] = tuple(orders)
        return Level3Message("T/USD", True, out["buy"], out["sell"], self.truth.checksum())

    def update(self) -> Level3Message:
        rng = self.rng
        events: dict[str, list[L3Order]] = {"buy": [], "sell": []}
        for _ in range(rng.choice((1, 1, 2, 3))):
            side = rng.choice(("buy", "sell"))
            levels = self.truth.sides[side]
            r = rng.random()
            if r < 0.3 and levels:
                p = rng.choice(list(levels))
                i = rng.randrange(len(levels[p]))
                oid, _ = levels[p].pop(i)
                if not levels[p]:
                    del levels[p]
                events[side].append(self._order("delete", oid, p, 0))  # type: ignore[arg-type]
            elif r < 0.55 and levels:
                p = rng.choice(list(levels))
                entry = rng.choice(levels[p])
                entry[1] = rng.randint(1, int(entry[1])) if int(entry[1]) > 1 else 1  # type: ignore[call-overload]
                events[side].append(self._order("modify", entry[0], p, entry[1]))  # type: ignore[arg-type]
            else:
                sign = -1 if side == "buy" else 1
                opp = self.truth.sides["sell" if side == "buy" else "buy"]
                edge = (
                    (min(opp) if opp else self.mid + 1)
                    if side == "buy"
                    else (max(opp) if opp else self.mid - 1)
                )
                p = edge + sign * rng.randint(1, 2 * self.depth + 5)
                oid = self._oid()
                q = rng.randint(1, 10**8)
                levels.setdefault(p, []).append([oid, q])
                events[side].append(self._order("add", oid, p, q))
        self.truth.truncate()
        return Level3Message(
            "T/USD", False, tuple(events["buy"]), tuple(events["sell"]), self.truth.checksum()
        )
