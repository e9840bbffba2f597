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


PHASE_W = len("SUBSCRIBED")
"""The widest phase shown while data flows; narrower ones are padded so the fields after them stay put."""


def _ms(v: float | None) -> str:
    """A latency in exactly six cells (``"  3 ms"``, ``"1.2 s "``, ``"  - ms"``): what follows stays put."""
    if v is None:
        return "  - ms"
    if v < 999.5:
        return f"{v:3.0f} ms"
    s = v / 1000
    return f"{s:3.1f} s " if s < 9.95 else f"{min(s, 999):3.0f} s "


def _rate(v: float) -> str:
    """A message rate in exactly five cells (``"  444"``, ``"1,234"``, ``"12.3k"``, `` 123k``)."""
    if v < 9_999.5:
        return f"{v:5,.0f}"
    k = v / 1000
    return f"{k:4.1f}k" if k < 99.95 else f"{min(k, 9999):4.0f}k"


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
        text.append(f"  {_rate(conn.msg_rate)} msg/s", DIM)
    else:
        # Every number here has a fixed width: "9 ms" becoming "12 ms" must not shift what follows.
        text.append(" " * max(0, PHASE_W - len(conn.phase)))
        text.append(f" p50 {_ms(conn.latency_p50)}  p99 {_ms(conn.latency_p99)}", DIM)
        text.append(f"  {_rate(conn.msg_rate)} msg/s", DIM)
        rtt = f"  rtt {_ms(conn.rtt_ms)}" if conn.rtt_ms is not None else ""
        again = f"  reconnects {conn.reconnects}" if conn.reconnects else ""
        if rtt and again and width and text.cell_len + len(rtt + again) + len(clock) + 3 > width:
            rtt = ""  # too narrow for both: the reconnect count says more than the round trip
        if rtt:
            text.append(rtt, DIM)
        if again:
            text.append(again, Style(color="#ffd75f"))
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
