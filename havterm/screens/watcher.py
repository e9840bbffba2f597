"""Screen 5: alert rules and their states (add, edit, enable, disable, delete), and fired alerts."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Select

from havterm.alerts_controller import KINDS, AlertsController, Rule, RuleError, describe, validate
from havterm.screens import BaseScreen, Header, bindings
from havterm.widgets.views import ViewSource, plural

RULE_COLUMNS = ("Rule", "Symbol", "Condition", "State", "Last fired", "Fired")
HISTORY_COLUMNS = ("Time", "Rule", "Symbol", "Value", "Message")


class RuleForm(ModalScreen[dict[str, Any] | None]):
    """Asks for a rule's name, symbol, kind, level and cooldown; dismisses with a rules table."""

    DEFAULT_CSS = """
    RuleForm { align: center middle; }
    RuleForm > Vertical {
        width: 64; height: auto; border: round #7fb2ff; background: #141a22; padding: 0 1;
    }
    RuleForm Horizontal { height: auto; }
    RuleForm Label.field { width: 12; padding: 1 0 0 0; }
    RuleForm Input, RuleForm Select { width: 1fr; }
    RuleForm #error { color: #ff6b6b; height: auto; }
    """
    BINDINGS: ClassVar = bindings("rule_form.cancel")

    def __init__(self, rule: Rule | None = None, symbol: str = "") -> None:
        super().__init__()
        self.rule = rule
        self.symbol = rule.symbol if rule else symbol

    def compose(self) -> ComposeResult:
        r = self.rule
        with Vertical():
            yield Label("Edit rule" if r else "New alert rule (enter saves, escape cancels)")
            for label, wid, value in (
                ("name", "name", r.name if r else ""),
                ("symbol", "symbol", self.symbol),
            ):
                with Horizontal():
                    yield Label(label, classes="field")
                    yield Input(value=value, id=wid)
            with Horizontal():
                yield Label("kind", classes="field")
                yield Select(
                    [(k, k) for k in sorted(KINDS)],
                    value=r.kind if r else "price_above",
                    id="kind",
                    allow_blank=False,
                )
            for label, wid, value in (
                ("level", "level", str(r.level) if r else ""),
                ("cooldown s", "cooldown_s", f"{r.cooldown_s:g}" if r else "60"),
            ):
                with Horizontal():
                    yield Label(label, classes="field")
                    yield Input(value=value, id=wid)
            yield Label("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def submit(self) -> None:
        """Validate and close with the table, or show what is wrong."""
        value = {
            w: self.query_one(f"#{w}", Input).value.strip() for w in ("name", "symbol", "level", "cooldown_s")
        }
        table: dict[str, Any] = {
            "name": value["name"],
            "symbol": value["symbol"].upper(),
            "kind": str(self.query_one("#kind", Select).value),
        }
        try:
            table["level"] = Decimal(value["level"])
            table["cooldown_s"] = float(value["cooldown_s"] or 60)
        except (InvalidOperation, ValueError):
            self.query_one("#error", Label).update("level and cooldown must be numbers")
            return
        if self.rule is not None:  # keep what the form does not show (notify, window, ...)
            for key in (
                "hysteresis",
                "window_s",
                "depth",
                "source",
                "side",
                "event",
                "cross",
                "notify",
                "command",
                "enabled",
                "order_id",
            ):
                v = getattr(self.rule, key)
                if v is not None and v != ():
                    table[key] = list(v) if isinstance(v, tuple) else v
        problem = validate(table)
        if problem is not None:
            self.query_one("#error", Label).update(problem)
            return
        self.dismiss(table)

    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)


class WatcherScreen(BaseScreen):
    """The rules table and the fired-alert history, kept current from the bridge's alerts."""

    BINDINGS = bindings("watcher.add", "watcher.edit", "watcher.toggle", "watcher.delete")
    DEFAULT_CSS = """
    WatcherScreen Label { color: #9fb3c8; text-style: bold; padding: 0 1; }
    WatcherScreen .empty { color: #7f8a99; text-style: none; }
    WatcherScreen .section { height: 1fr; }
    WatcherScreen DataTable { height: auto; max-height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(name="watcher")
        self._shown = -1

    def body(self) -> ComposeResult:
        with Vertical(classes="section"):
            yield Label("Alert rules")
            yield DataTable(id="rules", cursor_type="row", zebra_stripes=True)
            yield Label("No rules yet: press a to add one.", classes="empty", id="rules-empty")
        with Vertical(classes="section"):
            yield Label("Fired alerts")
            yield DataTable(id="history", cursor_type="row")
            yield Label("Nothing has fired.", classes="empty", id="history-empty")

    def on_mount(self) -> None:
        self._columns()

    def _columns(self) -> None:
        # The frame timer can reach this screen before its on_mount ran: make sure either way.
        for wid, cols in (("#rules", RULE_COLUMNS), ("#history", HISTORY_COLUMNS)):
            table = self.query_one(wid, DataTable)
            if not table.columns:
                table.add_columns(*cols)

    @property
    def alerts(self) -> AlertsController | None:
        """The bridge's alert state (None while starting or when alerts are off)."""
        bridge = getattr(self.app, "bridge", None)
        return getattr(bridge, "alerts", None)

    def frame(self, src: ViewSource, now: float) -> None:
        alerts = self.alerts
        header = Text(no_wrap=True, end="")
        header.append(" Watcher ", "bold #ffffff on #2b3a55")
        if alerts is None:
            header.append("   alerts are off", "#9fb3c8")
            self.query_one(Header).show(header)
            return
        if alerts.version != self._shown:
            self._fill(alerts)
            self._shown = alerts.version  # only once filled: a frame before mount must not count
        rules = len(alerts.rules)
        header.append(f"   {plural(rules, 'rule')} · {len(alerts.recent)} fired", "#9fb3c8")
        if alerts.error:
            header.append(f"   {alerts.error}", "#ff6b6b")
        self.query_one(Header).show(header)

    def _fill(self, alerts: AlertsController) -> None:
        self._columns()
        table = self.query_one("#rules", DataTable)
        cursor = table.cursor_row
        table.clear()
        wall = time.time()
        for r in alerts.rules:
            last = alerts.last_fired.get(r.name)
            if not r.enabled:
                state = "off"
            elif last is not None and wall - last < r.cooldown_s:
                state = "cooling"
            else:
                state = "armed"
            table.add_row(
                r.name,
                r.symbol,
                describe(r),
                state,
                time.strftime("%H:%M:%S", time.gmtime(last)) if last else "-",
                str(alerts.fired_count.get(r.name, 0)),
                key=r.name,
            )
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self.query_one("#rules-empty").display = table.row_count == 0
        history = self.query_one("#history", DataTable)
        history.clear()
        for a in alerts.recent:
            history.add_row(
                time.strftime("%H:%M:%S", time.gmtime(a.wall)), a.name, a.symbol, a.value, a.message
            )
        self.query_one("#history-empty").display = history.row_count == 0

    def _selected(self) -> Rule | None:
        alerts = self.alerts
        table = self.query_one("#rules", DataTable)
        if alerts is None or not table.row_count:
            return None
        name = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in alerts.rules if r.name == name), None)

    def _open_form(self, rule: Rule | None) -> None:
        alerts = self.alerts
        if alerts is None:
            self.app.notify("alerts are off", severity="warning")
            return

        def done(table: dict[str, Any] | None) -> None:
            if table is None:
                return
            try:
                saved = alerts.upsert(table, rule.name if rule else None)
            except RuleError as exc:
                self.app.notify(str(exc), severity="error")
                return
            self.app.notify(f"rule {saved.name!r} saved", timeout=3)

        self.app.push_screen(RuleForm(rule, self.symbol), done)

    def action_add_rule(self) -> None:
        """A new rule for the selected symbol."""
        self._open_form(None)

    def action_edit_rule(self) -> None:
        """Edit the rule under the cursor."""
        rule = self._selected()
        if rule is not None:
            self._open_form(rule)

    def action_toggle_rule(self) -> None:
        """Enable or disable the rule under the cursor."""
        rule = self._selected()
        if rule is not None and self.alerts is not None:
            new = self.alerts.toggle(rule.name)
            if new is not None:
                self.app.notify(f"rule {new.name!r} {'on' if new.enabled else 'off'}", timeout=2)

    def action_delete_rule(self) -> None:
        """Delete the rule under the cursor."""
        rule = self._selected()
        if rule is not None and self.alerts is not None and self.alerts.delete(rule.name):
            self.app.notify(f"rule {rule.name!r} deleted", timeout=2)
