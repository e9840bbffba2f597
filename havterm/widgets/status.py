"""The status bar and the per-symbol integrity badge: pure text builders plus a thin widget."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from havterm.widgets.views import BookView, ConnView, SymbolView, fmt_decimal

OK = Style(color="#0b0f14", bgcolor="#4fd17b", bold=True)
WARN = Style(color="#0b0f14", bgcolor="#ffd75f", bold=True)
BAD = Style(color="#ffffff", bgcolor="#c0392b", bold=True)
DIM = Style(color="#9fb3c8")
DOWN_GRACE_S = 3.0
"""A connection down for longer than this is reported as unreachable (short blips are normal)."""
BADGES = {
    "synced": ("SYNCED", OK),
    "awaiting": ("WAITING", WARN),
    "resyncing": ("RESYNCING", WARN),
    "stale": ("STALE", BAD),
    "disabled": ("DISABLED", BAD),
}


def badge(book: BookView | None, health: str = "active", futures: bool = False) -> Text:
    """The integrity badge: book state plus the checksum mismatch count (the seq check for Futures)."""
    state = book.state if book else "awaiting"
    if state == "synced" and health in ("stale", "halted"):
        state = "stale" if health == "stale" else "disabled"
    label, style = BADGES.get(state, (state.upper(), WARN))
    text = Text(end="")
    text.append(f" {label} ", style)
    mism = book.mismatches if book else 0
    # Futures books carry no checksum: their integrity is the unbroken ``seq``, and a gap is a resync.
    good, bad = (" ✓ seq", f" ✗{mism} seq gaps") if futures else (" ✓ checksums", f" ✗{mism} mismatches")
    if mism:
        text.append(bad, Style(color="#ffd75f"))
    elif state in ("synced", "stale"):
        text.append(good, DIM)  # a tick only for a book that is being verified, not a disabled one
    if book and book.reason and state != "synced":
        text.append(f"  {book.reason}", Style(color="#ffd75f"))
    return text


def symbol_header(symbol: str, view: SymbolView | None, extra: str = "") -> Text:
    """``BTC/USD  [SYNCED ✓]  last 63420.1  +1.2%`` for the top of a screen."""
    text = Text(no_wrap=True, end="")
    text.append(f" {symbol} ", Style(bold=True, color="#ffffff", bgcolor="#2b3a55"))
    text.append("  ")
    text.append_text(
        badge(view.book if view else None, view.health if view else "active", view.futures if view else False)
    )
    if view is not None:
        text.append(f"   last {fmt_decimal(view.last)}", Style(bold=True))
        if view.change_pct is not None:
            up = view.change_pct >= 0
            text.append(f"  {view.change_pct:+.2f}%", Style(color="#4fd17b" if up else "#ff6b6b"))
    if extra:
        text.append(f"   {extra}", DIM)
    return text


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def status_text(conn: ConnView, clock: str, width: int = 0) -> Text:
    """Connection phase, latency p50/p99, message rate and the clock (right-aligned in ``width``)."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if conn.up:
        text.append(f" ● {conn.phase.upper()} ", OK if conn.phase == "subscribed" else WARN)
    else:
        text.append(f" ● {conn.phase.upper()} ", BAD if conn.down_for_s >= DOWN_GRACE_S else WARN)
    if conn.system_status not in ("online", "unknown"):
        text.append(f" exchange {conn.system_status} ", WARN)
    if not conn.up and conn.down_for_s >= DOWN_GRACE_S:
        where = "live Kraken" if conn.live_kraken else conn.url
        text.append(f" cannot reach {where}; retrying", Style(color="#ffd75f", bold=True))
        if conn.reconnects:
            text.append(f" (attempt {conn.reconnects + 1})", Style(color="#ffd75f"))
        if conn.live_kraken:
            text.append(" · offline? try: havterm --demo", Style(color="#ffffff", bold=True))
        if conn.cause:
            # The cause goes last: on a narrow terminal it is the part that may be cut.
            text.append(f" · {conn.cause}", DIM)
    elif conn.phase in ("replaying", "finished"):
        text.append(f" replay {conn.url}", DIM)
        if conn.cause:
            text.append(f" · {conn.cause}", DIM)
        text.append(f"  {conn.msg_rate:,.0f} msg/s", DIM)
    else:
        text.append(f" p50 {_ms(conn.latency_p50)} ms  p99 {_ms(conn.latency_p99)} ms", DIM)
        text.append(f"  {conn.msg_rate:,.0f} msg/s", DIM)
        if conn.rtt_ms is not None:
            text.append(f"  rtt {conn.rtt_ms:.0f} ms", DIM)
        if conn.reconnects:
            text.append(f"  reconnects {conn.reconnects}", Style(color="#ffd75f"))
    clock_part = f"  {clock} "
    room = width - text.cell_len - len(clock_part)
    if room < 0 and width:
        text.truncate(width - len(clock_part), overflow="ellipsis")
    text.append(" " * max(0, room) + clock_part, Style(color="#ffffff", bold=True))
    return text


class StatusBar(Static):
    """One line at the bottom; rewritten only when its text changes."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: #141a22; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._plain = ""

    def show(self, conn: ConnView, clock: str) -> None:
        """Update when something visible changed."""
        text = status_text(conn, clock, self.size.width)
        if text.plain != self._plain or self._plain == "":
            self._plain = text.plain
            self.update(text)
