"""Every checksum Kraken ever sent us verifies: v2 captures, docs examples, and v1 via an adapter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from havterm.engine.book import BookState, L2Book
from havterm.engine.checksum import crc32_text
from havterm.engine.verify import verify_file, verify_frames

from .conftest import KRAKEN_DATA
from .v1_adapter import read_cryptofeed, read_pykrakensdk, v1_to_events

V2_CAPTURES = {
    "v2_book25_BTCUSD_2026-08-02_crossbook.jsonl": ("BTC/USD", 2052),
    "v2_book25_ETHUSD_2026-08-02_crossbook.jsonl": ("ETH/USD", 1129),
    "v2_book25_XRPUSD_2026-08-02_crossbook.jsonl": ("XRP/USD", 1147),
    "v2_book10_BTCUSD_resubscribes_2026-08-01_crossbook.jsonl": ("BTC/USD", 301),
}


@pytest.mark.parametrize("name", sorted(V2_CAPTURES))
def test_v2_capture_verifies_every_checksum_from_wire_digits(name: str) -> None:
    symbol, count = V2_CAPTURES[name]
    report = verify_file(KRAKEN_DATA / name)
    (rep,) = report.symbols.values()
    assert (rep.symbol, rep.verified, rep.total) == (symbol, count, count)
    assert rep.first_mismatch is None and rep.final_state == "synced"
    assert report.bad_frames == []


def test_float_mangled_2023_capture_verifies_with_instrument_precision() -> None:
    path = KRAKEN_DATA / "v2_book10_BTCUSD_2023-07-30_pykrakensdk.json"
    report = verify_file(path, {"BTC/USD": (1, 8)})
    (rep,) = report.symbols.values()
    assert (rep.verified, rep.total) == (510, 510)
    # Without it, the book starts from the digits on the wire and widens as soon as a
    # token shows more, so it still verifies; a wrong precision must not.
    assert verify_file(path).ok
    assert not verify_file(path, {"BTC/USD": (2, 8)}).ok


def test_the_2023_capture_needs_truncation() -> None:
    """Apply all, then truncate: a book that never truncates fails most checksums."""
    path = KRAKEN_DATA / "v2_book10_BTCUSD_2023-07-30_pykrakensdk.json"
    deep = verify_file(path, {"BTC/USD": (1, 8)}, depth=1000)
    (rep,) = deep.symbols.values()
    assert rep.first_mismatch is not None


@pytest.mark.parametrize(
    ("name", "precision", "expected"),
    [
        ("docs_v2_book_checksum_example.json", (1, 8), 3310070434),
        ("docs_v2_level3_checksum_example.json", (1, 8), 1063832831),
        ("docs_v2_book_channel_example_MATICUSD.jsonl", (4, 8), 2114181697),
    ],
)
def test_docs_examples(name: str, precision: tuple[int, int], expected: int) -> None:
    report = verify_file(KRAKEN_DATA / name)
    assert report.ok
    sym = next(iter(report.symbols.values())).symbol
    report = verify_file(KRAKEN_DATA / name, {sym: precision})
    assert report.ok
    text = (KRAKEN_DATA / name).read_text()
    assert str(expected) in text


def _first_update_touching_top10(lines: list[str]) -> tuple[int, str]:
    """Line index and qty token of the first update (after line 50) that sets a top-10 level."""
    from havterm.engine.codec import decode
    from havterm.engine.events import BookMessage

    book: L2Book | None = None
    for i, line in enumerate(lines):
        for ev in decode(line):
            if not isinstance(ev, BookMessage):
                continue
            if ev.snapshot:
                book = L2Book(ev.symbol, max(len(ev.bids), len(ev.asks)))
            assert book is not None and book.apply(ev)
            if ev.snapshot or i < 50:
                continue
            top = {p for p, _ in book.asks(10)}
            for lv in ev.asks:
                ticks = lv.price_units * 10 ** (book.price_precision - lv.price_scale)
                if lv.qty_units and ticks in top:
                    return i, book.format_qty(book.asks(10)[[p for p, _ in book.asks(10)].index(ticks)][1])
    raise AssertionError("no update sets a top-10 ask")


@pytest.mark.parametrize("name", sorted(V2_CAPTURES))
def test_one_corrupted_quantity_is_caught_at_exactly_that_frame(name: str) -> None:
    lines = (KRAKEN_DATA / name).read_text().splitlines()
    i, qty = _first_update_touching_top10(lines)
    assert f'"qty":{qty}' in lines[i]
    last = qty[-1]
    corrupted = qty[:-1] + ("1" if last != "1" else "2")
    lines[i] = lines[i].replace(f'"qty":{qty}', f'"qty":{corrupted}', 1)
    report = verify_frames(((ln.encode(), f"line {n}") for n, ln in enumerate(lines, 1)), name)
    (rep,) = report.symbols.values()
    assert rep.first_mismatch is not None
    assert rep.first_mismatch.location == f"line {i + 1}"
    assert rep.first_mismatch.expected != rep.first_mismatch.computed
    # the book recovers at the next snapshot (the resubscribe capture has several)
    assert rep.verified == rep.total - 1 or rep.final_state == "resyncing"


def test_corrupting_every_update_of_a_capture_is_always_detected_in_place() -> None:
    """Property over real data: flipping one top-of-book qty digit fails at that very frame."""
    name = "v2_book25_ETHUSD_2026-08-02_crossbook.jsonl"
    lines = (KRAKEN_DATA / name).read_text().splitlines()
    checked = 0
    for i, line in enumerate(lines[:400]):
        if '"type":"update"' not in line or '"channel":"book"' not in line:
            continue
        m = re.search(r'"qty":([0-9]+\.[0-9]*[1-9])', line)
        if not m:
            continue
        corrupt = line[: m.end(1) - 1] + ("1" if m.group(1)[-1] != "1" else "2") + line[m.end(1) :]
        frames = [(x.encode(), f"line {n}") for n, x in enumerate([*lines[:i], corrupt], 1)]
        report = verify_frames(frames)
        (rep,) = report.symbols.values()
        if rep.first_mismatch is not None:
            assert rep.first_mismatch.location == f"line {i + 1}"
            checked += 1
    assert checked >= 50


# ---------------------------------------------------------------------------- v1 via adapter


def _replay_v1(messages: list[tuple[int, object]]) -> dict[str, tuple[int, int]]:
    books: dict[str, L2Book] = {}
    depth = 10
    counts: dict[str, tuple[int, int]] = {}
    for _, msg in messages:
        if isinstance(msg, dict) and msg.get("event") == "subscriptionStatus":
            depth = msg["subscription"]["depth"]
        for ev in v1_to_events(msg):
            if ev.snapshot:
                books[ev.symbol] = L2Book(ev.symbol, depth)
                assert books[ev.symbol].apply(ev)
                continue
            book = books[ev.symbol]
            ok = book.apply(ev)
            v, t = counts.get(ev.symbol, (0, 0))
            counts[ev.symbol] = (v + ok, t + 1)
            assert book.state is BookState.SYNCED
    return counts


def test_v1_book1000_ten_pairs_all_verify() -> None:
    msgs = list(read_cryptofeed(KRAKEN_DATA / "v1_book1000_10pairs_2021-04-17_cryptofeed.txt"))
    counts = _replay_v1(msgs)
    assert len(counts) == 10
    assert sum(t for _, t in counts.values()) == 4269
    assert all(v == t for v, t in counts.values()), counts


def test_v1_book10_xbtusd_all_verify() -> None:
    msgs = list(read_pykrakensdk(KRAKEN_DATA / "v1_book10_XBTUSD_2023-08-30_pykrakensdk.json"))
    counts = _replay_v1(msgs)
    assert counts == {"XBT/USD": (979, 979)}


def test_v1_docs_checksum_example() -> None:
    doc = json.loads((KRAKEN_DATA / "docs_v1_book_checksum_example.json").read_text())
    from havterm.engine.checksum import l2_checksum
    from havterm.engine.fixed import parse_decimal_text

    def ticks(rows: list[list[str]]) -> list[tuple[int, int]]:
        return [(parse_decimal_text(p)[0], parse_decimal_text(q)[0]) for p, q, *_ in rows]

    asks = sorted(ticks(doc["book_state"]["as"]))
    bids = sorted(ticks(doc["book_state"]["bs"]), reverse=True)
    assert l2_checksum(asks, bids) == int(doc["expected_checksum"])
    assert crc32_text(doc["expected_checksum_input"]) == int(doc["expected_checksum"])


def test_fixture_copies_match_shared_when_present() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "kraken"
    if not shared.is_dir():
        pytest.skip("../shared not present")
    for f in shared.iterdir():
        assert (KRAKEN_DATA / f.name).read_bytes() == f.read_bytes(), f.name
