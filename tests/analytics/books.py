"""Hand-built books for unit tests: messages in ticks and lots, with the checksum the book computes."""

from __future__ import annotations

import copy

from havterm.engine.book import L2Book
from havterm.engine.events import BookMessage, L3Order, Level, Level3Message
from havterm.engine.l3 import L3Book

PP, QP = 1, 0  # price precision 1 (ticks of 0.1), whole lots


def l2_msg(
    book: L2Book, bids: list[tuple[int, int]], asks: list[tuple[int, int]], snapshot: bool = False
) -> BookMessage:
    """A message whose checksum is whatever ``book`` will compute after applying it."""

    def lv(levels: list[tuple[int, int]]) -> tuple[Level, ...]:
        return tuple(Level(p, PP, q, QP) for p, q in levels)

    msg = BookMessage("T/USD", snapshot, lv(bids), lv(asks), 0)
    probe = copy.deepcopy(book)
    probe.apply(msg)
    return BookMessage("T/USD", snapshot, lv(bids), lv(asks), probe.computed_checksum)


def l2_book(bids: list[tuple[int, int]], asks: list[tuple[int, int]], depth: int = 10) -> L2Book:
    book = L2Book("T/USD", depth, PP, QP)
    assert book.apply(l2_msg(book, bids, asks, snapshot=True))
    return book


Ev = tuple[str, str, int, int]  # (event, order_id, price_ticks, lots)


def l3_msg(book: L3Book, bids: list[Ev], asks: list[Ev], snapshot: bool = False) -> Level3Message:
    def orders(evs: list[Ev]) -> tuple[L3Order, ...]:
        return tuple(L3Order(oid, p, PP, q, QP, ev) for ev, oid, p, q in evs)  # type: ignore[arg-type]

    msg = Level3Message("T/USD", snapshot, orders(bids), orders(asks), 0)
    probe = copy.deepcopy(book)
    probe.apply(msg)
    return Level3Message("T/USD", snapshot, orders(bids), orders(asks), probe.computed_checksum)


def l3_apply(book: L3Book, bids: list[Ev], asks: list[Ev], snapshot: bool = False) -> Level3Message:
    msg = l3_msg(book, bids, asks, snapshot)
    assert book.apply(msg), book.last_error
    book._check()
    return msg
