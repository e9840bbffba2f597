"""Pilot tests: the real app and client against a seeded embedded exchange, asserting on what is shown."""

from __future__ import annotations

from havterm.app import HavtermApp
from havterm.screens import Header, Panel
from havterm.screens.depth import DepthScreen
from havterm.screens.flow import FlowScreen
from havterm.screens.grid import GridScreen, SymbolPrompt
from havterm.screens.help import HelpScreen
from havterm.screens.ladder import LadderScreen
from havterm.screens.watcher import WatcherScreen
from havterm.sim import Exchange
from havterm.widgets.grid import Grid
from havterm.widgets.ladder import Ladder

from .helpers import frame, in_sync, make_app, shown, wait_for


async def synced(pilot, app: HavtermApp, ex: Exchange, symbol: str = "BTC/USD") -> None:
    await wait_for(pilot, lambda: in_sync(ex, app.bridge.client.state, symbol), what=f"{symbol} in sync")
    frame(app)
    await pilot.pause()


def ladder_lines(app: HavtermApp) -> list[str]:
    ladder = app.screen.query_one(Ladder)
    return [ladder.render_line(y).text for y in range(ladder.size.height)]


async def test_ladder_shows_the_exchange_book(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        assert isinstance(app.screen, LadderScreen)
        eng = exchange.book("BTC/USD")
        bb, ba = eng.best_bid(), eng.best_ask()
        assert bb is not None and ba is not None
        book = app.bridge.client.state.symbols["BTC/USD"].book
        lines = ladder_lines(app)
        text = "\n".join(lines)
        assert book.format_price(bb.price) in text
        assert book.format_price(ba.price) in text
        assert book.format_qty(bb.total) in text
        spread = book.format_price(ba.price - bb.price)
        spread_line = next(line for line in lines if "spread" in line)
        assert f"spread {spread}" in spread_line and "bps" in spread_line and "mid" in spread_line
        # Best ask just above the spread line, best bid just below it.
        i = lines.index(spread_line)
        assert book.format_price(ba.price) in lines[i - 1]
        assert book.format_price(bb.price) in lines[i + 1]
        # Cumulative size of the best two bids.
        b2 = eng.sides[0].top(2)
        assert book.format_qty(b2[0].total + b2[1].total) in lines[i + 2]
        header = app.screen.query_one(Header).plain
        assert "BTC/USD" in header and "SYNCED" in header and "checksums" in header
        assert "SUBSCRIBED" in shown(app)


async def test_ladder_grouping_never_crosses_and_keys_work(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        ladder = app.screen.query_one(Ladder)
        book = app.bridge.client.state.symbols["BTC/USD"].book
        best_bid, best_ask = book.best_bid()[0], book.best_ask()[0]
        for presses in range(1, 5):
            await pilot.press("plus")
            assert ladder.model.group_index == presses
            g = ladder.model.group
            rows = [
                r for r in ladder.model.rows(ladder.book, ladder.size.height, 0.0) if r.kind in ("bid", "ask")
            ]
            bids = [int(r.price.replace(".", "")) for r in rows if r.kind == "bid"]
            asks = [int(r.price.replace(".", "")) for r in rows if r.kind == "ask"]
            assert all(t % g == 0 for t in bids + asks)
            assert max(bids) <= best_bid < best_ask <= min(asks)
            assert max(bids) < min(asks)
        assert f"group {book.format_price(ladder.model.group)}" in app.screen.query_one(Header).plain
        for _ in range(4):
            await pilot.press("minus")
        assert ladder.model.group_index == 0
        await pilot.press("minus")
        assert ladder.model.group_index == 0
        # The cursor walks over price rows and skips the spread line.
        assert ladder.model.cursor == -1
        await pilot.press("down")
        assert ladder.model.cursor == 1
        assert ladder.model.cursor_price == book.format_price(best_bid)
        assert f"cursor {book.format_price(best_bid)}" in app.screen.query_one(Header).plain
        await pilot.press("up", "up")
        assert ladder.model.cursor == -2
        await pilot.press("pageup")
        n_ask, _ = ladder.counts()
        assert ladder.model.cursor == -min(n_ask, 12)
        await pilot.press("c")
        assert ladder.model.cursor == -1


async def test_ladder_flashes_changed_levels(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        ladder = app.screen.query_one(Ladder)
        assert not any(r.flash for r in ladder._rows)
        before = {(("bid", t), q) for t, q in app.bridge.state.symbols["BTC/USD"].book.bids(40)}
        exchange.step(30, symbol="BTC/USD")
        await synced(pilot, app, exchange)
        after = {(("bid", t), q) for t, q in app.bridge.state.symbols["BTC/USD"].book.bids(40)}
        changed = {k for k, _ in after - before}
        # Each changed level was flashed (on a loaded machine the 0.4 s may be over by now, so the
        # record of the flash is checked, and the flash itself when still on).
        flashed = set(ladder.model._flash_until)
        assert changed and changed & flashed
        now = app.bridge.monotonic()
        assert any(r.flash for r in ladder._rows) or not ladder.model.flashing(now)


async def test_integrity_badge_shows_mismatches(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        state = app.bridge.client.state
        cid = exchange.connections("public")[0]
        exchange.faults.set_connection(cid, corrupt_checksum=1.0)
        exchange.step(20, symbol="BTC/USD")
        await wait_for(pilot, lambda: state.symbols["BTC/USD"].mismatches > 0, what="a mismatch")
        exchange.faults.clear(cid)
        frame(app)
        header = app.screen.query_one(Header).plain
        n = state.symbols["BTC/USD"].mismatches
        assert f"✗{n} mismatches" in header
        assert any(s in header for s in ("RESYNCING", "WAITING", "DISABLED")), header
        # A book that is not synced says why, in the badge itself.
        if "DISABLED" in header:
            assert "resync stopped" in header


async def test_depth_screen(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        await pilot.press("2")
        screen = app.screen
        assert isinstance(screen, DepthScreen)
        frame(app)
        await pilot.pause()
        text = shown(app)
        book = app.bridge.client.state.symbols["BTC/USD"].book
        assert "mid " in text and "buy " in text and "sell " in text
        # The markers are the engine's execution cost of the screen's size, exact to the digit.
        from havterm.engine.analytics import execution_cost

        size = screen._fill_qty()
        for side in ("buy", "sell"):
            cost = execution_cost(book, side, size)  # type: ignore[arg-type]
            vwap = f"{cost.vwap:.{book.price_precision + 2}f}"
            worst = book.format_price(cost.worst_price_ticks)
            assert f"VWAP {vwap}  worst {worst}  {cost.slippage_bps_vs_mid:.2f} bps vs mid" in text, side
        assert "imbalance " in text and "pressure " in text and "microprice " in text
        mid2 = book.best_bid()[0] + book.best_ask()[0]
        assert f"mid {book.format_price(mid2 // 2)}" in text or "mid " in text
        assert "(auto)" in screen.query_one(Header).plain
        size0 = screen._fill_qty()
        await pilot.press("full_stop")
        assert screen._fill_qty() == size0 * 2
        await pilot.press("comma", "comma")
        assert screen._fill_qty() == max(1, size0 // 2)
        await pilot.press("right_square_bracket")
        assert screen.range_bps > 0 and "(auto)" not in screen.query_one(Header).plain
        r = screen.range_bps
        await pilot.press("left_square_bracket")
        assert abs(screen.range_bps - r / 2) < 1e-9


async def test_flow_screen_shows_trades(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        await pilot.press("3")
        assert isinstance(app.screen, FlowScreen)
        exchange.step(200, symbol="BTC/USD")
        await synced(pilot, app, exchange)
        st = app.bridge.client.state.symbols["BTC/USD"]
        last = st.trades[-1]
        text = shown(app)
        assert f"{last.price:f}" in text and f"{last.qty:f}" in text
        assert ("BUY" if last.side == "buy" else "SELL") in text
        assert "volume at price" in text and "imbalance" in text and "pressure" in text
        flow = app.bridge.flow_view("BTC/USD")
        assert sum(flow.buy_vol) + sum(flow.sell_vol) > 0
        assert flow.large_qty is not None
        assert f"big print ≥ {flow.large_qty:f}" in app.screen.query_one(Header).plain


async def test_grid_add_open_and_remove_symbols(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        await synced(pilot, app, exchange, "ETH/USD")
        await pilot.press("4")
        assert isinstance(app.screen, GridScreen)
        frame(app)
        grid = app.screen.query_one(Grid)
        lines = [grid.render_line(y).text for y in range(4)]
        assert lines[0].startswith("Symbol")
        assert lines[1].startswith("BTC/USD") and "synced" in lines[1]
        assert lines[2].startswith("ETH/USD")
        book = app.bridge.client.state.symbols["BTC/USD"].book
        bps = float(book.spread()) / float(book.mid()) * 10_000
        assert f"{bps:.2f}" in lines[1]
        # Add SOL/USD from inside the app.
        await pilot.press("a")
        assert isinstance(app.screen, SymbolPrompt)
        await pilot.press(*"sol/usd", "enter")
        assert isinstance(app.screen, GridScreen)
        await wait_for(pilot, lambda: in_sync(exchange, app.bridge.client.state, "SOL/USD"), what="SOL/USD")
        frame(app)
        assert [v for v in app.bridge.symbols()] == ["BTC/USD", "ETH/USD", "SOL/USD"]
        assert grid.render_line(3).text.startswith("SOL/USD")
        # Open ETH/USD on the ladder.
        await pilot.press("down", "enter")
        assert isinstance(app.screen, LadderScreen) and app.symbol == "ETH/USD"
        assert "ETH/USD" in app.screen.query_one(Header).plain
        # Remove it again from the grid.
        await pilot.press("4", "down", "d")
        await wait_for(pilot, lambda: "SOL/USD" not in app.bridge.symbols(), what="SOL/USD removed")
        frame(app)
        assert app.bridge.symbols() == ["BTC/USD", "ETH/USD"]


async def test_bad_symbol_is_refused_in_the_prompt(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4", "a", *"nonsense", "enter")
        assert isinstance(app.screen, SymbolPrompt)
        assert "not a symbol" in shown(app)
        await pilot.press("escape")
        assert isinstance(app.screen, GridScreen)


async def test_watcher_help_and_symbol_cycling(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        await pilot.press("5")
        assert isinstance(app.screen, WatcherScreen)
        frame(app)
        text = shown(app)
        assert "Alert rules" in text and "No rules yet" in text and "Fired alerts" in text
        assert "0 rules" in app.screen.query_one(Header).plain
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = shown(app)
        assert "ladder.group_coarser" in text and "app.quit" in text
        await pilot.press("escape")
        assert isinstance(app.screen, WatcherScreen)
        await pilot.press("1", "n")
        assert app.symbol == "ETH/USD"
        frame(app)
        assert "ETH/USD" in app.screen.query_one(Header).plain
        await pilot.press("n")
        assert app.symbol == "BTC/USD"
        await pilot.press("p")
        assert app.symbol == "ETH/USD"


async def test_keys_can_be_remapped(exchange: Exchange) -> None:
    app = make_app(exchange, keys={"app.depth": "x", "ladder.group_coarser": "g"})
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        await pilot.press("g")
        assert app.screen.query_one(Ladder).model.group_index == 1
        await pilot.press("x")
        assert isinstance(app.screen, DepthScreen)


async def test_every_key_on_every_screen_and_small_terminal(exchange: Exchange) -> None:
    app = make_app(exchange)
    keys = [
        "up",
        "down",
        "pageup",
        "pagedown",
        "c",
        "home",
        "plus",
        "minus",
        "equals_sign",
        "underscore",
        "left_square_bracket",
        "right_square_bracket",
        "comma",
        "full_stop",
        "j",
        "k",
        "n",
        "p",
        "tab",
        "shift+tab",
        "space",
        "x",
        "escape",
    ]
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        for size in ((80, 24), (60, 15)):
            await pilot.resize_terminal(*size)
            for screen_key in "12345":
                await pilot.press(screen_key)
                exchange.step(3)
                await pilot.press(*keys)
                frame(app)
                await pilot.pause()
                assert app.screen.query_one(Header).plain
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.resize_terminal(80, 24)
        await pilot.press("1")
        frame(app)
        await pilot.pause()
        text = shown(app)
        assert "spread" in text and "SUBSCRIBED" in text
        # Panels drew without an error message.
        for screen_key in "23":
            await pilot.press(screen_key)
            frame(app)
            await pilot.pause()
            for panel in app.screen.query(Panel):
                assert "cannot draw" not in str(panel.render())


async def test_unreachable_exchange_is_said_plainly(monkeypatch) -> None:
    import havterm.widgets.status as status
    from havterm.bridge import Source, make_client

    monkeypatch.setattr(status, "DOWN_GRACE_S", 0.0)
    source = Source(
        ["BTC/USD"], 10, {"url": "ws://127.0.0.1:9/v2", "auth_url": "x", "l3_url": "x", "rest_url": "x"}
    )
    app = HavtermApp(source, client=make_client(source, source.urls))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: "cannot reach" in shown(app), what="the status bar to say so")
        text = shown(app)
        line = next(x for x in text.splitlines() if "cannot reach" in x)
        assert "cannot reach ws://127.0.0.1:9/v2" in line and "retrying" in line, line
        assert "waiting for the book" in text


async def test_command_palette_switches_screens_and_symbols(exchange: Exchange) -> None:
    app = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await synced(pilot, app, exchange)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="the palette")
        await pilot.press(*"show grid")
        await wait_for(pilot, lambda: "Show grid" in shown(app), what="the command to be listed")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GridScreen), what="the grid screen")
        await pilot.press("ctrl+p", *"select eth")
        await wait_for(pilot, lambda: "Select ETH/USD" in shown(app), what="the symbol command")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.symbol == "ETH/USD", what="ETH/USD selected")


async def test_replay_plays_a_recording_through_the_engine() -> None:
    from pathlib import Path

    from havterm.bridge import Source

    path = (
        Path(__file__).resolve().parents[1]
        / "fixtures"
        / "kraken"
        / "docs_v2_book_channel_example_MATICUSD.jsonl"
    )
    app = HavtermApp(Source([], 10, {}, replay=str(path), replay_speed=0))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.bridge.state is not None and app.bridge.state.phase == "finished")
        await wait_for(pilot, lambda: app.symbol == "MATIC/USD", what="the recording's symbol selected")
        frame(app)
        await pilot.pause()
        text = shown(app)
        assert "FINISHED" in text and "replay" in text and "MATIC/USD" in text
        book = app.bridge.state.symbols["MATIC/USD"].book
        assert book is not None and book.format_price(book.best_bid()[0]) in text


async def test_demo_mode_starts_the_exchange_in_the_apps_loop() -> None:
    from havterm.bridge import Source

    app = HavtermApp(Source(["BTC/USD", "ETH/USD"], 25, demo=True, demo_rate=200))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.bridge.exchange is not None and app.bridge.state is not None)
        state = app.bridge.state
        await wait_for(
            pilot, lambda: all(s in state.symbols and state.symbols[s].synced for s in ("BTC/USD", "ETH/USD"))
        )
        v0 = state.symbols["BTC/USD"].version
        await wait_for(pilot, lambda: state.symbols["BTC/USD"].version > v0 + 5, what="the market to move")
        frame(app)
        await pilot.pause()
        text = shown(app)
        assert "SYNCED" in text and "SUBSCRIBED" in text and "spread" in text
        assert app.bridge.urls["url"].startswith("ws://127.0.0.1:")
    assert app.bridge.exchange._servers == []  # stopped with the app
