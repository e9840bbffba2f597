"""Kraken Futures WebSocket v1 in the embedded exchange: perpetuals with books, trades and funding.

Each product (PF_XBTUSD, PF_ETHUSD, ...) runs the same matching engine and
seeded synthetic traders as a Spot pair (a fair price that wanders, limit
orders near the touch, cancels, marketable orders that trade through levels,
bursts), so its mid moves and its book keeps changing as Spot's does. The
engine's level changes go out as v1 ``book`` deltas and its fills as
``trade`` messages; a ticker once a second carries funding that drifts over
time and the change since the session opened. Book messages carry
per-subscription ``seq`` numbers; ``drop_next`` loses some on purpose so
that clients can prove gap recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from havterm.sim.ids import IdFactory
from havterm.sim.instruments import Instrument
from havterm.sim.market import SyntheticFlow
from havterm.sim.matching import ASK, BID, MatchingEngine
from havterm.sim.wire import now_ns

FUTURES_PRODUCTS: dict[str, tuple[Decimal, Decimal]] = {
    # product: (starting index price, tick size)
    "PF_XBTUSD": (Decimal("63000"), Decimal("0.5")),
    "PF_ETHUSD": (Decimal("3100"), Decimal("0.1")),
    "PF_SOLUSD": (Decimal("150"), Decimal("0.01")),
    "PF_XRPUSD": (Decimal("0.5"), Decimal("0.00001")),
}
FUTURES_FEEDS = ("book", "ticker", "trade", "heartbeat")


FUTURES_ORDERS_PER_SIDE = 600
"""Resting synthetic orders per side: a few hundred levels, a quarter of a Spot book (seeds 4x faster)."""

FUTURES_DEEP_SPAN_TICKS = 800
"""Deep arrivals land within this many ticks of the fair price (PF_XBTUSD: $400)."""

FUTURES_TYPICAL_QTY = 2_000
"""Contracts in a median synthetic order: levels then hold hundreds to tens of thousands."""


@dataclass
class _Product:
    """One perpetual's state: its matching engine and traders, index, funding, open interest."""

    name: str
    tick: Decimal
    index: Decimal
    engine: MatchingEngine
    flow: SyntheticFlow
    funding_phase: float = 0.0
    open_interest: int = 25_000_000
    last: Decimal = Decimal(0)
    open: Decimal = Decimal(0)  # the first price of the session: Chg % is measured from it
    volume: int = 0  # contracts traded this session
    funding_fixed: Decimal | None = None  # set by tests: the relative funding rate, instead of the drift

    def price(self, ticks: int) -> Decimal:
        return (self.tick * ticks).normalize() if self.tick < 1 else self.tick * ticks

    @property
    def bids(self) -> dict[int, int]:
        """The bid side as price in ticks -> contracts (a copy, best first)."""
        return {lv.price: lv.total for lv in self.engine.sides[BID].levels.values()}

    @property
    def asks(self) -> dict[int, int]:
        """The ask side as price in ticks -> contracts (a copy, best first)."""
        return {lv.price: lv.total for lv in self.engine.sides[ASK].levels.values()}


def _instrument(name: str, index: Decimal, tick: Decimal) -> Instrument:
    """The product as the synthetic traders see it: integer ticks of ``tick`` and whole contracts."""
    return Instrument(
        symbol=name,
        base=name[3:6],
        quote="USD",
        price_precision=0,  # unused by the traders: the venue turns ticks into prices with ``tick``
        qty_precision=0,
        start_price=int(index / tick),
        qty_min=1,
        cost_min="0",
        rest_name=name,
        altname=name,
        wsname=name,
        typical_qty=FUTURES_TYPICAL_QTY,
    )


@dataclass
class _Client:
    ws: ServerConnection
    seq: dict[tuple[str, str], int] = field(default_factory=dict)  # (feed, product) -> last seq
    drop: int = 0  # book deltas still to lose (fault injection)
    # One writer per client keeps frames in order (seq numbers must arrive in sequence).
    out: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class FuturesVenue:
    """The Futures side of the exchange; one WebSocket endpoint at ``/ws/v1``."""

    def __init__(self, seed: int = 7, products: list[str] | None = None, rate: float = 20.0) -> None:
        self.rng = random.Random(f"futures/{seed}")
        self.rate = rate
        self.products: dict[str, _Product] = {}
        ts = now_ns()
        for i, name in enumerate(products or list(FUTURES_PRODUCTS)):
            index, tick = FUTURES_PRODUCTS.get(name, (Decimal("100"), Decimal("0.01")))
            engine = MatchingEngine(name)
            # The same seeded traders as a Spot pair (seeded by product name), so the book moves alike.
            flow = SyntheticFlow(
                _instrument(name, index, tick),
                seed,
                IdFactory("F", seed * 1013 + i * 7907 + 3),
                orders_per_side=FUTURES_ORDERS_PER_SIDE,
                deep_span=FUTURES_DEEP_SPAN_TICKS,
            )
            flow.seed_book(engine, ts)
            p = _Product(name, tick, index, engine, flow, funding_phase=self.rng.random() * 6.28)
            p.last = p.open = index
            self.products[name] = p
        self._rr = 0  # the background market's round-robin position over products
        self.clients: dict[int, _Client] = {}
        self.server: Server | None = None
        self.url = ""
        self._tasks: list[asyncio.Task[None]] = []
        self.paused = False
        self.started_at = time.time()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Bind the endpoint and start the market and ticker loops; returns its URL."""
        self.server = await serve(self._handler, host, port, compression=None)
        bound = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://{host}:{bound}/ws/v1"
        self._tasks = [asyncio.create_task(self._market()), asyncio.create_task(self._tickers())]
        return self.url

    async def stop(self) -> None:
        """Close everything."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def drop_next(self, n: int) -> None:
        """Lose the next ``n`` book deltas to every client: the next one arrives with a gap."""
        for c in self.clients.values():
            c.drop += n

    # ------------------------------------------------------------------ the market

    def funding_rate(self, p: _Product, now: float) -> Decimal:
        """The relative (hourly) funding rate, drifting over minutes so the dashboard shows it change.

        Kraken sends it as ``relative_funding_rate`` and, as ``funding_rate``, the
        same rate in quote currency per contract (relative times the mark).
        """
        if p.funding_fixed is not None:
            return p.funding_fixed
        value = 1e-5 * math.sin(p.funding_phase + (now - self.started_at) / 120.0)
        return Decimal(f"{value:.10e}")

    def set_funding(self, product: str, relative: Decimal | None) -> None:
        """Pin a product's relative funding rate (None: drift again) and publish a ticker now."""
        p = self.products[product]
        p.funding_fixed = relative
        self._broadcast("ticker", product, self._ticker(p, time.time()))

    def step(self, n: int = 1) -> None:
        """``n`` synthetic operations, round-robin over products from the first, published at once."""
        names = list(self.products)
        for i in range(n):
            self._change(self.products[names[i % len(names)]])

    def _change(self, p: _Product) -> None:
        """One operation of the product's traders: touched levels go out as deltas, fills as trades."""
        eng = p.engine
        eng.begin(now_ns())
        try:
            p.flow.step(eng)
        finally:
            log = eng.end()
        for t in log.trades:
            self._trade(p, t.price, t.qty, taker_buys=t.taker_side == BID)
        for side in (BID, ASK):
            levels = eng.sides[side].levels
            for key in log.touched[side]:
                lvl = levels.get(key)
                ticks = -key if side == BID else key
                qty = lvl.total if lvl is not None else 0
                self._publish_delta(p, "buy" if side == BID else "sell", p.price(ticks), qty)

    def _trade(self, p: _Product, ticks: int, qty: int, taker_buys: bool) -> None:
        p.last = p.price(ticks)
        p.volume += qty
        # Open interest drifts with the flow but never below a floor (positions open and close).
        p.open_interest = max(1_000_000, p.open_interest + self.rng.choice((-1, 1)) * qty)
        msg = {
            "feed": "trade",
            "product_id": p.name,
            "uid": f"{self.rng.getrandbits(64):016x}",
            "side": "buy" if taker_buys else "sell",
            "type": "fill",
            "time": int(time.time() * 1000),
            "qty": qty,
            "price": p.last,
        }
        self._broadcast("trade", p.name, msg)

    def _publish_delta(self, p: _Product, side: str, price: Decimal, qty: int) -> None:
        for cid, c in list(self.clients.items()):
            key = ("book", p.name)
            if key not in c.seq:
                continue
            c.seq[key] += 1
            if c.drop > 0:
                c.drop -= 1
                continue
            msg = {
                "feed": "book",
                "product_id": p.name,
                "side": side,
                "seq": c.seq[key],
                "price": price,
                "qty": qty,
                "timestamp": int(time.time() * 1000),
            }
            self._send(cid, msg)

    def _ticker(self, p: _Product, now: float) -> dict[str, Any]:
        bb, ba = p.engine.best_bid(), p.engine.best_ask()
        # A side emptied by a sweep (rare) falls back to the last trade until the traders refill it.
        bid = p.price(bb.price) if bb is not None else p.last
        ask = p.price(ba.price) if ba is not None else p.last
        mark = (bid + ask) / 2
        p.index += (mark - p.index) / 10
        hour = 3600 * 1000
        relative, predicted = self.funding_rate(p, now), self.funding_rate(p, now + 60)
        return {
            "time": int(now * 1000),
            "product_id": p.name,
            "feed": "ticker",
            "funding_rate": (relative * mark).quantize(Decimal("1e-12")),
            "funding_rate_prediction": (predicted * mark).quantize(Decimal("1e-12")),
            "relative_funding_rate": relative,
            "relative_funding_rate_prediction": predicted,
            "next_funding_rate_time": (int(now * 1000) // hour + 1) * hour,
            "bid": bid,
            "ask": ask,
            "bid_size": bb.total if bb is not None else 0,
            "ask_size": ba.total if ba is not None else 0,
            "index": p.index.quantize(p.tick),
            "last": p.last,
            "volume": p.volume,
            # Kraken's 24 h change in percent; the demo measures it from the session's first price.
            "change": ((p.last - p.open) * 100 / p.open).quantize(Decimal("1e-10")),
            "markPrice": mark,
            "openInterest": p.open_interest,
            "tag": "perpetual",
            "pair": p.name[3:6] + ":USD",
            "suspended": False,
            "post_only": False,
        }

    async def _market(self) -> None:
        # Operations are due at ``rate`` per second over all products, taken in turn; a late
        # wake-up catches up (capped) instead of slowing the market down.
        loop = asyncio.get_running_loop()
        names = list(self.products)
        last, due = loop.time(), 0.0
        while True:
            await asyncio.sleep(min(0.05, 1.0 / max(self.rate, 0.1)))
            now = loop.time()
            dt, last = now - last, now
            if self.paused or not names:
                due = 0.0
                continue
            due += self.rate * min(dt, 0.25)
            while due >= 1.0:
                due -= 1.0
                self._change(self.products[names[self._rr % len(names)]])
                self._rr += 1

    async def _tickers(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.time()
            for p in self.products.values():
                self._broadcast("ticker", p.name, self._ticker(p, now))
            for cid, c in list(self.clients.items()):
                if ("heartbeat", "") in c.seq:
                    self._send(cid, {"feed": "heartbeat", "time": int(now * 1000)})

    # ------------------------------------------------------------------ the protocol

    def _broadcast(self, feed: str, product: str, msg: dict[str, Any]) -> None:
        for cid, c in list(self.clients.items()):
            if (feed, product) in c.seq:
                self._send(cid, msg)

    def _send(self, cid: int, msg: dict[str, Any]) -> None:
        c = self.clients.get(cid)
        if c is None:
            return
        c.out.put_nowait(json.dumps(msg, default=_number))

    async def _handler(self, ws: ServerConnection) -> None:
        cid = id(ws)
        client = self.clients[cid] = _Client(ws)
        client.out.put_nowait('{"event":"info","version":1}')
        writer = asyncio.create_task(_writer(client))
        try:
            async for raw in ws:
                self._request(cid, raw)
        except ConnectionClosed:
            pass
        finally:
            self.clients.pop(cid, None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _request(self, cid: int, raw: str | bytes) -> None:
        c = self.clients[cid]
        try:
            req = json.loads(raw)
            event, feed = req["event"], req["feed"]
        except (ValueError, KeyError, TypeError):
            self._send(cid, {"event": "error", "message": "Json Error"})
            return
        if feed not in FUTURES_FEEDS:
            self._send(cid, {"event": "error", "message": "Invalid feed"})
            return
        products = req.get("product_ids") or ([""] if feed == "heartbeat" else [])
        bad = [p for p in products if p and p not in self.products]
        if bad:
            self._send(cid, {"event": "error", "message": "Invalid product id"})
            return
        if event == "unsubscribe":
            for p in products:
                c.seq.pop((feed, p), None)
            self._send(cid, {"event": "unsubscribed", "feed": feed, "product_ids": products})
            return
        if event != "subscribe":
            self._send(cid, {"event": "error", "message": "Json Error"})
            return
        self._send(cid, {"event": "subscribed", "feed": feed, "product_ids": products})
        for name in products:
            c.seq[(feed, name)] = 0
            if feed == "book":
                self._send(cid, self._snapshot(cid, name))
            elif feed == "ticker":
                self._send(cid, self._ticker(self.products[name], time.time()))

    def _snapshot(self, cid: int, name: str) -> dict[str, Any]:
        p = self.products[name]
        seq = self.rng.randint(10_000, 1_000_000)
        self.clients[cid].seq[("book", name)] = seq
        return {
            "feed": "book_snapshot",
            "product_id": name,
            "timestamp": int(time.time() * 1000),
            "seq": seq,
            "tickSize": None,
            "bids": [{"price": p.price(t), "qty": q} for t, q in p.bids.items()],
            "asks": [{"price": p.price(t), "qty": q} for t, q in p.asks.items()],
        }


def _number(value: object) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


async def _writer(client: _Client) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await client.ws.send(await client.out.get())
