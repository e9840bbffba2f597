"""``havterm [SYMBOLS]``: argument handling for the dashboard, and running it without tracebacks."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from pathlib import Path

from havterm.config import KEYS, ConfigError, keys_help, load_config

SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,12}/[A-Z0-9]{1,12}$")
KRAKEN = {
    "url": "wss://ws.kraken.com/v2",
    "auth_url": "wss://ws-auth.kraken.com/v2",
    "l3_url": "wss://ws-l3.kraken.com/v2",
    "rest_url": "https://api.kraken.com",
    "futures_url": "wss://futures.kraken.com/ws/v1",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dashboard's arguments to ``parser`` (the top-level ``havterm`` parser)."""
    parser.add_argument(
        "symbols",
        nargs="*",
        metavar="SYMBOL",
        help=(
            "pairs to show, e.g. BTC/USD ETH/USD, and Kraken Futures products, e.g. PF_XBTUSD "
            "(default: the config file's, else BTC/USD)"
        ),
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded exchange in-process and connect to it (works offline)",
    )
    parser.add_argument(
        "--replay", metavar="FILE", help="play a recording (from havterm record) instead of connecting"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="--replay speed factor (0: as fast as possible)"
    )
    parser.add_argument("--rate", type=float, default=400.0, help="--demo market operations per second")
    parser.add_argument("--seed", type=int, default=7, help="--demo market seed")
    parser.add_argument("--url", default=None, help=f"public WebSocket (default {KRAKEN['url']})")
    parser.add_argument("--auth-url", default=None, help="authenticated WebSocket")
    parser.add_argument("--l3-url", default=None, help="level3 WebSocket")
    parser.add_argument("--rest-url", default=None, help="REST API")
    parser.add_argument(
        "--futures-url", default=None, help=f"Kraken Futures WebSocket (default {KRAKEN['futures_url']})"
    )
    parser.add_argument(
        "--depth", type=int, choices=(10, 25, 100, 500, 1000), help="book depth (default 100)"
    )
    parser.add_argument("--fps", type=float, help="frames per second of the dashboard (default 20)")
    parser.add_argument(
        "--rules",
        type=Path,
        metavar="FILE",
        help="alert rules file ([[rules]] tables; default: the config file's rules)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (default: platform config dir)"
    )
    parser.add_argument("--help-keys", action="store_true", help="list every key binding id and exit")


def build_ui_parser() -> argparse.ArgumentParser:
    """A stand-alone parser with only the dashboard's arguments."""
    parser = argparse.ArgumentParser(
        prog="havterm",
        description="Terminal dashboard for Kraken WebSocket v2.",
        epilog=(
            "examples: havterm --demo (offline, embedded exchange) · havterm BTC/USD ETH/USD (live) · "
            "havterm --replay rec.jsonl --speed 10. Screens: 1 ladder, 2 depth, 3 flow, 4 grid, 5 watcher, "
            "? help, ctrl+p commands. Remap keys in the config file's [keys] (see --help-keys)."
        ),
    )
    add_arguments(parser)
    return parser


def _log_to_file() -> Path | None:
    """Send our logs to a file: the terminal belongs to the dashboard."""
    try:
        import platformdirs

        path = Path(platformdirs.user_log_dir("havterm")) / "havterm.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("havterm")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def run_app(args: argparse.Namespace) -> int:
    """Run the dashboard; returns the exit code. Never lets a traceback reach the user."""
    if getattr(args, "help_keys", False):
        print(keys_help())
        return 0
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"havterm: config error: {exc}", file=sys.stderr)
        return 2
    rules_path = args.rules or args.config
    from havterm.alerts_config import RulesError, load_rules

    try:
        load_rules(rules_path)  # a bad rules file stops here, with the line it is on
    except RulesError as exc:
        print(f"havterm: rules error: {exc}", file=sys.stderr)
        return 2
    if args.replay:
        if not Path(args.replay).is_file():
            print(f"havterm: error: --replay {args.replay}: no such file", file=sys.stderr)
            return 2
        symbols = [s.upper() for s in args.symbols]
    elif args.symbols:
        symbols = [s.upper() for s in args.symbols]
    elif args.demo:
        from havterm.sim.instruments import DEFAULT_SYMBOLS

        # The demo's Spot pairs and a perpetual: show them all, so the grid and `n` have something to do.
        symbols = [*DEFAULT_SYMBOLS, "PF_XBTUSD"]
    else:
        symbols = [s.upper() for s in cfg.symbols]
    from havterm.engine.futures import FUTURES_ID_RE

    bad = [s for s in symbols if not (SYMBOL_RE.match(s) or FUTURES_ID_RE.match(s))]
    if bad:
        print(
            f"havterm: error: not a symbol: {bad[0]!r} "
            "(expected BASE/QUOTE, e.g. BTC/USD, or a Futures product, e.g. PF_XBTUSD)",
            file=sys.stderr,
        )
        return 2
    if args.fps is not None:
        if not 1 <= args.fps <= 60:
            print("havterm: error: --fps must be between 1 and 60", file=sys.stderr)
            return 2
        cfg.fps = args.fps
    if args.depth is not None:
        cfg.depth = args.depth
    urls = {
        "url": args.url or KRAKEN["url"],
        "auth_url": args.auth_url or KRAKEN["auth_url"],
        "l3_url": args.l3_url or KRAKEN["l3_url"],
        "rest_url": args.rest_url or KRAKEN["rest_url"],
        "futures_url": args.futures_url or KRAKEN["futures_url"],
    }
    log_path = _log_to_file()
    # Import the UI stack only now, so that `havterm --help-keys` and bad arguments stay fast.
    from havterm.app import HavtermApp
    from havterm.bridge import Source

    source = Source(
        list(dict.fromkeys(symbols)),
        cfg.depth,
        urls,
        demo=bool(args.demo),
        demo_rate=max(1.0, float(args.rate)),
        demo_seed=int(args.seed),
        replay=args.replay,
        replay_speed=max(0.0, float(args.speed)),
        rules_path=str(rules_path) if rules_path else None,
    )
    app = HavtermApp(source, cfg, freeze_gc=True)

    async def main() -> int | None:
        try:
            return await app.run_async()
        finally:
            await app.shutdown()

    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        logging.getLogger("havterm").exception("the dashboard failed")
        where = f" (details in {log_path})" if log_path else ""
        print(f"havterm: error: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
        return 1
    return int(code or 0)


__all__ = ["KEYS", "add_arguments", "build_ui_parser", "run_app"]
