"""The grid's columns at narrow widths (Spot columns before Futures ones) and its add-symbol prompt."""

from __future__ import annotations

from decimal import Decimal

import pytest

from havterm.screens.grid import GridScreen, SymbolPrompt
from havterm.sim import Exchange
from havterm.widgets.grid import columns_for, grid_row, render_grid_row
from havterm.widgets.views import BookView, SymbolView

from .helpers import make_app, shown, wait_for

SPOT_CORE = ["Symbol", "Last", "Chg %", "Sprd bps", "Imb", "Book", "Age s"]
FUTURES = ["Fund %/h", "Basis", "OI"]


def names(width: int, futures: bool) -> list[str]:
    return [name for name, _ in columns_for(width, futures)]


@pytest.mark.parametrize("futures", [False, True])
def test_at_80_cells_change_spread_and_imbalance_stay_with_or_without_futures(futures: bool) -> None:
    assert names(80, futures) == SPOT_CORE


def test_futures_columns_only_with_a_futures_product_and_before_the_rates_when_wide() -> None:
    for width in (80, 100, 120, 160):
        assert not set(FUTURES) & set(names(width, False))
    assert names(100, True) == [*SPOT_CORE[:5], "Fund %/h", "Basis", "Book", "Age s"]
    assert names(120, True) == [*SPOT_CORE[:5], *FUTURES, "p50 ms", "Book", "Age s"]
    assert names(160, True) == [*SPOT_CORE[:5], *FUTURES, "Msg/s", "p50 ms", "Book", "Age s"]
    for width in range(40, 200):
        for futures in (False, True):
            used = sum(w + 1 for _, w in columns_for(width, futures))
            # The trend keeps 10 cells; below the narrowest set, symbol, last and book state stay.
            assert used <= width - 10 or names(width, futures) == ["Symbol", "Last", "Book"]


def test_a_spot_row_at_80_cells_shows_its_change_spread_and_imbalance_in_a_grid_with_futures() -> None:
    bids, asks = ((630000, 150_000_000),), ((630005, 50_000_000),)
    book = BookView("BTC/USD", 1, bids=bids, asks=asks, price_precision=1, qty_precision=8)
    view = SymbolView("BTC/USD", 1, book, last=Decimal("63000.2"), change_pct=Decimal("1.25"))
    text = render_grid_row(grid_row(view, False, 10), 80, futures=True).plain
    assert len(text) == 80
    assert "+1.25" in text and f"{book.spread_bps():.2f}" in text and f"{book.imbalance():+.2f}" in text


@pytest.mark.parametrize("size", [(160, 40), (80, 24)])
async def test_the_add_symbol_prompt_is_shown_whole(exchange: Exchange, size: tuple[int, int]) -> None:
    app = make_app(exchange)
    async with app.run_test(size=size) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, GridScreen), what="the grid")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, SymbolPrompt), what="the prompt")
        await pilot.pause()
        text = shown(app)
        assert SymbolPrompt.PROMPT in text, text
