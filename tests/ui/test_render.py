"""Pure drawing and analytics: views in, text out, no app."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest
from rich.console import Console

from havterm.screens.help import key_label, keys_table
from havterm.widgets.analytics import FlowStats
from havterm.widgets.depth import DepthChart
from havterm.widgets.flow import (
    at_price_lines,
    event_lines,
    gauge,
    level_rate_lines,
    tape_lines,
    volume_lines,
)
from havterm.widgets.grid import grid_row, render_grid_row, sparkline
from havterm.widgets.ladder import GROUP_STEPS, LadderModel, Row, group_levels, render_row
from havterm.widgets.status import badge, status_text
from havterm.widgets.views import (
    BookStatsView,
    BookView,
    ConnView,
    CostView,
    FlowAnalytics,
    FlowEvent,
    LevelRateView,
    SymbolView,
    TradeView,
    fmt_qty,
    fmt_units,
)


def book(version: int = 1, **kw: object) -> BookView:
    bids = ((629990, 150000000), (629985, 20000000), (629970, 5000000), (629901, 1))
    asks = ((630000, 10000000), (630004, 30000000), (630050, 250000000))
    args: dict[str, object] = dict(
        symbol="BTC/USD", version=version, bids=bids, asks=asks, price_precision=1, qty_precision=8
    )
    args.update(kw)
    return BookView(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("units", "precision", "text"),
    [(6338105, 1, "633810.5"), (5, 8, "0.00000005"), (-15, 1, "-1.5"), (42, 0, "42"), (0, 2, "0.00")],
)
def test_fmt_units_is_exact(units: int, precision: int, text: str) -> None:
    assert fmt_units(units, precision) == text


def test_fmt_qty_fits_its_width() -> None:
    assert fmt_qty(123456789012, 8, 11) == "1234.567890"
    assert len(fmt_qty(123456789012345678, 8, 10)) <= 10
    assert fmt_qty(5, 8, 11) == "0.00000005"


def test_book_view_spread_mid_bps_imbalance() -> None:
    b = book()
    assert b.spread_ticks() == 10
    assert b.mid_text() == "62999.5"
    assert book(asks=((629995, 1),)).mid_text() == "62999.25"
    assert b.spread_bps() == pytest.approx(10 / 629995 * 10_000)
    assert b.imbalance() == pytest.approx((175000001 - 290000000) / (175000001 + 290000000))
    assert book(bids=(), asks=()).imbalance() is None


def test_grouping_rounds_bids_down_and_asks_up_and_never_crosses() -> None:
    rng = random.Random(3)
    for _ in range(300):
        mid = rng.randint(1000, 100000)
        bids = sorted({mid - rng.randint(1, 500) for _ in range(30)}, reverse=True)
        asks = sorted({mid + rng.randint(0, 500) for _ in range(30)})
        bl = [(t, rng.randint(1, 100)) for t in bids]
        al = [(t, rng.randint(1, 100)) for t in asks]
        for g in GROUP_STEPS[:10]:
            gb, ga = group_levels(bl, g, "bid"), group_levels(al, g, "ask")
            assert all(t % g == 0 for t, _ in gb + ga)
            assert gb[0][0] <= bl[0][0] and ga[0][0] >= al[0][0]
            assert gb[0][0] < ga[0][0]
            assert sum(q for _, q in gb) == sum(q for _, q in bl)
            assert [t for t, _ in gb] == sorted({t for t, _ in gb}, reverse=True)


def test_ladder_rows_cumulative_bars_cursor_and_flash() -> None:
    m = LadderModel()
    rows = m.rows(book(), 12, now=0.0)
    assert [r.kind for r in rows] == ["head"] + ["empty"] * 2 + ["ask"] * 3 + ["spread"] + ["bid"] * 4 + [
        "empty"
    ]
    asks = [r for r in rows if r.kind == "ask"]
    assert [r.price for r in asks] == ["63005.0", "63000.4", "63000.0"]
    assert asks[-1].cum == "0.10000000" and asks[0].cum == "2.90000000"
    assert asks[-1].cursor and m.cursor_price == "63000.0"
    bids = [r for r in rows if r.kind == "bid"]
    assert bids[1].cum == "1.70000000"
    assert max(r.bar for r in rows) == 1.0
    spread = next(r for r in rows if r.kind == "spread")
    assert "spread 1.0" in spread.price and "mid 62999.5" in spread.price and "bps" in spread.price
    assert not any(r.flash for r in rows)
    changed = book(version=2, bids=((629990, 1), *book().bids[1:]))
    rows = m.rows(changed, 12, now=1.0)
    flashing = [r.price for r in rows if r.flash]
    assert flashing == ["62999.0"]
    assert m.flashing(1.1) and not m.flashing(5.0)
    m.move_cursor(1, 5, 5)
    assert m.cursor == 1
    m.move_cursor(-1, 5, 5)
    assert m.cursor == -1


def test_ladder_row_text() -> None:
    head = render_row(Row("head"), 100).plain
    assert "Price" in head and "Bid Size" in head and "Ask Cum" in head and "Own/Queue" in head
    bid = render_row(Row("bid", "62999.0", "1.5", "2.5", 0.5), 100).plain
    assert len(bid) == 100 and "62999.0" in bid and "1.5" in bid and "█" in bid
    assert bid.index("1.5") < bid.index("█") < bid.index("62999.0")
    ask = render_row(Row("ask", "63000.0", "0.7", "0.7", 1.0), 80).plain
    assert len(ask) == 80 and ask.index("63000.0") < ask.index("0.7")


def test_depth_chart_marks_the_engines_execution_cost() -> None:
    b = book()
    buy = CostView("buy", "l3", 20000000, 20000000, 630004, "63000.200", "0.05", "0.03", 2, 3)
    thin = CostView("sell", "l2", 10**12, 175000001, 629901, "62998.900", "-1.23", "-0.17", 4, None)
    stats = BookStatsView(10, 0.62, "62998.70", "63001.10", "62999.71", 0.41, "buy")
    chart = DepthChart(b, 0, 20000000, None, (buy, thin), stats)
    lines = chart.lines(140, 20)
    text = "\n".join(x.plain for x in lines)
    assert len(lines) == 20 and "mid 62999.5" in text
    assert "VWAP 63000.200  worst 63000.4  0.05 bps vs mid, 0.03 vs best  2 levels, 3 orders (L3)" in text
    assert "worst 62990.1" in text and "(only 1.75000001 visible)" in text and "4 levels (L2)" in text
    assert "imbalance +0.62 over 10 levels  book pressure +0.41 BUY  microprice 62999.71" in text
    # The worst prices are marked in the plot: the buy's at 63000.4 is right of the mid.
    plot = [x.plain for x in lines[:15]]
    assert any("┊" in row[row.index("│") :] for row in plot if "│" in row)
    assert "waiting" in DepthChart(None, 0, 1).lines(80, 10)[0].plain
    assert "waiting for the engine" in "\n".join(x.plain for x in DepthChart(b, 0, 1).lines(100, 20))


def trades() -> tuple[TradeView, ...]:
    out = []
    for i in range(40):
        side = "buy" if i % 3 else "sell"
        qty = Decimal("5.0") if i == 7 else Decimal("0.1")
        out.append(TradeView(i + 1, side, Decimal("100.0") + i % 5, qty, f"2026-01-01T10:00:{i:02d}.250000Z"))
    return tuple(reversed(out))


def test_flow_stats_and_tape() -> None:
    fs = FlowStats()
    fs.add_trades(trades())
    v = fs.view()
    assert len(v.buy_vol) == 40 and sum(v.buy_vol) + sum(v.sell_vol) == pytest.approx(3.9 + 5.0)
    assert v.large_qty is not None and v.large_qty <= Decimal("5.0")
    fs.add_trades(trades())  # already seen: nothing changes
    assert fs.view() is v
    tape = [x.plain for x in tape_lines(trades(), Decimal("1"), 50, 50)]
    big = next(x for x in tape if "5.0" in x)
    assert "◆" in big and "BUY" in big and big.startswith("10:00:07.250")
    assert volume_lines(v.buy_vol, v.sell_vol, 60, 9)[0].plain.startswith("vol/s")
    at_price = ((Decimal("104.0"), 1.0, 0.5), (Decimal("102.0"), 0.2, 0.0), (Decimal("100.0"), 0.0, 3.0))
    ap = [x.plain for x in at_price_lines(at_price, Decimal("102.0"), 60, 10)]
    assert any("◀ last" in x and "102.0" in x for x in ap)
    assert "+0.50" in gauge("imbalance", 0.5, 40).plain
    assert "none yet" in event_lines((), 40, 5)[1].plain


def test_engine_flow_events_and_level_rates_render() -> None:
    events = (
        FlowEvent("10:00:02", "bid", "spoof?", "62998.5", "9 1.5s"),
        FlowEvent("10:00:01", "ask", "iceberg", "63000.0", "4× 0.4"),
        FlowEvent("10:00:00", "bid", "best", "62999.0", "from 62998.9"),
    )
    lines = [x.plain for x in event_lines(events, 80, 10, "1.5")]
    assert lines[0] == "order flow (large order ≥ 1.5)"
    assert lines[1].startswith("10:00:02 bid spoof?") and lines[1].endswith("62998.5 9 1.5s")
    assert "iceberg" in lines[2] and "from 62998.9" in lines[3]
    rates = (LevelRateView("bid", "62999.0", "0.5", "0.1", "0.2", 3, 1, 2),)
    flow = FlowAnalytics(1, events, rates, (), "1.5", 2, 1, True)
    text = [x.plain for x in level_rate_lines(flow, 80, 10)]
    assert text[1] == "icebergs 2   spoof candidates 1"
    assert text[3].split() == ["bid", "62999.0", "0.5", "0.1", "0.2"]
    no_l3 = level_rate_lines(replace(flow, l3=False), 80, 10)
    assert "no order-by-order (level3) feed here" in no_l3[1].plain


def test_grid_row_and_sparkline() -> None:
    v = SymbolView("BTC/USD", 1, book(), last=Decimal("62999.0"), change_pct=Decimal("-1.25"), msg_rate=12.0)
    row = grid_row(v, cursor=True, spark_w=10)
    text = render_grid_row(row, 120).plain
    assert text.startswith("BTC/USD") and "62999.0" in text and "-1.25" in text and "synced" in text
    assert "Symbol" in render_grid_row(None, 120).plain
    # A feed that drops trailing zeros (Futures: 63000.0 -> 63000) still lines up at the point;
    # a price finer than the book's decimals is shown whole, never rounded.
    assert grid_row(replace(v, last=Decimal("63000")), False, 10).last == "63000.0"
    assert grid_row(replace(v, last=Decimal("63000.25")), False, 10).last == "63000.25"
    assert sparkline((1.0, 2.0, 3.0), 10) == "▁▅█"
    assert sparkline((), 5) == ""


def test_badge_and_status_text() -> None:
    assert "SYNCED" in badge(book()).plain and "✓ checksums" in badge(book()).plain
    # A book the exchange refused has verified nothing: no tick.
    off = badge(book(state="disabled", reason="Currency pair not supported"))
    assert "DISABLED" in off.plain and "✓" not in off.plain and "Currency pair not supported" in off.plain
    bad = badge(book(state="resyncing", mismatches=3, reason="checksum mismatch"))
    assert "RESYNCING" in bad.plain and "✗3" in bad.plain and "checksum mismatch" in bad.plain
    up = status_text(ConnView("subscribed", msg_rate=1234, latency_p50=3, latency_p99=9), "12:00:00 UTC", 100)
    assert len(up.plain) == 100 and "1,234 msg/s" in up.plain and up.plain.rstrip().endswith("12:00:00 UTC")
    down = status_text(ConnView("disconnected", "dns failure", live_kraken=True, down_for_s=10), "x", 0)
    assert "cannot reach live Kraken" in down.plain and "havterm --demo" in down.plain


def test_help_table_lists_every_binding_with_overrides() -> None:
    console = Console(width=140, record=True)
    console.print(keys_table({"app.quit": "ctrl+q"}))
    out = console.export_text()
    assert "ladder.group_coarser" in out and "ctrl+q" in out
    assert key_label("question_mark,f1") == "? f1"
