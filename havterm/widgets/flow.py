"""Order-flow renderables: the trade tape, volume over time, volume at price, imbalance, book events.

All pure Rich: each takes view data and a size and returns lines of ``Text``.
"""

from __future__ import annotations

import textwrap
from decimal import ROUND_HALF_EVEN, Decimal

from rich.style import Style
from rich.text import Text

from havterm.widgets.views import FlowAnalytics, FlowEvent, TradeView, fmt_sig

BUY = Style(color="#4fd17b")
SELL = Style(color="#ff6b6b")
BUY_BIG = Style(color="#0b0f14", bgcolor="#4fd17b", bold=True)
SELL_BIG = Style(color="#0b0f14", bgcolor="#ff6b6b", bold=True)
DIM = Style(color="#7f8a99")
HEAD = Style(color="#9fb3c8", bold=True)
MARK = Style(color="#ffd75f", bold=True)
VBLOCKS = " ▁▂▃▄▅▆▇█"


def _trim(d: Decimal) -> str:
    """Exact decimal text without an exponent."""
    return f"{d:f}"


def _tape_layout(trades: tuple[TradeView, ...], width: int) -> tuple[int, int, int]:
    """(time, price, qty) column widths for the tape at ``width``: every shown price and size whole.

    The widest layout that holds every shown number is used: first the usual
    columns, then columns sized to the numbers, then seconds instead of
    milliseconds, then no time at all. A size that fits none of them is rounded
    (see :func:`tape_lines`), never cut.
    """
    # Below 45 cells the milliseconds go: seconds are enough to read a tape.
    tw = 12 if width >= 45 else 8
    col = max(6, min(12, (width - tw - 4 - 3 - 2) // 2))
    need_p = max((len(_trim(tr.price)) for tr in trades), default=0)
    need_q = max((len(_trim(tr.qty)) for tr in trades), default=0)
    if need_p <= col and need_q <= col and tw + 1 + 5 + 2 * col + 1 <= width:
        return tw, col, col
    pw = max(5, need_p)  # ``price`` heads the column
    for t in (tw, 8, 0):
        qw = width - (t + 1 if t else 0) - 5 - pw - 1 - 2  # side, spaces, and the big-trade marker
        if qw >= need_q:
            return t, pw, qw
    return 0, pw, max(3, width - 5 - pw - 1 - 2)


def _fit_qty(qty: Decimal, width: int) -> str:
    """``qty`` exactly when it fits ``width``, else rounded (half-even) to the decimals that fit."""
    text = _trim(qty)
    if len(text) <= width or "." not in text:
        return text
    room = max(0, width - len(text.partition(".")[0]) - 1)
    return _trim(qty.quantize(Decimal(1).scaleb(-room), rounding=ROUND_HALF_EVEN))


def tape_lines(trades: tuple[TradeView, ...], large: Decimal | None, width: int, height: int) -> list[Text]:
    """Newest-first trades, coloured by aggressor; large trades in reverse video with a marker."""
    shown = trades[: max(0, height - 1)]
    tw, pw, qw = _tape_layout(shown, width)
    time_head = f"{'time':<{tw}} " if tw else ""
    head = f"{time_head}{'side':<4} {'price':>{pw}} {'qty':>{qw}}"
    out = [Text(head, style=HEAD, no_wrap=True, end="")]
    for tr in shown:
        big = large is not None and tr.qty >= large
        buy = tr.side == "buy"
        style = (BUY_BIG if buy else SELL_BIG) if big else (BUY if buy else SELL)
        line = Text(no_wrap=True, end="")
        if tw:
            line.append(f"{tr.time_text[:tw]:<{tw}} ", DIM)
        qty = _fit_qty(tr.qty, qw)
        line.append(f"{'BUY ' if buy else 'SELL'} {_trim(tr.price):>{pw}} {qty:>{qw}}", style)
        if big:
            line.append(" ◆", MARK)
        line.truncate(width)
        out.append(line)
    if len(out) == 1:
        out.append(Text("no trades yet", style=DIM))
    return out


def volume_lines(buys: tuple[float, ...], sells: tuple[float, ...], width: int, height: int) -> list[Text]:
    """Buy volume up and sell volume down from a middle axis, one column per second, newest right."""
    label_w = 8
    cols = max(1, width - label_w)
    b = list(buys[-cols:])
    s = list(sells[-cols:])
    half = max(1, (height - 2) // 2)
    top = max([*b, *s, 0.0]) or 1.0
    heads = (
        f"{'vol/s':<{label_w}}buys ▲ sells ▼  (last {len(b)} s, max {fmt_sig(top, 4)})",
        f"{'vol/s':<{label_w}}buys ▲ sells ▼ ({len(b)} s, max {fmt_sig(top, 4)})",
        f"buys ▲ sells ▼ max {fmt_sig(top, 4)}",
        f"max {fmt_sig(top, 4)}",
    )
    # The first title that fits whole: the scale's maximum is a number, never cut.
    out: list[Text] = [Text(next((h for h in heads if len(h) <= width), ""), style=HEAD, end="")]
    pad = cols - len(b)
    for row in range(half):
        line = Text(" " * label_w + " " * pad, no_wrap=True, end="")
        lvl_top, lvl_bot = (half - row) / half, (half - row - 1) / half
        for v in b:
            f = v / top
            ch = "█" if f >= lvl_top else VBLOCKS[int((f - lvl_bot) * half * 8)] if f > lvl_bot else " "
            line.append(ch, BUY)
        out.append(line)
    out.append(Text(" " * label_w + "─" * cols, style=DIM, no_wrap=True, end=""))
    for row in range(half):
        line = Text(" " * label_w + " " * pad, no_wrap=True, end="")
        lvl = row / half
        for v in s:
            f = v / top
            # Sell bars hang down from the axis; a partial cell uses the top-half block.
            ch = "█" if f >= (row + 1) / half else ("▀" if f > lvl else " ")
            line.append(ch, SELL)
        out.append(line)
    return out[:height]


def _nice(n: int) -> int:
    """The smallest 1, 2, 5 x 10^k at least ``n`` (so bucket labels are round prices)."""
    mag = 1
    while True:
        for m in (1, 2, 5):
            if m * mag >= n:
                return m * mag
        mag *= 10


def at_price_lines(
    at_price: tuple[tuple[Decimal, float, float], ...], last: Decimal | None, width: int, height: int
) -> list[Text]:
    """Traded volume per price bucket (buys green, sells red), high prices on top; the last price marked.

    Buckets are whole multiples of the price tick, so every label is a real price.
    """
    out = [Text("volume at price", style=HEAD, end="")]
    rows = max(1, height - 1)
    if not at_price:
        out.append(Text("no trades yet", style=DIM))
        return out
    exp = min(int(p.as_tuple().exponent) for p, _, _ in at_price)
    tick = Decimal(1).scaleb(exp)
    hi, lo = at_price[0][0], at_price[-1][0]
    n_ticks = int((hi - lo) / tick) + 1
    step = tick * _nice(-(-n_ticks // rows))
    top_bucket = (hi / step).to_integral_value(rounding="ROUND_FLOOR") * step
    buckets: dict[Decimal, list[float]] = {}
    for p, bv, sv in at_price:
        key = (p / step).to_integral_value(rounding="ROUND_FLOOR") * step
        cell = buckets.setdefault(key, [0.0, 0.0])
        cell[0] += bv
        cell[1] += sv
    keys = [top_bucket - step * i for i in range(rows)]
    keys = [k for k in keys if k >= lo - step]
    top = max((b + s for b, s in buckets.values()), default=0.0) or 1.0
    labels = [_trim(k.quantize(tick)) for k in keys]
    label_w = max(len(x) for x in labels) + 1
    bar_w = max(1, width - label_w - 8)
    last_key = (last / step).to_integral_value(rounding="ROUND_FLOOR") * step if last is not None else None
    for k, label in zip(keys, labels, strict=True):
        bv, sv = buckets.get(k, (0.0, 0.0))
        is_last = k == last_key
        line = Text(no_wrap=True, end="")
        line.append(label.rjust(label_w) + " ", MARK if is_last else DIM)
        line.append("█" * round(bv / top * bar_w), BUY)
        line.append("█" * round(sv / top * bar_w), SELL)
        if is_last:
            line.append(" ◀ last", MARK)
        line.truncate(width)
        out.append(line)
    return out[:height]


def gauge(label: str, value: float | None, width: int) -> Text:
    """A -1..+1 gauge centred on zero: green to the right (bid/buy side), red to the left."""
    text = Text(no_wrap=True, end="")
    text.append(f"{label:<12}", HEAD)
    bar_w = max(4, width - 12 - 9)
    half = bar_w // 2
    if value is None:
        text.append("─" * (2 * half + 1), DIM)
        text.append("    -", DIM)
        return text
    n = round(abs(value) * half)
    left = " " * (half - n) + "█" * n if value < 0 else " " * half
    right = "█" * n + " " * (half - n) if value > 0 else " " * half
    text.append(left, SELL)
    text.append("│", DIM)
    text.append(right, BUY)
    text.append(f" {value:+.2f}", BUY if value > 0 else SELL if value < 0 else DIM)
    return text


EVENT_KIND_W = 9
"""Cells of the event kind column (``appeared`` plus a space)."""


def _short_detail(detail: str) -> str:
    """The detail with its words shortened and its numbers whole: ``from 62921.5`` -> ``←62921.5``."""
    return "←" + detail[5:] if detail.startswith("from ") else detail


def _event_layouts(events: tuple[FlowEvent, ...]) -> list[tuple[bool, int, str, bool]]:
    """Ways to draw the event rows, widest first: (time shown, price width, detail mode, kind shown).

    Each step shortens the words around the numbers or drops a whole field; a
    price or size is never cut, so a narrow panel shows fewer fields, not
    wrong numbers.
    """
    pw = max((len(ev.price) for ev in events), default=0)
    return [
        (True, max(12, pw), "full", True),
        (True, pw, "full", True),
        (True, pw, "short", True),
        (False, pw, "short", True),
        (False, pw, "none", True),
        (False, pw, "none", False),
    ]


def _event_width(ev: FlowEvent, layout: tuple[bool, int, str, bool]) -> int:
    show_time, pw, detail, show_kind = layout
    n = (9 if show_time else 0) + 4 + (EVENT_KIND_W if show_kind else 0) + pw
    if detail == "full":
        n += 1 + len(ev.qty)
    elif detail == "short":
        n += 1 + len(_short_detail(ev.qty))
    return n


def event_head(large: str | None, width: int) -> str:
    """The panel's title: the large-order threshold (resting orders, not trades) when it fits whole."""
    if not large:
        warming = ("order flow (large order: learning the sizes…)", "order flow (learning order sizes…)")
        return next((h for h in warming if len(h) <= width), "order flow")
    for head in (f"order flow (large order ≥ {large})", f"order flow (large ≥ {large})", f"large ≥ {large}"):
        if len(head) <= width:
            return head
    return "order flow"[: max(0, width)]


def event_lines(
    events: tuple[FlowEvent, ...], width: int, height: int, large: str | None = None
) -> list[Text]:
    """The engine's order-flow events, newest first: levels, the touch, large orders, icebergs, spoofs.

    ``large`` is the engine's large-*order* threshold (resting size), which is not the
    tape's big-print threshold (trade size). Every row uses the same layout: the widest
    of :func:`_event_layouts` in which all shown rows fit ``width``, so columns line up
    and no number is ever cut.
    """
    out = [Text(event_head(large, width), style=HEAD, no_wrap=True, end="")]
    shown = events[: max(0, height - 1)]
    layouts = _event_layouts(shown)
    layout = next((lay for lay in layouts if all(_event_width(ev, lay) <= width for ev in shown)), None)
    for ev in shown:
        if layout is None:  # not even side and price fit: show nothing rather than half a price
            break
        show_time, pw, detail, show_kind = layout
        style = BUY if ev.side == "bid" else SELL
        if ev.kind in ("iceberg", "spoof?", "large", "vanished"):
            style = style + Style(bold=True)
        line = Text(no_wrap=True, end="")
        if show_time:
            line.append(f"{ev.at:<9}", DIM)
        body = f"{ev.side:<4}" + (f"{ev.kind:<{EVENT_KIND_W}}" if show_kind else "") + f"{ev.price:>{pw}}"
        if detail != "none":
            body += " " + (ev.qty if detail == "full" else _short_detail(ev.qty))
        line.append(body, style)
        out.append(line)
    if not shown:
        out.append(Text("none yet", style=DIM))
    return out


def level_rate_lines(flow: FlowAnalytics | None, width: int, height: int) -> list[Text]:
    """Level3 adds, cancels and fills per second at the top levels, and the detectors' counts."""
    # Rates are in the pair's base units (BTC for BTC/USD), as the ladder prints sizes: not lots.
    title = "level3 · size/s at each level, last minute"
    out = [Text(title if len(title) <= width else "level3 · size/s per level, 1 min", style=HEAD, end="")]
    if flow is None or not flow.l3:
        if width >= 44:
            lines = [
                "no order-by-order (level3) feed here:",
                "Spot pairs have one in the demo; live, a key",
                "with level3 access. Kraken Futures has none.",
            ]
        else:  # a narrow panel wraps the words rather than cutting them
            lines = textwrap.wrap(
                "no order-by-order (level3) feed here: Spot pairs have one in the demo; live, "
                "a key with level3 access. Kraken Futures has none.",
                max(1, width),
            )
        out.extend(Text(line, style=DIM, end="") for line in lines)
        return out
    out.append(Text(f"icebergs {flow.icebergs}   spoof candidates {flow.spoofs}", style=DIM, end=""))
    out.append(Text(f"{'':4}{'price':>10} {'adds':>10}{'cancels':>10}{'fills':>10}", style=DIM, end=""))
    for r in flow.rates[: max(0, height - 3)]:
        style = BUY if r.side == "bid" else SELL
        line = Text(no_wrap=True, end="")
        line.append(f"{r.side:<4}{r.price:>10} {r.adds:>10}{r.cancels:>10}{r.fills:>10}", style)
        line.truncate(width)
        out.append(line)
    return out
