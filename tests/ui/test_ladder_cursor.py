"""The ladder's cursor holds a price (not a row) and grouping keeps to the instrument's tick: model level."""

from __future__ import annotations

from havterm.widgets.ladder import GROUP_STEPS, LadderModel, Row
from havterm.widgets.views import BookView, Level

HEIGHT = 14
"""Header, 6 ask lines, the spread line, 6 bid lines."""


def book(
    bids: tuple[Level, ...],
    asks: tuple[Level, ...],
    version: int = 1,
    precision: int = 1,
    symbol: str = "BTC/USD",
) -> BookView:
    return BookView(symbol, version, bids, asks, precision, 8)


def spot(version: int = 1, shift: int = 0) -> BookView:
    """Twenty levels a side 0.1 apart around 63000.0 (tick 0.1), moved up ``shift`` ticks."""
    bids = tuple((629995 - i + shift, 100_000_000 + i) for i in range(20))
    asks = tuple((630000 + i + shift, 200_000_000 + i) for i in range(20))
    return book(bids, asks, version)


def cursor_rows(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.cursor]


def prices(rows: list[Row], kind: str) -> list[str]:
    return [r.price for r in rows if r.kind == kind]


def test_the_cursor_holds_its_price_as_the_book_moves() -> None:
    m = LadderModel()
    m.rows(spot(), HEIGHT, 0.0)
    assert m.cursor_price == "63000.0" and m.cursor_ticks is None  # following the best ask
    m.move_cursor(-4)
    assert m.cursor == -5 and m.cursor_price == "63000.4" and m.cursor_ticks == 630004
    # The book moves up two ticks: the fifth ask is now 63000.6, the cursor stays on 63000.4.
    rows = m.rows(spot(2, shift=2), HEIGHT, 1.0)
    assert prices(rows, "ask")[0] == "63000.7"  # the asks moved...
    (row,) = cursor_rows(rows)
    assert row.kind == "ask" and row.price == "63000.4" and row.qty == "2.00000002"
    assert m.cursor_price == "63000.4" and m.cursor == -3
    # ...and down five: 63000.4 is the eighth ask, and still the cursor.
    rows = m.rows(spot(3, shift=-3), HEIGHT, 2.0)
    (row,) = cursor_rows(rows)
    assert row.price == "63000.4" and m.cursor == -8
    assert m.cursor_price == "63000.4"
    # Moving goes from where the cursor is drawn: one row down is the next better ask.
    m.move_cursor(1)
    assert m.cursor_price == "63000.3"
    # Center lets go: the cursor follows the best ask again.
    m.follow()
    rows = m.rows(spot(4, shift=5), HEIGHT, 3.0)
    assert m.cursor == -1 and m.cursor_ticks is None and m.cursor_price == "63000.5"
    assert cursor_rows(rows)[0].price == "63000.5"


def test_a_held_price_with_no_level_keeps_a_row_even_past_the_spread() -> None:
    m = LadderModel()
    m.rows(spot(), HEIGHT, 0.0)
    m.move_cursor(-2)
    assert m.cursor_price == "63000.2"
    # The level at 63000.2 goes: the cursor keeps a row of its own there, with no size.
    gone = spot(2)
    gone = book(gone.bids, tuple(lv for lv in gone.asks if lv[0] != 630002), 2)
    rows = m.rows(gone, HEIGHT, 1.0)
    (row,) = cursor_rows(rows)
    assert (row.kind, row.price, row.qty, row.cum) == ("ask", "63000.2", "", "")
    assert prices(rows, "ask")[-4:] == ["63000.3", "63000.2", "63000.1", "63000.0"]
    # The book moves up through it: the price is kept (the ticket's review shows the side) and
    # is drawn where it now belongs, among the bids.
    rows = m.rows(spot(3, shift=10), HEIGHT, 2.0)
    (row,) = cursor_rows(rows)
    assert (row.kind, row.price) == ("bid", "63000.2") and m.cursor_price == "63000.2" and m.cursor > 0
    assert [r.kind for r in rows].index("spread") < rows.index(row)


def test_the_view_scrolls_only_when_the_held_price_would_leave_the_screen() -> None:
    m = LadderModel()
    m.rows(spot(), HEIGHT, 0.0)
    m.move_cursor(-5)
    assert m.cursor_price == "63000.5"
    # Still on screen after a 2-tick move up (now the fourth ask): the view stays centred on the spread.
    rows = m.rows(spot(2, shift=2), HEIGHT, 1.0)
    assert m.offset == 0 and rows[7].kind == "spread" and cursor_rows(rows)[0].price == "63000.5"
    # Eight ticks down, 63000.5 is the fourteenth ask: past the screen's six, so the view scrolls to it.
    rows = m.rows(spot(3, shift=-8), HEIGHT, 2.0)
    (row,) = cursor_rows(rows)
    assert row.price == "63000.5" and m.offset != 0 and m.cursor == -14
    assert "spread" not in [r.kind for r in rows]
    asks = prices(rows, "ask")
    assert asks == sorted(asks, reverse=True) and len(rows) == HEIGHT
    # The cumulative size on the held level still counts every better level.
    assert row.cum == spot(3, shift=-8).qty(sum(q for _, q in spot(3, shift=-8).asks[:14]), 11)
    # Center: back to the best ask and the spread in the middle.
    m.follow()
    rows = m.rows(spot(4, shift=-8), HEIGHT, 3.0)
    assert m.offset == 0 and rows[7].kind == "spread" and cursor_rows(rows)[0] is rows[6]


def test_another_symbol_or_a_wider_precision() -> None:
    m = LadderModel()
    m.rows(spot(), HEIGHT, 0.0)
    m.move_cursor(-3)
    assert m.cursor_price == "63000.3"
    # A Futures book's precision widens (63000.3 is 630003 units, then 6300030): same price.
    wide = spot(2)
    wide = book(tuple((t * 10, q) for t, q in wide.bids), tuple((t * 10, q) for t, q in wide.asks), 2, 2)
    m.rows(wide, HEIGHT, 1.0)
    assert m.cursor_price == "63000.30" and m.cursor_ticks == 6300030
    # Another symbol: a price held on BTC/USD means nothing there.
    m.use_symbol("ETH/USD")
    assert m.cursor_price == "" and m.cursor_ticks is None
    m.rows(book(((31000, 1),), ((31005, 1),), 1, 1, "ETH/USD"), HEIGHT, 2.0)
    assert m.cursor_price == "3100.5"


def futures(version: int = 1) -> BookView:
    """PF_XBTUSD-like: tick 0.5 at one decimal (prices in units of 0.1 are multiples of 5)."""
    bids = tuple((629995 - 5 * i, 1000 + i) for i in range(20))
    asks = tuple((630005 + 5 * i, 2000 + i) for i in range(20))
    return book(bids, asks, version)


def grouped(m: LadderModel, b: BookView) -> tuple[list[int], list[int]]:
    rows = m.rows(b, 40, 0.0)
    return (
        [int(r.price.replace(".", "")) for r in rows if r.kind == "bid"],
        [int(r.price.replace(".", "")) for r in rows if r.kind == "ask"],
    )


def test_grouping_is_whole_ticks_of_a_half_dollar_futures_tick() -> None:
    m = LadderModel()
    b = futures()
    bids, asks = grouped(m, b)
    assert m.tick == 5 and m.group == 5 and b.price(m.group) == "0.5"
    assert asks[-1] == 630005 and bids[0] == 629995  # the finest group is the book itself
    for index in range(1, 8):
        m.set_group(index)
        g = m.group
        assert g == GROUP_STEPS[index] * 5
        bids, asks = grouped(m, b)
        # Every grouped price is a real price (a multiple of the tick) and of the group;
        # bids round down and asks up, so the grouped book never crosses.
        assert all(t % 5 == 0 and t % g == 0 for t in bids + asks)
        assert max(bids) <= 629995 < 630005 <= min(asks)
    m.set_group(1)
    assert b.price(m.group) == "1.0"
    # The prices the user saw at 0.2 (63000.6, 63001.6) do not exist on a 0.5 tick.
    m.set_group(0)
    assert not {630006, 630016} & set(grouped(m, b)[1])


def test_grouping_on_a_spot_tick_of_a_tenth() -> None:
    m = LadderModel()
    b = spot()
    grouped(m, b)
    assert m.tick == 1 and [b.price(GROUP_STEPS[i] * m.tick) for i in range(3)] == ["0.1", "0.2", "0.5"]
    m.set_group(2)
    bids, asks = grouped(m, b)
    assert all(t % 5 == 0 for t in bids + asks)
    assert bids[0] == 629995 and asks[-1] == 630000


def test_the_held_price_snaps_to_its_group() -> None:
    m = LadderModel()
    b = futures()
    m.rows(b, HEIGHT, 0.0)
    m.move_cursor(-2)  # the third ask
    assert m.cursor_price == "63001.5"
    m.set_group(2)  # 2.5: an ask rounds up to 63002.5
    rows = m.rows(b, HEIGHT, 1.0)
    assert m.cursor_price == "63002.5" and cursor_rows(rows)[0].price == "63002.5"
    m.set_group(0)  # back to 0.5: 63002.5 is a real price, kept
    m.rows(b, HEIGHT, 2.0)
    assert m.cursor_price == "63002.5"
    m.move_cursor(7)  # from the fifth ask, over the spread line, to the second bid: 62999.0
    assert m.cursor_price == "62999.0"
    m.set_group(3)  # 5.0: a bid rounds down
    rows = m.rows(b, HEIGHT, 3.0)
    assert m.cursor_price == "62995.0" and cursor_rows(rows)[0].kind == "bid"


def test_the_tick_is_learnt_from_prices_and_only_shrinks() -> None:
    m = LadderModel()
    # Whole dollars only: the tick looks like 1.0 until a half-dollar level shows up.
    whole = book(((629990, 1), (629980, 1)), ((630010, 1), (630020, 1)))
    m.rows(whole, HEIGHT, 0.0)
    assert m.tick == 10
    m.rows(book(((629990, 1),), ((630005, 1),), 2), HEIGHT, 1.0)
    assert m.tick == 5
    m.rows(whole, HEIGHT, 2.0)
    assert m.tick == 5
    # One price alone says nothing about the spacing.
    lone = LadderModel()
    lone.rows(book((), ((630005, 1),)), HEIGHT, 0.0)
    assert lone.tick == 1
