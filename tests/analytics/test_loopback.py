"""Loopback: own orders on the embedded exchange; the reported queue position equals the exchange's own truth.

A real ``KrakenClient`` (public book and trades, level3 on ws-l3, executions
on ws-auth) feeds a ``QueueTracker`` through its callbacks, exactly as an
application would. Orders go in over ws-auth. The exchange is stepped one
operation at a time; after each step we wait (polling, with a deadline) until
the client's level3 book carries the exchange's current checksum, then compare
the tracker's position with the order's place in the matching engine's FIFO
queue, until the order has filled.
"""

from __future__ import annotations

import asyncio
import time

from havterm.engine.book import BookState
from havterm.engine.client import ClientConfig, KrakenClient
from havterm.engine.credentials import Credentials
from havterm.engine.events import ExecutionsMessage, Level3Message, TradeMessage
from havterm.engine.fillprob import estimate_own
from havterm.engine.fixed import format_units
from havterm.engine.queue import QueueTracker
from havterm.sim import Exchange, SimConfig
from havterm.sim.matching import BID, MatchingEngine
from tests.analytics.trading import RawTrader

SYMBOL = "BTC/USD"
MAX_STEPS = 4000


async def wait_until(pred: object, timeout: float = 5.0, what: str = "") -> None:
    """Poll ``pred()`` until true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


def truth(eng: MatchingEngine, oid: str) -> tuple[int, int, int, int] | None:
    """(orders ahead, lots ahead, lots behind, own lots) from the exchange's own queue."""
    o = eng.orders.get(oid)
    if o is None:
        return None
    side = eng.sides[o.side]
    level = side.levels[side.key(o.price)]
    n = ahead = behind = 0
    seen = False
    for other in level.orders.values():
        if other.order_id == oid:
            seen = True
        elif seen:
            behind += other.qty
        else:
            n += 1
            ahead += other.qty
    return n, ahead, behind, o.qty


async def test_queue_position_equals_exchange_truth_until_fill() -> None:
    async with Exchange(SimConfig(seed=7, market=False, symbols=(SYMBOL,))) as ex:
        ep = ex.endpoints
        client = KrakenClient(ClientConfig(
            symbols=[SYMBOL], url=ep["ws"], auth_url=ep["ws_auth"], l3_url=ep["ws_l3"], rest_url=ep["rest"],
            credentials=Credentials(ep["api_key"], ep["api_secret"]), l3=True, channels=("book", "trade"),
            private=("executions",), backoff_base_s=0.05, backoff_cap_s=0.3,
        ))  # fmt: skip
        tracker = QueueTracker(SYMBOL)
        clock = time.monotonic

        def on_l3(m: Level3Message) -> None:
            st = client.state.symbols[m.symbol]
            if st.l3 is not None and st.l3_state is BookState.SYNCED:
                tracker.on_l3(m, st.l3, clock())

        client.on(Level3Message, on_l3)
        client.on(TradeMessage, lambda m: None if m.snapshot else tracker.on_trades(m.trades, clock()))
        client.on(ExecutionsMessage, lambda m: tracker.on_executions(m, clock()))
        eng = ex.book(SYMBOL)
        feed = ex.feeds[SYMBOL]
        async with client:
            st = client.state.symbol(SYMBOL)

            def in_sync() -> bool:
                return (
                    st.l3 is not None
                    and st.l3_state is BookState.SYNCED
                    and (st.l3.expected_checksum == feed.l3_checksum() == st.l3.computed_checksum)
                )

            await wait_until(in_sync, 10.0, "level3 snapshot")
            trader = await RawTrader.open(ep)
            try:
                pp = ex.instruments[SYMBOL].price_precision
                bid = eng.best_bid()
                assert bid is not None
                price = format_units(bid.price, pp)
                # Two own orders at the best bid: both join the back, the second behind the first.
                first = await trader.limit(SYMBOL, "buy", "0.01000000", price)
                second = await trader.limit(SYMBOL, "buy", "0.02000000", price)
                await wait_until(
                    lambda: set(tracker.own_orders()) == {first, second}, 5.0, "own orders tracked"
                )
                checked = 0
                initial: dict[str, int] = {}
                for step in range(MAX_STEPS):
                    await ex.drain()
                    await wait_until(in_sync, 5.0, f"client in sync after step {step}")
                    for oid in (first, second):
                        want = truth(eng, oid)
                        pos = tracker.position(oid)
                        if want is None:
                            continue
                        assert pos is not None, (step, oid)
                        got = (pos.orders_ahead, pos.qty_ahead, pos.qty_behind, pos.own_lots)
                        assert got == want, (step, oid, got, want)
                        assert pos.side == "buy" and pos.model == "l3-exact"
                        # Everything that left the queue ahead is split, exactly, into trades and cancels.
                        initial.setdefault(oid, pos.qty_ahead)
                        drained = tracker.ahead_dynamics(oid, clock(), 1e9)
                        assert drained is not None
                        assert drained.trade_lots + drained.cancel_lots == initial[oid] - pos.qty_ahead
                        checked += 1
                    if step == 0:
                        est = estimate_own(tracker, first, clock(), horizons=(1.0, 10.0), paths=200)
                        assert est is not None and est.model.startswith("l3-exact")
                    if truth(eng, first) is None and truth(eng, second) is None:
                        break
                    ex.step(1, symbol=SYMBOL)
                else:
                    raise AssertionError("orders did not fill within MAX_STEPS")
                # Filled: the tracker no longer reports a position for either order.
                await wait_until(lambda: tracker.position(first) is None and tracker.position(second) is None)
                print(f"checked {checked} positions over {step} steps")
                assert checked > 10
                assert eng.sides[BID] is not None
            finally:
                await trader.close()
