"""The flow screen at any width never cuts a number, and names its two different "large" thresholds apart."""

from __future__ import annotations

import re
from decimal import Decimal

from havterm.screens import Header, Panel
from havterm.screens.flow import FlowScreen
from havterm.sim import Exchange
from havterm.widgets.flow import event_head, event_lines, tape_lines, volume_lines
from havterm.widgets.views import FlowEvent, TradeView

from .helpers import frame, make_app, wait_for

NUMBER = re.compile(r"\d+(?:\.\d+)?")

EVENTS = (
    FlowEvent("10:00:04", "bid", "appeared", "62921.5", "0.12345678"),
    FlowEvent("10:00:03", "ask", "vanished", "63000.0", "12.5"),
    FlowEvent("10:00:02", "bid", "spoof?", "62998.5", "9 1.5s"),
    FlowEvent("10:00:01", "ask", "iceberg", "63000.0", "4× 0.4"),
    FlowEvent("10:00:00", "bid", "best", "62999.0", "from 62921.5"),
)


def whole_numbers(events: tuple[FlowEvent, ...]) -> set[str]:
    return {n for ev in events for field in (ev.at, ev.price, ev.qty) for n in NUMBER.findall(field)}


def assert_no_cut_number(lines: list[str], allowed: set[str], width: int) -> None:
    for line in lines:
        assert len(line) <= width, (width, line)
        cut = [n for n in NUMBER.findall(line) if n not in allowed]
        assert not cut, (width, line, cut)


def test_event_rows_never_cut_a_number_at_any_width() -> None:
    allowed = whole_numbers(EVENTS) | {"1.5"}
    for width in range(6, 100):
        lines = [t.plain for t in event_lines(EVENTS, width, 10, "1.5")]
        assert_no_cut_number(lines, allowed, width)
        rows = lines[1:]
        # Every row keeps its price whenever side and price fit at all; below that, no rows.
        if width >= 4 + 7:
            assert all(ev.price in row for ev, row in zip(EVENTS, rows, strict=True)), (width, rows)
        else:
            assert rows == []


def test_event_rows_shorten_words_before_dropping_fields() -> None:
    wide = [t.plain for t in event_lines(EVENTS, 80, 10, "1.5")]
    assert wide[5] == "10:00:00 bid best          62999.0 from 62921.5"
    # The flow screen's events panel at 80x24 (44 cells): the price column narrows to the prices.
    assert [t.plain for t in event_lines(EVENTS, 44, 10, "1.5")][
        5
    ] == "10:00:00 bid best     62999.0 from 62921.5"
    # Narrower, "from" becomes an arrow; the prices stay whole.
    narrow = [t.plain for t in event_lines(EVENTS, 40, 10, "1.5")]
    assert narrow[5] == "10:00:00 bid best     62999.0 ←62921.5"
    assert narrow[1] == "10:00:04 bid appeared 62921.5 0.12345678"
    # Narrower: the time goes, then the detail, then the kind; never half a field.
    assert [t.plain for t in event_lines(EVENTS, 31, 10, "1.5")][5] == "bid best     62999.0 ←62921.5"
    assert [t.plain for t in event_lines(EVENTS, 20, 10, "1.5")][5] == "bid best     62999.0"
    assert [t.plain for t in event_lines(EVENTS, 12, 10, "1.5")][5] == "bid 62999.0"


TRADES = (
    TradeView(3, "buy", Decimal("62921.5"), Decimal("0.12345678"), "2026-01-01T10:00:03.250000Z"),
    TradeView(2, "sell", Decimal("63000.0"), Decimal("12.5"), "2026-01-01T10:00:02.125000Z"),
    TradeView(1, "buy", Decimal("62999.0"), Decimal("0.00012"), "2026-01-01T10:00:01.000000Z"),
)


def test_the_tape_shows_every_price_and_size_whole_down_to_28_cells() -> None:
    # The time may drop its milliseconds (seconds are enough to read a tape).
    texts = [f"{tr.price:f} {tr.qty:f} {tr.time_text} {tr.time_text[:8]}" for tr in TRADES]
    allowed = {n for text in texts for n in NUMBER.findall(text)}
    for width in range(28, 100):
        lines = [t.plain for t in tape_lines(TRADES, Decimal("10"), width, 10)]
        assert_no_cut_number(lines, allowed, width)
        for tr, row in zip(TRADES, lines[1:], strict=True):
            assert f"{tr.price:f}" in row and f"{tr.qty:f}" in row, (width, row)
    # 80x24 gives the tape 35 cells: seconds, and the size column as wide as the longest size.
    assert [t.plain for t in tape_lines(TRADES, None, 35, 10)][1] == "10:00:03 BUY  62921.5  0.12345678"
    # Narrower still, the time goes first; a size is rounded, never cut, only when nothing else is left.
    assert [t.plain for t in tape_lines(TRADES, None, 22, 10)][1] == "BUY  62921.5 0.12346"


def test_the_volume_title_keeps_its_scale_whole() -> None:
    buys, sells = (0.1, 0.159, 0.02), (0.05, 0.0, 0.1)
    assert volume_lines(buys, sells, 80, 8)[0].plain == "vol/s   buys ▲ sells ▼  (last 3 s, max 0.159)"
    assert volume_lines(buys, sells, 44, 8)[0].plain == "vol/s   buys ▲ sells ▼ (3 s, max 0.159)"
    for width in range(11, 80):  # from 11 cells all three seconds are drawn: the scale is 0.159
        head = volume_lines(buys, sells, width, 8)[0].plain
        assert len(head) <= width and ("0.159" in head or "max" not in head), (width, head)


def test_the_order_flow_title_keeps_the_threshold_whole() -> None:
    assert event_head("0.1963161", 80) == "order flow (large order ≥ 0.1963161)"
    assert event_head("0.1963161", 30) == "order flow (large ≥ 0.1963161)"
    assert event_head("0.1963161", 20) == "large ≥ 0.1963161"
    assert event_head("0.1963161", 12) == "order flow"
    assert event_head(None, 80) == "order flow (large order: learning the sizes…)"
    assert event_head(None, 44) == "order flow (learning order sizes…)"


async def test_flow_screen_at_80x24_names_both_thresholds_and_cuts_no_number(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        assert isinstance(app.screen, FlowScreen)
        screen = app.screen

        def ready() -> bool:
            exchange.step(50, symbol="BTC/USD")
            frame(app)
            flow = app.bridge.flow_view("BTC/USD")
            engine = flow.engine
            return (
                flow.large_qty is not None
                and engine is not None
                and engine.large is not None
                and len(engine.events) >= 5
            )

        await wait_for(pilot, ready, timeout=20, what="trades, a large-order threshold and book events")
        await pilot.pause()
        flow = app.bridge.flow_view("BTC/USD")
        engine = flow.engine
        assert engine is not None and engine.large is not None and flow.large_qty is not None
        # Two measures, two names: the tape's big trades and the book's large resting orders.
        header = screen.query_one(Header).plain
        assert f"big print ≥ {flow.large_qty:f}" in header and "large order" not in header
        panel = screen.query_one("#events", Panel)
        w, h = panel.content_region.width, panel.content_region.height
        assert w == 44  # the 80x24 layout this test is about
        lines = [t.plain for t in screen._events(w, h)]
        assert lines[0] in (
            f"order flow (large order ≥ {engine.large})",
            f"order flow (large ≥ {engine.large})",
        )
        shown_events = engine.events[: h - 1]
        assert len(lines) == 1 + len(shown_events) and len(shown_events) >= 4
        allowed = whole_numbers(shown_events) | set(NUMBER.findall(engine.large))
        assert_no_cut_number(lines, allowed, w)
        for ev, row in zip(shown_events, lines[1:], strict=True):
            assert ev.price in row
