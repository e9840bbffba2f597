"""The watcher screen: make a rule by keyboard, see it fire on the embedded exchange, find it on disk."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import DataTable, Input, Select

from havterm.alerts_config import history_path, load_rules
from havterm.app import HavtermApp
from havterm.screens.watcher import RuleForm
from havterm.sim import Exchange

from .helpers import make_app, wait_for


async def test_create_a_rule_see_it_fire_and_find_it_in_history(exchange: Exchange) -> None:
    app: HavtermApp = make_app(exchange)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot,
            lambda: (
                app.bridge.alerts is not None
                and app.bridge.state is not None
                and "BTC/USD" in app.bridge.state.symbols
                and app.bridge.state.symbols["BTC/USD"].book_state.value == "synced"
            ),
            10,
            "synced",
        )
        await pilot.press("5")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, RuleForm), 5, "the rule form")
        form = app.screen
        form.query_one("#name", Input).value = "btc above 1"
        form.query_one("#symbol", Input).value = "btc/usd"
        form.query_one("#kind", Select).value = "price_above"
        form.query_one("#level", Input).value = "1"
        form.query_one("#cooldown_s", Input).value = "600"
        form.query_one("#level", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, RuleForm), 5, "the form closed")
        alerts = app.bridge.alerts
        assert alerts is not None
        assert [r.name for r in alerts.rules] == ["btc above 1"]
        # The book is far above 1: the rule fires on the next frames.
        exchange.step(20, symbol="BTC/USD")
        await exchange.drain()
        await wait_for(pilot, lambda: alerts.fired_count.get("btc above 1", 0) >= 1, 10, "the alert")
        table = app.screen.query_one("#history", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1, 5, "the history row")
        row = table.get_row_at(0)
        assert row[1] == "btc above 1" and row[2] == "BTC/USD"
        assert "is above 1" in str(row[4])
        alerts.flush()
        lines = history_path().read_text().splitlines()
        fired = [json.loads(line) for line in lines]
        assert fired[-1]["name"] == "btc above 1" and fired[-1]["symbol"] == "BTC/USD"
        assert float(fired[-1]["value"]) > 1
        # The rule was saved to the config file, and a second identical rule is refused.
        saved = load_rules().rules
        assert [(r.name, r.kind, str(r.level), r.cooldown_s) for r in saved] == [
            ("btc above 1", "price_above", "1", 600.0)
        ]
        # space turns it off; x deletes it; both persist.
        await pilot.press("space")
        await wait_for(pilot, lambda: not alerts.rules[0].enabled, 5)
        alerts.flush()
        assert load_rules().rules[0].enabled is False
        await pilot.press("x")
        await wait_for(pilot, lambda: not alerts.rules, 5)
        alerts.flush()
        assert load_rules().rules == []


async def test_history_survives_a_restart(exchange: Exchange, tmp_path: Path) -> None:
    first = make_app(exchange)
    async with first.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: first.bridge.alerts is not None, 5)
        first.bridge.alerts.upsert({"name": "any", "symbol": "BTC/USD", "kind": "price_above", "level": 1})
        await wait_for(pilot, lambda: first.bridge.alerts.fired_count.get("any", 0) >= 1, 10)
        first.bridge.alerts.flush()
    second = make_app(exchange)
    async with second.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: second.bridge.alerts is not None, 5)
        await pilot.press("5")
        table = second.screen.query_one("#history", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1, 5, "history from the previous run")
        assert table.get_row_at(0)[1] == "any"
