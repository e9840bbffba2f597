"""Replay recorded frames through the real decoder and books, checking every checksum.

Pure logic behind ``havterm verify``: it returns a report and prints nothing.
Precision comes, in order, from ``--precision`` overrides, from ``instrument``
messages in the file, and otherwise from the digits on the wire. The depth
comes from the subscribe ack in the file, else from the snapshot's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from havterm.engine.book import BOOK_DEPTHS, BookState, L2Book
from havterm.engine.codec import decode
from havterm.engine.events import (
    BookMessage,
    DecodeError,
    InstrumentMessage,
    L3Order,
    Level3Message,
    MethodResponse,
)
from havterm.engine.l3 import LEVEL3_DEPTHS, L3Book
from havterm.engine.replay import read_frames


@dataclass
class Mismatch:
    """The first failing frame of one symbol."""

    location: str
    symbol: str
    expected: int
    computed: int
    reason: str


@dataclass
class SymbolReport:
    """What one symbol's book did across a file."""

    symbol: str
    channel: str
    verified: int = 0
    total: int = 0
    first_mismatch: Mismatch | None = None
    final_state: str = ""


@dataclass
class FileReport:
    """The result of verifying one file."""

    path: str
    symbols: dict[tuple[str, str], SymbolReport] = field(default_factory=dict)
    frames: int = 0
    bad_frames: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every checksum matched and there was at least one."""
        return bool(self.symbols) and all(
            s.first_mismatch is None and s.verified == s.total for s in self.symbols.values()
        )


def _depth_for(count: int, allowed: tuple[int, ...]) -> int:
    for d in allowed:
        if count <= d:
            return d
    return allowed[-1]


def verify_file(
    path: str | Path,
    precision: Mapping[str, tuple[int, int]] | None = None,
    depth: int | None = None,
) -> FileReport:
    """Verify every book and level3 checksum in one recording.

    Raises ``RecordingError`` for an unreadable file.
    """
    return verify_frames(((f.frame, f.location) for f in read_frames(path)), str(path), precision, depth)


def verify_frames(
    frames: Iterable[tuple[bytes | str, str]],
    name: str = "<frames>",
    precision: Mapping[str, tuple[int, int]] | None = None,
    depth: int | None = None,
) -> FileReport:
    """Verify frames given as ``(frame, location)`` pairs."""
    report = FileReport(name)
    overrides = dict(precision or {})
    known = dict(overrides)
    acked_depth: dict[tuple[str, str], int] = {}
    books: dict[str, L2Book] = {}
    l3books: dict[str, L3Book] = {}
    for frame, location in frames:
        report.frames += 1
        for ev in decode(frame):
            if isinstance(ev, BookMessage | Level3Message):
                is_l2 = isinstance(ev, BookMessage)
                channel = "book" if is_l2 else "level3"
                shelf: dict[str, L2Book | L3Book] = books if is_l2 else l3books  # type: ignore[assignment]
                book = shelf.get(ev.symbol)
                if book is None or ev.snapshot:
                    levels = (
                        max(len(ev.bids), len(ev.asks))
                        if is_l2
                        else max(_levels_in(ev.bids), _levels_in(ev.asks))  # type: ignore[arg-type]
                    )
                    d = (
                        depth
                        or acked_depth.get((channel, ev.symbol))
                        or _depth_for(levels, BOOK_DEPTHS if is_l2 else LEVEL3_DEPTHS)
                    )
                    pp, qp = known.get(ev.symbol) or (None, None)
                    book = shelf[ev.symbol] = (L2Book if is_l2 else L3Book)(ev.symbol, d, pp, qp)
                rep = _symbol(report, channel, ev.symbol)
                if not ev.snapshot and book.state is not BookState.SYNCED:
                    continue  # frames of a desynced book are not counted until a snapshot
                rep.total += 1
                if book.apply(ev):  # type: ignore[arg-type]
                    rep.verified += 1
                elif rep.first_mismatch is None:
                    rep.first_mismatch = Mismatch(
                        location, ev.symbol, ev.checksum, book.computed_checksum, book.last_error or ""
                    )
                rep.final_state = book.state.value
            elif isinstance(ev, InstrumentMessage):
                for pair in ev.pairs:
                    if pair.symbol not in overrides:
                        known[pair.symbol] = (pair.price_precision, pair.qty_precision)
                        if pair.symbol in books:
                            books[pair.symbol].set_precision(*known[pair.symbol])
            elif isinstance(ev, MethodResponse):
                if ev.method == "subscribe" and ev.success and isinstance(ev.result, dict):
                    res = ev.result
                    ch, sym, ack_depth = res.get("channel"), res.get("symbol"), res.get("depth")
                    if isinstance(ch, str) and isinstance(sym, str) and isinstance(ack_depth, int):
                        acked_depth[(ch, sym)] = ack_depth
            elif isinstance(ev, DecodeError):
                report.bad_frames.append((location, ev.reason))
    return report


def _levels_in(orders: Iterable[L3Order]) -> int:
    return len({o.price for o in orders})


def _symbol(report: FileReport, channel: str, symbol: str) -> SymbolReport:
    key = (channel, symbol)
    rep = report.symbols.get(key)
    if rep is None:
        rep = report.symbols[key] = SymbolReport(symbol, channel)
    return rep
