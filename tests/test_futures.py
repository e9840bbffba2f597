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


def test_futures_l2_book_is_exact_integer_ticks_that_widen_with_the_wire() -> None:
    from havterm.engine.futures import FuturesL2Book, FuturesLevel

    book = FuturesL2Book("PF_XBTUSD")
    lv = FuturesLevel
    book.load(
        FuturesBookSnapshot(
            "PF_XBTUSD", 10, (lv(Decimal("63000"), Decimal("5")), lv(Decimal("62999.5"), Decimal("2"))),
            (lv(Decimal("63001"), Decimal("1")),), 1_780_000_000_123,
        )
    )  # fmt: skip
    assert book.state is BookState.SYNCED and book.seq == 10
    assert (book.price_precision, book.qty_precision) == (1, 0)
    assert book.bids() == [(630000, 5), (629995, 2)] and book.asks() == [(630010, 1)]
    assert book.timestamp == "2026-05-28T20:26:40.123Z"
    # A finer price and a fractional quantity widen the book exactly; nothing goes through a float.
    book.set_level(FuturesBookDelta("PF_XBTUSD", 11, "sell", Decimal("63000.25"), Decimal("0.5")))
    assert (book.price_precision, book.qty_precision) == (2, 1)
    assert book.asks() == [(6300025, 5), (6300100, 10)] and book.bids()[0] == (6300000, 50)
    assert book.mid() == Decimal("63000.125") and book.format_price(book.best_ask()[0]) == "63000.25"
    # Exponent notation (PF_SHIBUSD-style prices) is exact too; qty 0 removes a level.
    book.set_level(FuturesBookDelta("PF_XBTUSD", 12, "sell", Decimal("63000.25"), Decimal("0")))
    assert book.asks() == [(6300100, 10)]
    book._check()
    shib = FuturesL2Book("PF_SHIBUSD")
    shib.load(FuturesBookSnapshot("PF_SHIBUSD", 1, (lv(Decimal("5.494e-6"), Decimal("1000")),), ()))
    assert shib.price_precision == 9 and shib.bids() == [(5494, 1000)]
    assert shib.price(5494) == Decimal("0.000005494")


def test_session_refuses_only_the_unknown_product_and_matches_errors_in_order() -> None:
    from havterm.engine.futures import ProductRejected
    from havterm.engine.futures_client import FuturesSession
    from havterm.engine.protocol import Phase

    s = FuturesSession(["PF_XBTUSD"])
    s.connecting(0.0)
    s.connection_opened(0.0)
    sent = s.data_to_send()
    # One request per feed and product, so an unknown product cannot fail the others.
    assert '{"event":"subscribe","feed":"book","product_ids":["PF_XBTUSD"]}' in sent
    s.add_product("PF_NOPEUSD", 0.1)
    s.add_product("PF_ETHUSD", 0.1)
    assert len(s.data_to_send()) == 6
    for feed in ("book", "ticker", "trade"):
        s.receive_frame(f'{{"event":"subscribed","feed":"{feed}","product_ids":["PF_XBTUSD"]}}', 0.2, 0.2)
    # PF_NOPEUSD's three requests are answered with errors that do not name it; PF_ETHUSD's acks follow.
    for _ in range(3):
        s.receive_frame('{"event":"error","message":"Invalid product id"}', 0.3, 0.3)
    for feed in ("book", "ticker", "trade"):
        s.receive_frame(f'{{"event":"subscribed","feed":"{feed}","product_ids":["PF_ETHUSD"]}}', 0.3, 0.3)
    for pid in ("PF_XBTUSD", "PF_ETHUSD"):
        s.receive_frame(
            f'{{"feed":"book_snapshot","product_id":"{pid}","seq":5,"bids":[],"asks":[]}}', 0.4, 0.4
        )
    refused = [e for e in s.events_received() if isinstance(e, ProductRejected)]
    assert refused == [ProductRejected("PF_NOPEUSD", "Invalid product id")]
    assert s.rejected == {"PF_NOPEUSD": "Invalid product id"}
    assert s.products["PF_ETHUSD"].book.state is BookState.SYNCED
    assert s.products["PF_NOPEUSD"].book.state is BookState.DISABLED
    assert s.phase is Phase.DEGRADED
    # Removing it unsubscribes nothing (it never was) and the session is healthy again.
    s.remove_product("PF_NOPEUSD", 0.5)
    assert s.data_to_send() == [] and s.phase is Phase.SUBSCRIBED


def test_fold_puts_a_product_in_market_state_with_fixed_clocks() -> None:
    from havterm.engine.composite import FuturesFold
    from havterm.engine.futures import FuturesL2Book, FuturesLevel, ProductRejected
    from havterm.engine.protocol import BookIntegrity
    from havterm.engine.state import MarketState

    state = MarketState()
    session_book = FuturesBook("PF_XBTUSD")

    class Product:
        book = session_book

    fold = FuturesFold(state, lambda pid: Product)
    st = fold.prepare("PF_XBTUSD")
    assert isinstance(st.book, FuturesL2Book) and st.book_state is BookState.AWAITING_SNAPSHOT
    snap = FuturesBookSnapshot(
        "PF_XBTUSD", 7, (FuturesLevel(Decimal("100.5"), Decimal("3")),),
        (FuturesLevel(Decimal("101"), Decimal("2")),), 1_780_000_000_000,
    )  # fmt: skip
    session_book.apply_snapshot(snap)
    assert fold.apply(snap, 10.0, 1_780_000_000.25) == []
    assert st.synced and st.book.best_bid() == (1005, 3) and st.last_update_at == 10.0
    assert st.latency.percentiles(50)[0] == 250.0  # exchange time to receive, in ms
    d8 = FuturesBookDelta("PF_XBTUSD", 8, "buy", Decimal("100.5"), Decimal("4"))
    assert session_book.apply_delta(d8) is None
    fold.apply(d8, 11.0, 1_780_000_001.0)
    fold.apply(d8, 11.0, 1_780_000_001.0)  # delivered twice: applied once
    assert st.book.best_bid() == (1005, 4) and st.book.seq == 8
    gap = session_book.apply_delta(FuturesBookDelta("PF_XBTUSD", 10, "buy", Decimal("100"), Decimal("1")))
    assert gap is not None
    (ev,) = fold.apply(gap, 12.0, 1_780_000_002.0)
    assert ev == BookIntegrity(
        "PF_XBTUSD", BookState.RESYNCING, "sequence gap: expected 9, got 10; resnapshotting"
    )
    assert st.book_state is BookState.RESYNCING and (st.mismatches, st.resyncs) == (1, 1)
    session_book.apply_snapshot(snap)
    (ev,) = fold.apply(snap, 13.0, 1_780_000_003.0)
    assert ev.state is BookState.SYNCED and st.synced and st.book_reason is None
    # Trades: a snapshot lists the newest first; only what is newer than the tape is kept, in order.
    for ms in (1_780_000_005_000, 1_780_000_004_000, 1_780_000_006_000):
        fold.apply(FuturesTrade("PF_XBTUSD", "sell", Decimal("100.5"), Decimal("2"), time=ms), 14.0, 0.0)
    assert [t.timestamp for t in st.trades] == ["2026-05-28T20:26:45.000Z", "2026-05-28T20:26:46.000Z"]
    assert st.last_price == Decimal("100.5") and st.trades[-1].trade_id == 2
    tick = FuturesTicker("PF_XBTUSD", 1_780_000_007_000, markPrice=Decimal("100.75"), index=Decimal("100.5"))
    fold.apply(tick, 15.0, 1_780_000_007.0)
    assert st.futures is tick and st.futures.basis == Decimal("0.25") and st.futures.relative_funding is None
    (ev,) = fold.apply(ProductRejected("PF_XBTUSD", "Invalid product id"), 16.0, 0.0)
    assert st.book_state is BookState.DISABLED and ev.reason == st.book_reason
