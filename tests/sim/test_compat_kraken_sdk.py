"""An independent Kraken client (python-kraken-sdk) works against the sim unchanged.

It keeps checksum-valid books (it verifies every update itself), gets a token
from the sim's REST with its own request signing, and places and cancels an
order over ws-auth. The 60-second soak is marked ``slow``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from havterm.sim import SimConfig
from tests.sim.threaded import ThreadedExchange

kraken_spot = pytest.importorskip("kraken.spot")


def _book_client(endpoints: dict[str, Any], depth: int) -> Any:
    """A SpotOrderBookClient pointed at the sim: URLs are class attributes plus a REST Market."""
    base = endpoints["ws"].removesuffix("/v2")

    class SimOrderBook(kraken_spot.SpotOrderBookClient):  # type: ignore[misc,name-defined]
        WS_URL = base  # the SDK appends "/v2" itself

        def __init__(self) -> None:
            super().__init__(depth=depth)
            # The book client asks REST AssetPairs for pair_decimals/lot_decimals.
            self._SpotOrderBookClient__market = kraken_spot.Market(url=endpoints["rest"])
            self.updates = 0
            self.invalid = 0
            self.errors: list[Any] = []

        async def on_book_update(self, pair: str, message: dict[str, Any]) -> None:
            if "error" in message:
                self.errors.append(message)
                return
            book = self.get(pair)
            self.updates += 1
            if book is not None and not book["valid"]:
                self.invalid += 1

    return SimOrderBook()


async def _run_books(seconds: float, rate: float, seed: int) -> None:
    with ThreadedExchange(SimConfig(seed=seed, rate=rate)) as tex:
        ep = tex.endpoints
        shallow, deep = _book_client(ep, 10), _book_client(ep, 100)
        await shallow.start()
        await deep.start()
        await shallow.add_book(pairs=["BTC/USD", "ETH/USD"])
        await deep.add_book(pairs=["BTC/USD", "SOL/USD"])
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            await asyncio.sleep(0.25)
            assert shallow.invalid == 0 and deep.invalid == 0, (shallow.errors, deep.errors)
        await shallow.close()
        await deep.close()
    assert shallow.updates > seconds * 10 and deep.updates > seconds * 10
    assert shallow.errors == [] and deep.errors == []


async def test_sdk_books_stay_valid_short() -> None:
    await _run_books(5, rate=400, seed=21)


@pytest.mark.slow
async def test_sdk_books_stay_valid_soak_60s() -> None:
    await _run_books(60, rate=SimConfig().rate, seed=22)


async def test_sdk_token_and_order_roundtrip() -> None:
    with ThreadedExchange(SimConfig(seed=23, market=False)) as tex:
        ep = tex.endpoints
        got: list[dict[str, Any]] = []

        async def on_message(msg: Any) -> None:
            if isinstance(msg, dict):
                got.append(msg)

        client = kraken_spot.SpotWSClient(
            key=ep["api_key"],
            secret=ep["api_secret"],
            callback=on_message,
            no_public=True,
            rest_url=ep["rest"],
            ws_url=ep["ws"].removesuffix("/v2"),
            auth_ws_url=ep["ws_auth"].removesuffix("/v2"),
        )
        await client.start()  # fetches a token from the sim's REST with the SDK's own signing

        async def wait(pred: Any) -> dict[str, Any]:
            for _ in range(200):
                for m in got:
                    if pred(m):
                        return m
                await asyncio.sleep(0.025)
            raise AssertionError(f"not seen; got {got[-5:]}")

        await client.subscribe(params={"channel": "executions"})
        ack = await wait(lambda m: m.get("method") == "subscribe")
        assert ack["success"] is True, ack
        await client.send_message(
            message={
                "method": "add_order",
                "params": {
                    "order_type": "limit",
                    "side": "buy",
                    "order_qty": 0.01,
                    "symbol": "BTC/USD",
                    "limit_price": 30000.0,
                    "order_userref": 5,
                },
            }
        )
        placed = await wait(lambda m: m.get("method") == "add_order")
        assert placed["success"] is True, placed
        oid = placed["result"]["order_id"]
        assert tex.call(lambda ex: oid in ex.book("BTC/USD").orders)
        await client.send_message(message={"method": "cancel_order", "params": {"order_id": [oid]}})
        cancelled = await wait(lambda m: m.get("method") == "cancel_order")
        assert cancelled["success"] is True and cancelled["result"]["order_id"] == oid
        await wait(
            lambda m: (
                m.get("channel") == "executions" and m["data"] and m["data"][0].get("exec_type") == "canceled"
            )
        )
        assert not tex.call(lambda ex: oid in ex.book("BTC/USD").orders)
        await client.close()
