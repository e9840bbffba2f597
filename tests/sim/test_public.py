"""Public endpoint: status, ping, heartbeat, instrument, ticker, trade, ohlc, acks and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from havterm.engine.fixed import format_units
from havterm.sim import Exchange
from tests.sim.helpers import TS_NS, TS_US, Client


async def _sub(c: Client, params: dict[str, Any], req_id: int = 9) -> Any:
    return await c.request({"method": "subscribe", "params": params, "req_id": req_id})


async def test_status_ping_and_heartbeat(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    st = c.status["data"][0]
    assert list(st) == ["version", "system", "api_version", "connection_id"]
    assert st["system"] == "online" and st["api_version"] == "v2"
    assert int(st["connection_id"]) in ex.connections("public")
    pong = await c.request({"method": "ping", "req_id": 101})
    assert pong["method"] == "pong" and pong["req_id"] == "101"
    assert TS_US.match(pong["time_in"]) and TS_US.match(pong["time_out"])
    bad = await c.request({"method": "ping", "params": {}, "req_id": 0})
    assert bad["success"] is False
    assert bad["error"] == "Unsupported field: 'params' for the given msg type: ping"
    # No heartbeat without a subscription; one a second with one.
    assert not c.pending(lambda m: m.get("channel") == "heartbeat")
    await _sub(c, {"channel": "trade", "symbol": ["BTC/USD"]})
    hb = await c.wait_for(lambda m: m.get("channel") == "heartbeat", timeout=2.5)
    assert hb == {"channel": "heartbeat"}
    await c.close()


async def test_instrument(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    ack = await _sub(c, {"channel": "instrument"}, 79)
    assert ack["result"] == {
        "channel": "instrument",
        "snapshot": True,
        "warnings": ["tick_size is deprecated, use price_increment"],
    }
    snap = await c.wait_for(lambda m: m.get("channel") == "instrument")
    assert snap["type"] == "snapshot"
    pairs = {p["symbol"]: p for p in snap["data"]["pairs"]}
    precisions = {s: (p["price_precision"], p["qty_precision"]) for s, p in pairs.items()}
    assert precisions == {
        "BTC/USD": ("1", "8"),
        "ETH/USD": ("2", "8"),
        "SOL/USD": ("2", "8"),
        "XRP/USD": ("5", "8"),
    }
    assert pairs["BTC/USD"]["price_increment"] == "0.1" and pairs["XRP/USD"]["qty_increment"] == "1e-08"
    assert {a["id"] for a in snap["data"]["assets"]} == {"BTC", "ETH", "SOL", "XRP", "USD"}
    await c.close()


async def test_ticker_trades_and_bbo(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    ack = await _sub(c, {"channel": "ticker", "symbol": ["BTC/USD"]})
    assert ack["result"] == {
        "channel": "ticker",
        "event_trigger": "trades",
        "snapshot": True,
        "symbol": "BTC/USD",
    }
    snap = await c.wait_for(lambda m: m.get("channel") == "ticker")
    d = snap["data"][0]
    assert snap["type"] == "snapshot"
    keys = ["symbol", "bid", "bid_qty", "ask", "ask_qty", "last", "volume", "vwap", "low", "high", "change"]
    assert list(d)[: len(keys)] == keys
    bb, ba = ex.book("BTC/USD").best_bid(), ex.book("BTC/USD").best_ask()
    assert bb and ba and d["bid"] == f"{bb.price / 10:.1f}" and d["ask"] == f"{ba.price / 10:.1f}"
    bbo = await Client.open(ex.endpoints["ws"])
    await _sub(bbo, {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "bbo", "snapshot": False})
    while ex.feeds["BTC/USD"].n_trades == 0:
        ex.step(1, symbol="BTC/USD")
    up = await c.wait_for(lambda m: m.get("channel") == "ticker" and m["type"] == "update")
    assert up["data"][0]["last"] == f"{ex.feeds['BTC/USD'].last / 10:.1f}"
    assert TS_US.match(up["data"][0]["timestamp"])
    ex.apply("BTC/USD", lambda e: e.cancel(next(iter(e.best_bid().orders))))  # type: ignore[union-attr]
    nb = ex.book("BTC/USD").best_bid()
    assert nb is not None
    want = (format_units(nb.price, 1), format_units(nb.total, 8))
    u2 = await bbo.wait_for(
        lambda m: m.get("channel") == "ticker" and (m["data"][0]["bid"], m["data"][0]["bid_qty"]) == want
    )
    assert u2["type"] == "update"
    assert not bbo.pending(lambda m: m.get("type") == "snapshot")
    await c.close()
    await bbo.close()


async def test_trade_channel(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    ack = await _sub(c, {"channel": "trade", "symbol": ["ETH/USD"]})
    assert ack["result"] == {"channel": "trade", "snapshot": False, "symbol": "ETH/USD"}
    while ex.feeds["ETH/USD"].n_trades < 3:
        ex.step(1, symbol="ETH/USD")
    m = await c.wait_for(lambda m: m.get("channel") == "trade")
    assert m["type"] == "update"  # snapshot defaults to false
    t = m["data"][0]
    assert list(t) == ["symbol", "side", "price", "qty", "ord_type", "trade_id", "timestamp"]
    assert t["side"] in ("buy", "sell") and t["ord_type"] in ("market", "limit")
    assert len(t["price"].split(".")[1]) == 2 and len(t["qty"].split(".")[1]) == 8
    c2 = await Client.open(ex.endpoints["ws"])
    await _sub(c2, {"channel": "trade", "symbol": ["ETH/USD"], "snapshot": True})
    snap = await c2.wait_for(lambda m: m.get("channel") == "trade")
    assert snap["type"] == "snapshot" and 3 <= len(snap["data"]) <= 50
    ids = [int(x["trade_id"]) for x in snap["data"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    await c.close()
    await c2.close()


async def test_ohlc(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    ack = await _sub(c, {"channel": "ohlc", "symbol": ["SOL/USD"], "interval": 5})
    assert ack["result"] == {
        "channel": "ohlc",
        "interval": "5",
        "snapshot": True,
        "symbol": "SOL/USD",
        "warnings": ["timestamp is deprecated, use interval_begin"],
    }
    snap = await c.wait_for(lambda m: m.get("channel") == "ohlc")
    assert snap["type"] == "snapshot" and TS_NS.match(snap["timestamp"])
    while ex.feeds["SOL/USD"].n_trades == 0:
        ex.step(1, symbol="SOL/USD")
    up = await c.wait_for(lambda m: m.get("channel") == "ohlc" and m["type"] == "update")
    k = up["data"][0]
    assert k["interval"] == "5" and TS_NS.match(k["interval_begin"]) and int(k["trades"]) >= 1
    begin_min = int(k["interval_begin"][14:16])
    assert begin_min % 5 == 0 and k["interval_begin"].endswith(":00.000000000Z")
    end_min = int(k["timestamp"][14:16])
    assert end_min == (begin_min + 5) % 60  # the deprecated timestamp is the interval end
    bad = await _sub(c, {"channel": "ohlc", "symbol": ["SOL/USD"], "interval": 7})
    assert bad["success"] is False and bad["error"].startswith("EGeneral:Invalid arguments:interval")
    await c.close()


async def test_acks_and_refusals(ex: Exchange) -> None:
    c = await Client.open(ex.endpoints["ws"])
    bad = await _sub(c, {"channel": "book", "symbol": ["XBT/USD"]}, 3)
    assert bad["error"] == "Currency pair not supported XBT/USD" and bad["symbol"] == "XBT/USD"
    assert bad["req_id"] == "3" and "result" not in bad
    ok = await _sub(c, {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}, 4)
    assert ok["success"] is True and ok["req_id"] == "4"
    again = await _sub(c, {"channel": "book", "symbol": ["BTC/USD"], "depth": 25}, 5)
    assert again["error"] == "Already subscribed"
    wrong = await c.request(
        {
            "method": "unsubscribe",
            "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 25},
            "req_id": 6,
        }
    )
    assert wrong["error"] == "Subscription Not Found" and wrong["method"] == "subscribe"
    un = await c.request(
        {
            "method": "unsubscribe",
            "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 10},
            "req_id": 7,
        }
    )
    assert un["result"] == {"channel": "book", "depth": "10", "symbol": "BTC/USD"}  # no snapshot key
    extra = await _sub(c, {"channel": "book", "symbol": ["BTC/USD"], "interval": 5}, 8)
    assert extra["error"] == "Unsupported field: 'interval' for the given msg type: subscribe"
    depth = await _sub(c, {"channel": "book", "symbol": ["BTC/USD"], "depth": 20}, 9)
    assert depth["error"].startswith("EGeneral:Invalid arguments:depth")
    name = await _sub(c, {"channel": "candles", "symbol": ["BTC/USD"]}, 10)
    assert name["error"] == "Subscription name invalid"
    ev = await c.request({"method": "subscribez", "req_id": 11}, "subscribez")
    assert ev["error"] == "Unsupported event"
    priv = await _sub(c, {"channel": "executions", "token": "x"}, 12)
    assert (
        priv["error"] == "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
    )
    l3 = await _sub(c, {"channel": "level3", "symbol": ["BTC/USD"], "token": "x"}, 13)
    assert l3["success"] is False
    await c.send(
        {
            "method": "subscribe",
            "params": {"channel": "ticker", "symbol": ["BTC/USD", "ETH/USD"]},
            "req_id": 14,
        }
    )
    acks = [await c.wait_for(lambda m: m.get("req_id") == "14") for _ in range(2)]
    assert [a["result"]["symbol"] for a in acks] == ["BTC/USD", "ETH/USD"]  # one ack per symbol
    await c.close()
    auth = await Client.open(ex.endpoints["ws_auth"])
    pub = await _sub(auth, {"channel": "book", "symbol": ["BTC/USD"]}, 15)
    assert (
        pub["error"] == "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"
    )
    await auth.close()


@pytest.mark.parametrize("seed", [3, 11])
async def test_seeded_market_is_deterministic(seed: int) -> None:
    from havterm.sim import SimConfig

    tops = []
    for _ in range(2):
        async with Exchange(SimConfig(seed=seed, market=False, symbols=("BTC/USD", "DOGE/USD"))) as e:
            e.step(2000)
            for s in e.symbols():
                e.book(s).check()
            tops.append([(lv.price, lv.total) for s in e.symbols() for lv in e.book(s).sides[0].top(20)])
    assert tops[0] == tops[1]
    assert e.instruments["DOGE/USD"].price_precision == 7
