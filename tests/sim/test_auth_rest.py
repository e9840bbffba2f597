"""REST: signed GetWebSocketsToken (success and every failure), token expiry, public endpoints."""

from __future__ import annotations

import asyncio
import json

from havterm.engine.auth import sign_request
from havterm.sim import Exchange
from tests.sim.helpers import Client
from tests.sim.rest_client import get_public, get_token, post_private

PATH = "/0/private/GetWebSocketsToken"


def test_sign_request_matches_kraken_docs_example() -> None:
    with open("/work/shared/data/kraken/docs_rest_api_sign_example.json") as f:
        d = json.load(f)
    assert sign_request(d["uri_path"], d["encoded_payload"], d["nonce"], d["private_key"]) == d["api_sign"]
    assert (
        sign_request(d["uri_path"], d["encoded_payload"].encode(), int(d["nonce"]), d["private_key"])
        == d["api_sign"]
    )


async def test_token_success_and_failures(ex: Exchange) -> None:
    ep = ex.endpoints
    rest, key, secret = ep["rest"], ep["api_key"], ep["api_secret"]
    ok = await asyncio.to_thread(post_private, rest, PATH, key, secret, 1000)
    assert ok["error"] == [] and ok["result"]["expires"] == 900 and len(ok["result"]["token"]) >= 32
    same = await asyncio.to_thread(post_private, rest, PATH, key, secret, 1000)
    assert same == {"error": ["EAPI:Invalid nonce"]}
    lower = await asyncio.to_thread(post_private, rest, PATH, key, secret, 999)
    assert lower == {"error": ["EAPI:Invalid nonce"]}
    bad_key = await asyncio.to_thread(post_private, rest, PATH, "NOPE", secret, 2000)
    assert bad_key == {"error": ["EAPI:Invalid key"]}
    wrong = sign_request(PATH, b"nonce=2001", 2001, "a2V5")
    bad_sig = await asyncio.to_thread(post_private, rest, PATH, key, secret, 2001, wrong)
    assert bad_sig == {"error": ["EAPI:Invalid signature"]}
    # A refused signature does not consume the nonce.
    ok2 = await asyncio.to_thread(post_private, rest, PATH, key, secret, 2001)
    assert ok2["error"] == []
    assert secret not in repr(ex.tokens) and secret not in repr(ex.config)


async def test_token_expiry_and_binding(ex: Exchange) -> None:
    token = await get_token(ex.endpoints)
    c = await Client.open(ex.endpoints["ws_auth"])
    ok = await c.request(
        {"method": "subscribe", "params": {"channel": "balances", "token": token}, "req_id": 1}
    )
    assert ok["success"] is True
    stale = await get_token(ex.endpoints)
    base = ex.tokens.clock()
    ex.tokens.clock = lambda: base + 901  # 15 minutes and a second later
    # The bound token keeps working on its connection...
    again = await c.request(
        {"method": "subscribe", "params": {"channel": "executions", "token": token}, "req_id": 2}
    )
    assert again["success"] is True
    # ...an unused one has expired.
    c2 = await Client.open(ex.endpoints["ws_auth"])
    r = await c2.request(
        {"method": "subscribe", "params": {"channel": "executions", "token": stale}, "req_id": 3}
    )
    assert r["success"] is False and r["error"] == "ESession:Invalid session"
    assert r["channel"] == "executions" and r["status"] == "error"
    r = await c2.request({"method": "subscribe", "params": {"channel": "executions"}, "req_id": 4})
    assert r["error"] == "Token(s) not found"
    l3 = await Client.open(ex.endpoints["ws_l3"])
    r = await l3.request(
        {
            "method": "subscribe",
            "params": {"channel": "level3", "symbol": ["BTC/USD"], "token": "bogus"},
            "req_id": 5,
        }
    )
    assert r["error"] == "ESession:Invalid session"
    for x in (c, c2, l3):
        await x.close()


async def test_token_ttl_fault(ex: Exchange) -> None:
    ex.faults.set(token_ttl=0)
    res = await asyncio.to_thread(
        post_private, ex.endpoints["rest"], PATH, ex.endpoints["api_key"], ex.endpoints["api_secret"]
    )
    assert res["result"]["expires"] == 0
    c = await Client.open(ex.endpoints["ws_auth"])
    token = res["result"]["token"]
    r = await c.request(
        {"method": "subscribe", "params": {"channel": "executions", "token": token}, "req_id": 1}
    )
    assert r["error"] == "ESession:Invalid session"
    await c.close()


async def test_public_rest(ex: Exchange) -> None:
    rest = ex.endpoints["rest"]
    pairs = await asyncio.to_thread(get_public, rest, "/0/public/AssetPairs?pair=BTC/USD")
    info = pairs["result"]["BTC/USD"]
    assert pairs["error"] == [] and info["pair_decimals"] == 1 and info["lot_decimals"] == 8
    assert info["wsname"] == "XBT/USD" and info["altname"] == "XBTUSD" and info["ordermin"] == "0.0001"
    two = await asyncio.to_thread(get_public, rest, "/0/public/AssetPairs?pair=XRP/USD,ETH/USD")
    assert two["result"]["XRP/USD"]["pair_decimals"] == 5 and two["result"]["ETH/USD"]["pair_decimals"] == 2
    every = await asyncio.to_thread(get_public, rest, "/0/public/AssetPairs")
    assert set(every["result"]) == {"XXBTZUSD", "XETHZUSD", "SOLUSD", "XXRPZUSD"}
    unknown = await asyncio.to_thread(get_public, rest, "/0/public/AssetPairs?pair=NOPE/USD")
    assert unknown == {"error": ["EQuery:Unknown asset pair"]}
    t = await asyncio.to_thread(get_public, rest, "/0/public/Time")
    assert (
        t["error"] == []
        and isinstance(t["result"]["unixtime"], int)
        and t["result"]["rfc1123"].endswith("GMT")
    )
    ex.set_system("maintenance")
    st = await asyncio.to_thread(get_public, rest, "/0/public/SystemStatus")
    assert st["result"]["status"] == "maintenance"
