"""Test helpers: a JSON WebSocket client, and reference L2/L3 books that verify checksums."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from havterm.engine.checksum import l2_checksum, l3_checksum
from havterm.engine.fixed import parse_decimal_text, rescale

TIMEOUT = 5.0


def loads_exact(text: str) -> Any:
    """Decode a frame keeping every JSON number as its exact text."""
    return json.loads(text, parse_float=str, parse_int=str)


def ticks(token: str, precision: int) -> int:
    """A wire token at exactly ``precision`` decimals, as an integer; asserts the precision."""
    _whole, _, frac = token.partition(".")
    assert len(frac) == precision, f"{token!r} does not carry {precision} decimals"
    units, scale = parse_decimal_text(token)
    return rescale(units, scale, precision)


class Client:
    """A WebSocket client that keeps every decoded frame and can wait for one."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Any] = []
        self.raw: list[str] = []
        self._taken: set[int] = set()
        self.status: Any = None

    @classmethod
    async def open(cls, url: str) -> Client:
        """Connect and consume the ``status`` frame."""
        c = cls(await connect(url, max_size=None, max_queue=None))
        c.status = await c.wait_for(lambda m: m.get("channel") == "status")
        return c

    async def send(self, obj: Any) -> None:
        """Send one request."""
        await self.ws.send(json.dumps(obj))

    async def _recv(self, timeout: float) -> int:
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(text, str)
        self.raw.append(text)
        self.frames.append(loads_exact(text))
        return len(self.frames) - 1

    async def next(self, timeout: float = TIMEOUT) -> Any:
        """The oldest frame not yet taken by ``next`` or ``wait_for``."""
        return await self.wait_for(lambda m: True, timeout)

    async def wait_for(self, pred: Callable[[Any], bool], timeout: float = TIMEOUT) -> Any:
        """Take the oldest untaken frame that satisfies ``pred``, receiving as needed.

        Frames that do not match stay available to later calls, so waiting for
        a response never loses the channel messages that came before it.
        """
        for i, m in enumerate(self.frames):
            if i not in self._taken and pred(m):
                self._taken.add(i)
                return m

        async def loop() -> Any:
            while True:
                i = await self._recv(timeout)
                if pred(self.frames[i]):
                    self._taken.add(i)
                    return self.frames[i]

        return await asyncio.wait_for(loop(), timeout)

    def pending(self, pred: Callable[[Any], bool] = lambda m: True) -> list[Any]:
        """Frames received but not taken that satisfy ``pred``."""
        return [m for i, m in enumerate(self.frames) if i not in self._taken and pred(m)]

    async def request(self, obj: Any, method: str | None = None, timeout: float = TIMEOUT) -> Any:
        """Send a request with its ``req_id`` and wait for the matching response."""
        rid = obj.get("req_id")
        await self.send(obj)
        want = method or obj["method"]
        if want == "ping":
            want = "pong"
        return await self.wait_for(
            lambda m: (
                "method" in m
                and m.get("req_id") == (None if rid is None else str(rid))
                and (m["method"] == want or not m.get("success", True))
            ),
            timeout,
        )

    async def close(self) -> None:
        """Close the socket."""
        await self.ws.close()


class RefBook:
    """A naive L2 book for one symbol: apply, truncate, checksum (PROTOCOL.md §4.1)."""

    def __init__(self, depth: int, pp: int, qp: int, per_level: bool = False) -> None:
        self.depth, self.pp, self.qp = depth, pp, qp
        self.per_level = per_level  # truncate after every level, as python-kraken-sdk does
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.verified = 0

    def apply(self, data: dict[str, Any], snapshot: bool) -> None:
        """Apply one ``data[0]`` entry and assert its checksum."""
        if snapshot:
            self.bids.clear()
            self.asks.clear()
        for key, side in (("bids", self.bids), ("asks", self.asks)):
            for lv in data[key]:
                p, q = ticks(lv["price"], self.pp), ticks(lv["qty"], self.qp)
                if q == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
                if self.per_level:
                    self._truncate()
        self._truncate()
        assert int(data["checksum"]) == self.checksum(), "checksum mismatch"
        if self.bids and self.asks:
            assert max(self.bids) < min(self.asks), "crossed book"
        self.verified += 1

    def _truncate(self) -> None:
        for p in sorted(self.bids, reverse=True)[self.depth :]:
            del self.bids[p]
        for p in sorted(self.asks)[self.depth :]:
            del self.asks[p]

    def checksum(self) -> int:
        """CRC32 of the top 10 levels a side."""
        a = [(p, self.asks[p]) for p in sorted(self.asks)[:10]]
        b = [(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:10]]
        return l2_checksum(a, b)


class RefL3:
    """A naive level3 book: orders by id, FIFO per level, per-order checksum (§4.2)."""

    def __init__(self, depth: int, pp: int, qp: int) -> None:
        self.depth, self.pp, self.qp = depth, pp, qp
        self.sides: dict[str, dict[int, dict[str, int]]] = {"bids": {}, "asks": {}}
        self.verified = 0

    def apply(self, data: dict[str, Any], snapshot: bool) -> None:
        """Apply one ``data[0]`` entry and assert its checksum."""
        if snapshot:
            self.sides = {"bids": {}, "asks": {}}
        for key in ("bids", "asks"):
            side = self.sides[key]
            for o in data[key]:
                p, q = ticks(o["limit_price"], self.pp), ticks(o["order_qty"], self.qp)
                ev = o.get("event", "add")
                lvl = side.setdefault(p, {})
                if ev == "add":
                    assert o["order_id"] not in lvl
                    lvl[o["order_id"]] = q
                elif ev == "modify":
                    assert o["order_id"] in lvl, "modify of unknown order"
                    lvl[o["order_id"]] = q
                elif ev == "delete":
                    assert o["order_id"] in lvl, "delete of unknown order"
                    del lvl[o["order_id"]]
                else:
                    raise AssertionError(ev)
                if not lvl:
                    del side[p]
            keep = sorted(side, reverse=key == "bids")[: self.depth]
            for p in list(side):
                if p not in keep:
                    del side[p]
        assert int(data["checksum"]) == self.checksum(), "level3 checksum mismatch"
        self.verified += 1

    def checksum(self) -> int:
        """CRC32 over every order of the top 10 levels, in queue order."""
        a = [(p, list(self.sides["asks"][p].values())) for p in sorted(self.sides["asks"])[:10]]
        b = [(p, list(self.sides["bids"][p].values())) for p in sorted(self.sides["bids"], reverse=True)[:10]]
        return l3_checksum(a, b)


TS_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TS_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
