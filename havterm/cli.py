"""The ``havterm`` command line: argument parsing and dispatch, nothing else.

Each subcommand lives in its own module and is imported only when used, so
``havterm verify`` never pays for (or depends on) the UI stack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from havterm import __version__


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def _parse_precision(spec: str) -> tuple[str, tuple[int, int]]:
    """``BTC/USD=1,8`` to ``("BTC/USD", (1, 8))``."""
    try:
        symbol, _, digits = spec.partition("=")
        price_dp, qty_dp = (int(x) for x in digits.split(","))
        if not symbol or not 0 <= price_dp <= 18 or not 0 <= qty_dp <= 18:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad --precision {spec!r}: expected SYMBOL=PRICE_DP,QTY_DP, e.g. BTC/USD=1,8"
        ) from None
    return symbol, (price_dp, qty_dp)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the README's --help excerpt)."""
    parser = argparse.ArgumentParser(
        prog="havterm",
        description="A terminal trading dashboard and exact client for Kraken WebSocket v2.",
        usage="havterm [SYMBOL ...] [--demo] [dashboard options]\n       havterm COMMAND ...",
        epilog=(
            "The dashboard: `havterm BTC/USD ETH/USD` connects to live Kraken; `havterm --demo` "
            "runs offline against the embedded exchange; `havterm --replay FILE` plays a recording. "
            "See `havterm --demo --help` for the dashboard's options."
        ),
    )
    parser.add_argument("--version", action="version", version=f"havterm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    verify = sub.add_parser(
        "verify",
        help="replay recorded frames and check every Kraken checksum",
        description=(
            "Replay recorded frames (JSON lines, one v2 message per line, or havterm's "
            "recording format) through the real decoder and books, and check every "
            "book and level3 checksum. Exit 0 when all match, 1 on a mismatch, 2 on "
            "an unreadable file."
        ),
    )
    verify.add_argument("files", nargs="+", metavar="FILE")
    verify.add_argument(
        "--precision",
        action="append",
        type=_parse_precision,
        default=[],
        metavar="SYMBOL=PRICE_DP,QTY_DP",
        help="decimal places for a symbol when the file carries no instrument message",
    )
    verify.add_argument("--depth", type=int, choices=(10, 25, 100, 500, 1000), help="override the book depth")

    bench = sub.add_parser("bench", help="run a benchmark and print its numbers")
    bench_sub = bench.add_subparsers(dest="bench", metavar="WHAT", required=True)
    be = bench_sub.add_parser(
        "engine", help="decode + apply + verify throughput on real and generated streams"
    )
    be.add_argument("--messages", type=int, default=200_000, help="generated stream length")
    be.add_argument("--seed", type=int, default=7)
    be.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    bu = bench_sub.add_parser(
        "ui", help="run the dashboard headless against the embedded exchange; JSON summary last"
    )
    bu.add_argument("--rate", type=float, default=5000.0, help="exchange operations per second")
    bu.add_argument("--symbols", type=int, default=10)
    bu.add_argument("--duration", type=float, default=20.0, help="seconds")
    bu.add_argument("--fps", type=float, default=20.0)
    bu.add_argument("--screen", choices=("ladder", "grid"), default="ladder")

    from havterm.keys_cli import add_keys_parser
    from havterm.serve_cli import add_serve_parser
    from havterm.tail_cli import add_tail_parser
    from havterm.watch_cli import add_watch_parser

    add_tail_parser(sub)
    add_serve_parser(sub)
    add_keys_parser(sub)
    add_watch_parser(sub)

    try:
        from havterm.sim.cli import add_parser as add_sim_parser
    except ImportError:
        pass
    else:
        add_sim_parser(sub)
    return parser


COMMANDS = ("verify", "bench", "tail", "record", "replay", "sim", "keys", "serve", "watch")


def _wants_dashboard(argv: Sequence[str]) -> bool:
    """``havterm``, ``havterm BTC/USD`` and ``havterm --demo`` open the dashboard."""
    if not argv:
        return True
    return argv[0] not in (*COMMANDS, "-h", "--help", "--version")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``havterm`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_dashboard(argv):
        from havterm.ui_cli import build_ui_parser, run_app

        return int(run_app(build_ui_parser().parse_args(argv)))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "verify":
            from havterm.verify_cli import run_verify

            return run_verify(args.files, dict(args.precision), args.depth)
        if args.command == "bench" and args.bench == "ui":
            from havterm.bench.ui_bench import run_ui_bench

            return run_ui_bench(args.rate, args.symbols, args.duration, args.fps, args.screen)
        if args.command == "bench":
            from havterm.bench.engine_bench import run_engine_bench

            return run_engine_bench(args.messages, args.seed, args.json)
        if args.command in ("tail", "record", "replay"):
            from havterm import tail_cli

            runner = {"tail": tail_cli.run_tail, "record": tail_cli.run_record, "replay": tail_cli.run_replay}
            return runner[args.command](args)
        if args.command == "watch":
            from havterm.watch_cli import run_watch

            return run_watch(args)
        if args.command == "keys":
            from havterm.keys_cli import run_keys

            return run_keys(args)
        if args.command == "serve":
            from havterm.serve_cli import run_serve

            return run_serve(args)
        if args.command == "sim":
            from havterm.sim.cli import run as run_sim

            return int(run_sim(args))
        parser.print_help()
        return 0
    except CliError as exc:
        print(f"havterm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``havterm tail ... | head``): exit quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
