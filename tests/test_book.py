"""The L2 book: docs vectors, precision handling, state, and seeded stress against a naive book."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from havterm.engine.book import BookState, L2Book, PrecisionSource
from havterm.engine.codec import decode
from havterm.engine.events import BookMessage, Level

from .conftest import KRAKEN_DATA
from .reference_books import L2StreamGenerator


def book_events(frame: str | bytes) -> list[BookMessage]:
    return [e for e in decode(frame) if isinstance(e, BookMessage)]


def test_docs_btcusd_snapshot_gives_3310070434() -> None:
    doc = json.loads((KRAKEN_DATA / "docs_v2_book_checksum_example.json").read_text())
    (msg,) = book_events(json.dumps(doc["message"]))
    book = L2Book("BTC/USD", 10, 1, 8)
    assert book.apply(msg)
    assert book.computed_checksum == 3310070434
    assert book.state is BookState.SYNCED
    assert book.best_bid() == (452835, 10000000)
    assert book.best_ask() == (452852, 100000)
    assert book.spread() == Decimal("1.7")
    assert book.mid() == Decimal("45284.35")
    assert book.checksum_text().startswith("452852100000")
    book._check()


def test_docs_matic_needs_padding_to_4_and_8() -> None:
    lines = (KRAKEN_DATA / "docs_v2_book_channel_example_MATICUSD.jsonl").read_text().splitlines()
    snap, upd = book_events(lines[0])[0], book_events(lines[1])[0]
    padded = L2Book("MATIC/USD", 10, 4, 8)
    assert padded.apply(snap) and padded.computed_checksum == 2439117997
    assert padded.apply(upd) and padded.computed_checksum == 2114181697
    unpadded = L2Book("MATIC/USD", 10, 3, 7)  # a wrong precision must not verify
    assert not unpadded.apply(snap)
    assert unpadded.state is BookState.RESYNCING


def test_wire_precision_fallback_and_widening() -> None:
    book = L2Book("X/USD", 10)
    assert book.precision_source is PrecisionSource.WIRE
    from havterm.engine.checksum import l2_checksum

    snap = BookMessage(
        "X/USD", True, (Level(100, 1, 5, 1),), (Level(101, 1, 7, 1),), l2_checksum([(101, 7)], [(100, 5)])
    )
    assert book.apply(snap)
    assert (book.price_precision, book.qty_precision) == (1, 1)
    # a later token with more digits widens the book instead of failing
    expect = l2_checksum([(1010, 70)], [(1000, 50), (995, 123)])
    assert book.apply(BookMessage("X/USD", False, (Level(995, 2, 123, 2),), (), expect))
    assert (book.price_precision, book.qty_precision) == (2, 2)
    assert book.bids() == [(1000, 50), (995, 123)]
    book._check()


def test_instrument_precision_refuses_finer_prices() -> None:
    from havterm.engine.checksum import l2_checksum

    book = L2Book("X/USD", 10, 1, 8)
    assert book.apply(
        BookMessage(
            "X/USD", True, (Level(100, 1, 5, 8),), (Level(101, 1, 7, 8),), l2_checksum([(101, 7)], [(100, 5)])
        )
    )
    ok = book.apply(BookMessage("X/USD", False, (Level(1005, 2, 5, 8),), (), 0))
    assert not ok
    assert "more than 1 decimals" in (book.last_error or "")


def test_updates_before_a_snapshot_and_after_a_mismatch_are_ignored() -> None:
    gen = L2StreamGenerator(1, 10)
    book = L2Book(gen.symbol, 10, 1, 8)
    assert not book.apply(gen.update())
    assert book.state is BookState.AWAITING_SNAPSHOT and book.checksums_verified == 0
    assert book.apply(gen.snapshot())
    bad = gen.update()
    bad = BookMessage(bad.symbol, False, bad.bids, bad.asks, bad.checksum ^ 1)
    assert not book.apply(bad)
    assert book.state is BookState.RESYNCING
    assert book.consecutive_mismatches == 1 and "checksum mismatch" in (book.last_error or "")
    assert not book.apply(gen.update())  # old generation: dropped, not counted as a mismatch
    assert book.checksum_mismatches == 1
    assert book.apply(gen.snapshot())
    assert book.state is BookState.SYNCED and book.consecutive_mismatches == 0


def test_crossed_book_is_not_synced_even_when_the_checksum_matches() -> None:
    from havterm.engine.checksum import l2_checksum

    book = L2Book("X/USD", 10, 0, 0)
    crossed = BookMessage(
        "X/USD", True, (Level(105, 0, 1, 0),), (Level(100, 0, 1, 0),), l2_checksum([(100, 1)], [(105, 1)])
    )
    assert not book.apply(crossed)
    assert book.last_error == "crossed book" and book.state is BookState.RESYNCING


def test_rejects_unknown_depth() -> None:
    with pytest.raises(ValueError):
        L2Book("X/USD", 20)


@pytest.mark.parametrize("depth", [10, 25, 100, 500, 1000])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stress_against_naive_book(depth: int, seed: int) -> None:
    gen = L2StreamGenerator(seed * 1000 + depth, depth)
    book = L2Book(gen.symbol, depth, 1, 8)
    steps = 600 if depth <= 100 else 150
    for step in range(steps):
        msg = gen.snapshot() if step % 200 == 0 else gen.update()
        assert book.apply(msg), f"step {step}: {book.last_error}"
        book._check()
        assert book.bids() == gen.truth.sorted_bids()
        assert book.asks() == gen.truth.sorted_asks()
    assert book.checksums_verified == steps


def test_stress_with_wire_precision_matches_instrument_precision() -> None:
    gen = L2StreamGenerator(99, 25)
    wire = L2Book(gen.symbol, 25)
    for step in range(400):
        msg = gen.snapshot() if step == 0 else gen.update()
        wire.apply(msg)
        wire._check()
    # wire digits may start short (a float round-trip drops zeros); the book widens as needed
    # and, once the precision is fully seen, every checksum verifies
    assert wire.checksums_verified >= 390
