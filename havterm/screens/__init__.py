"""The dashboard's screens and what they share: bindings by stable id, the header and the status bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from havterm.config import KEYS
from havterm.widgets.status import StatusBar
from havterm.widgets.views import SymbolView, ViewSource

if TYPE_CHECKING:
    from collections.abc import Callable


BindingList = list[Binding | tuple[str, str] | tuple[str, str, str]]


def bindings(*ids: str) -> BindingList:
    """Textual bindings for the given stable ids (the app's keymap can remap each one)."""
    out: BindingList = []
    for bid in ids:
        spec = KEYS[bid]
        out.append(Binding(spec.keys, spec.action, spec.description, show=spec.show, id=bid))
    return out


class Header(Static):
    """One line at the top of a screen; rewritten only when its text changes."""

    DEFAULT_CSS = """
    Header { height: 1; background: #141a22; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.plain = ""

    def show(self, text: Text) -> None:
        """Update if the text differs from what is shown."""
        if text.plain != self.plain or not self.plain:
            self.plain = text.plain
            self.update(text)


class Panel(Widget):
    """A box that draws lines of Rich text from a pure function of its size; repainted on request."""

    DEFAULT_CSS = """
    Panel { height: 1fr; width: 1fr; }
    """

    def __init__(self, draw: Callable[[int, int], list[Text]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.draw = draw
        self.key: Any = None

    def update_if(self, key: Any) -> None:
        """Repaint when ``key`` differs from the last one (the caller's notion of 'changed')."""
        if key != self.key:
            self.key = key
            self.refresh()

    def render(self) -> RenderableType:
        w, h = self.content_region.width, self.content_region.height
        if w <= 0 or h <= 0:
            return ""
        try:
            lines = self.draw(w, h)
        except Exception as exc:  # a drawing bug must never take the terminal down
            return Text(f"(cannot draw: {type(exc).__name__}: {exc})", style="red")
        for line in lines:
            line.no_wrap = True
            line.overflow = "crop"
            line.end = "\n"
        return Group(*lines[:h])


class BaseScreen(Screen[None]):
    """A dashboard screen: header, body, status bar and footer; repainted by the frame timer."""

    TITLE_NAME = ""

    DEFAULT_CSS = """
    BaseScreen #body { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Header(id="header")
        with Container(id="body"):
            yield from self.body()
        yield StatusBar(id="status")
        yield Footer()

    def body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    @property
    def symbol(self) -> str:
        """The app's selected symbol."""
        return str(getattr(self.app, "symbol", ""))

    def frame(self, src: ViewSource, now: float) -> None:
        """Pull the views this screen shows and repaint what changed."""

    def header_extra(self, view: SymbolView | None) -> str:
        """Screen-specific text after the symbol and badge."""
        return ""
