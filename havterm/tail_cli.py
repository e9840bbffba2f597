"""``havterm tail``, ``havterm record`` and ``havterm replay``: the headless views of the feed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

from havterm.engine.client import (
    KRAKEN_REST,
    KRAKEN_WS,
    KRAKEN_WS_AUTH,
    KRAKEN_WS_L3,
    ClientConfig,
    KrakenClient,
    Overflow,
)
from havterm.engine.credentials import Credentials, CredentialsError
from havterm.engine.events import (
    BookMessage,
    DecodeError,
    MethodResponse,
    OhlcMessage,
    TickerMessage,
    TradeMessage,
)
from havterm.engine.futures import (
    FUTURES_WS,
    FuturesBookDelta,
    FuturesBookSnapshot,
    FuturesTicker,
    SequenceGap,
    is_futures_symbol,
)
from havterm.engine.futures_client import FuturesClient
from havterm.engine.market import IntegrityFailure, MarketEngine
from havterm.engine.protocol import BookIntegrity, Rtt, StateChange, SubscriptionFailed
from havterm.engine.replay import RecordingError, read_frames
from havterm.engine.replayer import Replayer
from havterm.engine.state import MarketState

CHANNELS = ("book", "trade", "ticker", "ohlc")


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """The endpoint flags every networked command takes; the defaults are Kraken's."""
    parser.add_argument("--url", default=KRAKEN_WS, help=f"public WebSocket (default {KRAKEN_WS})")
    parser.add_argument("--auth-url", default=KRAKEN_WS_AUTH, help="authenticated WebSocket")
    parser.add_argument("--l3-url", default=KRAKEN_WS_L3, help="level3 WebSocket")
    parser.add_argument("--rest-url", default=KRAKEN_REST, help="REST API (tokens, asset pairs)")
    parser.add_argument(
        "--futures-url",
        default=FUTURES_WS,
        help=f"Futures WebSocket for PF_/PI_/FI_ symbols (default {FUTURES_WS})",
    )


def _channels(spec: str) -> tuple[str, ...]:
    names = tuple(c.strip() for c in spec.split(",") if c.strip())
    bad = [c for c in names if c not in CHANNELS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown channel(s) {', '.join(bad) or spec!r}; choose from {','.join(CHANNELS)}"
        )
    return names


def add_tail_parser(sub: Any) -> None:
    """Register ``tail``, ``record`` and ``replay``."""
    tail = sub.add_parser("tail", help="print the live feed as lines or JSON (headless)")
    tail.add_argument("symbols", nargs="+", metavar="SYMBOL")
    tail.add_argument(
        "--channels",
        type=_channels,
        default=("book", "trade", "ticker"),
        help="comma-separated: book,trade,ticker,ohlc (default book,trade,ticker)",
    )
    tail.add_argument("--depth", type=int, default=10, choices=(10, 25, 100, 500, 1000))
    tail.add_argument("--duration", type=float, help="stop after S seconds")
    tail.add_argument("--json", action="store_true", help="one JSON object per event")
    tail.add_argument("--stats", action="store_true", help="print one JSON object of counters last")
    tail.add_argument("--quiet", action="store_true", help="print no events (with --stats)")
    tail.add_argument(
        "--metrics-port", type=int, metavar="PORT", help="export Prometheus metrics on 127.0.0.1:PORT/metrics"
    )
    add_endpoint_arguments(tail)

    rec = sub.add_parser("record", help="record raw frames with receive timestamps as JSON lines")
    rec.add_argument("symbols", nargs="+", metavar="SYMBOL")
    rec.add_argument("--out", required=True, metavar="FILE")
    rec.add_argument("--depth", type=int, default=10, choices=(10, 25, 100, 500, 1000))
    rec.add_argument("--channels", type=_channels, default=("book", "trade", "ticker"))
    rec.add_argument("--l3", action="store_true", help="also record level3 (needs an API key)")
    rec.add_argument("--duration", type=float, help="stop after S seconds")
    add_endpoint_arguments(rec)

    rep = sub.add_parser("replay", help="play a recording through the engine and print it")
    rep.add_argument("file", metavar="FILE")
    rep.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="1 = real time, 10 = ten times faster, 0 (default) = as fast as possible",
    )
    rep.add_argument("--json", action="store_true")
    rep.add_argument("--stats", action="store_true")
    rep.add_argument("--quiet", action="store_true")


# ---------------------------------------------------------------------------- formatting


def _clock(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%H:%M:%S.%f")[:-3]


def format_event(ev: object, state: MarketState, wall: float) -> str | None:
    """One human line for an event, or None for events not worth a line."""
    t = _clock(wall)
    if isinstance(ev, BookMessage):
        st = state.symbols.get(ev.symbol)
        book = st.book if st else None
        if book is None or st is None:
            return None
        bb, ba = book.best_bid(), book.best_ask()
        if bb is None or ba is None:
            return f"{t} {ev.symbol} book {st.book_state.value}"
        return (
            f"{t} {ev.symbol} book bid {book.format_price(bb[0])} x {book.format_qty(bb[1])} | "
            f"ask {book.format_price(ba[0])} x {book.format_qty(ba[1])} "
            f"(spread {book.spread()}, {st.book_state.value})"
        )
    if isinstance(ev, TradeMessage):
        return "\n".join(f"{t} {tr.symbol} trade {tr.side} {tr.qty} @ {tr.price}" for tr in ev.trades) or None
    if isinstance(ev, TickerMessage):
        return (
            "\n".join(
                f"{t} {k.symbol} ticker last {k.last} bid {k.bid} ask {k.ask} 24h {k.change_pct}%"
                for k in ev.tickers
            )
            or None
        )
    if isinstance(ev, OhlcMessage):
        return (
            "\n".join(
                f"{t} {c.symbol} ohlc {c.interval}m o {c.open} h {c.high} l {c.low} c {c.close} v {c.volume}"
                for c in ev.candles
            )
            or None
        )
    if isinstance(ev, StateChange):
        return f"{t} session {ev.old.value} -> {ev.new.value} ({ev.cause})"
    if isinstance(ev, BookIntegrity):
        return f"{t} {ev.symbol} book {ev.state.value}: {ev.reason}"
    if isinstance(ev, IntegrityFailure):
        return f"{t} {ev.symbol} book checksum mismatch: expected {ev.expected}, computed {ev.computed}"
    if isinstance(ev, SubscriptionFailed):
        return f"{t} {ev.channel} {ev.symbol or ''} refused: {ev.error}"
    if isinstance(ev, DecodeError):
        return f"{t} {ev.one_line()}"
    if isinstance(ev, MethodResponse) and not ev.success:
        return f"{t} {ev.method} failed: {ev.error}"
    return None


def _to_json(ev: object, wall: float) -> str | None:
    if (isinstance(ev, MethodResponse) and ev.success) or isinstance(ev, Rtt):
        return None
    body = msgspec.to_builtins(ev) if isinstance(ev, msgspec.Struct) else _dataclass_dict(ev)
    if isinstance(ev, BookMessage):
        body["bids"] = [{"price": str(lv.price), "qty": str(lv.qty)} for lv in ev.bids]
        body["asks"] = [{"price": str(lv.price), "qty": str(lv.qty)} for lv in ev.asks]
    return json.dumps({"t": round(wall, 6), "type": type(ev).__name__, **body}, default=str)


def _dataclass_dict(ev: object) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in getattr(ev, "__slots__", ()):
        v = getattr(ev, name)
        out[name] = v.value if hasattr(v, "value") else v
    return out


def credentials_from_env() -> Credentials:
    """``KRAKEN_API_KEY`` and ``KRAKEN_API_SECRET``, or a one-line error naming them."""
    import os

    key, secret = os.environ.get("KRAKEN_API_KEY"), os.environ.get("KRAKEN_API_SECRET")
    if not key or not secret:
        raise CredentialsError("needs an API key: set KRAKEN_API_KEY and KRAKEN_API_SECRET")
    return Credentials(key, secret)


# ---------------------------------------------------------------------------- tail / record


async def _run_client(
    cfg: ClientConfig,
    duration: float | None,
    on_event: Callable[[object, KrakenClient], None] | None,
    metrics_port: int | None = None,
) -> tuple[KrakenClient, dict[str, Any]]:
    """Run a client until the duration or a signal; return it and its stats as they were live."""
    client = KrakenClient(cfg)
    server = None
    if metrics_port is not None:
        from havterm.metrics_export import serve_metrics

        server = serve_metrics(client, metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    stream = client.stream(maxsize=100_000, policy=Overflow.DROP_OLDEST)
    await client.start()

    async def pump() -> None:
        while True:
            ev = await stream.get()
            if ev is None:
                return
            if on_event is not None:
                on_event(ev, client)

    pump_task = asyncio.create_task(pump())
    try:
        await asyncio.wait_for(stop.wait(), timeout=duration)
    except TimeoutError:
        pass
    stats = client.stats()  # before closing, so books report their live state
    if client.transport.stats.last_error and stats["phase"] != "subscribed":
        stats["last_error"] = client.transport.stats.last_error
    await client.stop()
    await pump_task
    if server is not None:
        server.shutdown()
    return client, stats


is_futures = is_futures_symbol
"""``PF_XBTUSD`` is a Kraken Futures product, ``BTC/USD`` a Spot v2 symbol (the engine's test)."""


def format_futures(ev: object, client: FuturesClient, wall: float) -> str | None:
    """One human line for a Futures event."""
    t = _clock(wall)
    if isinstance(ev, FuturesTicker):
        return (
            f"{t} {ev.product_id} ticker mark {ev.markPrice} index {ev.index} basis {ev.basis} "
            f"funding {ev.funding_rate} OI {ev.openInterest}"
        )
    if isinstance(ev, FuturesBookSnapshot | FuturesBookDelta):
        book = client.product(ev.product_id).book
        bb, ba = book.best_bid(), book.best_ask()
        if bb and ba:
            return f"{t} {ev.product_id} book bid {bb[0]} x {bb[1]} | ask {ba[0]} x {ba[1]} (seq {book.seq})"
        return None
    if isinstance(ev, SequenceGap):
        return f"{t} {ev.product_id} book seq gap: expected {ev.expected}, got {ev.got}; resnapshotting"
    if isinstance(ev, StateChange):
        return f"{t} futures {ev.old.value} -> {ev.new.value} ({ev.cause})"
    return None


async def _run_tail(args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    spot = [s for s in args.symbols if not is_futures(s)]
    futures = [s.upper() for s in args.symbols if is_futures(s)]
    fclient: FuturesClient | None = None
    if futures:
        fclient = FuturesClient(futures, url=args.futures_url)

        def on_futures(ev: object) -> None:
            if args.quiet:
                return
            wall = time.time()
            line = _to_json(ev, wall) if args.json else format_futures(ev, fclient, wall)
            if line:
                print(line, file=out, flush=False)

        fclient.on_event(on_futures)
        await fclient.start()
    stats: dict[str, Any] = {}
    try:
        if spot:
            cfg = ClientConfig(
                symbols=spot,
                depth=args.depth,
                channels=args.channels,
                url=args.url,
                auth_url=args.auth_url,
                l3_url=args.l3_url,
                rest_url=args.rest_url,
            )

            def on_event(ev: object, client: KrakenClient) -> None:
                if args.quiet:
                    return
                wall = time.time()
                line = _to_json(ev, wall) if args.json else format_event(ev, client.state, wall)
                if line:
                    print(line, file=out, flush=False)

            _, stats = await _run_client(cfg, args.duration, on_event, args.metrics_port)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.Event().wait(), timeout=args.duration)
    finally:
        if fclient is not None:
            stats["futures"] = fclient.stats()
            await fclient.stop()
    return stats


def run_tail(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """``havterm tail``: print events until Ctrl-C or ``--duration``."""
    try:
        stats = asyncio.run(_run_tail(args, out))
    except OSError as exc:  # the metrics port is taken, say
        print(f"havterm tail: error: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.stats:
        print(json.dumps(stats, default=str), file=out)
    out.flush()
    return 0


def run_record(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """``havterm record``: write raw frames until Ctrl-C or ``--duration``."""
    creds = None
    if args.l3:
        try:
            creds = credentials_from_env()
        except CredentialsError as exc:
            print(f"havterm record: error: --l3: {exc}", file=sys.stderr)
            return 2
    cfg = ClientConfig(
        symbols=args.symbols,
        depth=args.depth,
        channels=args.channels,
        url=args.url,
        l3_url=args.l3_url,
        rest_url=args.rest_url,
        record_path=args.out,
        credentials=creds,
        l3=bool(args.l3),
    )
    try:
        open(args.out, "ab").close()
    except OSError as exc:
        print(f"havterm record: error: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    client, _ = asyncio.run(_run_client(cfg, args.duration, None))
    frames = client.recorder.frames if client.recorder else 0
    print(f"recorded {frames} frames to {args.out}", file=out)
    return 0


# ---------------------------------------------------------------------------- replay


def run_replay(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """``havterm replay``: apply a recording through the engine, at ``--speed`` or flat out."""
    market = MarketEngine()
    replayer = Replayer(market)
    counts: dict[str, int] = {}
    mismatches = 0
    first_ts: int | None = None
    start = time.monotonic()
    try:
        for frame in read_frames(args.file):
            wall = frame.ts_ns / 1e9 if frame.ts_ns else time.time()
            if args.speed and frame.ts_ns:
                if first_ts is None:
                    first_ts = frame.ts_ns
                due = start + (frame.ts_ns - first_ts) / 1e9 / args.speed
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            for ev in replayer.feed(frame, time.monotonic(), wall):
                name = type(ev).__name__
                counts[name] = counts.get(name, 0) + 1
                if isinstance(ev, IntegrityFailure):
                    mismatches += 1
                if args.quiet:
                    continue
                line = _to_json(ev, wall) if args.json else format_event(ev, market.state, wall)
                if line:
                    print(line, file=out)
    except RecordingError as exc:
        print(f"havterm replay: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.stats:
        print(
            json.dumps(
                {
                    "messages": counts,
                    "checksums_verified": sum(st.checksums_verified for st in market.state.symbols.values()),
                    "checksum_mismatches": mismatches,
                    "books": {s: st.book_state.value for s, st in sorted(market.state.symbols.items())},
                }
            ),
            file=out,
        )
    return 1 if mismatches else 0
