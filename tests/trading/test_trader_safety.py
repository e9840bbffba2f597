"""Safety rails on the embedded exchange: disconnects, lost acks, the rate meter, the dead man's switch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import pytest

from havterm.engine.events import MethodResponse
from havterm.engine.orders import OrderStatus, RateMeter
from havterm.engine.protocol import StateChange
from havterm.engine.trading import AckTimeout, LocalRateLimit, NotReady, Trader, TraderConfig, TradingError
from havterm.sim import Exchange, SimConfig
from havterm.sim import trading as sim_trading
from havterm.sim.matching import ASK

from .conftest import SYMBOL, best, make_client, ready, wait_for
from .test_trader_orders import px


def auth_cid(ex: Exchange) -> int:
    (cid,) = ex.connections("auth")
    return cid


async def test_disconnect_mid_order_no_orphan_no_duplicate(ex: Exchange, trader: Trader) -> None:
    bid, ask = best(ex, "bid").price, best(ex, "ask").price
    assert ask - bid >= 2
    price = px(bid + 1)  # the best bid: the next seller fills it
    cid = auth_cid(ex)
    ex.faults.set_connection(cid, ack_delay_ms=3000)  # the order goes in, its ack is held back
    gen = trader.generation
    task = asyncio.create_task(trader.add_order(SYMBOL, "buy", "0.01", price=price))
    await wait_for(lambda: len(ex.trading.account.orders) == 1, 3, "the order on the exchange")
    ex.disconnect(cid, 1006)  # ... and the socket dies before the ack
    placed = await asyncio.wait_for(task, 10)
    assert placed.reconciled and trader.generation == gen + 1
    (oid,) = ex.trading.account.orders
    assert placed.order_id == oid and ex.trading.account.orders[oid].cl_ord_id == placed.cl_ord_id
    mine = [o for o in trader.orders.all() if o.cl_ord_id == placed.cl_ord_id]
    assert len(mine) == 1 and mine[0].order_id == oid and mine[0].status is OrderStatus.NEW
    assert len(trader.orders) == 1 and not mine[0].inferred

    # The order rests while the socket is down again and fills meanwhile: after the reconnect
    # it is neither lost nor shown open, and the balances snapshot has the fill.
    btc = trader.balances.get("BTC")
    filled: list[object] = []

    def fill_while_down(_: StateChange) -> None:
        # Runs as the client sees the socket close, before any reconnect: the fill is in the gap.
        if not trader.session.connected and not filled:
            filled.append(ex.apply(SYMBOL, lambda e: e.submit("X1", ASK, 1_000_000, order_type="market")))

    trader.client.on(StateChange, fill_while_down)
    ex.disconnect(auth_cid(ex), 1006)
    await wait_for(lambda: filled and trader.generation == gen + 2 and trader.ready, 10, "reconnected")
    assert ex.trading.account.orders == {}
    assert mine[0].status in (OrderStatus.FILLED, OrderStatus.CLOSED) and not mine[0].is_open
    await wait_for(lambda: trader.balances.get("BTC") > btc, 3, "balances snapshot with the fill")
    assert len(trader.orders) == 1 and trader.orders.open_orders() == []

    # Trading goes on over the new connection, and nothing was ever sent twice.
    again = await trader.add_order(SYMBOL, "buy", "0.01", price=px(bid - 1000))
    assert list(ex.trading.account.orders) == [again.order_id] and len(trader.orders) == 2


async def test_ack_timeout_sends_a_compensating_cancel(ex: Exchange, trader: Trader) -> None:
    price = px(best(ex, "bid").price - 1000)
    cid = auth_cid(ex)
    ex.faults.set_connection(cid, ack_drop=1.0)  # every response lost; the order still goes in
    with pytest.raises(AckTimeout) as err:
        await trader.add_order(SYMBOL, "buy", "0.01", price=price)
    text = str(err.value)
    assert "cancelled by cl_ord_id" in text and "now canceled" in text and "\n" not in text
    (o,) = trader.orders.all()
    assert o.order_id is not None and o.status is OrderStatus.CANCELED and o.reason == "User requested"
    assert ex.trading.account.orders == {}  # no orphan
    ex.faults.clear(cid)
    placed = await trader.add_order(SYMBOL, "buy", "0.01", price=price)
    assert list(ex.trading.account.orders) == [placed.order_id]


@pytest.fixture
async def starter() -> AsyncIterator[tuple[Exchange, Trader]]:
    async with Exchange(SimConfig(seed=11, market=False, symbols=(SYMBOL,), tier="starter")) as ex:
        client = make_client(ex)
        t = Trader(client, TraderConfig(ack_timeout_s=1.0))
        async with client:
            await ready(t)
            yield ex, t


async def test_rate_meter_trips_before_the_exchange_does(starter: tuple[Exchange, Trader]) -> None:
    ex, trader = starter
    assert trader.meter.tier.name == "starter"  # from the executions ack's maxratecount (60)
    errors: list[str] = []
    trader.client.on(MethodResponse, lambda r: errors.append(r.error or "") if not r.success else None)
    price = px(best(ex, "bid").price - 1000)
    tripped: LocalRateLimit | None = None
    for _ in range(20):  # add + cancel costs 9; the limit is 59 of 60
        try:
            placed = await trader.add_order(SYMBOL, "buy", "0.01", price=price)
            await trader.cancel_order(cl_ord_ids=[placed.cl_ord_id])
        except LocalRateLimit as exc:
            tripped = exc
            break
        exchange_value = ex.trading.rate.value(SYMBOL)
        assert abs(trader.meter.value(SYMBOL, trader.clock()) - exchange_value) < 1.0  # same counter
    assert tripped is not None and "rate counter" in str(tripped) and "retry in" in str(tripped)
    assert errors == []  # the exchange never had to say "Rate limit exceeded"
    assert ex.trading.rate.value(SYMBOL) > 60 - 9 - 1  # and it really was close to its threshold
    assert await trader.cancel_all() <= 1  # not rate-limited: the way out is always open

    # Without the meter's reserve the exchange does refuse, and the meter learns from it.
    trader.meter = RateMeter("pro", headroom_s=0)
    with pytest.raises(TradingError, match="EOrder:Rate limit exceeded"):
        for _ in range(20):
            placed = await trader.add_order(SYMBOL, "buy", "0.01", price=price)
            await trader.cancel_order(cl_ord_ids=[placed.cl_ord_id])
    assert any("Rate limit exceeded" in e for e in errors)
    await trader.cancel_all()


async def test_dead_man_switch_cancels_when_refreshes_stop(ex: Exchange, trader: Trader) -> None:
    placed = await trader.add_order(SYMBOL, "buy", "0.01", price=px(best(ex, "bid").price - 1000))
    o = trader.orders.get(placed.order_id)
    assert o is not None
    trader.start_dead_man_switch(timeout_s=2, refresh_s=0.25)
    await wait_for(lambda: trader.dms_refreshes >= 10, 6, "refreshes for longer than the timeout")
    assert trader.dms is not None and trader.dms.armed and trader.dms_running
    assert ex.trading.dms_fired == 0 and o.is_open  # kept alive by the refresher
    await trader.stop_dead_man_switch(disarm=False)  # the refresher stops, as in a hung app
    await wait_for(lambda: o.status is OrderStatus.CANCELED, 5, "the switch fired")
    assert o.reason == "Dead man's switch" and ex.trading.dms_fired == 1 and ex.trading.account.orders == {}

    trader.start_dead_man_switch(timeout_s=5, refresh_s=1)
    await wait_for(lambda: trader.dms_refreshes >= 11, 3, "re-armed")
    await trader.stop_dead_man_switch(disarm=True)
    assert trader.dms is not None and not trader.dms.armed and not trader.dms_running
    with pytest.raises(ValueError, match="refresh_s must be shorter"):
        trader.start_dead_man_switch(timeout_s=1, refresh_s=2)


async def test_pretrade_rails_refuse_before_sending(ex: Exchange, trader: Trader) -> None:
    trader.config = replace(trader.config, max_notional=D(1000), price_band=D("0.05"))
    mid = trader.client.mid(SYMBOL)
    assert mid is not None
    seen: list[object] = []

    def broken(_: object) -> None:
        raise RuntimeError("a broken listener must not stop the connection")

    trader.on_order(broken)
    trader.on_order(seen.append)
    with pytest.raises(TradingError, match=r"add_order: havterm:max notional \(6"):
        await trader.add_order(SYMBOL, "buy", "0.1", price=px(best(ex, "bid").price))
    with pytest.raises(TradingError, match="havterm:max notional"):
        await trader.add_order(SYMBOL, "buy", "0.1", order_type="market")  # priced at the best ask
    with pytest.raises(TradingError, match=r"havterm:outside price band \(.* from mid"):
        await trader.add_order(SYMBOL, "buy", "0.01", price=(mid * D("0.9")).quantize(D("0.1")))
    with pytest.raises(TradingError, match=r"havterm:book not synced \(ETH/USD is not subscribed\)"):
        await trader.add_order("ETH/USD", "buy", "0.01", price=D(2000))
    with pytest.raises(TradingError, match=r"havterm:futures \(PF_XBTUSD is Futures: havterm trades Spot"):
        await trader.add_order("PF_XBTUSD", "buy", "1", price=D(60000))  # never sent to the Spot venue
    assert ex.trading.account.orders == {} and len(trader.orders) == 0  # nothing was sent
    placed = await trader.add_order(SYMBOL, "buy", "0.01", price=(mid * D("0.97")).quantize(D("0.1")))
    await wait_for(lambda: len(seen) >= 2, 3, "updates despite the broken listener")
    with pytest.raises(TradingError, match="havterm:outside price band"):
        await trader.amend_order(order_id=placed.order_id, price=(mid * D("0.5")).quantize(D("0.1")))
    assert ex.trading.account.orders[placed.order_id].qty == 1_000_000


async def test_nothing_is_sent_while_not_connected(ex: Exchange) -> None:
    trader = Trader(make_client(ex))  # never started
    assert not trader.ready
    with pytest.raises(NotReady, match="add_order: havterm:not connected"):
        await trader.add_order(SYMBOL, "buy", "0.01", price=D(60000))
    with pytest.raises(NotReady):
        await trader.cancel_all()
    with pytest.raises(NotReady, match=r"not ready after 0\.1s"):
        await trader.wait_ready(0.1)
    assert len(trader.orders) == 0 and ex.trading.account.orders == {}


async def test_an_unreadable_snapshot_keeps_trading_off(
    ex: Exchange, trader: Trader, monkeypatch: pytest.MonkeyPatch
) -> None:
    await trader.add_order(SYMBOL, "buy", "0.01", price=px(best(ex, "bid").price - 1000))
    full = sim_trading.Trading._full

    def garbled(self: sim_trading.Trading, o: sim_trading.UserOrder, exec_type: str | None) -> dict[str, Any]:
        row = full(self, o, exec_type)
        if exec_type == o.status:  # a snapshot row: make it unreadable (a number where text belongs)
            row["order_id"] = 12345
        return row

    monkeypatch.setattr(sim_trading.Trading, "_full", garbled)
    gen = trader.generation
    ex.disconnect(auth_cid(ex), 1006)
    await wait_for(lambda: trader.stream_error is not None, 5, "the snapshot was refused")
    assert "order_id" in (trader.stream_error or "") and trader.generation == gen and not trader.ready
    with pytest.raises(NotReady):  # orders are not trusted, so none are sent
        await trader.add_order(SYMBOL, "buy", "0.01", price=px(best(ex, "bid").price - 1000))
