"""Seeded random actions on the matching engine: invariants hold, and the feeds stay exact."""

from __future__ import annotations

import random

from havterm.sim import Exchange
from havterm.sim.matching import ASK, BID, MatchingEngine
from tests.sim.helpers import Client, RefBook, RefL3
from tests.sim.rest_client import get_token


def _random_action(rng: random.Random, n: int) -> object:
    """One random engine action: every order type, amends, cancels, two owners for STP."""

    def act(e: MatchingEngine) -> None:
        bb, ba = e.best_bid(), e.best_ask()
        mid = (bb.price + ba.price) // 2 if bb and ba else 630000
        owner = rng.choice([None, None, "a", "b"])
        side = rng.choice((BID, ASK))
        r = rng.random()
        oid = f"OSTRSS-{n:05d}-XXXXXX"
        if r < 0.35:
            off = rng.randint(-3, 40)
            price = mid - off if side == BID else mid + off
            e.submit(
                oid,
                side,
                rng.randint(1, 3_000_000),
                price=max(1, price),
                owner=owner,
                post_only=rng.random() < 0.1,
                tif=rng.choice(["gtc", "gtc", "ioc", "fok"]),
                stp=rng.choice(["cancel_newest", "cancel_oldest", "cancel_both"]),
            )
        elif r < 0.45:
            e.submit(oid, side, rng.randint(1, 5_000_000), order_type="market", tif="ioc", owner=owner)
        elif r < 0.75 and e.orders:
            victim = rng.choice(list(e.orders))
            e.cancel(victim)
        elif e.orders:
            victim = rng.choice(list(e.orders))
            o = e.orders[victim]
            new_price = o.price + rng.randint(-5, 5) if rng.random() < 0.5 else None
            e.amend(
                victim, max(0, o.qty + rng.randint(-o.qty, o.qty)), new_price, post_only=rng.random() < 0.2
            )

    return act


async def test_random_actions_keep_book_and_feeds_exact(ex: Exchange) -> None:
    token = await get_token(ex.endpoints)
    l2 = await Client.open(ex.endpoints["ws"])
    await l2.request(
        {
            "method": "subscribe",
            "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 25},
            "req_id": 1,
        }
    )
    l3 = await Client.open(ex.endpoints["ws_l3"])
    await l3.request(
        {
            "method": "subscribe",
            "params": {"channel": "level3", "symbol": ["BTC/USD"], "depth": 10, "token": token},
            "req_id": 2,
        }
    )
    ref2, ref3 = RefBook(25, 1, 8, per_level=True), RefL3(10, 1, 8)
    rng = random.Random(1234)
    eng = ex.book("BTC/USD")
    for n in range(3000):
        ex.apply("BTC/USD", _random_action(rng, n))  # type: ignore[arg-type]
        if n % 100 == 0:
            eng.check()
    eng.check()
    await l2.request({"method": "ping", "req_id": 3})
    await l3.request({"method": "ping", "req_id": 4})
    for m in l2.pending(lambda m: m.get("channel") == "book"):
        ref2.apply(m["data"][0], m["type"] == "snapshot")
    for m in l3.pending(lambda m: m.get("channel") == "level3"):
        ref3.apply(m["data"][0], m["type"] == "snapshot")
    assert ref2.verified > 500 and ref3.verified > 500
    assert ref2.bids == {lv.price: lv.total for lv in eng.sides[BID].top(25)}
    top3 = {lv.price: {o.order_id: o.qty for o in lv.orders.values()} for lv in eng.sides[ASK].top(10)}
    assert ref3.sides["asks"] == top3
    await l2.close()
    await l3.close()
