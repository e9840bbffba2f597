"""Watch checksum-verified books with havterm.engine: offline against the embedded exchange, or live.

    python examples/watch_books.py            # embedded exchange on 127.0.0.1, no account needed
    python examples/watch_books.py --live     # wss://ws.kraken.com/v2
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import AsyncExitStack

from havterm.engine import BookIntegrity, ClientConfig, KrakenClient, StateChange


async def main(live: bool, seconds: float = 5.0) -> None:
    async with AsyncExitStack() as stack:
        url = "wss://ws.kraken.com/v2"
        if not live:
            from havterm.sim import Exchange, SimConfig

            ex = await stack.enter_async_context(Exchange(SimConfig(seed=1, rate=200)))
            url = ex.endpoints["ws"]
        client = await stack.enter_async_context(
            KrakenClient(ClientConfig(symbols=["BTC/USD", "ETH/USD"], depth=25, url=url))
        )
        client.on(StateChange, lambda ev: print(f"session: {ev.old.value} -> {ev.new.value} ({ev.cause})"))
        client.on(BookIntegrity, lambda ev: print(f"{ev.symbol}: {ev.state.value} ({ev.reason})"))
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            await asyncio.sleep(1)
            for symbol in ("BTC/USD", "ETH/USD"):
                bid, ask = client.best_bid(symbol), client.best_ask(symbol)
                if bid and ask:
                    print(f"{symbol}: {bid[1]} @ {bid[0]} / {ask[1]} @ {ask[0]}  spread {client.spread(symbol)}")
                else:
                    print(f"{symbol}: {client.book_state(symbol)}")
        print(client.stats())


if __name__ == "__main__":
    asyncio.run(main("--live" in sys.argv))
