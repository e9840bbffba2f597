"""The v2 codec: every message shape in PROTOCOL.md, every request, and bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from havterm.engine import codec
from havterm.engine.events import (
    BalancesMessage,
    BookMessage,
    DecodeError,
    ExecutionsMessage,
    Heartbeat,
    InstrumentMessage,
    Level,
    Level3Message,
    MethodResponse,
    OhlcMessage,
    Status,
    TickerMessage,
    TradeMessage,
)

from .conftest import KRAKEN_DATA


def one(frame: str) -> object:
    events = codec.decode(frame)
    assert len(events) == 1
    return events[0]


def test_status_keeps_u64_connection_id() -> None:
    ev = one(
        '{"channel":"status","type":"update","data":[{"api_version":"v2",'
        '"connection_id":13834774380200032777,"system":"online","version":"2.0.0"}]}'
    )
    assert ev == Status("online", "v2", 13834774380200032777, "2.0.0")


def test_heartbeat() -> None:
    assert one('{"channel":"heartbeat"}') == Heartbeat()


def test_pong_without_success_field() -> None:
    ev = one(
        '{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z",'
        '"time_out":"2023-09-24T14:10:23.799703Z"}'
    )
    assert isinstance(ev, MethodResponse)
    assert (ev.method, ev.success, ev.req_id) == ("pong", True, 101)


def test_book_update_is_exact_and_keeps_wire_scale() -> None:
    ev = one(
        '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":'
        '[{"price":63381.0,"qty":0.00000000},{"price":63376.4,"qty":0.00005100}],"asks":[],'
        '"checksum":3726153463,"timestamp":"2026-08-02T03:35:51.660084Z"}]}'
    )
    assert isinstance(ev, BookMessage)
    assert ev.snapshot is False
    assert ev.bids == (Level(633810, 1, 0, 8), Level(633764, 1, 5100, 8))
    assert ev.bids[1].qty == Decimal("0.00005100") and str(ev.bids[1].qty) == "0.00005100"
    assert ev.asks == ()
    assert ev.checksum == 3726153463


def test_book_accepts_docs_string_numbers_and_exponents() -> None:
    ev = one(
        '{"channel":"book","type":"snapshot","data":[{"symbol":"X/USD","bids":'
        '[{"price":"45283.5","qty":"0.10000000"}],"asks":[{"price":5.494e-6,"qty":1e-08}],'
        '"checksum":1}]}'
    )
    assert isinstance(ev, BookMessage)
    assert ev.bids[0] == Level(452835, 1, 10000000, 8)
    assert ev.asks[0] == Level(5494, 9, 1, 8)


def test_level3_update() -> None:
    ev = one(
        '{"channel":"level3","type":"update","data":[{"checksum":2841398499,"symbol":"MATIC/USD",'
        '"timestamp":"2023-10-06T18:21:00.1Z","bids":[],"asks":[{"event":"delete","order_id":'
        '"OOIATY-6EIWY-ACVIUN","limit_price":0.5636,"order_qty":302.89736033,"timestamp":'
        '"2023-10-06T18:21:00.097010033Z"},{"event":"add","order_id":"O2BN53-5RSB2-V3J57T",'
        '"limit_price":0.564,"order_qty":3500.77668626,"timestamp":"2023-10-06T18:20:27.383408052Z"}]}]}'
    )
    assert isinstance(ev, Level3Message)
    assert [o.event for o in ev.asks] == ["delete", "add"]
    assert ev.asks[1].price == Decimal("0.564")
    assert ev.asks[0].qty == Decimal("302.89736033")


def test_ticker_trade_ohlc() -> None:
    t = one(
        '{"channel":"ticker","type":"update","data":[{"symbol":"ALGO/USD","bid":0.10025,'
        '"bid_qty":740.0,"ask":0.10035,"ask_qty":740.0,"last":0.10035,"volume":997038.98383185,'
        '"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,'
        '"trades":135262}]}'
    )
    assert isinstance(t, TickerMessage)
    assert t.tickers[0].volume == Decimal("997038.98383185")
    assert t.tickers[0].timestamp is None
    tr = one(
        '{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell",'
        '"price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,'
        '"timestamp":"2023-09-25T07:49:37.708706Z"}]}'
    )
    assert isinstance(tr, TradeMessage)
    assert tr.trades[0].qty == Decimal("40.0") and tr.trades[0].trade_id == 4665906
    o = one(
        '{"channel":"ohlc","type":"update","timestamp":"2023-10-04T16:26:30.524394914Z","data":'
        '[{"symbol":"MATIC/USD","open":0.5624,"high":0.5628,"low":0.5622,"close":0.5627,'
        '"trades":12,"volume":30927.68066226,"vwap":0.5626,"interval_begin":'
        '"2023-10-04T16:25:00.000000000Z","interval":5,"timestamp":"2023-10-04T16:30:00.000000Z"}]}'
    )
    assert isinstance(o, OhlcMessage)
    assert o.candles[0].close == Decimal("0.5627") and o.candles[0].interval == 5


def test_instrument_data_is_an_object() -> None:
    ev = one(
        '{"channel":"instrument","type":"snapshot","data":{"assets":[{"id":"BTC","status":'
        '"enabled","precision":10,"precision_display":5,"borrowable":true,"collateral_value":1.0,'
        '"margin_rate":0.01}],"pairs":[{"symbol":"BTC/USD","base":"BTC","quote":"USD","status":'
        '"online","qty_precision":8,"qty_increment":1e-08,"price_precision":1,"cost_precision":5,'
        '"marginable":true,"has_index":true,"cost_min":0.5,"tick_size":0.1,"price_increment":0.1,'
        '"qty_min":0.0001}]}}'
    )
    assert isinstance(ev, InstrumentMessage)
    pair = ev.pairs[0]
    assert (pair.price_precision, pair.qty_precision) == (1, 8)
    assert pair.qty_increment == Decimal("1e-08")


def test_executions_sparse_reports() -> None:
    ev = one(
        '{"channel":"executions","type":"update","data":[{"timestamp":"2023-09-22T10:33:05.709982Z",'
        '"order_status":"new","exec_type":"new","order_userref":3,"order_id":"OK4GJX-KSTLS-7DZZO5"}],'
        '"sequence":9}'
    )
    assert isinstance(ev, ExecutionsMessage)
    assert ev.sequence == 9
    r = ev.reports[0]
    assert (r.exec_type, r.order_status, r.order_id, r.symbol) == ("new", "new", "OK4GJX-KSTLS-7DZZO5", None)
    fill = one(
        '{"channel":"executions","type":"update","data":[{"order_id":"OK4GJX-KSTLS-7DZZO5",'
        '"exec_type":"trade","last_qty":0.005,"last_price":26599.9,"cum_cost":0,'
        '"fees":[{"asset":"USD","qty":0.3458}],"order_status":"partially_filled"}],"sequence":10}'
    )
    assert isinstance(fill, ExecutionsMessage)
    assert fill.reports[0].fees is not None and fill.reports[0].fees[0].qty == Decimal("0.3458")
    assert fill.reports[0].cum_cost == 0


def test_balances_snapshot_and_ledger_update() -> None:
    snap = one(
        '{"channel":"balances","type":"snapshot","data":[{"asset":"MATIC","asset_class":"currency",'
        '"balance":500,"wallets":[{"type":"spot","id":"main","balance":300}]}],"sequence":1}'
    )
    assert isinstance(snap, BalancesMessage)
    assert snap.entries[0].wallets[0].balance == 300
    upd = one(
        '{"channel":"balances","type":"update","data":[{"ledger_id":"A5KS77","ref_id":"AGBB7L",'
        '"timestamp":"2023-09-22T10:33:05.710082Z","type":"trade","asset":"USD","asset_class":'
        '"currency","category":"trade","wallet_type":"spot","wallet_id":"main","amount":132.9995,'
        '"fee":0.3458,"balance":500}],"sequence":10}'
    )
    assert isinstance(upd, BalancesMessage)
    assert upd.entries[0].amount == Decimal("132.9995")


@pytest.mark.parametrize(
    ("frame", "method", "success", "error"),
    [
        (
            '{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":'
            '"ALGO/USD"},"success":true,"time_in":"a","time_out":"b","req_id":7}',
            "subscribe",
            True,
            None,
        ),
        (
            '{"error":"Currency pair not supported XBT/USD","method":"subscribe","success":false,'
            '"symbol":"XBT/USD"}',
            "subscribe",
            False,
            "Currency pair not supported XBT/USD",
        ),
        (
            '{"method":"add_order","req_id":1,"result":{"order_id":"AA5JGQ","order_userref":100054},'
            '"success":true}',
            "add_order",
            True,
            None,
        ),
        (
            '{"error":"EOrder:Insufficient funds","method":"add_order","req_id":1,"success":false}',
            "add_order",
            False,
            "EOrder:Insufficient funds",
        ),
        (
            '{"method":"amend_order","result":{"amend_id":"TTW6PD","cl_ord_id":"c"},"success":true}',
            "amend_order",
            True,
            None,
        ),
        (
            '{"method":"edit_order","result":{"order_id":"X2","original_order_id":"X1"},"success":true}',
            "edit_order",
            True,
            None,
        ),
        (
            '{"method":"cancel_order","result":{"order_id":"OLUMT4"},"success":true}',
            "cancel_order",
            True,
            None,
        ),
        ('{"method":"cancel_all","result":{"count":1},"success":true}', "cancel_all", True, None),
        (
            '{"method":"cancel_all_orders_after","result":{"currentTime":"2023-09-21T15:49:29Z",'
            '"triggerTime":"2023-09-21T15:51:09Z"},"success":true}',
            "cancel_all_orders_after",
            True,
            None,
        ),
        (
            '{"method":"batch_add","result":[{"order_id":"A"},{"order_id":"B"}],"success":true}',
            "batch_add",
            True,
            None,
        ),
        ('{"method":"batch_cancel","result":{"count":3},"success":true}', "batch_cancel", True, None),
        (
            '{"method":"unsubscribe","result":{"channel":"book","depth":10,"symbol":"BTC/USD"},'
            '"success":true}',
            "unsubscribe",
            True,
            None,
        ),
        ('{"event":"error","errorMessage":"Exceeded msg rate"}', "error", False, "Exceeded msg rate"),
    ],
)
def test_method_responses(frame: str, method: str, success: bool, error: str | None) -> None:
    ev = one(frame)
    assert isinstance(ev, MethodResponse)
    assert (ev.method, ev.success, ev.error) == (method, success, error)


def test_method_result_numbers_are_decimal() -> None:
    ev = one(
        '{"method":"subscribe","result":{"channel":"executions","maxratecount":125,"x":0.30},"success":true}'
    )
    assert isinstance(ev, MethodResponse)
    assert ev.result == {"channel": "executions", "maxratecount": 125, "x": Decimal("0.30")}
    assert ev.result_channel == "executions"


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        ("CloudFlare WebSocket proxy restarting", "invalid JSON"),
        ("", "invalid JSON"),
        ("[1,2,3]", "Expected `object`"),
        ('{"foo":1}', "neither 'channel' nor 'method'"),
        ('{"channel":"bogus","type":"update","data":[]}', "unknown channel 'bogus'"),
        (
            '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[{"price":1.0,"qty":-1}],'
            '"asks":[],"checksum":1}]}',
            "bid qty is negative",
        ),
        (
            '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[{"price":1.0}],'
            '"asks":[],"checksum":1}]}',
            "missing required field `qty`",
        ),
        (
            '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[],"asks":[],"checksum":"abc"}]}',
            "Expected `int`",
        ),
        (
            '{"channel":"book","type":"update","data":[{"symbol":"X","bids":[{"price":"abc","qty":1}],'
            '"asks":[],"checksum":1}]}',
            "bid price is not a number",
        ),
        ('{"channel":"book","type":"weird","data":[]}', "type must be"),
        ('{"channel":"book","type":"update"}', "has no data"),
        (
            '{"channel":"trade","type":"update","data":[{"symbol":"X","side":"buy","price":1,'
            '"qty":-2,"ord_type":"limit","trade_id":1,"timestamp":"t"}]}',
            "trade qty is negative",
        ),
        ('{"channel":"ticker","type":"update","data":[{"symbol":"X"}]}', "missing required field"),
    ],
)
def test_bad_input_becomes_a_named_error(frame: str, needle: str) -> None:
    ev = one(frame)
    assert isinstance(ev, DecodeError)
    assert needle in ev.reason, ev.reason
    assert "\n" not in ev.one_line()


def test_encode_requests() -> None:
    assert json.loads(
        codec.subscribe("book", ["ALGO/USD", "MATIC/USD"], depth=10, snapshot=True, req_id=7)
    ) == {
        "method": "subscribe",
        "params": {"channel": "book", "symbol": ["ALGO/USD", "MATIC/USD"], "depth": 10, "snapshot": True},
        "req_id": 7,
    }
    assert codec.unsubscribe("ohlc", ["BTC/USD"], interval=5) == (
        '{"method":"unsubscribe","params":{"channel":"ohlc","symbol":["BTC/USD"],"interval":5}}'
    )
    assert codec.ping(101) == '{"method":"ping","req_id":101}'
    assert codec.trading_request(
        "add_order",
        "tok",
        {
            "order_type": "limit",
            "side": "buy",
            "limit_price": Decimal("26500.40"),
            "order_qty": Decimal("1E-8"),
            "symbol": "BTC/USD",
            "cl_ord_id": None,
        },
        123456789,
    ) == (
        '{"method":"add_order","params":{"order_type":"limit","side":"buy","limit_price":'
        '26500.40,"order_qty":0.00000001,"symbol":"BTC/USD","token":"tok"},"req_id":123456789}'
    )
    assert json.loads(codec.trading_request("cancel_all_orders_after", "t", {"timeout": 60})) == {
        "method": "cancel_all_orders_after",
        "params": {"timeout": 60, "token": "t"},
    }


@pytest.mark.parametrize(
    "call",
    [
        lambda: codec.subscribe("book", ["BTC/USD"], depth=11),
        lambda: codec.subscribe("level3", ["BTC/USD"], depth=25),
        lambda: codec.subscribe("ohlc", ["BTC/USD"], interval=2),
        lambda: codec.subscribe("book", []),
        lambda: codec.subscribe("book", "BTC/USD"),
        lambda: codec.trading_request("add_order", "", {}),
        lambda: codec.trading_request("teleport", "t", {}),
        lambda: codec.trading_request("add_order", "t", {"order_qty": 0.1}),
    ],
)
def test_encoding_refuses_local_mistakes(call: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        call()  # type: ignore[operator]


def _real_frames() -> list[bytes]:
    frames: list[bytes] = []
    for path in sorted(Path(KRAKEN_DATA).glob("v2_book25_*.jsonl")):
        frames += path.read_bytes().splitlines()[:40]
    frames.append((KRAKEN_DATA / "docs_v2_book_channel_example_MATICUSD.jsonl").read_bytes().splitlines()[0])
    return frames


REAL_FRAMES = _real_frames()


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(st.sampled_from(REAL_FRAMES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "swap_token"]))
        i = draw(st.integers(0, max(0, len(frame) - 1)))
        if op == "flip" and frame:
            frame[i] = draw(st.integers(0, 255))
        elif op == "delete" and frame:
            del frame[i : i + draw(st.integers(1, 20))]
        elif op == "insert":
            frame[i:i] = draw(
                st.sampled_from(
                    [b"-", b"null", b'"x"', b"[]", b"{}", b"1e999", b",", b"\x00", b"9" * 30, b"true"]
                )
            )
        elif op == "truncate":
            del frame[i:]
        elif op == "swap_token":
            text = frame.decode("utf-8", "replace")
            for a, b in [
                ('"qty":', '"qty":-'),
                ('"price":', '"price":"'),
                ('"bids"', '"bidz"'),
                ('"checksum":', '"checksum":-'),
                ('"update"', '"upd"'),
                ('"book"', '"level3"'),
                ('"symbol":"', '"symbol":1'),
            ]:
                if a in text and draw(st.booleans()):
                    text = text.replace(a, b, 1)
            frame = bytearray(text.encode())
    return bytes(frame)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_frames())
def test_decode_never_raises_on_mutated_real_frames(frame: bytes) -> None:
    events = codec.decode(frame)
    assert events, "every frame yields at least one event"
    for ev in events:
        if isinstance(ev, DecodeError):
            assert ev.reason and "\n" not in ev.reason
        elif isinstance(ev, BookMessage):
            for lv in (*ev.bids, *ev.asks):
                assert lv.qty_units >= 0 and lv.price_units > 0


def test_decode_accepts_str_and_bytes_alike() -> None:
    frame = REAL_FRAMES[3]
    assert codec.decode(frame) == codec.decode(frame.decode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_frames())
def test_fast_book_path_agrees_with_the_typed_decoder(frame: bytes) -> None:
    """The book fast path is an optimisation only: whatever it accepts, the typed path agrees."""
    try:
        frame.decode("utf-8")
    except UnicodeDecodeError:
        # Not JSON text at all: decode() refuses it up front, whichever path it would take.
        assert all(isinstance(e, DecodeError) for e in codec.decode(frame))
        return
    fast = codec.decode(frame)
    typed = codec._decode_typed(frame)
    if all(isinstance(e, BookMessage) for e in fast):
        assert fast == typed
    else:
        assert all(isinstance(e, DecodeError) for e in typed) == all(
            isinstance(e, DecodeError) for e in fast
        )


def test_fast_path_equals_typed_path_on_every_real_frame() -> None:
    for path in sorted(Path(KRAKEN_DATA).glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            assert codec.decode(line) == codec._decode_typed(line)
