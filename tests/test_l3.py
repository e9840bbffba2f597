"""The L3 book: the docs' vector, queue order, and seeded stress against a naive L3 book."""

from __future__ import annotations

import json

import pytest

from havterm.engine.book import BookState, L2Book
from havterm.engine.codec import decode
from havterm.engine.events import BookMessage, L3Order, Level, Level3Message
from havterm.engine.l3 import L3Book

from .conftest import KRAKEN_DATA
from .reference_books import L3StreamGenerator


def test_docs_level3_snapshot_gives_1063832831() -> None:
    doc = json.loads((KRAKEN_DATA / "docs_v2_level3_checksum_example.json").read_text())
    (msg,) = decode(json.dumps(doc["message"]))
    assert isinstance(msg, Level3Message)
    book = L3Book("BTC/USD", 10, 1, 8)
    assert book.apply(msg)
    assert book.computed_checksum == 1063832831
    assert len(book) == 35
    front = book.queue("buy", 449394)
    assert front[0] == ("OTCFZG-YOE2Q-LQKNM3", 88968699)
    assert len(front) == 8
    book._check()


def _o(event: str, oid: str, price: int, qty: int) -> L3Order:
    return L3Order(oid, price, 0, qty, 0, event)  # type: ignore[arg-type]


def test_modify_keeps_queue_place_and_add_joins_the_back() -> None:
    from havterm.engine.checksum import l3_checksum

    book = L3Book("X/USD", 10, 0, 0)
    snap = Level3Message(
        "X/USD",
        True,
        (_o("", "a", 10, 5), _o("", "b", 10, 6)),
        (_o("", "c", 12, 1),),
        l3_checksum([(12, [1])], [(10, [5, 6])]),
    )
    assert book.apply(snap)
    upd = Level3Message(
        "X/USD",
        False,
        (_o("modify", "a", 10, 2), _o("add", "d", 10, 9)),
        (),
        l3_checksum([(12, [1])], [(10, [2, 6, 9])]),
    )
    assert book.apply(upd)
    assert book.queue("buy", 10) == [("a", 2), ("b", 6), ("d", 9)]
    upd2 = Level3Message(
        "X/USD", False, (_o("delete", "a", 10, 0),), (), l3_checksum([(12, [1])], [(10, [6, 9])])
    )
    assert book.apply(upd2)
    assert book.order("a") is None
    assert book.order("b") is not None and book.order("b").qty_lots == 6  # type: ignore[union-attr]
    book._check()


@pytest.mark.parametrize("depth", [10, 100, 1000])
@pytest.mark.parametrize("seed", [1, 2])
def test_stress_against_naive_l3_and_aggregate_equals_l2(depth: int, seed: int) -> None:
    gen = L3StreamGenerator(seed * 77 + depth, depth)
    book = L3Book("T/USD", depth, 1, 8)
    l2 = L2Book("T/USD", 1000 if depth == 1000 else 100 if depth == 100 else 10, 1, 8)
    from havterm.engine.checksum import l2_checksum

    for step in range(400 if depth < 1000 else 120):
        msg = gen.snapshot() if step % 150 == 0 else gen.update()
        assert book.apply(msg), f"step {step}: {book.last_error}"
        book._check()
        assert book.levels("buy") == gen.truth.levels("buy")
        assert book.levels("sell") == gen.truth.levels("sell")
        # the L2 book fed the same aggregated levels agrees with the L3 aggregate
        agg_b = [(p, sum(qs)) for p, qs in gen.truth.levels("buy")]
        agg_a = [(p, sum(qs)) for p, qs in gen.truth.levels("sell")]
        l2msg = BookMessage(
            "T/USD",
            True,
            tuple(Level(p, 1, q, 8) for p, q in agg_b),
            tuple(Level(p, 1, q, 8) for p, q in agg_a),
            l2_checksum(agg_a, agg_b),
        )
        assert l2.apply(l2msg)
        assert book.aggregated("buy") == l2.bids()
        assert book.aggregated("sell") == l2.asks()
    assert book.state is BookState.SYNCED
