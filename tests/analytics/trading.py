"""A tiny raw trading helper for tests: one ws-auth connection, add and cancel, answers by req_id."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from havterm.engine.codec import trading_request
from havterm.engine.credentials import Credentials
from havterm.engine.rest import get_ws_token


class RawTrader:
    """Sends trading requests over ws-auth and waits for the matching response (5 s deadline)."""

    def __init__(self, ws: ClientConnection, token: str) -> None:
        self.ws = ws
        self.token = token
        self.req_id = 0

    @classmethod
    async def open(cls, endpoints: dict[str, Any]) -> RawTrader:
        creds = Credentials(endpoints["api_key"], endpoints["api_secret"])
        token = await get_ws_token(endpoints["rest"], creds)
        ws = await connect(endpoints["ws_auth"], max_size=None)
        return cls(ws, token)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.req_id += 1
        rid = self.req_id
        await self.ws.send(trading_request(method, self.token, params, rid))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while True:
            text = await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - loop.time()))
            msg = json.loads(text, parse_float=Decimal)
            if msg.get("method") == method and msg.get("req_id") == rid:
                return dict(msg)

    async def limit(self, symbol: str, side: str, qty: str, price: str) -> str:
        """Place a GTC limit order; returns its order id (raises on refusal)."""
        r = await self.call(
            "add_order", order_type="limit", side=side, symbol=symbol,
            order_qty=Decimal(qty), limit_price=Decimal(price),
        )  # fmt: skip
        assert r["success"], r
        return str(r["result"]["order_id"])

    async def close(self) -> None:
        await self.ws.close()
