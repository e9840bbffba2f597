"""The embedded Futures market moves like a Spot one: its mid wanders, levels come and go, trades print."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from havterm.sim.futures import FuturesVenue
from tests.waiting import wait_for

PF = "PF_XBTUSD"


class BookReader:
    """A v1 client of one product's book and trades: a reference book kept from snapshot and deltas."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.seq = 0
        self.deltas = 0
        self.removed = 0  # deltas that delete a level
        self.trades = 0

    @classmethod
    async def open(cls, url: str) -> BookReader:
        r = cls(await connect(url, max_size=None))
        for feed in ("book", "trade"):
            await r.ws.send(json.dumps({"event": "subscribe", "feed": feed, "product_ids": [PF]}))
        return r

    def mid(self) -> Decimal:
        return (max(self.bids) + min(self.asks)) / 2

    async def read_until(self, seq: int) -> None:
        """Apply frames until the book has seen delta ``seq`` (the venue's last)."""
        while self.seq < seq:
            msg = json.loads(await self.ws.recv(), parse_float=Decimal)
            feed = None if "event" in msg else msg.get("feed")  # acks name the feed too
            if feed == "book_snapshot":
                self.bids = {Decimal(lv["price"]): Decimal(lv["qty"]) for lv in msg["bids"]}
                self.asks = {Decimal(lv["price"]): Decimal(lv["qty"]) for lv in msg["asks"]}
                self.seq = msg["seq"]
            elif feed == "book":
                assert msg["seq"] == self.seq + 1, "deltas arrive in sequence"
                self.seq = msg["seq"]
                self.deltas += 1
                side = self.bids if msg["side"] == "buy" else self.asks
                price, qty = Decimal(msg["price"]), Decimal(msg["qty"])
                if qty == 0:
                    self.removed += 1
                    side.pop(price, None)
                else:
                    side[price] = qty
            elif feed == "trade":
                self.trades += 1


def venue_seq(venue: FuturesVenue) -> int:
    (client,) = venue.clients.values()
    return client.seq.get(("book", PF), 0)


async def test_the_futures_book_keeps_moving_over_a_simulated_minute() -> None:
    venue = FuturesVenue(seed=7, rate=100.0)  # what `havterm --demo` runs: 25 operations/s per product
    venue.paused = True  # simulated time: the test steps the market by hand
    url = await venue.start()
    reader = await BookReader.open(url)
    try:
        await wait_for(lambda: venue.clients and ("book", PF) in next(iter(venue.clients.values())).seq, 5)
        await reader.read_until(venue_seq(venue))
        p = venue.products[PF]
        assert (max(reader.bids), min(reader.asks)) == (p.price(max(p.bids)), p.price(min(p.asks)))
        start_mid = reader.mid()
        mids = [start_mid]
        # 60 s of the demo's Futures market (100 operations/s over 4 products), in 6 s windows:
        # every window keeps delivering book changes, removed levels and trades, and the mid moves.
        for _ in range(10):
            deltas, removed, trades = -reader.deltas, -reader.removed, -reader.trades
            venue.step(600)
            await reader.read_until(venue_seq(venue))
            deltas, removed, trades = deltas + reader.deltas, removed + reader.removed, trades + reader.trades
            assert deltas >= 150 and removed > 0 and trades > 0, (deltas, removed, trades)
            mids.append(reader.mid())
        assert len(set(mids)) >= 6, mids  # the mid is not pinned
        assert max(mids) - min(mids) >= 5 * p.tick, mids  # and it travels more than a tick or two
        assert max(reader.bids) < min(reader.asks)  # never crossed
        # The client's book is the venue's own book, level for level.
        assert reader.bids == {p.price(t): Decimal(q) for t, q in p.bids.items()}
        assert reader.asks == {p.price(t): Decimal(q) for t, q in p.asks.items()}
        # The ticker's change is measured from the session's first price, as Kraken's 24 h change.
        ticker: dict[str, Any] = venue._ticker(p, 0.0)
        assert p.last != p.open and ticker["change"] == ((p.last - p.open) * 100 / p.open).quantize(
            Decimal("1e-10")
        )
        assert ticker["volume"] > 0
    finally:
        await reader.ws.close()
        await venue.stop()


async def test_the_background_market_runs_every_product_at_its_rate() -> None:
    venue = FuturesVenue(seed=3, rate=400.0)
    start = {name: (p.engine.best_bid(), p.engine.best_ask()) for name, p in venue.products.items()}
    start_px = {name: (bb.price, ba.price) for name, (bb, ba) in start.items() if bb and ba}
    await venue.start()
    try:
        # Every product trades and moves, not only the first one.
        await wait_for(lambda: all(p.volume > 0 for p in venue.products.values()), 10, "every product trades")
        await wait_for(
            lambda: all(
                (p.engine.best_bid().price, p.engine.best_ask().price) != start_px[name]  # type: ignore[union-attr]
                for name, p in venue.products.items()
            ),
            10,
            "every product's touch to move",
        )
    finally:
        await venue.stop()
