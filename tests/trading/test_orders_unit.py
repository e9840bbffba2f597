"""The pure order state machine, balances and rate meter, fed decoded frames with a fixed clock."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from havterm.engine.codec import decode
from havterm.engine.events import BalancesMessage, ExecutionsMessage
from havterm.engine.orders import (
    Balances,
    OrderStatus,
    OrderTracker,
    RateMeter,
    amend_cost,
    batch_add_cost,
    batch_cancel_cost,
    cancel_cost,
    edit_cost,
)


def ex(data: str, seq: int, snapshot: bool = False) -> ExecutionsMessage:
    kind = "snapshot" if snapshot else "update"
    (msg,) = decode(f'{{"channel":"executions","type":"{kind}","data":[{data}],"sequence":{seq}}}')
    assert isinstance(msg, ExecutionsMessage), msg
    return msg


def bal(data: str, seq: int, snapshot: bool = False) -> BalancesMessage:
    kind = "snapshot" if snapshot else "update"
    (msg,) = decode(f'{{"channel":"balances","type":"{kind}","data":[{data}],"sequence":{seq}}}')
    assert isinstance(msg, BalancesMessage), msg
    return msg


PENDING = (
    '{"order_id":"OK4GJX","cl_ord_id":"c1","symbol":"BTC/USD","order_qty":0.005,"cum_cost":0.0,'
    '"time_in_force":"GTC","exec_type":"pending_new","side":"sell","order_type":"limit",'
    '"limit_price":26500.0,"order_status":"pending_new"}'
)
NEW = '{"order_status":"new","exec_type":"new","order_id":"OK4GJX"}'


def trade(exec_id: str, qty: str, cum: str, status: str, price: str = "26599.9") -> str:
    cost = D(qty) * D(price)
    return (
        f'{{"order_id":"OK4GJX","exec_id":"{exec_id}","exec_type":"trade","symbol":"BTC/USD","side":"sell",'
        f'"last_qty":{qty},"last_price":{price},"liquidity_ind":"t","cost":{cost},"order_status":"{status}",'
        f'"cum_qty":{cum},"fees":[{{"asset":"USD","qty":0.1}}]}}'
    )


def test_sparse_reports_merge_into_one_order_with_fills_fees_and_average() -> None:
    t = OrderTracker()
    mine = t.expect("c1", 0.0, symbol="BTC/USD", side="sell", order_type="limit", order_qty=D("0.005"))
    assert mine.status.value == "pending_new" and mine.order_id is None
    t.apply(ex(PENDING, 8), 0.1)  # found by cl_ord_id: linked, not a second order
    t.apply(ex(NEW, 9), 0.2)  # sparse: only ids and status
    assert len(t) == 1 and mine.order_id == "OK4GJX" and mine.status.value == "new"
    assert mine.limit_price == D("26500.0") and mine.time_in_force == "gtc"
    (up,) = t.apply(ex(trade("T1", "0.002", "0.002", "partially_filled"), 10), 0.3)
    assert up.fill is not None and up.fill.qty == D("0.002") and not up.closed
    t.apply(ex(trade("T2", "0.003", "0.005", "partially_filled", "26600.1"), 11), 0.4)
    (done,) = t.apply(ex('{"order_id":"OK4GJX","exec_type":"filled","order_status":"filled"}', 12), 0.5)
    assert done.closed and mine.status is OrderStatus.FILLED and not mine.is_open
    assert mine.cum_qty == D("0.005") and mine.remaining == 0
    assert mine.cum_cost == D("0.002") * D("26599.9") + D("0.003") * D("26600.1")
    assert mine.avg_price == mine.cum_cost / D("0.005")
    assert mine.fees == {"USD": D("0.2")} and [f.exec_id for f in mine.fills] == ["T1", "T2"]
    # A repeated fill (the same exec_id) and a late "new" change nothing.
    t.apply(ex(trade("T2", "0.003", "0.005", "partially_filled"), 13), 0.6)
    t.apply(ex(NEW, 14), 0.7)
    assert len(mine.fills) == 2 and mine.status is OrderStatus.FILLED and t.sequence_gaps == 0


def test_terminal_statuses_and_sequence_gaps() -> None:
    t = OrderTracker()
    t.apply(ex(PENDING, 1), 0.0)
    canceled = '{"order_id":"OK4GJX","exec_type":"canceled","order_status":"canceled","reason":"%s"}'
    t.apply(ex(canceled % "Post only order", 2), 0.1)
    o = t.get("OK4GJX")
    assert o is not None and o.status is OrderStatus.CANCELED and o.reason == "Post only order"
    t.apply(ex('{"order_id":"OK4GJX","exec_type":"expired","order_status":"expired"}', 4), 0.2)
    assert o.status is OrderStatus.CANCELED  # the first terminal status wins
    assert t.sequence_gaps == 1
    assert t.rejected("nope", "EOrder:Insufficient funds", 0.3) is None
    t.expect("c9", 0.3, symbol="BTC/USD", side="buy", order_type="limit", order_qty=D(1))
    r = t.rejected("c9", "EOrder:Insufficient funds", 0.4)
    assert r is not None and r.status is OrderStatus.REJECTED and r.reason == "EOrder:Insufficient funds"


def test_amended_report_updates_in_place_and_restarts_the_age() -> None:
    t = OrderTracker()
    t.apply(ex(PENDING, 1), 0.0)
    t.apply(ex(NEW, 2), 0.0)
    t.apply(
        ex(
            '{"order_id":"OK4GJX","exec_type":"amended","order_status":"new","order_qty":0.007,'
            '"limit_price":26400.0,"amended":true,"reason":"User requested"}',
            3,
        ),
        12.0,
    )
    o = t.get(cl_ord_id="c1")
    assert o is not None and o.order_qty == D("0.007") and o.limit_price == D("26400.0") and o.amended
    assert o.age(13.0) == 1.0 and o.status is OrderStatus.NEW


def test_snapshot_reconciles_without_losing_or_duplicating() -> None:
    t = OrderTracker()
    # Before the disconnect: A live, B live, C sent but never acknowledged, D sent and lost.
    for cl, oid in (("a", "OA"), ("b", "OB")):
        t.expect(cl, 0.0, symbol="BTC/USD", side="buy", order_type="limit", order_qty=D(1))
        t.acknowledged(cl, oid, 0.1)
    t.expect("c", 0.2, symbol="BTC/USD", side="buy", order_type="limit", order_qty=D(1))
    t.expect("d", 0.2, symbol="BTC/USD", side="buy", order_type="limit", order_qty=D(1))
    # The snapshot after the reconnect: A still open (partly filled), C made it (matched by
    # cl_ord_id), E was placed elsewhere; B is gone and D never arrived.
    rows = ",".join(
        [
            '{"order_id":"OA","cl_ord_id":"a","exec_type":"new","order_status":"partially_filled",'
            '"symbol":"BTC/USD","order_qty":1,"cum_qty":0.4}',
            '{"order_id":"OC","cl_ord_id":"c","exec_type":"new","order_status":"new","symbol":"BTC/USD",'
            '"order_qty":1,"cum_qty":0}',
            '{"order_id":"OE","exec_type":"new","order_status":"new","symbol":"ETH/USD","order_qty":2}',
        ]
    )
    t.apply(ex(rows, 1, snapshot=True), 5.0)
    by_cl = {o.cl_ord_id: o for o in t.all()}
    assert len(t) == 5 and len({o.order_id for o in t.all()}) == 5  # nothing twice
    assert by_cl["a"].status is OrderStatus.PARTIALLY_FILLED and by_cl["a"].cum_qty == D("0.4")
    assert by_cl["c"].order_id == "OC" and by_cl["c"].status is OrderStatus.NEW
    assert by_cl["b"].status.value == "closed" and by_cl["b"].inferred
    assert by_cl["d"].status is OrderStatus.REJECTED and by_cl["d"].inferred
    assert t.get("OE") is not None and t.get("OE").symbol == "ETH/USD"  # type: ignore[union-attr]
    assert {o.order_id for o in t.open_orders()} == {"OA", "OC", "OE"}
    # A guess never hides the truth: a later report about B wins.
    t.apply(ex('{"order_id":"OB","exec_type":"canceled","order_status":"canceled"}', 2), 5.1)
    assert by_cl["b"].status is OrderStatus.CANCELED and not by_cl["b"].inferred
    # The same snapshot again (a second reconnect) changes nothing.
    t.apply(ex(rows, 1, snapshot=True), 6.0)
    assert len(t) == 5 and t.snapshots == 2


def test_snapshot_trades_settle_orders_that_filled_during_the_gap() -> None:
    t = OrderTracker()
    t.expect("c1", 0.0, symbol="BTC/USD", side="sell", order_type="limit", order_qty=D("0.005"))
    t.acknowledged("c1", "OK4GJX", 0.1)
    t.apply(ex(trade("T1", "0.002", "0.002", "partially_filled"), 3), 0.2)
    # snap_trades: the fills include T1 (seen live) and T2 (during the gap); no open orders.
    snap = ",".join(
        [trade("T1", "0.002", "0.002", "partially_filled"), trade("T2", "0.003", "0.005", "filled")]
    )
    t.apply(ex(snap, 1, snapshot=True), 9.0)
    o = t.get("OK4GJX")
    assert o is not None and o.status is OrderStatus.FILLED and o.cum_qty == D("0.005")
    assert [f.exec_id for f in o.fills] == ["T1", "T2"]
    # History of orders we never knew is kept as fills, not as orders.
    t.apply(ex(trade("T9", "1", "1", "filled").replace("OK4GJX", "OLD"), 1, snapshot=True), 10.0)
    assert t.get("OLD") is None and t.fills[-1].exec_id == "T9"


def test_balances_snapshot_then_ledger_entries_once_each() -> None:
    b = Balances()
    b.apply(
        bal(
            '{"asset":"USD","balance":1000,"wallets":[{"type":"spot","id":"main","balance":1000}]},'
            '{"asset":"BTC","balance":1.5,"wallets":[]}',
            1,
            snapshot=True,
        )
    )
    assert b.get("USD") == 1000 and b.get("BTC") == D("1.5") and b.get("ETH") == 0
    entry = (
        '{"ledger_id":"L1","ref_id":"T1","type":"trade","asset":"USD","amount":-132.9995,"fee":0.3458,'
        '"balance":866.6547,"wallet_type":"spot","wallet_id":"main"}'
    )
    (change,) = b.apply(bal(entry, 2))
    assert change.balance == D("866.6547") and change.amount == D("-132.9995") and change.ref_id == "T1"
    assert b.apply(bal(entry, 3)) == []  # the same ledger entry again
    b.apply(bal('{"ledger_id":"L2","asset":"BTC","amount":0.005,"balance":1.505}', 5))
    assert b.as_dict() == {"USD": D("866.6547"), "BTC": D("1.505")} and b.sequence_gaps == 1


def test_rate_costs_follow_krakens_table() -> None:
    # The docs' worked example: add, amend after 7 s, cancel 36 s after the amend = 1 + (1+2) + 4.
    assert 1 + amend_cost(7) + cancel_cost(36) == 8
    assert [cancel_cost(a) for a in (0, 4.9, 5, 9.9, 14, 44, 89, 299, 300)] == [8, 8, 6, 6, 5, 4, 2, 1, 0]
    assert [amend_cost(a) for a in (0, 5, 10, 15)] == [4, 3, 2, 1]
    assert [edit_cost(a) for a in (0, 5, 10, 15, 45, 90)] == [7, 6, 5, 3, 2, 1]
    assert batch_add_cost(5) == 2.5 and batch_cancel_cost([0, 100]) == 9


def test_rate_meter_decays_and_refuses_before_the_threshold() -> None:
    m = RateMeter("intermediate", headroom_s=1.0)
    for _ in range(50):
        m.charge("BTC/USD", 1, 0.0)
    assert m.value("BTC/USD", 10.0) == pytest.approx(26.6)  # the docs' decay example
    assert m.value("ETH/USD", 10.0) == 0  # per pair
    m.charge("BTC/USD", 96, 10.0)  # 122.6: just under the limit of 125 - 2.34
    assert m.check("BTC/USD", 0.05, 10.0) is None
    refusal = m.check("BTC/USD", 1, 10.0)
    assert refusal is not None and refusal.wait_s == pytest.approx((122.6 + 1 - 122.66) / 2.34)
    assert "would pass 122.7" in refusal.one_line() and "125" in refusal.one_line()
    assert m.warning("BTC/USD", 10.0) and not m.warning("BTC/USD", 40.0)
    m.set_threshold(60)
    assert m.tier.name == "starter" and m.limit == 59.0
    m.saturate("SOL/USD", 0.0)
    assert m.check("SOL/USD", 1, 0.0) is not None and m.check("SOL/USD", 1, 2.0) is None
