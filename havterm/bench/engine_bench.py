"""``havterm bench engine``: decode + apply + verify-every-checksum throughput.

Measures the real pipeline (``codec.decode`` then ``L2Book.apply``, which
verifies the CRC32 of every message) on the recorded Kraken captures and on
generated 200,000-message streams at depth 10 and 1000, and, for a ratio on
the same machine in the same run, a straightforward baseline pipeline
(``json.loads(parse_float=Decimal)`` + ``SortedDict`` + Decimal formatting).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import timeit
import tracemalloc
import zlib
from decimal import Decimal
from itertools import islice
from pathlib import Path

from sortedcontainers import SortedDict

from havterm.bench.streams import BookStreamGenerator
from havterm.engine.book import L2Book
from havterm.engine.codec import decode
from havterm.engine.events import BookMessage

CAPTURES = {
    "v2_book25_BTCUSD_2026-08-02_crossbook.jsonl": (25, (1, 8)),
    "v2_book25_ETHUSD_2026-08-02_crossbook.jsonl": (25, (2, 8)),
    "v2_book25_XRPUSD_2026-08-02_crossbook.jsonl": (25, (5, 8)),
    "v2_book10_BTCUSD_resubscribes_2026-08-01_crossbook.jsonl": (10, (1, 8)),
}


def find_capture_dir() -> Path | None:
    """The conformance data: the repo's test fixtures, else ``../shared``."""
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        for cand in (base / "tests/fixtures/kraken", base / "../shared/data/kraken"):
            if (cand / next(iter(CAPTURES))).is_file():
                return cand.resolve()
    return None


def run_pipeline(
    frames: list[bytes], depth: int, precision: tuple[int, int] | None = None
) -> tuple[float, int, int, int]:
    """Decode, apply and verify every frame; return (seconds, messages, verified, levels).

    ``precision`` is what the instrument channel would have told the client.
    """
    pp, qp = precision if precision else (None, None)
    books: dict[str, L2Book] = {}
    verified = 0
    levels = 0
    gc.collect()
    t0 = time.perf_counter()
    for frame in frames:
        for ev in decode(frame):
            if type(ev) is BookMessage:
                book = books.get(ev.symbol)
                if book is None or ev.snapshot:
                    book = books[ev.symbol] = L2Book(ev.symbol, depth, pp, qp)
                if book.apply(ev):
                    verified += 1
                levels += len(ev.bids) + len(ev.asks)
    elapsed = time.perf_counter() - t0
    return elapsed, len(frames), verified, levels


def run_baseline(frames: list[bytes], depth: int, pp: int, qp: int) -> tuple[float, int, int]:
    """The textbook pipeline: json + Decimal + SortedDict, checksum by formatting."""
    bids: SortedDict = SortedDict()
    asks: SortedDict = SortedDict()
    verified = 0

    def tok(v: Decimal, prec: int) -> str:
        return f"{v:.{prec}f}".replace(".", "").lstrip("0")

    t0 = time.perf_counter()
    for frame in frames:
        msg = json.loads(frame, parse_float=Decimal)
        if msg.get("channel") != "book":
            continue
        for d in msg["data"]:
            if msg["type"] == "snapshot":
                bids.clear()
                asks.clear()
            for lv in d["bids"]:
                if lv["qty"] == 0:
                    bids.pop(-lv["price"], None)
                else:
                    bids[-lv["price"]] = lv["qty"]
            for lv in d["asks"]:
                if lv["qty"] == 0:
                    asks.pop(lv["price"], None)
                else:
                    asks[lv["price"]] = lv["qty"]
            while len(bids) > depth:
                bids.popitem()
            while len(asks) > depth:
                asks.popitem()
            parts = [tok(p, pp) + tok(asks[p], qp) for p in islice(asks, 10)]
            parts += [tok(-k, pp) + tok(bids[k], qp) for k in islice(bids, 10)]
            if zlib.crc32("".join(parts).encode()) == d["checksum"]:
                verified += 1
    return time.perf_counter() - t0, len(frames), verified


def _bbo_ns(book: L2Book) -> tuple[float, float]:
    n = 200_000
    best_bid = book.best_bid
    spread = book.spread_ticks
    t_bbo = min(timeit.repeat(best_bid, number=n, repeat=5)) / n * 1e9
    t_spread = min(timeit.repeat(spread, number=n, repeat=5)) / n * 1e9
    return t_bbo, t_spread


def run_engine_bench(messages: int = 200_000, seed: int = 7, as_json: bool = False) -> int:
    """Run every measurement and print a table (and a JSON line with ``as_json``)."""
    results: dict[str, object] = {"python": sys.version.split()[0], "messages": messages}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = print

    data_dir = find_capture_dir()
    if data_dir is None:
        out("real captures: not found (run from the repo, or next to ../shared); skipped")
    else:
        t = v = n = 0.0
        for name, (depth, precision) in CAPTURES.items():
            fr = (data_dir / name).read_bytes().splitlines()
            el, cnt, ver, _ = run_pipeline(fr * 20, depth, precision)
            t += el
            n += cnt
            v += ver
        rate = n / t
        results["captures"] = {"msgs_per_s": round(rate), "frames": int(n), "verified": int(v)}
        out(f"real captures (4 files x20, {int(n):,} frames): {rate:,.0f} frames/s, "
            f"{int(v):,} checksums verified")

    for depth in (10, 1000):
        gen = BookStreamGenerator(depth=depth, seed=seed)
        frames = gen.frames(messages)
        el, cnt, ver, lv = run_pipeline(frames, depth, (1, 8))
        if ver != cnt:
            out(f"depth {depth}: ONLY {ver}/{cnt} checksums verified", file=sys.stderr)
            return 1
        base_n = min(messages, 50_000)
        bel, bcnt, bver = run_baseline(frames[:base_n], depth, 1, 8)
        rate = cnt / el
        base_rate = bcnt / bel
        results[f"depth_{depth}"] = {
            "msgs_per_s": round(rate),
            "ns_per_level_change": round(el / lv * 1e9),
            "verified": ver,
            "baseline_msgs_per_s": round(base_rate),
            "speedup_vs_baseline": round(rate / base_rate, 1),
        }
        out(f"generated depth {depth:>4}: {rate:>9,.0f} msg/s  ({el / lv * 1e9:,.0f} ns per level "
            f"change, {ver:,}/{cnt:,} verified); baseline json+Decimal+SortedDict "
            f"{base_rate:,.0f} msg/s (x{rate / base_rate:.1f}; {bver:,}/{bcnt:,} verified)")

    gen = BookStreamGenerator(depth=1000, seed=seed)
    frames = gen.frames(5_000)
    events = [ev for f in frames for ev in decode(f) if isinstance(ev, BookMessage)]
    tracemalloc.start()
    book = L2Book("BTC/USD", 1000, 1, 8)
    for ev in events:
        book.apply(ev)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    bbo, spread = _bbo_ns(book)
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    results["best_bid_ns"] = round(bbo)
    results["spread_ns"] = round(spread)
    results["depth_1000_book_bytes"] = current
    results["peak_rss_growth_mb"] = round(rss_mb, 1)
    out(f"best_bid(): {bbo:.0f} ns; spread_ticks(): {spread:.0f} ns")
    out(f"one depth-1000 book: {current / 1024:,.0f} KiB held (peak {peak / 1024:,.0f} KiB "
        f"while applying 5,000 updates); process peak RSS grew {rss_mb:,.1f} MiB during the run "
        f"(the generated streams themselves are most of that)")
    if as_json:
        out(json.dumps(results))
    return 0
