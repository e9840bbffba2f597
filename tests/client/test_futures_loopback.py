"""Futures over loopback: tickers with funding, books by seq, and a resnapshot after an injected gap."""

from __future__ import annotations

from decimal import Decimal

from havterm.engine.futures import SequenceGap
from havterm.engine.futures_client import FuturesClient
from havterm.engine.integrity import BookState
from havterm.engine.protocol import Phase
from havterm.sim import Exchange, SimConfig

from .helpers import wait_for

PRODUCTS = ["PF_XBTUSD", "PF_ETHUSD"]


async def test_futures_feeds_and_gap_recovery() -> None:
    async with Exchange(SimConfig(seed=4, market=False)) as ex:
        assert ex.endpoints["futures_ws"].endswith("/ws/v1")
        client = FuturesClient(PRODUCTS, url=ex.endpoints["futures_ws"])
        gaps: list[SequenceGap] = []
        client.on_event(lambda ev: gaps.append(ev) if isinstance(ev, SequenceGap) else None)
        await client.start()
        try:
            await wait_for(lambda: client.session.phase is Phase.SUBSCRIBED, 5, "futures books synced")
            ex.futures.step(80)  # round-robin over 4 products: 20 deltas each
            await wait_for(lambda: all(client.product(p).version > 20 for p in PRODUCTS), 5, "deltas")
            btc = client.product("PF_XBTUSD")
            bb, ba = btc.book.best_bid(), btc.book.best_ask()
            truth = ex.futures.products["PF_XBTUSD"]
            assert bb is not None and ba is not None
            assert bb[0] == truth.price(max(truth.bids)) and ba[0] == truth.price(min(truth.asks))
            assert bb[1] == truth.bids[max(truth.bids)]
            # A ticker with funding, mark, index and open interest arrives once a second.
            await wait_for(lambda: btc.ticker is not None, 3, "a ticker")
            t = btc.ticker
            assert t is not None and t.funding_rate is not None and t.openInterest is not None
            assert t.basis == t.markPrice - t.index  # type: ignore[operator]
            assert t.next_funding_rate_time is not None and t.next_funding_rate_time % 3_600_000 == 0
            # Lose two deltas: the next one shows a gap, and only that book is resnapshotted.
            ex.futures.drop_next(2)
            ex.futures.step(12)
            await wait_for(lambda: bool(gaps), 5, "a seq gap")
            await wait_for(lambda: client.session.phase is Phase.SUBSCRIBED, 5, "resnapshot")
            assert gaps[0].got > gaps[0].expected  # the dropped deltas are the gap
            stats = client.stats()
            assert stats["seq_gaps"] >= 1 and stats["resnapshots"] >= 1
            assert all(v == "synced" for v in stats["books"].values())
            ex.futures.step(20)
            eth = ex.futures.products["PF_ETHUSD"]
            await wait_for(
                lambda: (
                    client.product("PF_ETHUSD").book.best_bid()
                    == (eth.price(max(eth.bids)), Decimal(eth.bids[max(eth.bids)]))
                ),
                5,
                "ETH book equal to the venue's",
            )
            assert client.product("PF_ETHUSD").book.state is BookState.SYNCED
        finally:
            await client.stop()
