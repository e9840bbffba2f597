"""Kraken REST calls the WebSocket client needs: a signed ``GetWebSocketsToken`` and ``AssetPairs``.

Blocking ``urllib`` runs in a worker thread (``asyncio.to_thread``), so the
event loop never waits on HTTP and no extra HTTP library is needed. Nonces are
milliseconds and strictly increase per process, as Kraken requires per key.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from typing import Any

from havterm.engine.auth import sign_request
from havterm.engine.credentials import Credentials

TOKEN_PATH = "/0/private/GetWebSocketsToken"


class RestError(Exception):
    """Kraken answered with an error list, e.g. ``EAPI:Invalid key``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(", ".join(errors) or "unknown error")
        self.errors = errors

    @property
    def is_auth(self) -> bool:
        """True when retrying cannot help: the key, signature or permission is wrong."""
        return any(
            e.startswith(("EAPI:Invalid key", "EAPI:Invalid signature", "EGeneral:Permission denied"))
            for e in self.errors
        )


class NonceSource:
    """Strictly increasing millisecond nonces, safe across threads."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            n = max(int(time.time() * 1000), self._last + 1)
            self._last = n
            return n


_nonces = NonceSource()
_private = threading.Lock()
"""Held from taking a nonce until the answer is in: Kraken refuses a nonce lower than one it has
already seen for the key (``EAPI:Invalid nonce``), so two private calls in flight at once (the
trading and the level3 connections each fetch a token) could arrive in the wrong order."""


def _post_private(
    base_url: str, path: str, creds: Credentials, params: dict[str, str], timeout_s: float
) -> Any:
    with _private:
        return _send_private(base_url, path, creds, params, timeout_s)


def _send_private(
    base_url: str, path: str, creds: Credentials, params: dict[str, str], timeout_s: float
) -> Any:
    nonce = _nonces()
    body = urllib.parse.urlencode({"nonce": str(nonce), **params})
    req = urllib.request.Request(
        base_url.rstrip("/") + path,
        data=body.encode(),
        method="POST",
        headers={
            "API-Key": creds.api_key,
            "API-Sign": sign_request(path, body, nonce, creds.secret()),
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "havterm",
        },
    )
    return _read(req, timeout_s)


def _read(req: urllib.request.Request, timeout_s: float) -> Any:
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            payload = json.loads(resp.read(), parse_float=Decimal)
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read(), parse_float=Decimal)
        except ValueError:
            raise OSError(f"HTTP {exc.code} from {req.full_url}") from None
    except ValueError:
        raise OSError(f"not JSON from {req.full_url}") from None
    if payload.get("error"):
        raise RestError([str(e) for e in payload["error"]])
    return payload.get("result")


def get_ws_token_sync(base_url: str, creds: Credentials, timeout_s: float = 10.0) -> str:
    """A fresh WebSocket token; raises ``RestError`` (check ``is_auth``) or ``OSError``."""
    result = _post_private(base_url, TOKEN_PATH, creds, {}, timeout_s)
    token = result.get("token") if isinstance(result, dict) else None
    if not isinstance(token, str) or not token:
        raise RestError(["EGeneral:no token in GetWebSocketsToken result"])
    return token


async def get_ws_token(base_url: str, creds: Credentials, timeout_s: float = 10.0) -> str:
    """``get_ws_token_sync`` off the event loop."""
    return await asyncio.to_thread(get_ws_token_sync, base_url, creds, timeout_s)


def asset_pairs_sync(base_url: str, pairs: list[str], timeout_s: float = 10.0) -> dict[str, Any]:
    """``/0/public/AssetPairs?pair=...`` keyed as queried (v2 names work)."""
    query = urllib.parse.urlencode({"pair": ",".join(pairs)})
    req = urllib.request.Request(f"{base_url.rstrip('/')}/0/public/AssetPairs?{query}")
    result = _read(req, timeout_s)
    return result if isinstance(result, dict) else {}
