"""Live Kraken, the same client code as every loopback test (skipped unless ``pytest --online``)."""

from __future__ import annotations

import pytest

from havterm.engine.book import BookState
from havterm.engine.client import ClientConfig, KrakenClient
from havterm.engine.futures_client import FuturesClient

from .helpers import wait_for

pytestmark = pytest.mark.online


async def test_live_books_verify_every_checksum() -> None:
    async with KrakenClient(ClientConfig(symbols=["BTC/USD", "ETH/USD"], depth=25)) as client:
        await wait_for(
            lambda: all(client.book_state(s) is BookState.SYNCED for s in ("BTC/USD", "ETH/USD")), 20
        )
        await wait_for(lambda: client.state.symbols["BTC/USD"].checksums_verified > 20, 30)
        stats = client.stats()
    assert stats["checksum_mismatches"] == 0
    assert stats["books"] == {"BTC/USD": "synced", "ETH/USD": "synced"}


async def test_live_futures_book_and_ticker() -> None:
    client = FuturesClient(["PF_XBTUSD"])
    await client.start()
    try:
        await wait_for(lambda: client.product("PF_XBTUSD").book.state is BookState.SYNCED, 20)
        await wait_for(lambda: client.product("PF_XBTUSD").ticker is not None, 20)
    finally:
        await client.stop()
    assert client.product("PF_XBTUSD").ticker.markPrice is not None  # type: ignore[union-attr]
