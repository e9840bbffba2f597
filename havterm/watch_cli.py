"""``havterm watch``: evaluate alert rules headless against a feed, one line per alert, with notifications.

Exit codes: 0 when it ran until ``--duration``, Ctrl-C/SIGTERM or
``--max-alerts`` alerts; 1 when ``--max-alerts`` was given and the run ended
before that many fired; 2 on bad arguments or an unusable rules file (one
line on stderr naming the file and line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from havterm.alerts_config import AlertHistory, RulesError, config_path, load_rules
from havterm.engine.alerts import FED_KINDS, AlertEngine, FiredAlert, Rule
from havterm.engine.book import BOOK_DEPTHS
from havterm.engine.futures import is_futures_symbol
from havterm.notify import AlertDispatcher
from havterm.tail_cli import add_endpoint_arguments

EXIT_OK = 0
EXIT_TOO_FEW_ALERTS = 1
EXIT_USAGE = 2

_BOOK_KINDS = frozenset(
    {"imbalance_above", "imbalance_below", "pressure_above", "pressure_below", "large_order"}
)


def add_watch_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``watch`` on a subparsers object."""
    p: argparse.ArgumentParser = sub.add_parser(
        "watch",
        help="evaluate alert rules headless and print one line per alert",
        description=(
            "Evaluate the [[rules]] of the config file (or --rules FILE) against live Kraken or any --url, "
            "print one line per fired alert (JSON with --json), run the rules' notifiers and append to "
            "the alert history. Exit 0 when stopped by --duration, a signal or --max-alerts; 1 when "
            "--max-alerts alerts did not fire in time; 2 on bad arguments or a bad rules file."
        ),
    )
    p.add_argument(
        "symbols", nargs="*", metavar="SYMBOL", help="symbols to watch (default: every symbol the rules name)"
    )
    p.add_argument("--rules", metavar="FILE", help=f"TOML file of [[rules]] (default {config_path()})")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--max-alerts", type=int, metavar="N", help="stop after N alerts (exit 1 if fewer fired)")
    p.add_argument("--json", action="store_true", help="one JSON object per alert")
    p.add_argument("--hz", type=float, default=20.0, help="evaluations per second (default 20)")
    p.add_argument("--depth", type=int, choices=BOOK_DEPTHS, help="book depth (default: what the rules need)")
    p.add_argument("--no-notify", action="store_true", help="print only: no bell, desktop or command hooks")
    p.add_argument("--history", metavar="FILE", help="alert history file (default: the data directory's)")
    p.add_argument("--no-history", action="store_true", help="do not append to the alert history")
    p.add_argument("--notify-timeout", type=float, default=5.0, metavar="S", help="kill a notifier after S s")
    add_endpoint_arguments(p)
    p.set_defaults(func=run_watch)
    return p


def format_alert(alert: FiredAlert) -> str:
    """One human line: UTC time, symbol, kind, rule name, message."""
    t = datetime.fromtimestamp(alert.wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{t} {alert.symbol} {alert.kind} [{alert.name}] {alert.message}"


def _depth_for(rules: Sequence[Rule], asked: int | None) -> int:
    if asked is not None:
        return asked
    need = max((r.depth for r in rules if r.kind in _BOOK_KINDS), default=10)
    return next((d for d in BOOK_DEPTHS if d >= need), BOOK_DEPTHS[-1])


def _select(args: argparse.Namespace, err: TextIO) -> tuple[list[Rule], list[str]] | str:
    """The rules and symbols to watch, or a one-line error."""
    try:
        rf = load_rules(Path(args.rules) if args.rules else None)
    except RulesError as exc:
        return str(exc)
    for w in rf.warnings:
        print(f"havterm watch: warning: {w}", file=err)
    rules = [r for r in rf.rules if r.enabled]
    if not rules:
        where = args.rules or config_path()
        return f"no enabled rules in {where} (add [[rules]] tables; see havterm.alerts_config)"
    fed = sorted({r.kind for r in rules if r.kind in FED_KINDS})
    if fed:
        print(
            f"havterm watch: note: {', '.join(fed)} need the trading layer and do not fire here yet", file=err
        )
    if args.symbols:
        symbols = list(dict.fromkeys(args.symbols))
        bad = [s for s in symbols if "/" not in s and not is_futures_symbol(s)]
        if bad:
            return f"bad symbol {bad[0]!r}: expected BASE/QUOTE (BTC/USD) or a Futures product (PF_XBTUSD)"
        skipped = [r.name for r in rules if r.symbol != "*" and r.symbol not in symbols]
        if skipped:
            print(f"havterm watch: note: {len(skipped)} rule(s) name other symbols and are skipped", file=err)
        rules = [r for r in rules if r.symbol == "*" or r.symbol in symbols]
        if not rules:
            return "none of the rules applies to the symbols given"
    else:
        symbols = list(dict.fromkeys(r.symbol for r in rules if r.symbol != "*"))
        if not symbols:
            return 'every rule has symbol = "*": name the symbols to watch on the command line'
    return rules, symbols


async def watch(args: argparse.Namespace, out: TextIO, err: TextIO = sys.stderr) -> int:
    """The body of ``havterm watch`` on the running event loop (tests call this with an embedded exchange)."""
    from havterm.engine.client import ClientConfig
    from havterm.engine.composite import MarketClient

    if args.hz <= 0 or args.hz > 1000:
        print("havterm watch: error: --hz must be above 0 and at most 1000", file=err)
        return EXIT_USAGE
    if args.max_alerts is not None and args.max_alerts < 1:
        print("havterm watch: error: --max-alerts must be 1 or more", file=err)
        return EXIT_USAGE
    picked = _select(args, err)
    if isinstance(picked, str):
        print(f"havterm watch: error: {picked}", file=err)
        return EXIT_USAGE
    rules, symbols = picked
    engine = AlertEngine(rules)
    history = None if args.no_history else AlertHistory(args.history)

    def on_error(msg: str) -> None:
        print(f"havterm watch: notifier: {msg}", file=err, flush=True)

    dispatcher = AlertDispatcher(history=history, on_error=on_error, timeout_s=args.notify_timeout)
    cfg = ClientConfig(
        symbols=symbols,
        depth=_depth_for(rules, args.depth),
        channels=("book", "trade", "ticker"),
        url=args.url,
        auth_url=args.auth_url,
        l3_url=args.l3_url,
        rest_url=args.rest_url,
    )
    # Spot symbols and Futures products (PF_XBTUSD...) together, in one market state.
    client = MarketClient(cfg, futures_url=args.futures_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    fired = 0
    period = 1.0 / args.hz
    deadline = None if args.duration is None else time.monotonic() + args.duration
    await client.start()
    told: set[str] = set()
    try:
        while not stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            _tell_disabled(client.state, told, err)
            for alert in engine.evaluate(client.state, now, wall=time.time()):
                line = json.dumps(alert.to_dict()) if args.json else format_alert(alert)
                print(line, file=out, flush=True)
                if args.no_notify:
                    if history is not None:
                        history.append(alert)
                else:
                    dispatcher.dispatch(alert)
                fired += 1
                if args.max_alerts is not None and fired >= args.max_alerts:
                    stop.set()
                    break
            wait = period if deadline is None else min(period, max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
    finally:
        await client.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
        # Let hooks already started finish; each is bounded by --notify-timeout, so this cannot hang.
        await asyncio.to_thread(dispatcher.close, True)
    if args.max_alerts is not None and fired < args.max_alerts:
        return EXIT_TOO_FEW_ALERTS
    return EXIT_OK


def _tell_disabled(state: Any, told: set[str], err: TextIO) -> None:
    """One line per symbol the exchange refused (an unknown Futures product, say): its rules cannot fire."""
    for sym, st in state.symbols.items():
        if sym not in told and st.book_state.value == "disabled":
            told.add(sym)
            print(f"havterm watch: warning: {sym}: {st.book_reason or 'disabled'}", file=err, flush=True)


def run_watch(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """``havterm watch``: run until ``--duration``, a signal or ``--max-alerts``; returns the exit code."""
    try:
        return asyncio.run(watch(args, out))
    except KeyboardInterrupt:
        return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m havterm.watch_cli ...`` (the same as ``havterm watch ...``)."""
    parser = argparse.ArgumentParser(prog="havterm")
    add_watch_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["watch", *(sys.argv[1:] if argv is None else argv)])
    return run_watch(args)


if __name__ == "__main__":
    sys.exit(main())
