"""A cache of rendered rows for Line-API widgets: each distinct (row, width) is drawn once."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


class StripCache:
    """Rendered strips by key, on top of the widget's own style.

    The widget's ``rich_style`` walks the CSS on every call, so it is looked up
    once and kept until ``clear()`` (on resize or a theme change).
    """

    def __init__(self, style: Callable[[], Style], limit: int = 4096) -> None:
        self._style = style
        self._limit = limit
        self._strips: dict[Hashable, Strip] = {}
        self._base: Style | None = None
        self._console = Console(width=400, color_system="truecolor", legacy_windows=False)

    def clear(self) -> None:
        """Forget every strip and the base style."""
        self._strips.clear()
        self._base = None

    @property
    def base(self) -> Style:
        """The widget's style."""
        base = self._base
        if base is None:
            base = self._base = self._style()
        return base

    def get(self, key: Hashable, width: int, draw: Callable[[], Text]) -> Strip:
        """The strip for ``key``, drawing it with ``draw()`` the first time."""
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > self._limit:
                self._strips.clear()
            base = self.base
            strip = Strip(
                [Segment(s.text, base + s.style if s.style else base) for s in draw().render(self._console)],
                width,
            ).adjust_cell_length(width, base)
            self._strips[key] = strip
        return strip
