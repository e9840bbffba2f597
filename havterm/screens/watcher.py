"""Screen 5: alert rules and their states, and the history of fired alerts."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from havterm.screens import BaseScreen, Header
from havterm.widgets.views import ViewSource

RULE_COLUMNS = ("Rule", "Symbol", "Condition", "State", "Last fired", "Fired")
HISTORY_COLUMNS = ("Time", "Rule", "Symbol", "Value", "Message")


class WatcherScreen(BaseScreen):
    """The rules table and the fired-alert history; the alerts feature fills both."""

    DEFAULT_CSS = """
    WatcherScreen Label { color: #9fb3c8; text-style: bold; padding: 0 1; }
    WatcherScreen .empty { color: #7f8a99; text-style: none; }
    WatcherScreen .section { height: 1fr; }
    WatcherScreen DataTable { height: auto; max-height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(name="watcher")

    def body(self) -> ComposeResult:
        with Vertical(classes="section"):
            yield Label("Alert rules")
            yield DataTable(id="rules", cursor_type="row", zebra_stripes=True)
            yield Label(
                "No rules yet: alert rules are added by the alerts feature.",
                classes="empty",
                id="rules-empty",
            )
        with Vertical(classes="section"):
            yield Label("Fired alerts")
            yield DataTable(id="history", cursor_type="row")
            yield Label("Nothing has fired.", classes="empty", id="history-empty")

    def on_mount(self) -> None:
        self.query_one("#rules", DataTable).add_columns(*RULE_COLUMNS)
        self.query_one("#history", DataTable).add_columns(*HISTORY_COLUMNS)

    def add_rule(self, *cells: str) -> None:
        """Show a rule (used by the alerts feature)."""
        self.query_one("#rules", DataTable).add_row(*cells)
        self.query_one("#rules-empty").display = False

    def add_fired(self, *cells: str) -> None:
        """Prepend a fired alert to the history."""
        table = self.query_one("#history", DataTable)
        table.add_row(*cells)
        self.query_one("#history-empty").display = False

    def frame(self, src: ViewSource, now: float) -> None:
        header = Text(no_wrap=True, end="")
        header.append(" Watcher ", "bold #ffffff on #2b3a55")
        rules = self.query_one("#rules", DataTable).row_count
        fired = self.query_one("#history", DataTable).row_count
        header.append(f"   {rules} rules · {fired} fired", "#9fb3c8")
        self.query_one(Header).show(header)
