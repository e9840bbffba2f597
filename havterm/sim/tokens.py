"""API credentials, nonces and WebSocket tokens: what the REST and WS sides agree on."""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import dataclass, field

from havterm.engine.auth import sign_request
from havterm.sim.ids import random_token

TOKEN_ERRORS = ("EAPI:Invalid key", "EAPI:Invalid signature", "EAPI:Invalid nonce")


@dataclass(slots=True)
class Credential:
    """One API key. ``secret`` is base64; it never appears in a repr."""

    key: str
    secret: str = field(repr=False)
    last_nonce: int = 0


@dataclass(slots=True)
class _Token:
    created: float
    ttl: float
    bound: set[int] = field(default_factory=set)  # connection ids using it


class TokenStore:
    """Checks signed REST calls and issues WebSocket tokens that expire unless used."""

    def __init__(self, api_key: str | None = None, api_secret: str | None = None) -> None:
        key = api_key or "SIM" + secrets.token_hex(26).upper()
        secret = api_secret or base64.b64encode(secrets.token_bytes(64)).decode("ascii")
        self.credentials: dict[str, Credential] = {key: Credential(key, secret)}
        self.primary = self.credentials[key]
        self._tokens: dict[str, _Token] = {}
        self.clock = time.monotonic

    def __repr__(self) -> str:
        return f"TokenStore(keys={list(self.credentials)!r}, tokens={len(self._tokens)})"

    def add_credential(self, key: str, secret: str) -> None:
        """Accept another API key (tests use this for a second account)."""
        self.credentials[key] = Credential(key, secret)

    def verify(self, uri_path: str, body: bytes, api_key: str | None, api_sign: str | None) -> str | None:
        """Check ``API-Key``/``API-Sign`` and the nonce; return a Kraken error or ``None``.

        The nonce must parse from the body and be strictly greater than the
        last accepted one for that key (PROTOCOL.md §6.2).
        """
        cred = self.credentials.get(api_key or "")
        if cred is None:
            return "EAPI:Invalid key"
        nonce_text = _form_value(body, "nonce")
        if nonce_text is None or not nonce_text.isdigit():
            return "EAPI:Invalid nonce"
        try:
            expected = sign_request(uri_path, body, nonce_text, cred.secret)
        except ValueError:
            return "EAPI:Invalid key"
        if not api_sign or not hmac.compare_digest(expected, api_sign):
            return "EAPI:Invalid signature"
        nonce = int(nonce_text)
        if nonce <= cred.last_nonce:
            return "EAPI:Invalid nonce"
        cred.last_nonce = nonce
        return None

    def issue(self, ttl: float) -> str:
        """A fresh token that must be used within ``ttl`` seconds."""
        tok = random_token(32)
        self._tokens[tok] = _Token(self.clock(), ttl)
        return tok

    def valid(self, token: object, cid: int) -> bool:
        """Whether ``token`` is usable on connection ``cid``.

        A token is good within its ttl; once bound to a connection by a
        private subscription it stays good there while the connection lives.
        """
        if not isinstance(token, str):
            return False
        t = self._tokens.get(token)
        if t is None:
            return False
        return cid in t.bound or self.clock() - t.created < t.ttl

    def bind(self, token: str, cid: int) -> None:
        """Keep ``token`` alive for connection ``cid``."""
        t = self._tokens.get(token)
        if t is not None:
            t.bound.add(cid)

    def release(self, cid: int) -> None:
        """Connection ``cid`` closed: its bindings end."""
        for t in self._tokens.values():
            t.bound.discard(cid)

    def expire_all(self) -> None:
        """Make every unbound token stale now (for tests)."""
        for t in self._tokens.values():
            t.ttl = 0.0


def _form_value(body: bytes, name: str) -> str | None:
    """``name``'s value in a urlencoded body, or in a JSON body (Kraken accepts both)."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        import json

        try:
            obj = json.loads(text)
        except ValueError:
            return None
        v = obj.get(name) if isinstance(obj, dict) else None
        return None if v is None else str(v)
    from urllib.parse import parse_qs

    vals = parse_qs(text).get(name)
    return vals[0] if vals else None
