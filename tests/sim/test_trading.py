"""Trading over ws-auth: every method, its errors, executions and balances (PROTOCOL.md §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from havterm.sim import Exchange
from havterm.sim.matching import ASK, BID
from tests.sim.helpers import Client
from tests.sim.rest_client import get_token


class Trader:
    """An authenticated connection subscribed to executions and balances."""

    def __init__(self, c: Client, token: str) -> None:
        self.c = c
        self.token = token
        self.rid = 100

    async def call(self, method: str, **params: Any) -> Any:
        """Send one trading request and return its first response."""
        self.rid += 1
        params.setdefault("token", self.token)
        return await self.c.request({"method": method, "params": params, "req_id": self.rid}, method)

    async def responses(self, method: str, n: int, **params: Any) -> list[Any]:
        """Send one request and collect ``n`` responses with its req_id."""
        self.rid += 1
        params.setdefault("token", self.token)
        rid = str(self.rid)
        await self.c.send({"method": method, "params": params, "req_id": self.rid})
        return [await self.c.wait_for(lambda m: m.get("req_id") == rid) for _ in range(n)]

    async def execution(self, pred: Any = lambda r: True) -> Any:
        """The next executions report matching ``pred``."""
        m = await self.c.wait_for(
            lambda m: m.get("channel") == "executions" and m["type"] == "update" and pred(m["data"][0])
        )
        return m["data"][0]


@pytest.fixture
async def trader(ex: Exchange) -> AsyncIterator[Trader]:
    token = await get_token(ex.endpoints)
    c = await Client.open(ex.endpoints["ws_auth"])
    t = Trader(c, token)
    ack = await c.request(
        {"method": "subscribe", "params": {"channel": "executions", "token": token}, "req_id": 1}
    )
    assert ack["success"] is True
    assert ack["result"] == {
        "channel": "executions",
        "maxratecount": "125",
        "snap_orders": True,
        "snap_trades": False,
    }
    snap = await c.wait_for(lambda m: m.get("channel") == "executions")
    assert snap["type"] == "snapshot" and snap["sequence"] == "1" and snap["data"] == []
    await c.request({"method": "subscribe", "params": {"channel": "balances", "token": token}, "req_id": 2})
    bal = await c.wait_for(lambda m: m.get("channel") == "balances")
    assert bal["type"] == "snapshot" and bal["sequence"] == "1"
    assert {r["asset"]: r["balance"] for r in bal["data"]}["USD"] == "1000000.0000000000"
    yield t
    await c.close()


def _bid_below(ex: Exchange, sym: str, ticks: int = 50) -> str:
    bb = ex.book(sym).best_bid()
    assert bb is not None
    p = bb.price - ticks
    return f"{p // 10}.{p % 10}"  # BTC/USD: 1 decimal


async def test_add_then_cancel_lifecycle(ex: Exchange, trader: Trader) -> None:
    price = _bid_below(ex, "BTC/USD")
    r = await trader.call(
        "add_order",
        order_type="limit",
        side="buy",
        order_qty=0.01,
        symbol="BTC/USD",
        limit_price=float(price),
        order_userref=42,
    )
    assert r["success"] is True and r["req_id"] == str(trader.rid)
    oid = r["result"]["order_id"]
    assert r["result"] == {"order_id": oid, "order_userref": "42"}
    assert oid in ex.book("BTC/USD").orders
    pend = await trader.execution()
    assert pend["exec_type"] == "pending_new" and pend["order_status"] == "pending_new"
    assert pend["limit_price"] == price and pend["order_qty"] == "0.01000000"
    assert pend["time_in_force"] == "GTC" and pend["symbol"] == "BTC/USD"
    new = await trader.execution()
    assert new["exec_type"] == "new" and new["order_id"] == oid and "symbol" not in new  # sparse
    seqs = [int(f["sequence"]) for f in trader.c.frames if f.get("channel") == "executions"]
    assert seqs == [1, 2, 3]
    r = await trader.call("cancel_order", order_id=[oid])
    assert r["success"] is True and r["result"] == {"order_id": oid}
    done = await trader.execution()
    assert done["exec_type"] == "canceled" and done["reason"] == "User requested"
    assert oid not in ex.book("BTC/USD").orders
    r = await trader.call("cancel_order", order_id=[oid])
    assert r["success"] is False and r["error"] == "EOrder:Unknown order"


async def test_market_buy_fills_with_trades_and_ledger(ex: Exchange, trader: Trader) -> None:
    ask = ex.book("ETH/USD").best_ask()
    assert ask is not None
    r = await trader.call("add_order", order_type="market", side="buy", order_qty=0.5, symbol="ETH/USD")
    assert r["success"] is True
    oid = r["result"]["order_id"]
    trades = []
    while True:
        rep = await trader.execution(lambda d: d.get("order_id") == oid)
        if rep["exec_type"] == "trade":
            trades.append(rep)
            assert rep["liquidity_ind"] == "t" and rep["fees"][0]["asset"] == "USD"
        if rep["exec_type"] == "filled":
            break
    assert trades[0]["last_price"] == f"{ask.price / 100:.2f}"
    total = sum(int(t["last_qty"].replace(".", "")) for t in trades)
    assert total == 50_000_000
    assert trades[-1]["order_status"] == "filled" and trades[-1]["cum_qty"] == "0.50000000"
    legs = [f["data"][0] for f in trader.c.frames if f.get("channel") == "balances" and f["type"] == "update"]
    while len(legs) < 2 * len(trades):
        m = await trader.c.wait_for(lambda m: m.get("channel") == "balances")
        legs.append(m["data"][0])
    assert legs[0]["ref_id"] == legs[1]["ref_id"] == trades[0]["exec_id"]
    assert {legs[0]["asset"], legs[1]["asset"]} == {"ETH", "USD"}
    eth = [leg for leg in legs if leg["asset"] == "ETH"]
    assert eth[-1]["balance"] == "200.5000000000"


async def test_resting_order_fills_as_maker(ex: Exchange, trader: Trader) -> None:
    bb = ex.book("BTC/USD").best_bid()
    assert bb is not None
    p = bb.price + 1
    r = await trader.call(
        "add_order",
        order_type="limit",
        side="buy",
        order_qty=0.02,
        symbol="BTC/USD",
        limit_price=float(f"{p // 10}.{p % 10}"),
        cl_ord_id="maker-1",
    )
    assert r["result"]["cl_ord_id"] == "maker-1"
    oid = r["result"]["order_id"]
    await trader.execution(lambda d: d["exec_type"] == "new")
    # A synthetic seller hits the bid: our order is first in the queue at the best price.
    ex.apply(
        "BTC/USD", lambda e: e.submit("OSYNTH-SELLR-000001", ASK, 1_000_000, order_type="market", tif="ioc")
    )
    rep = await trader.execution(lambda d: d["exec_type"] == "trade")
    assert rep["order_id"] == oid and rep["liquidity_ind"] == "m" and rep["cl_ord_id"] == "maker-1"
    assert rep["last_qty"] == "0.01000000" and rep["order_status"] == "partially_filled"


async def test_validation_errors(ex: Exchange, trader: Trader) -> None:
    base = {
        "order_type": "limit",
        "side": "buy",
        "order_qty": 0.01,
        "symbol": "BTC/USD",
        "limit_price": 100.0,
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"limit_price": None}, "EGeneral:Invalid arguments:limit_price"),
        ({"side": "long"}, "EGeneral:Invalid arguments:side"),
        ({"order_type": "bogus"}, "EGeneral:Invalid arguments:order_type"),
        ({"limit_price": 100.05}, "EOrder:Tick size check failed"),
        ({"order_qty": 0.00001}, "EOrder:Order minimum not met"),
        ({"limit_price": 1.0, "order_qty": 0.0001}, "EOrder:Cost minimum not met"),
        ({"limit_price": "100"}, "Limit_price field must be a number_float"),
        ({"order_qty": "1"}, "Order_qty field must be a number_float"),
        ({"leverage": 2}, "Unsupported field: 'leverage' for the given msg type: add_order"),
        ({"symbol": "XBT/USD"}, "EQuery:Unknown asset pair"),
        ({"order_qty": 1000.0, "limit_price": 60000.0}, "EOrder:Insufficient funds"),
        ({"order_type": "market", "post_only": True}, "EGeneral:Invalid arguments:post_only"),
        (
            {"cl_ord_id": "a", "order_userref": 1},
            "EGeneral:Invalid arguments:cl_ord_id and order_userref cannot be combined",
        ),
        ({"time_in_force": "day"}, "EGeneral:Invalid arguments:time_in_force"),
    ]
    for change, error in cases:
        params = {**base, **change}
        params = {k: v for k, v in params.items() if v is not None}
        r = await trader.call("add_order", **params)
        assert r["success"] is False and r["error"] == error, (change, r)
    r = await trader.call("add_order", **base, validate=True)
    assert r["success"] is True and r["result"] == {"order_id": ""}
    r = await trader.call("add_order", **{**base, "side": "sell", "order_qty": 11.0})
    assert r["error"] == "EOrder:Insufficient funds"


async def test_post_only_ioc_fok_and_stp(ex: Exchange, trader: Trader) -> None:
    ask = ex.book("BTC/USD").best_ask()
    bid = ex.book("BTC/USD").best_bid()
    assert ask is not None and bid is not None
    cross = float(f"{ask.price // 10}.{ask.price % 10}")
    r = await trader.call(
        "add_order",
        order_type="limit",
        side="buy",
        order_qty=0.01,
        symbol="BTC/USD",
        limit_price=cross,
        post_only=True,
    )
    oid = r["result"]["order_id"]
    rep = await trader.execution(lambda d: d["order_id"] == oid and d["exec_type"] != "pending_new")
    assert rep["exec_type"] == "canceled" and rep["reason"] == "Post only order"
    low = bid.price - 100
    r = await trader.call(
        "add_order",
        order_type="limit",
        side="buy",
        order_qty=0.01,
        symbol="BTC/USD",
        limit_price=float(f"{low // 10}.{low % 10}"),
        time_in_force="ioc",
    )
    oid = r["result"]["order_id"]
    rep = await trader.execution(lambda d: d["order_id"] == oid and d["exec_type"] in ("expired", "canceled"))
    assert rep["exec_type"] == "expired"
    r = await trader.call(
        "add_order",
        order_type="limit",
        side="buy",
        order_qty=0.01,
        symbol="BTC/USD",
        limit_price=float(f"{low // 10}.{low % 10}"),
        time_in_force="fok",
    )
    oid = r["result"]["order_id"]
    rep = await trader.execution(lambda d: d["order_id"] == oid and d["exec_type"] != "pending_new")
    assert rep["exec_type"] == "canceled"
    # Self-trade prevention: our resting sell, then our buy that would hit it.
    p = ask.price - 1 if ask.price - 1 > bid.price else ask.price
    ptxt = float(f"{p // 10}.{p % 10}")
    r = await trader.call(
        "add_order", order_type="limit", side="sell", order_qty=0.01, symbol="BTC/USD", limit_price=ptxt
    )
    resting = r["result"]["order_id"]
    r = await trader.call(
        "add_order", order_type="limit", side="buy", order_qty=0.01, symbol="BTC/USD", limit_price=ptxt
    )
    newest = r["result"]["order_id"]
    rep = await trader.execution(lambda d: d["order_id"] == newest and d["exec_type"] == "canceled")
    assert rep["reason"] == "Self trade prevention"
    assert resting in ex.book("BTC/USD").orders


async def test_amend_keeps_priority_only_when_shrinking(ex: Exchange, trader: Trader) -> None:
    bid = ex.book("BTC/USD").best_bid()
    assert bid is not None
    p = bid.price
    ptxt = float(f"{p // 10}.{p % 10}")
    r = await trader.call(
        "add_order",
        order_type="limit",
        side="buy",
        order_qty=0.05,
        symbol="BTC/USD",
        limit_price=ptxt,
        cl_ord_id="amend-me",
    )
    oid = r["result"]["order_id"]
    # Someone joins the queue behind us.
    ex.apply("BTC/USD", lambda e: e.submit("OBEHIN-DUSXX-000001", BID, 100_000, price=p))
    level = ex.book("BTC/USD").best_bid()
    assert level is not None
    assert list(level.orders).index(oid) < list(level.orders).index("OBEHIN-DUSXX-000001")
    r = await trader.call("amend_order", cl_ord_id="amend-me", order_qty=0.03)
    assert r["success"] is True and r["result"]["cl_ord_id"] == "amend-me" and r["result"]["amend_id"]
    rep = await trader.execution(lambda d: d["exec_type"] == "amended")
    assert rep["order_qty"] == "0.03000000" and rep["amended"] is True
    level = ex.book("BTC/USD").best_bid()
    assert level is not None and level.orders[oid].qty == 3_000_000
    assert list(level.orders).index(oid) < list(level.orders).index("OBEHIN-DUSXX-000001")
    r = await trader.call("amend_order", order_id=oid, order_qty=0.04)
    assert r["success"] is True and r["result"]["order_id"] == oid
    level = ex.book("BTC/USD").best_bid()
    assert level is not None
    assert list(level.orders)[-1] == oid  # a bigger order goes to the back
    r = await trader.call("amend_order", order_id="ONOPE0-NOPE0-NOPE00", order_qty=1.0)
    assert r["error"] == "EOrder:Unknown order"
    r = await trader.call("amend_order", order_id=oid, order_qty=0.04, limit_price="x")
    assert r["error"] == "Limit_price field must be a number_float"


async def test_edit_order_replaces(ex: Exchange, trader: Trader) -> None:
    price = _bid_below(ex, "BTC/USD", 80)
    r = await trader.call(
        "add_order",
        order_type="limit",
        side="buy",
        order_qty=0.01,
        symbol="BTC/USD",
        limit_price=float(price),
    )
    old = r["result"]["order_id"]
    r = await trader.call("edit_order", order_id=old, symbol="BTC/USD", order_qty=0.02)
    assert r["success"] is True and r["result"]["original_order_id"] == old
    new = r["result"]["order_id"]
    assert new != old and new in ex.book("BTC/USD").orders and old not in ex.book("BTC/USD").orders
    rep = await trader.execution(lambda d: d["order_id"] == old and d["exec_type"] == "canceled")
    assert rep["reason"] == "Order replaced"
    r = await trader.call("edit_order", order_id=new, symbol="BTC/USD", cl_ord_id="x")
    assert r["error"] == "Unsupported field: 'cl_ord_id' for the given msg type: edit_order"


async def test_cancel_variants_and_batches(ex: Exchange, trader: Trader) -> None:
    price = float(_bid_below(ex, "BTC/USD", 200))
    orders = [
        {"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": price, "order_userref": 7}
        for _ in range(3)
    ]
    r = await trader.call("batch_add", symbol="BTC/USD", orders=orders)
    assert r["success"] is True and len(r["result"]) == 3
    ids = [x["order_id"] for x in r["result"]]
    # cancel_order by userref: one response per order, all with the same req_id.
    resps = await trader.responses("cancel_order", 3, order_userref=[7])
    assert sorted(x["result"]["order_id"] for x in resps) == sorted(ids)
    r = await trader.call("batch_add", symbol="BTC/USD", orders=orders[:1])
    assert r["error"] == "EGeneral:Invalid arguments:orders must hold 2 to 15 orders"
    r = await trader.call("batch_add", symbol="BTC/USD", orders=[*orders[:1], {**orders[0], "side": "up"}])
    assert r["error"] == "EGeneral:Invalid arguments:side"
    r = await trader.call("batch_add", symbol="BTC/USD", orders=orders[:2])
    ids = [x["order_id"] for x in r["result"]]
    r = await trader.call("batch_cancel", orders=ids)
    assert r["success"] is True and r["result"] == {"count": "2"}
    r = await trader.call("batch_cancel", orders=ids[:1])
    assert r["error"] == "EGeneral:Invalid arguments:batch_cancel takes 2 to 50 ids"
    await trader.call("batch_add", symbol="BTC/USD", orders=orders[:2])
    r = await trader.call("cancel_all")
    assert r["result"] == {"count": "2"}
    assert not ex.trading.account.orders


async def test_dead_mans_switch_fires(ex: Exchange, trader: Trader) -> None:
    price = float(_bid_below(ex, "BTC/USD", 300))
    r = await trader.call(
        "add_order", order_type="limit", side="buy", order_qty=0.01, symbol="BTC/USD", limit_price=price
    )
    oid = r["result"]["order_id"]
    r = await trader.call("cancel_all_orders_after", timeout=60)
    assert r["success"] is True and set(r["result"]) == {"currentTime", "triggerTime"}
    assert r["result"]["currentTime"].endswith("Z") and len(r["result"]["currentTime"]) == 20
    r = await trader.call("cancel_all_orders_after", timeout=0)
    assert r["result"]["triggerTime"] == "0"
    r = await trader.call("cancel_all_orders_after", timeout=1)
    rep = await trader.execution(lambda d: d["order_id"] == oid and d["exec_type"] == "canceled")
    assert rep["reason"] == "Dead man's switch"
    assert ex.trading.dms_fired == 1 and oid not in ex.book("BTC/USD").orders
    r = await trader.call("cancel_all_orders_after", timeout=86400)
    assert r["error"] == "EGeneral:Invalid arguments:timeout"


async def test_rate_counter_trips(ex: Exchange, trader: Trader) -> None:
    price = float(_bid_below(ex, "SOL/USD", 0).replace(".", "")) / 100 - 1  # SOL/USD: 2 decimals
    errors = []
    for _ in range(20):
        r = await trader.call(
            "add_order",
            order_type="limit",
            side="buy",
            order_qty=1.0,
            symbol="SOL/USD",
            limit_price=round(price, 2),
        )
        if not r["success"]:
            errors.append(r["error"])
            break
        c = await trader.call("cancel_order", order_id=[r["result"]["order_id"]])  # young: +8 each
        if not c["success"]:
            errors.append(c["error"])
            break
    assert errors == ["EOrder:Rate limit exceeded"]
    assert ex.trading.rate.value("SOL/USD") > 100
    # Other pairs have their own counter.
    r = await trader.call(
        "add_order",
        order_type="limit",
        side="buy",
        order_qty=0.01,
        symbol="BTC/USD",
        limit_price=float(_bid_below(ex, "BTC/USD", 300)),
    )
    assert r["success"] is True


async def test_session_and_host_errors(ex: Exchange, trader: Trader) -> None:
    c = trader.c
    r = await c.request({"method": "add_order", "params": {"order_type": "market"}, "req_id": 5})
    assert r["error"] == "Token(s) not found"
    r = await c.request({"method": "add_order", "params": {"token": "nope"}, "req_id": 6})
    assert r["error"] == "ESession:Invalid session"
    pub = await Client.open(ex.endpoints["ws"])
    r = await pub.request({"method": "add_order", "params": {"token": trader.token}, "req_id": 7})
    assert r["error"] == "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
    await pub.close()
    ex.set_system("cancel_only")
    st = await c.wait_for(lambda m: m.get("channel") == "status")
    assert st["data"][0]["system"] == "cancel_only"
    r = await trader.call("add_order", order_type="market", side="buy", order_qty=0.01, symbol="BTC/USD")
    assert r["error"] == "EService:Market in cancel_only mode"
    r = await trader.call("cancel_all")
    assert r["success"] is True
    ex.set_system("online")
