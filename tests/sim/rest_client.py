"""A tiny signed REST client for tests (stdlib only, run in a thread)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.request
from typing import Any

from havterm.engine.auth import sign_request

_nonce = itertools.count(time.time_ns() // 1000)


def post_private(
    rest: str, path: str, key: str, secret: str, nonce: int | None = None, sign: str | None = None
) -> Any:
    """POST ``path`` signed like Kraken; returns the decoded JSON."""
    n = next(_nonce) if nonce is None else nonce
    body = f"nonce={n}".encode()
    sig = sign if sign is not None else sign_request(path, body, n, secret)
    req = urllib.request.Request(
        rest + path,
        data=body,
        method="POST",
        headers={"API-Key": key, "API-Sign": sig, "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def get_public(rest: str, path: str) -> Any:
    """GET a public endpoint."""
    with urllib.request.urlopen(rest + path, timeout=5) as r:
        return json.loads(r.read())


async def get_token(endpoints: dict[str, Any]) -> str:
    """Fetch a WebSocket token from the sim's REST endpoint."""
    res = await asyncio.to_thread(
        post_private,
        endpoints["rest"],
        "/0/private/GetWebSocketsToken",
        endpoints["api_key"],
        endpoints["api_secret"],
    )
    assert res["error"] == [], res
    token: str = res["result"]["token"]
    return token
