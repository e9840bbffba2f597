"""The ladder's queue read-out at narrow widths: whole words and numbers, and a ``…`` where it was cut."""

from __future__ import annotations

from rich.text import Text

from havterm.widgets.ladder import Row, render_row
from havterm.widgets.queue import fit, queue_panel_lines
from havterm.widgets.views import QueueLine

CURSOR = QueueLine(
    None,
    "63000.7",
    "new SELL 0.01 @ 63000.7",
    "L2: 0.06634993 ahead at this price (all of the level), 0 at better prices;"
    " level3 would give the exact queue",
    "P(fill) n/a: measuring the flow (under a second of it so far)",
)


def test_at_80_columns_the_read_out_cuts_between_words_and_says_so() -> None:
    lines = [t.plain for t in queue_panel_lines([], CURSOR, 78, 5)]
    assert lines == [
        "queue · P = chance of a complete fill within that time",
        "new SELL 0.01 @ 63000.7  L2: 0.06634993 ahead at this price…",
        "   P(fill) n/a: measuring the flow (under a second of it so far)",
    ]
    wide = [t.plain for t in queue_panel_lines([], CURSOR, 200, 5)]
    assert wide[1] == f"{CURSOR.head}  {CURSOR.queue}"
    assert wide[0].endswith("replaying recent flow against the queue")


def test_fit_never_cuts_a_number() -> None:
    assert fit(Text("ahead 0.06634993 lots"), 21).plain == "ahead 0.06634993 lots"  # fits: untouched
    assert fit(Text("ahead 0.06634993 lots"), 20).plain == "ahead 0.06634993…"
    assert fit(Text("a, b; c"), 6).plain == "a, b…"
    # No boundary in the second half of the line: cut at the width, still marked.
    assert fit(Text("x" * 30), 10).plain == "x" * 9 + "…"


def test_the_own_column_header_is_a_whole_word_when_narrow() -> None:
    head = render_row(Row(kind="head"), 80).plain
    assert head.startswith("Own ") and "Own/Qu" not in head
    assert render_row(Row(kind="head"), 140).plain.startswith("Own/Queue")


def test_the_own_cell_drops_whole_fields_and_never_cuts_a_number() -> None:
    from havterm.widgets.ladder import fit_own

    # At 120 columns the cell holds 14 (a space is left before Bid Cum): "100" without its "%" is gone.
    assert fit_own("B 0.0001 #2 100%", 14) == "B 0.0001 #2"
    assert fit_own("B 0.0001 #2 100%", 16) == "B 0.0001 #2 100%"
    # At 80 columns (5 cells) "B 0.00" would read as nothing left: the side and a mark instead.
    assert fit_own("B 0.0001", 5) == "B …"
    assert fit_own("S 0.05+", 5) == "S …+"
    assert fit_own("B 0.01", 9) == "B 0.01"


def test_an_own_row_leaves_a_space_before_the_bid_cum_column() -> None:
    row = Row(kind="bid", price="62997.9", qty="0.06004591", cum="0.78245120", own="B 0.0001 #2 100%")
    text = render_row(row, 120).plain
    assert text.startswith("B 0.0001 #2    ") and "#2 100" not in text
