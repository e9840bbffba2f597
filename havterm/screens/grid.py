"""Screen 4: one line per symbol; add and remove symbols from here."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from havterm.screens import BaseScreen, Header, bindings
from havterm.widgets.grid import Grid
from havterm.widgets.views import ViewSource

SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,12}/[A-Z0-9]{1,12}$")
FUTURES_ID_RE = re.compile(r"^(?:PF|PI|FI|FF|PV)_[A-Z0-9]{2,24}(?:_[A-Z0-9]{1,12})?$")
"""The engine's ``havterm.engine.futures.FUTURES_ID_RE`` (screens do not import the engine)."""


class SymbolPrompt(ModalScreen[str | None]):
    """Asks for a symbol like ``ETH/USD``; dismisses with it, or None on escape."""

    # The box is as wide as its title (plus border and padding) and never wider than the
    # terminal; on a narrower one the labels wrap instead of being cut.
    DEFAULT_CSS = """
    SymbolPrompt { align: center middle; }
    SymbolPrompt > Vertical {
        width: 60; max-width: 100%; height: auto; border: round #7fb2ff; background: #141a22; padding: 0 1;
    }
    SymbolPrompt Label { width: 100%; }
    SymbolPrompt #error { color: #ff6b6b; height: auto; }
    """
    BINDINGS: ClassVar = bindings("prompt.cancel")
    PROMPT = "Add symbol (ETH/USD, or a Futures product: PF_XBTUSD)"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.PROMPT, id="title")
            yield Input(placeholder="ETH/USD", id="symbol")
            yield Label("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip().upper()
        if not (SYMBOL_RE.match(value) or FUTURES_ID_RE.match(value)):
            self.query_one("#error", Label).update(f"not a symbol: {event.value!r}")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        """Close without adding."""
        self.dismiss(None)


class GridScreen(BaseScreen):
    """Every subscribed symbol at a glance."""

    BINDINGS = bindings("grid.up", "grid.down", "grid.open", "grid.add", "grid.remove")

    def __init__(self) -> None:
        super().__init__(name="grid")
        self._shown: tuple[object, ...] = ()

    def body(self) -> ComposeResult:
        yield Grid(id="grid")

    @property
    def grid(self) -> Grid:
        """The grid widget."""
        return self.query_one(Grid)

    def frame(self, src: ViewSource, now: float) -> None:
        views = [v for v in (src.symbol_view(s, False) for s in src.symbols()) if v is not None]
        key = (tuple(views), self.grid.cursor, self.grid.size)
        if key != self._shown:
            self._shown = key
            self.grid.show(views)
        header = Text(no_wrap=True, end="")
        header.append(f" {len(views)} symbols ", "bold #ffffff on #2b3a55")
        header.append("   enter: open in ladder · a: add · d: remove", "#9fb3c8")
        self.query_one(Header).show(header)

    def action_move(self, delta: int) -> None:
        """Move the cursor."""
        self.grid.move(delta)

    async def action_open(self) -> None:
        """Show the symbol under the cursor on the ladder."""
        sym = self.grid.selected
        if sym:
            await self.app.run_action(f"select_symbol({sym!r})")
            await self.app.run_action("show_screen('ladder')")

    def action_add(self) -> None:
        """Ask for a symbol and subscribe it."""

        async def done(symbol: str | None) -> None:
            if symbol:
                await self.app.run_action(f"add_symbol({symbol!r})")

        self.app.push_screen(SymbolPrompt(), done)

    async def action_remove(self) -> None:
        """Unsubscribe the symbol under the cursor."""
        sym = self.grid.selected
        if sym:
            await self.app.run_action(f"remove_symbol({sym!r})")
