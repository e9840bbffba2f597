"""Book and level3 streams: checksums at every depth, truncation and refill (PROTOCOL.md §4)."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from havterm.sim import Exchange
from havterm.sim.feeds import BOOK_DEPTHS, L3_DEPTHS
from havterm.sim.matching import MatchingEngine
from tests.sim.helpers import TS_NS, TS_US, Client, RefBook, RefL3

SYMBOLS = ["BTC/USD", "ETH/USD", "XRP/USD", "SOL/USD"]


async def _pump_books(
    c: Client,
    books: dict[str, RefBook | RefL3],
    channel: str,
    until: int,
    also: dict[str, RefBook] | None = None,
) -> None:
    """Apply frames until every book has verified at least ``until`` messages."""
    while min(b.verified for b in books.values()) < until:
        m = await c.next()
        if m.get("channel") == channel:
            books[m["data"][0]["symbol"]].apply(m["data"][0], m["type"] == "snapshot")
            if also is not None:
                also[m["data"][0]["symbol"]].apply(m["data"][0], m["type"] == "snapshot")


def _exchange_top(ex: Exchange, sym: str, depth: int) -> tuple[dict[int, int], dict[int, int]]:
    eng = ex.book(sym)
    bids = {lv.price: lv.total for lv in eng.sides[0].top(depth)}
    asks = {lv.price: lv.total for lv in eng.sides[1].top(depth)}
    return bids, asks


@pytest.mark.parametrize("depth", BOOK_DEPTHS)
async def test_book_checksums_every_depth_several_symbols(ex: Exchange, depth: int) -> None:
    c = await Client.open(ex.endpoints["ws"])
    await c.send(
        {"method": "subscribe", "params": {"channel": "book", "symbol": SYMBOLS, "depth": depth}, "req_id": 1}
    )
    books: dict[str, RefBook | RefL3] = {}
    per_level: dict[str, RefBook] = {}
    for s in SYMBOLS:
        inst = ex.instruments[s]
        books[s] = RefBook(depth, inst.price_precision, inst.qty_precision)
        per_level[s] = RefBook(depth, inst.price_precision, inst.qty_precision, per_level=True)
    await _pump_books(c, books, "book", 1, per_level)
    for b in per_level.values():
        assert len(b.bids) == depth and len(b.asks) == depth  # the seeded book fills every window
    ex.step(3000)
    # A pong is queued after every update of those steps: once it arrives, all have.
    await c.request({"method": "ping", "req_id": 2})
    for m in c.pending(lambda m: m.get("channel") == "book"):
        books[m["data"][0]["symbol"]].apply(m["data"][0], False)
        per_level[m["data"][0]["symbol"]].apply(m["data"][0], False)
    for s, book in books.items():
        assert isinstance(book, RefBook)
        b = book
        bids, asks = _exchange_top(ex, s, depth)
        assert b.bids == bids and b.asks == asks, s
        assert per_level[s].bids == bids and per_level[s].asks == asks, s
        assert b.verified > 50
    await c.close()


async def test_book_wire_format_and_refill_in_same_message(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    await c.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}})
    ack = await c.next()
    assert ack["result"] == {"channel": "book", "depth": "10", "snapshot": True, "symbol": "BTC/USD"}
    snap = await c.next()
    assert snap["type"] == "snapshot" and TS_US.match(snap["data"][0]["timestamp"])
    raw = c.raw[-1]
    # Exact tokens: trailing zeros kept (e.g. "qty":0.05000000 never becomes 0.05).
    assert '"price":' in raw and all(len(lv["qty"].split(".")[1]) == 8 for lv in snap["data"][0]["bids"])
    ref = RefBook(10, 1, 8)
    ref.apply(snap["data"][0], True)
    # Cancel an order at the best bid until its level goes: the delete must come
    # with the level that re-enters the window, in the same message.
    eng = ex.book("BTC/USD")
    best = eng.best_bid()
    assert best is not None
    price = best.price
    old_11th = eng.sides[0].top(11)[10].price
    for oid in list(best.orders):
        ex.apply("BTC/USD", partial(MatchingEngine.cancel, order_id=oid))
    while True:
        m = await c.next()
        if m.get("channel") != "book":
            continue
        ref.apply(m["data"][0], False)
        prices = {lv["price"]: lv["qty"] for lv in m["data"][0]["bids"]}
        if any(v.strip("0.") == "" for v in prices.values()):
            break
    zero = [p for p, q in prices.items() if q.strip("0.") == ""]
    assert [int(p.replace(".", "")) for p in zero] == [price]
    assert any(int(p.replace(".", "")) == old_11th for p in prices), "refill level missing"
    assert len(ref.bids) == 10
    await c.close()


async def test_insert_pushes_level_out_without_delete(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    await c.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["ETH/USD"], "depth": 10}})
    await c.next()
    snap = await c.next()
    ref = RefBook(10, 2, 8)
    ref.apply(snap["data"][0], True)
    eng = ex.book("ETH/USD")
    bb, ba = eng.best_bid(), eng.best_ask()
    assert bb and ba and ba.price - bb.price >= 2
    new_price = bb.price + 1
    ex.apply("ETH/USD", lambda e: e.submit("OTEST1-AAAAA-BBBBBB", 0, 100000, price=new_price))
    m = await c.wait_for(lambda m: m.get("channel") == "book")
    bids = m["data"][0]["bids"]
    assert len(bids) == 1 and int(bids[0]["price"].replace(".", "")) == new_price
    ref.apply(m["data"][0], False)
    assert len(ref.bids) == 10
    await c.close()


@pytest.mark.parametrize("depth", L3_DEPTHS)
async def test_level3_checksums(ex: Exchange, depth: int) -> None:
    token = await _token(ex)
    c = await Client.open(ex.endpoints["ws_l3"])
    syms = ["BTC/USD", "XRP/USD"]
    await c.send(
        {
            "method": "subscribe",
            "params": {"channel": "level3", "symbol": syms, "depth": depth, "token": token},
        }
    )
    books: dict[str, RefBook | RefL3] = {
        s: RefL3(depth, ex.instruments[s].price_precision, ex.instruments[s].qty_precision) for s in syms
    }
    await _pump_books(c, books, "level3", 1)
    snap = next(f for f in c.frames if f.get("channel") == "level3")
    first = snap["data"][0]["bids"][0]
    assert set(first) == {"order_id", "limit_price", "order_qty", "timestamp"}
    assert TS_NS.match(first["timestamp"]) and TS_NS.match(snap["data"][0]["timestamp"])
    ex.step(1500)
    await _pump_books(c, books, "level3", 100)
    await c.close()


async def _token(ex: Exchange) -> str:
    from tests.sim.rest_client import get_token

    return await get_token(ex.endpoints)


async def test_background_market_and_pause(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    await c.send({"method": "subscribe", "params": {"channel": "book", "symbol": SYMBOLS, "depth": 25}})
    books: dict[str, RefBook | RefL3] = {
        s: RefBook(25, ex.instruments[s].price_precision, ex.instruments[s].qty_precision) for s in SYMBOLS
    }
    ex.run_market(rate=2000)
    await _pump_books(c, books, "book", 50)
    ex.pause_market()
    ops = ex.ops
    await c.request({"method": "ping", "req_id": 1})
    await c.request({"method": "ping", "req_id": 2})
    assert ex.ops == ops  # paused: nothing moves
    await c.close()


async def test_wrong_path_is_refused(ex: Exchange) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = ex.endpoints["ws"].removesuffix("/v2") + "/v1"
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1008
