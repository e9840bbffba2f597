"""Kraken Futures v1: the docs' sign-challenge vector, message decoding, and seq gap detection."""

from __future__ import annotations

import json
from decimal import Decimal

from havterm.engine.futures import (
    FuturesBook,
    FuturesBookDelta,
    FuturesBookSnapshot,
    FuturesDecodeError,
    FuturesEvent,
    FuturesTicker,
    FuturesTrade,
    SequenceGap,
    decode_futures,
    sign_challenge,
    subscribe_futures,
)
from havterm.engine.integrity import BookState

from .conftest import KRAKEN_DATA


def test_sign_challenge_reproduces_the_docs_vector() -> None:
    doc = json.loads((KRAKEN_DATA / "docs_rest_api_sign_example.json").read_text())
    ex = doc["futures_ws_sign_challenge_example"]
    assert sign_challenge(ex["challenge"], ex["api_secret"]) == ex["signed_challenge"]


def test_ticker_with_funding_mark_and_open_interest() -> None:
    (t,) = decode_futures(
        '{"time":1676393235406,"product_id":"PI_XBTUSD","funding_rate":-6.2604214e-11,'
        '"next_funding_rate_time":1676394000000,"feed":"ticker","bid":21978.5,"ask":21987.0,'
        '"index":21984.54,"last":21983.5,"openInterest":30072580.0,"markPrice":21979.68641534714,'
        '"tag":"perpetual","suspended":false}'
    )
    assert isinstance(t, FuturesTicker)
    assert t.funding_rate == Decimal("-6.2604214E-11")
    assert t.markPrice == Decimal("21979.68641534714") and t.openInterest == Decimal("30072580.0")
    assert t.basis == Decimal("21979.68641534714") - Decimal("21984.54")
    assert t.next_funding_rate_time == 1676394000000


def test_book_snapshot_delta_trade_and_events() -> None:
    (snap,) = decode_futures(
        '{"feed":"book_snapshot","product_id":"PI_XBTUSD","timestamp":1612269825817,"seq":326072249,'
        '"tickSize":null,"bids":[{"price":34892.5,"qty":6385}],"asks":[{"price":34911.5,"qty":20598}]}'
    )
    assert isinstance(snap, FuturesBookSnapshot) and snap.seq == 326072249
    (delta,) = decode_futures(
        '{"feed":"book","product_id":"PI_XBTUSD","side":"sell","seq":326094134,"price":34981,"qty":0,'
        '"timestamp":1612269953629}'
    )
    assert isinstance(delta, FuturesBookDelta) and delta.qty == 0 and delta.side == "sell"
    (trade,) = decode_futures(
        '{"feed":"trade","product_id":"PI_XBTUSD","uid":"05af78ac","side":"sell","type":"fill",'
        '"seq":653355,"time":1612266317519,"qty":15000,"price":34969.5}'
    )
    assert isinstance(trade, FuturesTrade) and trade.price == Decimal("34969.5")
    (info,) = decode_futures('{"event":"info","version":1}')
    assert info == FuturesEvent("info", version=1)
    (err,) = decode_futures('{"event":"error","message":"Invalid product id"}')
    assert isinstance(err, FuturesEvent) and err.message == "Invalid product id"
    assert subscribe_futures("book", ["PF_XBTUSD"]) == (
        '{"event":"subscribe","feed":"book","product_ids":["PF_XBTUSD"]}'
    )


def test_bad_futures_frames_are_events() -> None:
    for frame in [
        "nope",
        "[]",
        '{"feed":"book","product_id":"X","side":"up","seq":1,"price":1,"qty":1}',
        '{"feed":"book","product_id":"X","side":"buy","seq":1,"price":1,"qty":-1}',
        '{"feed":"mystery"}',
    ]:
        (ev,) = decode_futures(frame)
        assert isinstance(ev, FuturesDecodeError) and ev.reason


def test_sequence_gap_is_detected_and_a_snapshot_recovers() -> None:
    book = FuturesBook("PF_XBTUSD")
    snap = FuturesBookSnapshot("PF_XBTUSD", 10, (), ())
    book.apply_snapshot(snap)

    def d(seq: int, side: str, price: str, qty: str) -> FuturesBookDelta:
        return FuturesBookDelta("PF_XBTUSD", seq, side, Decimal(price), Decimal(qty))

    assert book.apply_delta(d(11, "buy", "100.5", "3")) is None
    assert book.apply_delta(d(12, "sell", "101", "2")) is None
    assert book.apply_delta(d(12, "sell", "101", "9")) is None  # a duplicate is ignored
    assert book.best_bid() == (Decimal("100.5"), Decimal("3"))
    assert book.best_ask() == (Decimal("101"), Decimal("2"))
    gap = book.apply_delta(d(14, "buy", "100", "1"))
    assert gap == SequenceGap("PF_XBTUSD", 13, 14)
    assert book.state is BookState.RESYNCING and book.gaps == 1
    assert book.apply_delta(d(15, "buy", "99", "1")) is None and book.best_bid() == (
        Decimal("100.5"),
        Decimal("3"),
    )
    book.apply_snapshot(FuturesBookSnapshot("PF_XBTUSD", 20, (), ()))
    assert book.state is BookState.SYNCED and book.best_bid() is None
