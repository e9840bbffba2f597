"""A small asyncio HTTP/1.1 server for the REST calls a Kraken client makes before it streams."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from havterm.sim.wire import now_ns, ts_s

if TYPE_CHECKING:
    from havterm.sim.exchange import Exchange

log = logging.getLogger("havterm.sim.rest")

MAX_BODY = 64 * 1024
MAX_HEADERS = 100


class RestServer:
    """Answers ``/0/public/{AssetPairs,Time,SystemStatus}`` and ``/0/private/GetWebSocketsToken``."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()

    async def start(self, host: str, port: int) -> int:
        """Bind and return the port."""
        self._server = await asyncio.start_server(self._client, host, port)
        port_: int = self._server.sockets[0].getsockname()[1]
        return port_

    async def stop(self) -> None:
        """Close the listener and any open keep-alive connections."""
        if self._server:
            self._server.close()
        for t in list(self._conns):
            t.cancel()
        for t in list(self._conns):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._server:
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task:
            self._conns.add(task)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    method, target, _version = line.decode("latin-1").strip().split(" ", 2)
                except ValueError:
                    await self._respond(writer, 400, {"error": ["EGeneral:Invalid arguments"]}, close=True)
                    break
                headers: dict[str, str] = {}
                for _ in range(MAX_HEADERS):
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY:
                    await self._respond(writer, 413, {"error": ["EGeneral:Invalid arguments"]}, close=True)
                    break
                body = await reader.readexactly(length) if length else b""
                status, payload = self.route(method, target, headers, body)
                close = headers.get("connection", "").lower() == "close"
                await self._respond(writer, status, payload, close=close)
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task:
                self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, payload: Any, close: bool) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            405: "Method Not Allowed",
            413: "Payload Too Large",
        }.get(status, "OK")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        await writer.drain()

    # -- routes -----------------------------------------------------------------

    def route(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """Answer one request; the payload is Kraken's ``{"error": [...], "result": ...}``."""
        url = urlsplit(target)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path.startswith("/0/public/"):
            if method not in ("GET", "POST"):
                return 405, {"error": ["EGeneral:Invalid arguments"]}
            if method == "POST" and body:
                query.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
            name = path[len("/0/public/") :]
            if name == "Time":
                now = now_ns()
                return 200, {
                    "error": [],
                    "result": {
                        "unixtime": now // 1_000_000_000,
                        "rfc1123": email.utils.formatdate(now / 1e9, usegmt=True),
                    },
                }
            if name == "SystemStatus":
                return 200, {"error": [], "result": {"status": self.ex.system, "timestamp": ts_s(now_ns())}}
            if name == "AssetPairs":
                return self._asset_pairs(query.get("pair"))
            return 404, {"error": ["EGeneral:Unknown method"]}
        if path.startswith("/0/private/"):
            if method != "POST":
                return 405, {"error": ["EGeneral:Invalid arguments"]}
            err = self.ex.tokens.verify(path, body, headers.get("api-key"), headers.get("api-sign"))
            if err:
                return 200, {"error": [err]}
            if path == "/0/private/GetWebSocketsToken":
                ttl = self.ex.faults.global_spec.token_ttl
                return 200, {"error": [], "result": {"token": self.ex.tokens.issue(ttl), "expires": int(ttl)}}
            return 404, {"error": ["EGeneral:Unknown method"]}
        return 404, {"error": ["EGeneral:Unknown method"]}

    def _asset_pairs(self, pair: str | None) -> tuple[int, Any]:
        insts = self.ex.instruments
        if not pair:
            return 200, {"error": [], "result": {i.rest_name: _pair_info(i) for i in insts.values()}}
        result: dict[str, Any] = {}
        for q in pair.split(","):
            q = q.strip()
            found = None
            for i in insts.values():
                if q in (i.symbol, i.rest_name, i.altname, i.wsname):
                    found = i
                    break
            if found is None:
                return 200, {"error": ["EQuery:Unknown asset pair"]}
            # Queried by v2 name (BTC/USD) -> keyed by that name, as clients read it (§9).
            result[q] = _pair_info(found)
        return 200, {"error": [], "result": result}


def _pair_info(i: Any) -> dict[str, Any]:
    from havterm.sim.exchange import _fmt_plain

    return {
        "altname": i.altname,
        "wsname": i.wsname,
        "aclass_base": "currency",
        "base": i.base,
        "aclass_quote": "currency",
        "quote": i.quote,
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": i.price_precision,
        "lot_decimals": i.qty_precision,
        "lot_multiplier": 1,
        "fees": [[0, 0.26]],
        "fees_maker": [[0, 0.16]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": _fmt_plain(i.qty_min, i.qty_precision),
        "costmin": i.cost_min,
        "tick_size": i.fmt_price_unit(),
        "status": "online",
    }
