"""Kraken WebSocket v1 book frames to havterm's v2 events, for conformance tests only.

The product speaks v2 only. The v1 captures are kept because the ten-pair
depth-1000 one is the only real multi-pair deep data there is, so they are
replayed here through the very same ``L2Book`` (the checksum algorithm is the
same apart from v1 quoting prices and volumes as strings).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from havterm.engine.checksum import l2_checksum
from havterm.engine.events import BookMessage, Level
from havterm.engine.fixed import parse_decimal_text, rescale


def _levels(rows: list[list[str]]) -> tuple[Level, ...]:
    out = []
    for row in rows:
        pu, ps = parse_decimal_text(row[0])
        qu, qs = parse_decimal_text(row[1])
        out.append(Level(pu, ps, qu, qs))
    return tuple(out)


def _ticks(levels: tuple[Level, ...], pp: int, qp: int) -> list[tuple[int, int]]:
    return [
        (rescale(lv.price_units, lv.price_scale, pp), rescale(lv.qty_units, lv.qty_scale, qp))
        for lv in levels
    ]


def v1_to_events(msg: Any) -> Iterator[BookMessage]:
    """Turn one decoded v1 message into v2 book events (nothing for non-book messages).

    A v1 snapshot carries no checksum, so the adapter computes one with the
    independent reference function; only update checksums come from Kraken.
    """
    if not isinstance(msg, list) or len(msg) < 4 or not str(msg[-2]).startswith("book-"):
        return
    symbol = msg[-1]
    parts = [p for p in msg[1:-2] if isinstance(p, dict)]
    if any("as" in p or "bs" in p for p in parts):
        snap = parts[0]
        asks = _levels(snap.get("as", []))
        bids = _levels(snap.get("bs", []))
        pp = max(lv.price_scale for lv in (*asks, *bids))
        qp = max(lv.qty_scale for lv in (*asks, *bids))
        crc = l2_checksum(sorted(_ticks(asks, pp, qp)), sorted(_ticks(bids, pp, qp), reverse=True))
        yield BookMessage(symbol, True, bids, asks, crc)
        return
    asks_rows: list[list[str]] = []
    bids_rows: list[list[str]] = []
    checksum = None
    for p in parts:
        asks_rows += p.get("a", [])
        bids_rows += p.get("b", [])
        if "c" in p:
            checksum = int(p["c"])
    assert checksum is not None, "v1 update without checksum"
    yield BookMessage(symbol, False, _levels(bids_rows), _levels(asks_rows), checksum)


def read_cryptofeed(path: Path) -> Iterator[tuple[int, Any]]:
    """Messages of a cryptofeed raw recording: ``<epoch>: <frame>`` lines."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("wss://") or not line.strip():
            continue
        _, _, frame = line.partition(": ")
        yield n, json.loads(frame)


def read_pykrakensdk(path: Path) -> Iterator[tuple[int, Any]]:
    """Messages of a python-kraken-sdk fixture ``{"init": [...], "updates": [...]}``."""
    doc = json.loads(path.read_text())
    init = doc["init"] if isinstance(doc["init"], list) else [doc["init"]]
    yield from enumerate([*init, *doc["updates"]])
