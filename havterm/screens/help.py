"""The help screen (``?``): every binding with its stable id and current keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from havterm.config import KEYS, config_path

KEY_NAMES = {
    "question_mark": "?",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
    "underscore": "_",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "full_stop": ".",
    "comma": ",",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "up": "↑",
    "down": "↓",
    "enter": "Enter",
    "home": "Home",
    "delete": "Del",
}


def key_label(keys: str) -> str:
    """``question_mark,f1`` -> ``? f1``: how the keys look on the keyboard."""
    return " ".join(KEY_NAMES.get(k, k) for k in keys.split(","))


def keys_table(overrides: Mapping[str, str]) -> Table:
    """The bindings as a Rich table (pure, so it can be tested without an app)."""
    table = Table(expand=True, box=None, header_style="bold #9fb3c8", pad_edge=False)
    table.add_column("Keys", style="bold #ffd75f", no_wrap=True)
    table.add_column("Does")
    table.add_column("Binding id (remap in config.toml \\[keys])", style="#7f8a99", no_wrap=True)
    for bid, spec in KEYS.items():
        keys = overrides.get(bid, spec.keys)
        table.add_row(key_label(keys), spec.description, bid)
    table.add_row("ctrl+p", "Command palette", "")
    return table


class HelpScreen(ModalScreen[None]):
    """Press escape, q or ? to close."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; height: 90%; border: round #7fb2ff; background: #141a22; padding: 0 1;
    }
    """
    BINDINGS: ClassVar = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def __init__(self, overrides: Mapping[str, str]) -> None:
        super().__init__(name="help")
        self.overrides = overrides

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(
                "[b]havterm[/b]: 1 ladder · 2 depth · 3 flow · 4 grid · 5 watcher. "
                f"Keys can be remapped in [i]{escape(str(config_path()))}[/i] under \\[keys].\n"
            )
            yield Static(keys_table(self.overrides), id="keys")

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)
