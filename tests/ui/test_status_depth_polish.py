"""The status bar keeps its columns still, and the depth chart's price axis is labelled at round prices."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from havterm.screens import Header
from havterm.screens.depth import DepthScreen
from havterm.widgets.depth import DepthChart
from havterm.widgets.status import StatusBar, status_text
from havterm.widgets.views import BookStatsView, BookView, ConnView, CostView

from .helpers import frozen_app, frozen_state, shown, wait_for

CLOCK = "12:00:00 UTC"
NARROW = ConnView("subscribed", msg_rate=444, latency_p50=9, latency_p99=9, rtt_ms=9)
WIDE = ConnView("subscribed", msg_rate=1234, latency_p50=12, latency_p99=123, rtt_ms=12)


def test_status_fields_have_fixed_widths() -> None:
    # Unpadded (no width known yet) the clock follows the fields: it stays put only if they do.
    narrow = status_text(NARROW, CLOCK).plain
    wide = status_text(WIDE, CLOCK).plain
    assert narrow == " ● SUBSCRIBED  p50   9 ms  p99   9 ms    444 msg/s  rtt   9 ms  12:00:00 UTC "
    assert wide == " ● SUBSCRIBED  p50  12 ms  p99 123 ms  1,234 msg/s  rtt  12 ms  12:00:00 UTC "
    for field in ("p99", "msg/s", "rtt", CLOCK):
        assert narrow.index(field) == wide.index(field), field
    # A second or more, a missing reading and a five-digit rate keep the same widths.
    slow = status_text(ConnView("degraded", msg_rate=12345, latency_p50=1234, rtt_ms=15000), CLOCK).plain
    assert slow == " ● DEGRADED    p50 1.2 s   p99   - ms  12.3k msg/s  rtt  15 s   12:00:00 UTC "
    assert len(slow) == len(narrow)


def test_status_clock_column_at_80_columns() -> None:
    for conn in (NARROW, WIDE):
        plain = status_text(conn, CLOCK, 80).plain
        assert len(plain) == 80 and plain.index(CLOCK) == 67 and plain.index("msg/s") == 45


class _Bar(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")


async def test_status_bar_clock_does_not_move_on_screen() -> None:
    app = _Bar()
    async with app.run_test(size=(80, 3)) as pilot:
        bar = app.query_one(StatusBar)
        await wait_for(pilot, lambda: bar.size.width == 80, 5, "the bar laid out")
        columns = []
        for conn, rate in ((NARROW, " 444 msg/s"), (WIDE, "1,234 msg/s"), (NARROW, " 444 msg/s")):
            bar.show(conn, CLOCK)
            await wait_for(pilot, lambda rate=rate: rate in shown(app), 5, rate)
            line = next(x for x in shown(app).splitlines() if CLOCK in x)
            columns.append((line.index("p99"), line.index("msg/s"), line.index(CLOCK)))
        assert columns == [(27, 45, 67)] * 3


def _book(bids: tuple[tuple[int, int], ...], asks: tuple[tuple[int, int], ...], pp: int = 1) -> BookView:
    return BookView("BTC/USD", 1, bids, asks, pp, 8)


def _axis(chart: DepthChart, width: int) -> tuple[str, str]:
    lines = [x.plain for x in chart.lines(width, 12)]
    return lines[7], lines[8]


def _labels(row: str) -> list[tuple[int, str]]:
    """Each label on the label row as (first column, text)."""
    out, col = [], 0
    for word in row.split(" "):
        if word:
            out.append((col, word))
        col += len(word) + 1
    return out


def test_depth_axis_labels_sit_at_round_prices_in_their_columns() -> None:
    # Mid 63000.0 (630000 ticks of 0.1), ±1 bps: the axis runs 62993.7 .. 63006.3 over 69 columns.
    book = _book(((629990, 10**8), (629950, 3 * 10**8)), ((630010, 10**8), (630050, 2 * 10**8)))
    axis, row = _axis(DepthChart(book, 1.0, 10**8), 80)
    # 7-cell labels need 9 columns apart; 1.0 would be 5.5 apart, so the step is 2.0. 63006.0 would
    # run off the right edge and is left out; each label is centred on its price's column.
    assert _labels(row) == [
        (9, "62994.0"),
        (20, "62996.0"),
        (31, "62998.0"),
        (42, "63000.0"),
        (53, "63002.0"),
        (64, "63004.0"),
    ]
    centres = [c + 3 for c, _ in _labels(row)]
    # The ticks: the mid's name hides the one at 63000.0 (no gap is wide enough for it).
    assert [i for i, ch in enumerate(axis) if ch == "┬"] == [12, 23, 34, 56, 67]
    assert axis == "          └─┬──────────┬──────────┬──── mid 63000.0 ────┬──────────┬────────────"
    # Each label's price falls in its column: column x holds lo + [x, x + 1) * (hi - lo) / plot_w.
    lo, step = 629937, 126 / 69
    for centre, (_, text) in zip(centres, _labels(row), strict=True):
        x, ticks = centre - 11, int(text.replace(".", ""))
        assert x * step <= ticks - lo < (x + 1) * step, text
    # The plot's mid line is in the column of 63000.0.
    plot = DepthChart(book, 1.0, 10**8).lines(80, 12)[0].plain
    assert plot.index("│") == 42 + 3


def test_depth_axis_steps_are_one_two_or_five_whole_ticks() -> None:
    from havterm.widgets.depth import axis_labels

    # 300 ticks over 69 columns: 9 columns apart needs 39.1 ticks, so 50 (5 × 10^1).
    assert [t for _, t, _ in axis_labels(629850.0, 630150.0, 69, 1)] == list(range(629850, 630101, 50))
    # 1260 ticks: 164.3 needed, so 200 (2 × 10^2).
    assert axis_labels(629370.0, 630630.0, 69, 1)[0] == (1, 629400, "62940.0")
    # 4 ticks on a wide axis: never finer than one tick, printed with the book's five decimals.
    assert axis_labels(61998.0, 62002.0, 69, 5) == [
        (0, 61998, "0.61998"),
        (17, 61999, "0.61999"),
        (34, 62000, "0.62000"),
        (51, 62001, "0.62001"),
    ]


def test_depth_axis_on_a_cent_book_at_120_columns() -> None:
    # Mid 2500.00 in cents, ±10 bps: 2497.50 .. 2502.50, 500 ticks over 109 columns.
    book = _book(((249990, 10**8),), ((250010, 10**8),), pp=2)
    axis, row = _axis(DepthChart(book, 10.0, 10**8), 120)
    # 7-cell labels 9 columns apart need 41.3 ticks, so 0.50 (50 ticks); 2497.50 is at column 0.
    assert row == (
        "        2497.50   2498.00    2498.50    2499.00    2499.50"
        "    2500.00    2500.50    2501.00    2501.50    2502.00"
    )
    assert [i for i, ch in enumerate(axis) if ch == "┬"] == [11, 21, 32, 43, 54, 76, 87, 98, 109]
    assert "── mid 2500.00 ──" in axis and len(axis) == 120
    assert DepthChart(book, 10.0, 10**8).lines(120, 12)[0].plain.index("│") == row.index("2500.00") + 3


def test_status_keeps_the_reconnect_count_over_the_round_trip_when_narrow() -> None:
    conn = ConnView("subscribed", msg_rate=444, latency_p50=3, latency_p99=23, rtt_ms=12, reconnects=2)
    assert status_text(conn, CLOCK, 80).plain == (
        " ● SUBSCRIBED  p50   3 ms  p99  23 ms    444 msg/s  reconnects 2   12:00:00 UTC "
    )
    wide = status_text(conn, CLOCK, 120).plain
    assert "rtt  12 ms  reconnects 2" in wide and wide.index(CLOCK) == 107


def test_depth_cost_and_stats_lines_drop_whole_fields_never_digits() -> None:
    book = _book(((629990, 10**8), (629950, 3 * 10**8)), ((630010, 10**8), (630050, 2 * 10**8)))
    buy = CostView("buy", "l3", 20000000, 20000000, 630050, "63003.125", "0.50", "0.48", 2, 3)
    thin = CostView("sell", "l2", 10**12, 400000000, 629950, "62995.125", "-0.77", "-0.61", 2, None)
    stats = BookStatsView(10, -0.39, "62998.70", "63001.10", "63000.11", -0.46, "sell")
    # A fill size with every decimal used, so the lines are as long as they get.
    chart = DepthChart(book, 1.0, 20000001, None, (buy, thin), stats)
    assert [x.plain for x in chart.lines(80, 12)[-3:]] == [
        " ┊ buy 0.20000001: VWAP 63003.125  worst 63005.0  0.50 bps vs mid, 0.48 vs best",
        " ┊ sell 0.20000001: VWAP 62995.125  worst 62995.0",
        " imbalance -0.39 over 10 levels  book pressure -0.46 SELL  microprice 63000.11",
    ]
    assert [x.plain for x in chart.lines(140, 12)[-3:]] == [
        " ┊ buy 0.20000001: VWAP 63003.125  worst 63005.0  0.50 bps vs mid, 0.48 vs best"
        "  2 levels, 3 orders (L3)",
        " ┊ sell 0.20000001: VWAP 62995.125  worst 62995.0  -0.77 bps vs mid, -0.61 vs best  2 levels (L2)"
        "  (only 4.00000000 visible)",
        " imbalance -0.39 over 10 levels  book pressure -0.46 SELL  microprice 63000.11"
        "  VWAP bids 62998.70 asks 63001.10",
    ]


def test_depth_header_drops_the_fill_size_whole_at_80_columns() -> None:
    state = frozen_state()

    async def run() -> list[str]:
        app = frozen_app(state)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, DepthScreen), 5, "the depth screen")
            header = app.screen.query_one(Header)
            await wait_for(pilot, lambda: "range" in header.plain, 5, "the header")
            return [header.plain, *shown(app).splitlines()]

    header, *screen = asyncio.run(run())
    assert header == " BTC/USD    SYNCED  ✓ checksums   last 63000.0  +0.00%   range ±0.753 bps (auto)"
    assert header in screen


def test_depth_axis_mid_hides_as_few_ticks_as_it_can() -> None:
    # XRP-like: five decimals, mid 0.519915 on a half tick; 11 columns between ticks, 14 for the mid.
    book = _book(((51990, 10**8), (51900, 10**9)), ((51993, 10**8), (52100, 10**9)), pp=5)
    axis, row = _axis(DepthChart(book, 30.0, 10**8), 80)
    assert row == "           0.51850    0.51900    0.51950    0.52000    0.52050    0.52100"
    assert axis == "          └───┬──────────┬──────────┬─ mid 0.519915 ──────┬──────────┬──────────"
    # Only the tick of 0.52000 (column 47) is under the mid's name; the plot's mid line is at 45.
    assert [i for i, ch in enumerate(axis) if ch == "┬"] == [14, 25, 36, 58, 69]
    assert DepthChart(book, 30.0, 10**8).lines(80, 12)[0].plain.index("│", 11) == 45


def test_depth_stats_line_uses_shorter_words_to_keep_the_microprice() -> None:
    book = _book(((51990, 10**8), (51900, 10**9)), ((51993, 10**8), (52100, 10**9)), pp=5)
    stats = BookStatsView(10, 0.10, "0.5198012", "0.5200520", "0.5199270", -0.07, "neutral")
    chart = DepthChart(book, 30.0, 10**8, None, (None, None), stats)
    assert chart.lines(80, 12)[-1].plain == " imbalance +0.10  pressure -0.07 NEUTRAL  microprice 0.5199270"
    assert chart.lines(140, 12)[-1].plain == (
        " imbalance +0.10 over 10 levels  book pressure -0.07 NEUTRAL  microprice 0.5199270"
        "  VWAP bids 0.5198012 asks 0.5200520"
    )


def test_depth_axis_mid_is_named_over_its_own_column() -> None:
    # ±131 bps at 120 columns: a gap between two far ticks would hold the name, but it goes over the mid.
    book = _book(((629991, 10**8), (620000, 3 * 10**8)), ((629992, 10**8), (640000, 2 * 10**8)))
    axis, row = _axis(DepthChart(book, 131.0, 10**8), 120)
    assert axis == (
        "          └─┬────────────┬─────────────┬────────────┬───── mid 62999.15 ──────"
        "┬────────────┬─────────────┬──────────────"
    )
    assert row == (
        "         62200.0      62400.0       62600.0      62800.0      63000.0"
        "      63200.0      63400.0       63600.0"
    )
    assert DepthChart(book, 131.0, 10**8).lines(120, 12)[0].plain.index("│", 11) == 65


def test_status_replay_rate_has_a_fixed_width() -> None:
    slow = status_text(ConnView("replaying", url="btc.jsonl", msg_rate=9), CLOCK).plain
    fast = status_text(ConnView("replaying", url="btc.jsonl", msg_rate=12345), CLOCK).plain
    assert slow == " ● REPLAYING  replay btc.jsonl      9 msg/s  12:00:00 UTC "
    assert fast == " ● REPLAYING  replay btc.jsonl  12.3k msg/s  12:00:00 UTC "


def test_the_size_axis_is_labelled_at_round_sizes_on_their_own_rows() -> None:
    from havterm.widgets.depth import size_labels

    # 6.2 BTC at the top of 20 rows (8 decimals): 2, 4 and 6 BTC, each on the row whose band holds it.
    assert size_labels(620_048_126, 20, 8) == {13: "2", 7: "4", 0: "6"}
    assert size_labels(286_521_081, 20, 8) == {13: "1", 6: "2"}
    assert size_labels(12_345, 4, 2) == {2: "50", 0: "100"}
    # Labels on neighbouring rows would touch: the later one is left out.
    assert size_labels(3, 3, 0) == {2: "1", 0: "3"}
    assert size_labels(0, 10, 8) == {}


def test_the_fill_size_is_written_as_set_without_padding_zeros() -> None:
    from havterm.widgets.depth import fill_size_text

    assert fill_size_text(1_600_000_000, 8) == "16"
    assert fill_size_text(20_000_000, 8) == "0.2"
    assert fill_size_text(1_562_500, 8) == "0.015625"
    assert fill_size_text(123_456_789_012, 8) == "1234.56789012"  # never cut: every digit stays
    assert fill_size_text(5, 0) == "5"
