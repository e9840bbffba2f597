"""``MarketClient`` over loopback: Spot and Futures in one ``MarketState``, a gap seen as the book state."""

from __future__ import annotations

from decimal import Decimal

from havterm.engine.book import BookState
from havterm.engine.client import ClientConfig
from havterm.engine.composite import MarketClient
from havterm.engine.futures import FuturesL2Book
from havterm.engine.protocol import BookIntegrity
from havterm.sim import Exchange, SimConfig

from .helpers import wait_for

SPOT = "BTC/USD"
PF = "PF_XBTUSD"


def venue_levels(ex: Exchange, product: str, n: int = 10) -> tuple[list[tuple[Decimal, Decimal]], ...]:
    """The embedded venue's own book of ``product``: best-first (price, qty) per side."""
    p = ex.futures.products[product]
    bids = [(p.price(t), Decimal(p.bids[t])) for t in sorted(p.bids, reverse=True)[:n]]
    asks = [(p.price(t), Decimal(p.asks[t])) for t in sorted(p.asks)[:n]]
    return bids, asks


Levels = list[tuple[Decimal, Decimal]]


def client_levels(client: MarketClient, symbol: str, n: int = 10) -> tuple[Levels, Levels]:
    book = client.state.symbols[symbol].book
    assert book is not None
    return (
        [(book.price(t), book.qty(q)) for t, q in book.bids(n)],
        [(book.price(t), book.qty(q)) for t, q in book.asks(n)],
    )


def spot_in_sync(ex: Exchange, client: MarketClient) -> bool:
    st = client.state.symbols.get(SPOT)
    if st is None or st.book is None or st.book_state is not BookState.SYNCED:
        return False
    eng = ex.book(SPOT)
    return st.book.bids(10) == [(lv.price, lv.total) for lv in eng.sides[0].top(10)]


async def test_spot_and_futures_in_one_state_and_a_gap_is_a_resnapshot() -> None:
    async with Exchange(SimConfig(seed=4, market=False)) as ex:
        ex.step(200)
        ep = ex.endpoints
        cfg = ClientConfig(symbols=[PF, SPOT, "PF_ETHUSD"], depth=25, url=ep["ws"])
        client = MarketClient(cfg, futures_url=ep["futures_ws"])
        seen: list[tuple[str, BookState, BookState]] = []
        # Called synchronously as the event is made: the state it shows is the state at that moment.
        client.on(
            BookIntegrity,
            lambda ev: seen.append((ev.symbol, ev.state, client.state.symbols[ev.symbol].book_state)),
        )
        await client.start()
        try:
            assert list(client.state.symbols) == [PF, SPOT, "PF_ETHUSD"]  # the order asked for
            await wait_for(lambda: client.state.phase == "subscribed", 10, "both sides subscribed")
            ex.futures.step(80)  # 20 deltas per product
            ex.step(40)
            await wait_for(lambda: client_levels(client, PF) == venue_levels(ex, PF), 5, "PF book = venue")
            await wait_for(lambda: spot_in_sync(ex, client), 5, "spot book = exchange")
            st = client.state.symbols[PF]
            assert isinstance(st.book, FuturesL2Book) and st.book_state is BookState.SYNCED
            # Exact integer ticks at the wire's precision (XBT ticks are 0.5: one decimal).
            truth = ex.futures.products[PF]
            assert st.book.price_precision == 1
            assert st.book.best_bid() == (int(truth.price(max(truth.bids)) * 10), truth.bids[max(truth.bids)])
            assert st.book.mid() == (truth.price(max(truth.bids)) + truth.price(min(truth.asks))) / 2
            st.book._check()
            # The ticker: mark, index, funding and open interest as the venue sent them.
            ex.futures.set_funding(PF, Decimal("0.0000125"))
            await wait_for(
                lambda: st.futures is not None and st.futures.relative_funding == Decimal("0.0000125"),
                5,
                "the pinned funding rate",
            )
            t = st.futures
            assert t is not None and t.markPrice is not None and t.index is not None
            assert t.markPrice == (truth.price(max(truth.bids)) + truth.price(min(truth.asks))) / 2
            assert t.basis == t.markPrice - t.index and t.openInterest == truth.open_interest
            # Lose one delta (the venue round-robins: it is PF_XBTUSD's): the next one is a gap, and
            # the book is RESYNCING until its resnapshot.
            spot_resyncs = client.state.symbols[SPOT].resyncs
            ex.futures.drop_next(1)
            ex.futures.step(12)
            await wait_for(lambda: any(s[:2] == (PF, BookState.SYNCED) for s in seen), 5, "the resnapshot")
            gap = next(s for s in seen if s[:2] == (PF, BookState.RESYNCING))
            assert gap[2] is BookState.RESYNCING  # visible as the book state while it lasted
            assert st.book_state is BookState.SYNCED and st.mismatches == 1 and st.resyncs == 1
            assert st.book_reason is None
            ex.futures.step(8)
            await wait_for(lambda: client_levels(client, PF) == venue_levels(ex, PF), 5, "PF book again")
            # Only that product was resnapshotted: Spot and the other product never moved.
            assert client.state.symbols[SPOT].resyncs == spot_resyncs
            assert client.state.symbols["PF_ETHUSD"].resyncs == 0
            assert client.state.symbols[SPOT].book_state is BookState.SYNCED
        finally:
            await client.stop()


async def test_unknown_product_is_disabled_alone_and_symbols_come_and_go() -> None:
    async with Exchange(SimConfig(seed=5, market=False)) as ex:
        ep = ex.endpoints
        client = MarketClient(ClientConfig(symbols=[PF], url=ep["ws"]), futures_url=ep["futures_ws"])
        assert client.spot is None  # a Futures-only client opens no Spot socket
        await client.start()
        try:
            await wait_for(lambda: client.state.phase == "subscribed", 10, "futures subscribed")
            await client.add_symbol("PF_NOPEUSD")
            await client.add_symbol("PF_SOLUSD")
            await client.add_symbol(SPOT)  # starts the Spot side on demand
            nope = client.state.symbols["PF_NOPEUSD"]
            await wait_for(lambda: nope.book_state is BookState.DISABLED, 5, "the unknown product refused")
            assert nope.book_reason == "not a Kraken Futures product (Invalid product id)"
            await wait_for(
                lambda: client.state.symbols["PF_SOLUSD"].book_state is BookState.SYNCED, 5, "SOL synced"
            )
            await wait_for(lambda: spot_in_sync(ex, client), 10, "the Spot side started and synced")
            assert client.state.symbols[PF].book_state is BookState.SYNCED
            assert client.state.phase == "degraded"  # one refused product, like a failed Spot subscription
            assert "PF_NOPEUSD refused" in client.state.phase_cause
            await client.remove_symbol("PF_NOPEUSD")
            await client.remove_symbol("PF_SOLUSD")
            assert list(client.state.symbols) == [PF, SPOT]
            ex.futures.step(8)
            await wait_for(lambda: client.state.phase == "subscribed", 5, "healthy again without it")
            await wait_for(lambda: client_levels(client, PF) == venue_levels(ex, PF), 5, "PF book = venue")
            assert client.stats()["futures"]["books"] == {PF: "synced"}
        finally:
            await client.stop()
