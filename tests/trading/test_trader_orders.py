"""Trading against the embedded exchange: place, amend, edit, cancel, batches, fills and balances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from havterm.engine.orders import OrderStatus
from havterm.engine.rest import get_ws_token
from havterm.engine.trading import OrderSpec, Trader, TradingError
from havterm.sim import Exchange
from havterm.sim.matching import ASK

from .conftest import SYMBOL, best, creds, wait_for

LEDGER = D(10) ** 10  # the sim keeps balances in 10-decimal ledger units


def px(ticks: int) -> D:
    return D(ticks) / 10  # BTC/USD prices have one decimal


def exchange_balance(ex: Exchange, asset: str) -> D:
    return D(ex.trading.account.balances[asset]) / LEDGER


async def test_token_then_place_amend_cancel(ex: Exchange, trader: Trader) -> None:
    token = await get_ws_token(ex.endpoints["rest"], creds(ex))
    assert isinstance(token, str) and len(token) > 10
    assert trader.session.token and trader.session.token != token  # each connect took its own

    price = px(best(ex, "bid").price - 1000)  # 100 USD under the best bid: it rests
    placed = await trader.add_order(SYMBOL, "buy", "0.01", price=price)
    assert len(placed.cl_ord_id) == 32 and placed.order_id
    o = trader.orders.get(placed.order_id)
    assert o is not None and o.cl_ord_id == placed.cl_ord_id
    await wait_for(lambda: o.status is OrderStatus.NEW, 3, "new")
    on_exchange = ex.trading.account.orders[placed.order_id]
    assert on_exchange.cl_ord_id == placed.cl_ord_id and on_exchange.qty == 1_000_000

    amended = await trader.amend_order(cl_ord_id=placed.cl_ord_id, qty="0.02", price=price - 10)
    assert amended.amend_id and amended.cl_ord_id == placed.cl_ord_id
    await wait_for(lambda: o.order_qty == D("0.02") and o.limit_price == price - 10, 3, "amended report")
    assert o.amended and o.status is OrderStatus.NEW
    assert (on_exchange.qty, on_exchange.price) == (2_000_000, int((price - 10) * 10))

    cancelled = await trader.cancel_order(order_ids=[placed.order_id])
    assert cancelled.cancelled == (placed.order_id,) and cancelled.errors == ()
    await wait_for(lambda: o.status is OrderStatus.CANCELED, 3, "canceled")
    assert o.reason == "User requested" and ex.trading.account.orders == {}
    assert len(trader.orders) == 1  # one order, however many reports
    with pytest.raises(TradingError, match=r"cancel_order: EOrder:Unknown order"):
        await trader.cancel_order(order_ids=[placed.order_id])


async def test_partial_then_full_fill_in_orders_and_balances(ex: Exchange, trader: Trader) -> None:
    bid, ask = best(ex, "bid").price, best(ex, "ask").price
    assert ask - bid >= 2, "the test needs room inside the spread"
    price = px(bid + 1)  # the new best bid: the next seller hits us first
    usd0, btc0 = trader.balances.get("USD"), trader.balances.get("BTC")
    placed = await trader.add_order(SYMBOL, "buy", "0.02", price=price)
    o = trader.orders.get(placed.order_id)
    assert o is not None
    fills: list[object] = []
    trader.on_order(lambda up: fills.append(up.fill) if up.fill else None)

    def sell(n: int, lots: int) -> None:  # another account's market sell
        ex.apply(
            SYMBOL, lambda e: e.submit(f"X{n}", ASK, lots, order_type="market", tif="ioc", owner="other")
        )

    sell(1, 1_000_000)
    await wait_for(lambda: o.status is OrderStatus.PARTIALLY_FILLED, 3, "partial fill")
    assert o.cum_qty == D("0.01") and o.remaining == D("0.01") and o.avg_price == price
    (f1,) = o.fills
    assert f1.liquidity == "m" and f1.qty == D("0.01") and f1.price == price
    fee1 = sum(x.qty for x in f1.fees)
    assert fee1 == (D("0.01") * price * D("0.0016")).quantize(D("1e-10"))  # maker fee, in USD
    await wait_for(lambda: trader.balances.get("BTC") == btc0 + D("0.01"), 3, "BTC credited")
    await wait_for(lambda: trader.balances.get("USD") == usd0 - D("0.01") * price - fee1, 3, "USD debited")

    sell(2, 1_000_000)
    await wait_for(lambda: o.status is OrderStatus.FILLED, 3, "filled")
    assert o.cum_qty == D("0.02") and o.remaining == 0 and o.avg_price == price
    assert len(o.fills) == 2 and len(fills) == 2 and o.fees["USD"] == 2 * fee1
    await wait_for(lambda: trader.balances.get("BTC") == btc0 + D("0.02"), 3, "BTC credited twice")
    assert trader.balances.get("BTC") == exchange_balance(ex, "BTC")
    await wait_for(
        lambda: trader.balances.get("USD") == exchange_balance(ex, "USD"), 3, "USD as the exchange"
    )
    assert trader.balances.get("USD") == usd0 - D("0.02") * price - 2 * fee1


async def test_order_kinds_market_post_only_ioc_gtd_reduce_only(ex: Exchange, trader: Trader) -> None:
    bid, ask = best(ex, "bid").price, best(ex, "ask").price
    market = await trader.add_order(SYMBOL, "buy", "0.001", order_type="market")
    m = trader.orders.get(market.order_id)
    assert m is not None
    await wait_for(lambda: m.status is OrderStatus.FILLED, 3, "market order filled")
    assert m.fills[0].liquidity == "t" and m.cum_qty == D("0.001") and m.avg_price is not None

    post = await trader.add_order(SYMBOL, "buy", "0.01", price=px(ask), post_only=True)
    p = trader.orders.get(post.order_id)
    assert p is not None
    await wait_for(lambda: p.status is OrderStatus.CANCELED, 3, "post-only refused")
    assert p.reason == "Post only order" and p.cum_qty == 0

    ioc = await trader.add_order(SYMBOL, "buy", "0.01", price=px(bid - 1000), time_in_force="ioc")
    i = trader.orders.get(ioc.order_id)
    assert i is not None
    await wait_for(lambda: i.status is OrderStatus.EXPIRED, 3, "IOC expired")
    assert i.reason == "Immediate or cancel order not filled"

    until = datetime.now(UTC) + timedelta(hours=1)
    gtd = await trader.add_order(
        SYMBOL, "sell", "0.01", price=px(ask + 1000), time_in_force="gtd", expire_time=until
    )
    g = trader.orders.get(gtd.order_id)
    assert g is not None
    await wait_for(lambda: g.status is OrderStatus.NEW, 3, "GTD live")
    assert g.time_in_force == "gtd" and ex.trading.account.orders[gtd.order_id].tif == "gtd"

    with pytest.raises(TradingError) as err:
        await trader.add_order(SYMBOL, "sell", "0.01", price=px(ask + 1000), reduce_only=True)
    assert err.value.error.startswith("EGeneral:Invalid arguments") and "\n" not in str(err.value)
    rejected = [o for o in trader.orders.all() if o.reduce_only]
    assert len(rejected) == 1 and rejected[0].status is OrderStatus.REJECTED

    with pytest.raises(TypeError, match="floats are not accepted"):
        await trader.add_order(SYMBOL, "buy", 0.01, price=px(bid))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="market order takes no price"):
        await trader.add_order(SYMBOL, "buy", "0.01", price=px(bid), order_type="market")
    with pytest.raises(ValueError, match="gtd order needs expire_time"):
        await trader.add_order(SYMBOL, "buy", "0.01", price=px(bid), time_in_force="gtd")
    checked = await trader.add_order(SYMBOL, "buy", "0.01", price=px(bid - 1000), validate=True)
    assert checked.order_id == "" and set(ex.trading.account.orders) == {gtd.order_id}


async def test_batches_edit_and_cancel_all(ex: Exchange, trader: Trader) -> None:
    bid = best(ex, "bid").price
    specs = [OrderSpec("buy", D("0.01"), px(bid - 1000 - 10 * i)) for i in range(3)]
    results = await trader.batch_add(SYMBOL, specs)
    ids = [r.order_id for r in results]  # type: ignore[union-attr]
    assert len(set(ids)) == 3 and set(ids) == set(ex.trading.account.orders)
    await wait_for(lambda: len(trader.orders.open_orders(SYMBOL)) == 3, 3, "three open")
    cls = [o.cl_ord_id for o in trader.orders.open_orders(SYMBOL)]
    assert await trader.batch_cancel(cl_ord_ids=[c for c in cls if c]) == 3
    await wait_for(lambda: not trader.orders.open_orders(), 3, "all cancelled")
    assert ex.trading.account.orders == {}

    placed = await trader.add_order(SYMBOL, "buy", "0.01", price=px(bid - 1000))
    edited = await trader.edit_order(placed.order_id, SYMBOL, price=px(bid - 1100))
    assert edited.original_order_id == placed.order_id and edited.order_id != placed.order_id
    old = trader.orders.get(placed.order_id)
    await wait_for(lambda: trader.orders.get(edited.order_id) is not None, 3, "replacement seen")
    new = trader.orders.get(edited.order_id)
    assert old is not None and new is not None
    await wait_for(lambda: old.status is OrderStatus.CANCELED and new.status is OrderStatus.NEW, 3)
    assert old.reason == "Order replaced" and new.limit_price == px(bid - 1100)

    await trader.add_order(SYMBOL, "sell", "0.01", price=px(bid + 2000))
    assert await trader.cancel_all() == 2
    await wait_for(lambda: not trader.orders.open_orders(), 3, "cancel_all seen")
    assert ex.trading.account.orders == {}
    assert len({o.order_id for o in trader.orders.all()}) == len(trader.orders) == 6
