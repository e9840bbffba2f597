"""Kraken-style identifiers (``OTCFZG-YOE2Q-LQKNM3``), unique and deterministic."""

from __future__ import annotations

import secrets

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BITS = 85  # 17 base32 characters
_MASK = (1 << _BITS) - 1
# An odd multiplier is a bijection modulo 2**85: counters map to distinct,
# random-looking ids, and a seeded run gives the same ids every time.
_MUL = 0x1F3A5C7E9B2D4F6A8C0E1 | 1


class IdFactory:
    """Makes ids with a fixed leading letter (``O`` orders, ``T`` trades, ``L`` ledger)."""

    def __init__(self, prefix: str, salt: int = 0) -> None:
        self._prefix = prefix
        self._salt = salt & _MASK
        self._n = 0

    def next(self) -> str:
        """The next id, e.g. ``OQ3Z4T-2MBA7-XK5RFE``."""
        self._n += 1
        v = ((self._n * _MUL) ^ self._salt) & _MASK
        chars = []
        for _ in range(17):
            chars.append(_ALPHABET[v & 31])
            v >>= 5
        s = self._prefix + "".join(chars[1:])
        return f"{s[:6]}-{s[6:11]}-{s[11:17]}"


def random_token(nbytes: int = 32) -> str:
    """An opaque URL-safe token (WebSocket tokens, generated API keys)."""
    return secrets.token_urlsafe(nbytes)
