"""havterm.engine: an exact, checksum-verified Kraken WebSocket v2 client with no UI dependencies.

The pieces, bottom up: ``fixed`` (exact decimals as integers), ``checksum``
(Kraken's CRC32), ``codec`` (frames to typed ``events`` and back), ``book``
and ``l3`` (order books verified on every message), ``market`` and ``state``
(per-symbol state), ``protocol`` (the sans-I/O session), ``transport`` (the
asyncio socket loop) and ``client`` (all of it behind one object).
"""

from havterm.engine.book import BookState, L2Book
from havterm.engine.client import ClientConfig, KrakenClient, Overflow
from havterm.engine.codec import decode
from havterm.engine.l3 import L3Book
from havterm.engine.protocol import BookIntegrity, Phase, StateChange, SubscriptionFailed

__all__ = [
    "BookIntegrity",
    "BookState",
    "ClientConfig",
    "KrakenClient",
    "L2Book",
    "L3Book",
    "Overflow",
    "Phase",
    "StateChange",
    "SubscriptionFailed",
    "decode",
]
