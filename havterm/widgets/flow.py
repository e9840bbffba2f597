"""Order-flow renderables: the trade tape, volume over time, volume at price, imbalance, book events.

All pure Rich: each takes view data and a size and returns lines of ``Text``.
"""

from __future__ import annotations

from decimal import Decimal

from rich.style import Style
from rich.text import Text

from havterm.widgets.views import FlowAnalytics, FlowEvent, TradeView

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


def tape_lines(trades: tuple[TradeView, ...], large: Decimal | None, width: int, height: int) -> list[Text]:
    """Newest-first trades, coloured by aggressor; large trades in reverse video with a marker."""
    # Below 45 cells the milliseconds go: seconds are enough to read a tape.
    tw = 12 if width >= 45 else 8
    pw = qw = max(6, min(12, (width - tw - 4 - 3 - 2) // 2))
    head = f"{'time':<{tw}} {'side':<4} {'price':>{pw}} {'qty':>{qw}}"
    out = [Text(head, style=HEAD, no_wrap=True, end="")]
    for tr in trades[: max(0, height - 1)]:
        big = large is not None and tr.qty >= large
        buy = tr.side == "buy"
        style = (BUY_BIG if buy else SELL_BIG) if big else (BUY if buy else SELL)
        line = Text(no_wrap=True, end="")
        line.append(f"{tr.time_text[:tw]:<{tw}} ", DIM)
        line.append(f"{'BUY ' if buy else 'SELL'} {_trim(tr.price):>{pw}} {_trim(tr.qty)[:qw]:>{qw}}", style)
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
    out: list[Text] = [
        Text(f"{'vol/s':<{label_w}}buys ▲ sells ▼  (last {len(b)} s, max {top:.4g})", style=HEAD, end="")
    ]
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


def event_lines(
    events: tuple[FlowEvent, ...], width: int, height: int, large: str | None = None
) -> list[Text]:
    """The engine's order-flow events, newest first: levels, the touch, large orders, icebergs, spoofs."""
    head = "order flow" + (f" (large ≥ {large})" if large else " (large: learning the sizes…)")
    out = [Text(head, style=HEAD, end="")]
    for ev in events[: max(0, height - 1)]:
        style = BUY if ev.side == "bid" else SELL
        if ev.kind in ("iceberg", "spoof?", "large", "vanished"):
            style = style + Style(bold=True)
        line = Text(no_wrap=True, end="")
        line.append(f"{ev.at:<9}", DIM)
        line.append(f"{ev.side:<4}{ev.kind:<9}{ev.price:>12} {ev.qty}", style)
        line.truncate(width)
        out.append(line)
    if len(out) == 1:
        out.append(Text("none yet", style=DIM))
    return out


def level_rate_lines(flow: FlowAnalytics | None, width: int, height: int) -> list[Text]:
    """Level3 adds, cancels and fills per second at the top levels, and the detectors' counts."""
    out = [Text("level3 · lots/s at each level, last minute", style=HEAD, end="")]
    if flow is None or not flow.l3:
        out.append(Text("no order-by-order (level3) feed here:", style=DIM, end=""))
        out.append(Text("Spot pairs have one in the demo; live, a key", style=DIM, end=""))
        out.append(Text("with level3 access. Kraken Futures has none.", style=DIM, end=""))
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
