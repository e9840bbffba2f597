"""Seeded synthetic order flow for one symbol: a market that moves and churns.

Each :meth:`SyntheticFlow.step` performs exactly one engine operation inside an
open ``begin()``/``end()`` bracket: a limit order arriving near the touch (or
deep in the book), a cancel (biased to the top levels), or a marketable order
with a heavy-tailed size. A fair price wanders underneath and marketable flow
leans towards it, so the mid follows. Occasional bursts are sweeps in one
direction. Everything is drawn from one ``random.Random`` per symbol, so the
sequence of operations depends only on the seed and the number of steps.
"""

from __future__ import annotations

import random

from havterm.sim.ids import IdFactory
from havterm.sim.instruments import Instrument
from havterm.sim.matching import ASK, BID, MatchingEngine

TARGET_ORDERS_PER_SIDE = 2400
"""Resting synthetic orders per side; enough for a full depth-1000 window."""

DEEP_SPAN_TICKS = 3000
"""Deep arrivals land uniformly within this many ticks of the fair price."""


def pulled_to_mid(fair: int, mid: int) -> int:
    """The fair price after one step's gentle pull towards the mid: 1/64 of the gap, rounded toward zero.

    Symmetric on purpose. Floor division (``(mid - fair) // 64``) pulls down by a
    tick whenever the mid sits a little below fair and never up, and the demo's
    market drifted down for as long as it ran.
    """
    return fair + int((mid - fair) / 64)


class SyntheticFlow:
    """The synthetic traders of one symbol."""

    def __init__(
        self,
        inst: Instrument,
        seed: int,
        ids: IdFactory,
        orders_per_side: int = TARGET_ORDERS_PER_SIDE,
        deep_span: int = DEEP_SPAN_TICKS,
    ) -> None:
        self.inst = inst
        # A venue that needs no depth-1000 window (Futures) keeps a smaller book: cheaper to seed.
        self.orders_per_side = orders_per_side
        self.deep_span = deep_span
        # str seeds hash deterministically in random.Random (unlike hash()).
        self.rng = random.Random(f"havterm-sim/{seed}/{inst.symbol}")
        self.ids = ids
        self.fair = inst.start_price
        self.burst_left = 0
        self.burst_side = BID
        self._mine: list[str] = []  # synthetic order ids, cleaned lazily
        self.steps = 0

    # -- sizes and prices ---------------------------------------------------

    def _limit_size(self) -> int:
        q = int(self.inst.typical_qty * self.rng.lognormvariate(-0.5, 1.0))
        return max(self.inst.qty_min, q)

    def _taker_size(self) -> int:
        # Pareto(alpha=1.3): most trades are small, a few are very large.
        q = int(self.inst.typical_qty * 0.3 * self.rng.paretovariate(1.3))
        return max(self.inst.qty_min, min(q, self.inst.typical_qty * 200))

    def _limit_price(self, side: int) -> int:
        if self.rng.random() < 0.7:
            dist = 1 + int(self.rng.expovariate(1 / 6))
        else:
            dist = 1 + self.rng.randrange(self.deep_span)
        price = self.fair - dist if side == BID else self.fair + dist
        return max(1, price)

    # -- seeding ----------------------------------------------------------

    def seed_book(self, engine: MatchingEngine, ts_ns: int) -> None:
        """Fill both sides so that every depth window starts full."""
        engine.begin(ts_ns)
        for side in (BID, ASK):
            for dist in range(1, 40):
                if self.rng.random() < 0.7:
                    for _ in range(1 + self.rng.randrange(3)):
                        self._place(engine, side, self._price_at(side, dist), self._limit_size())
            have = sum(len(lv.orders) for lv in engine.sides[side].levels.values())
            for _ in range(self.orders_per_side - have):
                dist = 40 + self.rng.randrange(self.deep_span)
                self._place(engine, side, self._price_at(side, dist), self._limit_size())
        engine.end()

    def _price_at(self, side: int, dist: int) -> int:
        return max(1, self.fair - dist if side == BID else self.fair + dist)

    def _place(self, engine: MatchingEngine, side: int, price: int, qty: int, **kw: object) -> None:
        oid = self.ids.next()
        res = engine.submit(oid, side, qty, price=price, **kw)  # type: ignore[arg-type]
        if res.rested:
            self._mine.append(oid)

    # -- one step ---------------------------------------------------------

    def step(self, engine: MatchingEngine) -> None:
        """Perform one operation on ``engine`` (an op must be open)."""
        rng = self.rng
        self.steps += 1
        bb, ba = engine.best_bid(), engine.best_ask()
        mid = (bb.price + ba.price) // 2 if bb and ba else self.fair
        # Wandering fair price, gently pulled back to the mid so the two never part.
        if rng.random() < 0.08:
            self.fair += rng.choice((-1, 1)) * (1 + int(rng.expovariate(1.0)))
        self.fair = pulled_to_mid(self.fair, mid)
        # A faint pull towards the listing price keeps hours-long demos in range.
        if rng.random() < 0.01:
            start = self.inst.start_price
            self.fair += (start > self.fair) - (start < self.fair)
        self.fair = max(self.fair, max(2, self.inst.start_price // 10))
        if self.burst_left == 0 and rng.random() < 0.002:
            self.burst_left = 20 + rng.randrange(180)
            self.burst_side = BID if rng.random() < 0.5 else ASK
        n = len(engine.orders)
        p_taker = 0.06
        if self.burst_left:
            self.burst_left -= 1
            p_taker = 0.3
        p_cancel = 0.42 * n / (2 * self.orders_per_side)
        r = rng.random()
        if r < p_taker:
            self._taker(engine, mid)
        elif r < p_taker + p_cancel and self._cancel(engine):
            pass
        else:
            # Lean new liquidity towards the thinner side so both stay deep.
            nb, na = len(engine.sides[BID].levels), len(engine.sides[ASK].levels)
            lean = max(-0.2, min(0.2, (na - nb) / max(1, na + nb) * 2))
            side = BID if rng.random() < 0.5 + lean else ASK
            self._place(engine, side, self._limit_price(side), self._limit_size())
        if len(self._mine) > 4 * self.orders_per_side:
            orders = engine.orders
            self._mine = [i for i in self._mine if i in orders]

    def _taker(self, engine: MatchingEngine, mid: int) -> None:
        rng = self.rng
        if self.burst_left:
            side = self.burst_side
        else:
            lean = max(-0.3, min(0.3, (self.fair - mid) / 40))
            side = BID if rng.random() < 0.5 + lean else ASK
        qty = self._taker_size()
        oid = self.ids.next()
        if rng.random() < 0.7:
            engine.submit(oid, side, qty, order_type="market", tif="ioc")
        else:
            # An aggressive limit a few ticks through the touch; the rest rests.
            opp = engine.sides[1 - side].best()
            ref = opp.price if opp else mid
            off = 1 + rng.randrange(5)
            price = ref + off if side == BID else max(1, ref - off)
            res = engine.submit(oid, side, qty, price=price)
            if res.rested:
                self._mine.append(oid)

    def _cancel(self, engine: MatchingEngine) -> bool:
        rng = self.rng
        orders = engine.orders
        if rng.random() < 0.5:
            # Churn at the top: cancel from one of the best ten levels.
            bs = engine.sides[BID if rng.random() < 0.5 else ASK]
            if len(bs.levels):
                lvl = bs.levels.peekitem(rng.randrange(min(10, len(bs.levels))))[1]
                cands = [o for o in lvl.orders.values() if o.owner is None]
                if cands:
                    engine.cancel(cands[rng.randrange(len(cands))].order_id)
                    return True
        mine = self._mine
        for _ in range(8):
            if not mine:
                return False
            i = rng.randrange(len(mine))
            oid = mine[i]
            mine[i] = mine[-1]
            mine.pop()
            if oid in orders:
                engine.cancel(oid)
                return True
        return False
