"""Every fault is observable from a client, switched per connection at runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from havterm.sim import Exchange, SimConfig
from havterm.sim.faults import FaultSpecError, parse_faults
from tests.sim.helpers import Client, RefBook
from tests.sim.rest_client import get_token


async def _book_client(ex: Exchange, symbol: str = "BTC/USD") -> Client:
    c = await Client.open(ex.endpoints["ws"])
    await c.request({"method": "subscribe", "params": {"channel": "book", "symbol": [symbol]}, "req_id": 1})
    await c.wait_for(lambda m: m.get("channel") == "book" and m["type"] == "snapshot")
    return c


def _cid(c: Client) -> int:
    return int(c.status["data"][0]["connection_id"])


async def _updates_until_pong(c: Client) -> list[Any]:
    """Book updates received before a pong: the pong fences everything sent earlier."""
    await c.request({"method": "ping", "req_id": 77})
    return c.pending(lambda m: m.get("channel") == "book")


def _book_ops(ex: Exchange, n: int, symbol: str = "BTC/USD") -> None:
    # Cancel top-of-book orders: each is a guaranteed depth-10 update.
    for _ in range(n):
        ex.apply(symbol, lambda e: e.cancel(next(iter(e.best_ask().orders))))  # type: ignore[union-attr]


async def test_drop_only_on_the_chosen_connection(ex: Exchange) -> None:
    a, b = await _book_client(ex), await _book_client(ex)
    ex.faults.set_connection(_cid(a), drop=1.0)
    _book_ops(ex, 5)
    assert len(await _updates_until_pong(a)) == 0
    assert len(await _updates_until_pong(b)) == 5
    ex.faults.clear(_cid(a))
    _book_ops(ex, 2)
    assert len(await _updates_until_pong(a)) == 2


async def test_duplicate_and_reorder(ex: Exchange) -> None:
    dup, ro, clean = await _book_client(ex), await _book_client(ex), await _book_client(ex)
    ex.faults.set_connection(_cid(dup), "duplicate=1.0")
    ex.faults.set_connection(_cid(ro), reorder=1.0)
    _book_ops(ex, 4)
    ref = [m["data"][0]["checksum"] for m in await _updates_until_pong(clean)]
    got_dup = [m["data"][0]["checksum"] for m in await _updates_until_pong(dup)]
    assert got_dup == [x for x in ref for _ in range(2)]
    got_ro = [m["data"][0]["checksum"] for m in await _updates_until_pong(ro)]
    assert got_ro == [ref[1], ref[0], ref[3], ref[2]]


async def test_corrupt_checksum_breaks_a_verifying_client(ex: Exchange) -> None:
    c = await _book_client(ex)
    snap = next(m for m in c.frames if m.get("type") == "snapshot")
    book = RefBook(10, 1, 8)
    book.apply(snap["data"][0], True)
    ex.faults.set_connection(_cid(c), corrupt_checksum=1.0)
    _book_ops(ex, 1)
    m = await c.wait_for(lambda m: m.get("channel") == "book")
    with pytest.raises(AssertionError, match="checksum mismatch"):
        book.apply(m["data"][0], False)


async def test_delay(ex: Exchange) -> None:
    c = await _book_client(ex)
    ex.faults.set_connection(_cid(c), delay_ms=300)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    _book_ops(ex, 1)
    await c.wait_for(lambda m: m.get("channel") == "book")
    assert loop.time() - t0 >= 0.28


@pytest.mark.parametrize(
    ("code", "want_code", "want_frame"), [(1001, 1001, True), (1006, 1006, False), (None, 1006, False)]
)
async def test_disconnects(ex: Exchange, code: int | None, want_code: int, want_frame: bool) -> None:
    c = await _book_client(ex)
    ex.faults.set_connection(_cid(c), disconnect_every=0.2, close_code="none" if code is None else code)
    with pytest.raises(ConnectionClosed):
        await c.wait_for(lambda m: False, timeout=5)
    assert c.ws.close_code == want_code
    assert (c.ws.protocol.close_rcvd is not None) == want_frame
    # Python API too: immediate disconnect of one connection.
    d = await _book_client(ex)
    ex.disconnect(_cid(d), 1001)
    with pytest.raises(ConnectionClosed):
        await d.wait_for(lambda m: False, timeout=5)
    assert d.ws.close_code == 1001


async def test_silent_subscription(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    ex.faults.set_connection(_cid(c), silent_subscription=1.0)
    ack = await c.request(
        {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"]}, "req_id": 1}
    )
    assert ack["success"] is True
    _book_ops(ex, 3)
    await c.wait_for(lambda m: m.get("channel") == "heartbeat", timeout=2.5)  # the socket itself is alive
    assert c.pending(lambda m: m.get("channel") == "book") == []


async def test_maintenance_after() -> None:
    async with Exchange(SimConfig(seed=2, market=False, faults="maintenance_after=0.2")) as ex:
        c = await Client.open(ex.endpoints["ws_auth"])
        st = await c.wait_for(
            lambda m: m.get("channel") == "status" and m["data"][0]["system"] == "maintenance"
        )
        assert st["type"] == "update"
        token = await get_token(ex.endpoints)
        r = await c.request(
            {
                "method": "add_order",
                "req_id": 3,
                "params": {
                    "token": token,
                    "order_type": "market",
                    "side": "buy",
                    "order_qty": 0.01,
                    "symbol": "BTC/USD",
                },
            }
        )
        assert r["error"] == "EService:Unavailable"
        await c.close()


def _with_req_id(rid: str) -> Callable[[Any], bool]:
    return lambda m: bool(m.get("req_id") == rid)


async def test_msg_rate_limit(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    ex.faults.set_connection(_cid(c), msg_rate_limit=5)
    for i in range(10):
        await c.send({"method": "ping", "req_id": i})
    replies = [await c.wait_for(_with_req_id(str(i))) for i in range(10)]
    errors = [r for r in replies if r.get("error") == "Exceeded msg rate"]
    assert [r["method"] for r in replies[:5]] == ["pong"] * 5 and len(errors) == 5
    assert errors[0]["success"] is False and errors[0]["method"] == "ping"


async def _trader(ex: Exchange) -> tuple[Client, str]:
    token = await get_token(ex.endpoints)
    c = await Client.open(ex.endpoints["ws_auth"])
    await c.request({"method": "subscribe", "params": {"channel": "executions", "token": token}, "req_id": 1})
    return c, token


def _order(token: str, req_id: int) -> dict[str, Any]:
    return {
        "method": "add_order",
        "req_id": req_id,
        "params": {
            "token": token,
            "order_type": "limit",
            "side": "buy",
            "order_qty": 0.01,
            "symbol": "BTC/USD",
            "limit_price": 1000.0,
        },
    }


async def test_slow_and_lost_acks(ex: Exchange) -> None:
    c, token = await _trader(ex)
    ex.faults.set_connection(_cid(c), ack_delay_ms=200)
    await c.send(_order(token, 2))
    new = await c.wait_for(
        lambda m: (
            m.get("channel") == "executions" and m["type"] == "update" and m["data"][0]["exec_type"] == "new"
        )
    )
    assert not c.pending(lambda m: m.get("req_id") == "2")  # the order is live before its ack
    ack = await c.wait_for(lambda m: m.get("req_id") == "2")
    assert ack["result"]["order_id"] == new["data"][0]["order_id"]
    ex.faults.set_connection(_cid(c), ack_delay_ms=0, ack_drop=1.0)
    await c.send(_order(token, 3))
    lost = await c.wait_for(
        lambda m: (
            m.get("channel") == "executions" and m["type"] == "update" and m["data"][0]["exec_type"] == "new"
        )
    )
    await c.request({"method": "ping", "req_id": 4})
    assert not c.pending(lambda m: m.get("req_id") == "3")
    assert lost["data"][0]["order_id"] in ex.book("BTC/USD").orders
    await c.close()


def test_fault_spec_parsing() -> None:
    spec = parse_faults(
        "drop=0.1, duplicate=0.2,reorder=0.3,corrupt_checksum=0.4,delay_ms=5,disconnect_every=9,"
        "close_code=none,silent_subscription=0.5,maintenance_after=60,msg_rate_limit=50,"
        "ack_delay_ms=100,ack_drop=0.05,token_ttl=30"
    )
    assert spec.close_code is None and spec.token_ttl == 30 and spec.drop == 0.1
    assert parse_faults(spec.spec_string()) == spec
    for bad in ("drop=1.5", "close_code=1000", "bogus=1", "drop", "delay_ms=-1", "drop=nan"):
        with pytest.raises(FaultSpecError):
            parse_faults(bad)
