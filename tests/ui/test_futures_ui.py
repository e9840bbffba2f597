"""A Kraken Futures perpetual in the demo: the ladder, the grid's funding, basis and OI, a funding alert."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from havterm.app import HavtermApp
from havterm.bridge import Source
from havterm.config import UiConfig
from havterm.screens.grid import GridScreen
from havterm.screens.ladder import LadderScreen
from havterm.widgets.grid import Grid
from havterm.widgets.ladder import Ladder

from .helpers import frame, shown, wait_for

PF = "PF_XBTUSD"
RULES = """\
[[rules]]
name = "hot funding"
symbol = "PF_XBTUSD"
kind = "funding_above"
level = 0.0015
"""


async def test_a_perpetual_on_the_ladder_and_the_grid_with_a_funding_alert(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    source = Source(
        [PF, "BTC/USD"],
        25,
        demo=True,
        demo_paused=True,
        rules_path=str(rules),
        history_path=str(tmp_path / "alerts.jsonl"),
    )
    app = HavtermApp(source, UiConfig(depth=25))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.bridge.exchange is not None and app.bridge.state is not None)
        state = app.bridge.state
        assert state is not None
        await wait_for(
            pilot,
            lambda: PF in state.symbols and state.symbols[PF].synced and state.symbols["BTC/USD"].synced,
            10,
            "both books synced",
        )
        venue = app.bridge.exchange.futures
        # A pinned funding rate, so that the grid and the alert have a value to show: 0.002 % per hour.
        venue.set_funding(PF, Decimal("0.00002"))
        st = state.symbols[PF]
        await wait_for(
            pilot,
            lambda: st.futures is not None and st.futures.relative_funding == Decimal("0.00002"),
            5,
            "the pinned funding",
        )
        # The ladder: the venue's own best bid and ask, SYNCED, in the screen's header.
        truth = venue.products[PF]
        bid, ask = truth.price(max(truth.bids)), truth.price(min(truth.asks))
        book = st.book
        assert book is not None and book.mid() == (bid + ask) / 2
        frame(app)
        await pilot.pause()
        assert isinstance(app.screen, LadderScreen) and app.symbol == PF
        ladder = app.screen.query_one(Ladder)
        lines = [ladder.render_line(y).text for y in range(ladder.size.height)]
        text = "\n".join(lines)
        assert f"{bid:.1f}" in text and f"{ask:.1f}" in text  # 62999.5 and 63000.5: XBT's 0.5 ticks
        spread_line = next(line for line in lines if "spread" in line)
        assert f"spread {ask - bid:.1f}" in spread_line
        i = lines.index(spread_line)
        assert f"{ask:.1f}" in lines[i - 1] and f"{bid:.1f}" in lines[i + 1]
        assert f"{truth.bids[max(truth.bids)]}" in lines[i + 1]
        screen_text = shown(app)
        assert PF in screen_text and "SYNCED" in screen_text
        # The Futures feed writes 63000.0 as 63000: the tape and the last price get the book's decimals.
        venue.step(300)
        await wait_for(pilot, lambda: len(st.trades) >= 5, 5, "Futures trades")
        view = app.bridge.symbol_view(PF)
        assert view is not None and view.trades and view.last is not None and book.price_precision == 1
        assert any(t.price == t.price.to_integral_value() for t in view.trades)  # whole-dollar prints too
        assert all(t.price.as_tuple().exponent == -1 for t in view.trades)
        assert view.last.as_tuple().exponent == -1
        # The grid: funding in % per hour, mark minus index, open interest; blank for the Spot row.
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, GridScreen), 5, "the grid")
        frame(app)
        await pilot.pause()
        grid = app.screen.query_one(Grid)
        rows = {r.symbol: r for r in grid._rows if r is not None}
        t = st.futures
        assert t is not None and t.markPrice is not None and t.index is not None
        assert rows[PF].funding == "+0.0020"
        assert rows[PF].basis == f"{t.markPrice - t.index:+f}"
        assert rows[PF].open_interest == "25.00M"  # the venue's 25,000,000 contracts; no trade moved it
        assert (rows["BTC/USD"].funding, rows["BTC/USD"].basis, rows["BTC/USD"].open_interest) == ("", "", "")
        grid_text = shown(app)
        assert "Fund %/h" in grid_text and "Basis" in grid_text and "OI" in grid_text
        pf_line = next(line for line in grid_text.splitlines() if line.lstrip().startswith(PF))
        assert "+0.0020" in pf_line and "25.00M" in pf_line and rows[PF].basis in pf_line
        # The funding rule fired in the dashboard with the exact value.
        alerts = app.bridge.alerts
        assert alerts is not None
        await wait_for(pilot, lambda: alerts.fired_count.get("hot funding", 0) >= 1, 5, "the funding alert")
        fired = alerts.recent[0]
        assert (fired.symbol, fired.kind, fired.value) == (PF, "funding_above", "0.002")
        assert fired.message == "PF_XBTUSD funding 0.002 % per hour is above 0.0015 %"
        assert app.frame_errors == []
