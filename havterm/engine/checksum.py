"""Kraken's CRC32 book checksums (L2 ``book`` and L3 ``level3``), over integer ticks.

Both checksums cover the top 10 price levels: asks ascending, then bids
descending. Each level (L2) or each order in queue order (L3) contributes its
price and then its quantity, formatted to the pair's precision with the point
and leading zeros removed. For a positive integer count of ticks that token is
simply ``str(ticks)``, so no float and no string padding is ever needed.
See PROTOCOL.md §4.1 and §4.2.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

CHECKSUM_LEVELS = 10
"""Kraken always checksums the best 10 levels a side, whatever the depth."""


def crc32_text(text: str) -> int:
    """Unsigned CRC32 (IEEE, as ``zlib.crc32``) of ASCII text."""
    return zlib.crc32(text.encode("ascii")) & 0xFFFFFFFF


def l2_checksum_text(asks: Iterable[tuple[int, int]], bids: Iterable[tuple[int, int]]) -> str:
    """The text Kraken hashes for an L2 book.

    ``asks`` best first (ascending), ``bids`` best first (descending), each as
    ``(price_ticks, qty_lots)``; only the first 10 of each are used.
    """
    parts: list[str] = []
    for i, (p, q) in enumerate(asks):
        if i == CHECKSUM_LEVELS:
            break
        parts.append(f"{p}{q}")
    for i, (p, q) in enumerate(bids):
        if i == CHECKSUM_LEVELS:
            break
        parts.append(f"{p}{q}")
    return "".join(parts)


def l2_checksum(asks: Iterable[tuple[int, int]], bids: Iterable[tuple[int, int]]) -> int:
    """CRC32 of :func:`l2_checksum_text`."""
    return crc32_text(l2_checksum_text(asks, bids))


def l3_checksum_text(
    asks: Iterable[tuple[int, Iterable[int]]], bids: Iterable[tuple[int, Iterable[int]]]
) -> str:
    """The text Kraken hashes for an L3 book.

    Each side is best first, as ``(price_ticks, [qty_lots of each order in
    queue order])``; only the first 10 levels of each side are used.
    """
    parts: list[str] = []
    for side in (asks, bids):
        for i, (price, orders) in enumerate(side):
            if i == CHECKSUM_LEVELS:
                break
            p = str(price)
            parts.extend(p + str(q) for q in orders)
    return "".join(parts)


def l3_checksum(asks: Iterable[tuple[int, Iterable[int]]], bids: Iterable[tuple[int, Iterable[int]]]) -> int:
    """CRC32 of :func:`l3_checksum_text`."""
    return crc32_text(l3_checksum_text(asks, bids))
