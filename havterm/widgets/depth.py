"""The depth chart: cumulative bid and ask curves around the mid, with execution-cost markers.

``DepthChart`` is a pure Rich renderable sized by the console options it is
given, so tests can render it to text without an app. The execution costs and
book statistics it marks are computed by the engine (``engine.analytics``, from
level3 when there is one) and handed over as ``CostView``/``BookStatsView``.
"""

from __future__ import annotations

import itertools
import math

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.text import Text

from havterm.widgets.views import BookStatsView, BookView, CostView, Level, fmt_units, plural

VBLOCKS = " ▁▂▃▄▅▆▇█"
BID = Style(color="#4fd17b")
ASK = Style(color="#ff6b6b")
MARK = Style(color="#ffd75f", bold=True)
AXIS = Style(color="#7f8a99")


def cumulative(levels: tuple[Level, ...]) -> list[Level]:
    """Best-first ``(price, cumulative qty)``."""
    out, cum = [], 0
    for t, q in levels:
        cum += q
        out.append((t, cum))
    return out


def axis_labels(lo: float, hi: float, plot_w: int, precision: int) -> list[tuple[int, int, str]]:
    """Round prices for the price axis as ``(plot column, ticks, text)``, left to right.

    The step is 1, 2 or 5 × 10^k ticks (so at least one tick, and every label a whole number of
    ticks): the finest whose labels stay at least two blank cells apart when each is centred on
    the column its price falls in (the chart's own ``int((p - lo) / (hi - lo) * plot_w)``). Prices
    are printed exactly, with the book's decimals.
    """
    if plot_w <= 0 or hi <= lo:
        return []

    def col(t: int) -> int:
        return int((t - lo) / (hi - lo) * plot_w)

    last: list[tuple[int, int, str]] = []
    step = 1
    while True:
        for s in (step, 2 * step, 5 * step):
            if s * plot_w < hi - lo:
                continue  # more labels than columns: cannot be spaced
            first = -(-math.ceil(lo) // s) * s  # the first multiple of s at or above lo
            marks = [(col(t), t, fmt_units(t, precision)) for t in range(first, math.ceil(hi), s)]
            marks = [m for m in marks if 0 <= m[0] < plot_w]
            if not marks:
                # Too coarse for even one label: keep the one of the finer step nearest the middle.
                return [min(last, key=lambda m: abs(m[0] - plot_w / 2))] if last else []
            widest = max(len(m[2]) for m in marks)
            if all(b[0] - a[0] >= widest + 2 for a, b in itertools.pairwise(marks)):
                return marks
            last = marks
        step *= 10


def fill_size_text(lots: int, precision: int) -> str:
    """The fill size as the trader set it: ``16``, ``0.2``, ``0.015625`` (no padding zeros; never cut)."""
    text = fmt_units(lots, precision)
    return text.rstrip("0").rstrip(".") if "." in text else text


def size_labels(top: int, plot_h: int, precision: int) -> dict[int, str]:
    """Round cumulative sizes for the size axis, as ``{plot row: text}`` (row 0 is the top).

    The step is 1, 2 or 5 × 10^k lots, the finest that gives at most three
    labels; each sits on the row whose band holds it (the rows' own
    ``(plot_h - row - 1) / plot_h < size / top <= (plot_h - row) / plot_h``),
    printed without trailing zeros. Rows too close to another label's are
    left out, so labels never touch.
    """
    if top <= 0 or plot_h <= 0:
        return {}
    step = 1
    while True:
        s = next((x for x in (step, 2 * step, 5 * step) if top // x <= 3), None)
        if s is not None:
            break
        step *= 10
    out: dict[int, str] = {}
    for v in range(s, top + 1, s):
        row = plot_h - math.ceil(v * plot_h / top)
        if 0 <= row < plot_h and all(abs(row - r) >= 2 for r in out):
            text = fmt_units(v, precision)
            out[row] = text.rstrip("0").rstrip(".") if "." in text else text
    return out


class DepthChart:
    """Cumulative depth around the mid over ``range_bps`` either side (0: fit the whole book)."""

    def __init__(
        self,
        book: BookView | None,
        range_bps: float,
        fill_qty: int,
        height: int | None = None,
        costs: tuple[CostView | None, CostView | None] = (None, None),
        stats: BookStatsView | None = None,
    ) -> None:
        self.book = book
        self.range_bps = range_bps
        self.fill_qty = fill_qty
        self.height = height
        self.used_bps = range_bps
        self.costs = costs
        self.stats = stats

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        height = self.height or options.height or 20
        yield from self.lines(width, height)

    def lines(self, width: int, height: int) -> list[Text]:
        """The chart as ``height`` lines of ``width`` cells."""
        book = self.book
        if book is None or not book.bids or not book.asks or height < 6 or width < 30:
            return [Text("waiting for the book…", style=AXIS)] + [Text("")] * max(0, height - 1)
        label_w = 10
        plot_w = width - label_w - 1
        plot_h = height - 5  # axis, price labels, two cost lines, the book-stats line
        mid2 = book.mid_ticks2() or 0
        mid = mid2 / 2
        if self.range_bps > 0:
            span = mid * self.range_bps / 10_000
        else:
            # Auto: just wide enough for every level the book holds.
            span = max(mid - book.bids[-1][0], book.asks[-1][0] - mid) * 1.02
        span = max(span, (book.spread_ticks() or 1) * 2.0, 1.0)
        self.used_bps = span / mid * 10_000 if mid else 0.0
        lo, hi = mid - span, mid + span
        bids_c = cumulative(book.bids)
        asks_c = cumulative(book.asks)
        cols: list[tuple[str, int]] = []
        for x in range(plot_w):
            p = lo + (hi - lo) * (x + 0.5) / plot_w
            if p < mid:
                # Bids: everything priced at or above p would trade against a sell down to p.
                cum = 0
                for t, c in bids_c:
                    if t >= p:
                        cum = c
                    else:
                        break
                cols.append(("bid", cum))
            else:
                cum = 0
                for t, c in asks_c:
                    if t <= p:
                        cum = c
                    else:
                        break
                cols.append(("ask", cum))
        top = max((c for _, c in cols), default=0) or 1
        buy, sell = self.costs

        def col_of(ticks: float) -> int | None:
            x = int((ticks - lo) / (hi - lo) * plot_w)
            return x if 0 <= x < plot_w else None

        marks = {
            x
            for x in (
                col_of(buy.worst_ticks) if buy and buy.worst_ticks is not None else None,
                col_of(sell.worst_ticks) if sell and sell.worst_ticks is not None else None,
            )
            if x is not None
        }
        mid_x = col_of(mid)
        lines: list[Text] = []
        labels = size_labels(top, plot_h, book.qty_precision)
        for row in range(plot_h):
            level_top = (plot_h - row) / plot_h
            level_bot = (plot_h - row - 1) / plot_h
            label = labels.get(row, "")[:label_w]
            line = Text(label.rjust(label_w) + ("┤" if label else "│"), style=AXIS, no_wrap=True, end="")
            # Cells of one style are appended as one run: one span (and one SVG text) per run.
            run: list[str] = []
            run_style: Style | None = None
            for x, (side, c) in enumerate(cols):
                frac = c / top
                if frac >= level_top:
                    ch = "█"
                elif frac > level_bot:
                    ch = VBLOCKS[int((frac - level_bot) * plot_h * 8)]
                else:
                    ch = " "
                if ch == " " and x in marks:
                    ch, style = "┊", MARK
                elif ch == " " and x == mid_x:
                    ch, style = "│", AXIS
                else:
                    style = BID if side == "bid" else ASK
                if style is not run_style and run:
                    line.append("".join(run), run_style)
                    run = []
                run_style = style
                run.append(ch)
            if run:
                line.append("".join(run), run_style)
            lines.append(line)
        lines.extend(self._price_axis(book, lo, hi, mid_x, label_w, plot_w, width))
        qty_text = fill_size_text(self.fill_qty, book.qty_precision)
        lines.append(self._fill_text(book, buy, f"buy {qty_text}", ASK, width))
        lines.append(self._fill_text(book, sell, f"sell {qty_text}", BID, width))
        lines.append(self._stats_text(self.stats, width))
        return lines[:height]

    @staticmethod
    def _price_axis(
        book: BookView, lo: float, hi: float, mid_x: int | None, label_w: int, plot_w: int, width: int
    ) -> list[Text]:
        """The axis line (a ``┬`` under each labelled price, the mid named at its column) and the labels.

        Each label is centred on its price's column; one that would run off the line is left out.
        """
        base = label_w + 1
        axis = [" "] * label_w + ["└"] + ["─"] * plot_w
        row = [" "] * width
        for x, _, label in axis_labels(lo, hi, plot_w, book.price_precision):
            start = base + x - len(label) // 2
            if start < 0 or start + len(label) > width:
                continue
            axis[base + x] = "┬"
            row[start : start + len(label)] = label
        if mid_x is not None:
            # The mid is named on the axis line itself, so the labels under it stay round prices:
            # over its own column, hiding as few ticks as it can, and then as centred as it can be.
            centre = f" mid {book.mid_text()} "
            at, want = base + mid_x, base + mid_x - len(centre) // 2
            starts = range(base, base + plot_w - len(centre) + 1)
            over = [x for x in starts if x <= at < x + len(centre)] or list(starts)
            if over:
                start = min(over, key=lambda x: (axis[x : x + len(centre)].count("┬"), abs(x - want)))
                axis[start : start + len(centre)] = centre
        return [
            Text("".join(axis)[:width], style=AXIS, no_wrap=True, end=""),
            Text("".join(row).rstrip(), style=AXIS, no_wrap=True, end=""),
        ]

    @staticmethod
    def _fill_text(book: BookView, cost: CostView | None, what: str, style: Style, width: int) -> Text:
        text = Text(no_wrap=True, end="")
        text.append(f" ┊ {what}: ", MARK)
        if cost is None or cost.vwap is None:
            text.append("no liquidity" if cost is not None else "waiting for the engine…", AXIS)
            text.truncate(width)
            return text
        worst = book.price(cost.worst_ticks) if cost.worst_ticks is not None else "-"
        orders = f", {plural(cost.orders, 'order')}" if cost.orders is not None else ""
        # Separators end the span before them: SVG viewers drop a span's leading spaces.
        fields: list[list[tuple[str, Style]]] = [
            [(f"VWAP {cost.vwap}  worst {worst}  ", style)],
            [(f"{cost.slippage_mid_bps} bps vs mid, {cost.slippage_best_bps} vs best  ", MARK)],
            [(f"{plural(cost.levels, 'level')}{orders} ({cost.source.upper()})", AXIS)],
        ]
        if not cost.complete:
            fields.append([(f"  (only {book.qty(cost.filled, 14)} visible)", AXIS)])
        return _append_fitting(text, fields, width)

    @staticmethod
    def _stats_text(stats: BookStatsView | None, width: int) -> Text:
        text = Text(no_wrap=True, end="")
        if stats is None:
            return text
        signal = {"buy": BID, "sell": ASK}.get(stats.signal, AXIS)
        vwaps = f"VWAP bids {stats.bid_vwap or '-'} asks {stats.ask_vwap or '-'}"
        micro = f"microprice {stats.microprice or '-'}  "
        fields: list[list[tuple[str, Style]]] = [
            [(f" imbalance {stats.imbalance:+.2f} over {stats.levels} levels", AXIS)],
            [(f"  book pressure {stats.pressure:+.2f} ", AXIS), (stats.signal.upper() + "  ", signal)],
            [(micro, AXIS)],
            [(vwaps, AXIS)],
        ]
        if sum(cell_len(part) for field in fields[:3] for part, _ in field) > width + 2:
            # Too narrow for the microprice: shorter words first, so it still fits.
            fields[:2] = [
                [(f" imbalance {stats.imbalance:+.2f}", AXIS)],
                [(f"  pressure {stats.pressure:+.2f} ", AXIS), (stats.signal.upper() + "  ", signal)],
            ]
        return _append_fitting(text, fields, width)


def _append_fitting(text: Text, fields: list[list[tuple[str, Style]]], width: int) -> Text:
    """Append whole fields, in order, while they fit in ``width``: a number is never cut short.

    A field's trailing separator may hang past the edge; it is trimmed at the end.
    """
    for field in fields:
        whole = "".join(part for part, _ in field)
        if text.cell_len + cell_len(whole.rstrip()) > width:
            break
        for part, style in field:
            text.append(part, style)
    text.rstrip()
    text.truncate(width)
    return text
