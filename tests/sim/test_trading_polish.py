"""Own orders that fill while the trading connection is down: said once after a reconnect, not at connect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from havterm.engine.protocol import StateChange
from havterm.engine.trading import TraderConfig
from havterm.sim import Exchange, SimConfig
from havterm.sim.matching import ASK
from havterm.trading_controller import TradingController
from tests.trading.conftest import SYMBOL, best, make_client, ready
from tests.waiting import wait_for


@pytest.fixture
async def ex() -> AsyncIterator[Exchange]:
    async with Exchange(SimConfig(seed=7, market=False, symbols=(SYMBOL,))) as e:
        yield e


def auth_cid(ex: Exchange) -> int:
    (cid,) = ex.connections("auth")
    return cid


def price_text(ticks: int) -> str:
    return f"{Decimal(ticks).scaleb(-1):f}"  # BTC/USD: one price decimal


async def drop_and_fill(ex: Exchange, trading: TradingController, lots: int) -> None:
    """Drop the trading connection; while it is down, a market sell of ``lots`` hits the best bid."""
    trader = trading.trader
    gen = trader.generation
    done: list[object] = []

    def fill_while_down(_: StateChange) -> None:
        # Runs as the client sees the socket close, before any reconnect: the fill is in the gap.
        if not trader.session.connected and not done:
            done.append(ex.apply(SYMBOL, lambda e: e.submit("X1", ASK, lots, order_type="market")))

    trader.client.on(StateChange, fill_while_down)
    ex.disconnect(auth_cid(ex), 1006)
    await wait_for(lambda: done and trader.generation == gen + 1 and trader.ready, 10, "reconnected")


async def reconnect(ex: Exchange, trading: TradingController) -> None:
    gen = trading.trader.generation
    ex.disconnect(auth_cid(ex), 1006)
    await wait_for(lambda: trading.trader.generation == gen + 1 and trading.trader.ready, 10, "reconnected")


async def test_a_fill_in_a_disconnect_is_said_once_after_the_reconnect(ex: Exchange) -> None:
    client = make_client(ex)
    trading = TradingController(client, TraderConfig(ack_timeout_s=1.0, reconnect_timeout_s=5.0))
    told: list[str] = []
    trading.on_notice = told.append
    async with client:
        await ready(trading.trader)
        bid, ask = best(ex, "bid").price, best(ex, "ask").price
        assert ask - bid >= 2
        price = price_text(bid + 1)  # the new best bid: the next seller fills it
        line = await trading.place(SYMBOL, "buy", "0.01", price, "limit")
        assert "sent" in line, line
        (order,) = trading.trader.orders.open_orders()
        await drop_and_fill(ex, trading, 1_000_000)  # 0.01 BTC: all of it
        await wait_for(lambda: told, 5, "the toast")
        assert told == [f"BTC/USD buy 0.01 filled while disconnected, avg {price}"]
        assert order.status.value == "filled" and order.cum_qty == Decimal("0.01")
        # Another reconnect repeats the same fill in its snapshot: nothing more is said.
        await reconnect(ex, trading)
        assert len(told) == 1

        # Part of a bigger order fills in the next gap: what filled, and how much of the order.
        bid = best(ex, "bid").price
        price = price_text(bid + 1)
        line = await trading.place(SYMBOL, "buy", "0.05", price, "limit")
        assert "sent" in line, line
        (order,) = trading.trader.orders.open_orders()
        await drop_and_fill(ex, trading, 2_000_000)
        await wait_for(lambda: len(told) == 2, 5, "the second toast")
        assert told[1] == f"BTC/USD buy 0.02 filled while disconnected, avg {price} (0.02 of 0.05 so far)"
        assert order.is_open and order.cum_qty == Decimal("0.02")
        await reconnect(ex, trading)
        assert len(told) == 2
        await trading.close()

    # A new session on the same account: its first snapshot holds the partly filled order and
    # every fill above, and none of it is news.
    client = make_client(ex)
    fresh = TradingController(client, TraderConfig(ack_timeout_s=1.0, reconnect_timeout_s=5.0))
    said: list[str] = []
    fresh.on_notice = said.append
    async with client:
        await ready(fresh.trader)
        await wait_for(lambda: any(o.cum_qty > 0 for o in fresh.trader.orders.all()), 5, "the snapshot")
        assert said == []
        # ... and its first reconnect with nothing filled in between says nothing either.
        await reconnect(ex, fresh)
        assert said == []
        await fresh.close()


def test_without_the_trades_in_the_snapshot_the_filled_quantity_and_cost_say_it() -> None:
    """Kraken repeats at most the last 50 fills: an order's own figures still tell what filled in the gap."""
    from havterm.engine.client import ClientConfig, KrakenClient
    from havterm.engine.credentials import Credentials
    from havterm.engine.events import ExecutionReport, ExecutionsMessage

    client = KrakenClient(
        ClientConfig(symbols=[SYMBOL], credentials=Credentials("k", "c2VjcmV0"), private=("executions",))
    )
    trading = TradingController(client)
    told: list[str] = []
    trading.on_notice = told.append

    def order(cum: str, cost: str) -> ExecutionReport:
        return ExecutionReport(
            "O1",
            "new",
            "new" if cum == "0" else "partially_filled",
            symbol=SYMBOL,
            side="sell",
            order_type="limit",
            order_qty=Decimal("0.05"),
            limit_price=Decimal("63000.5"),
            cum_qty=Decimal(cum),
            cum_cost=Decimal(cost),
        )

    def feed(snapshot: bool, seq: int, *reports: ExecutionReport) -> None:
        client._dispatch([ExecutionsMessage(snapshot, seq, reports)])

    feed(True, 1, order("0", "0"))  # at connect: the order, nothing filled
    feed(True, 1, order("0.02", "1260.012"))  # a reconnect: 0.02 filled meanwhile, for 1260.012 USD
    assert told == ["BTC/USD sell 0.02 filled while disconnected, avg 63000.6 (0.02 of 0.05 so far)"]
    feed(True, 1, order("0.02", "1260.012"))  # the next reconnect: nothing new
    feed(True, 1, order("0.03", "1890.0235"))  # ... and another: 0.01 more at 63001.15
    assert told[1:] == ["BTC/USD sell 0.01 filled while disconnected, avg 63001.15 (0.03 of 0.05 so far)"]
