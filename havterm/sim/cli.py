"""``havterm sim``: run the embedded exchange in the foreground and print its endpoints."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from havterm.sim.faults import FaultSpecError, parse_faults
from havterm.sim.instruments import DEFAULT_SYMBOLS, make_instrument


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sim`` on a subparsers object; returns the new parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="run the embedded Kraken v2-compatible exchange",
        description="Run a local Kraken WebSocket v2 exchange. The first stdout line is JSON "
        "naming its endpoints and a test credential.",
    )
    configure(p)
    return p


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``sim`` options to ``p``."""
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="public WS port; auth, level3 and REST use the next three (0: ephemeral)",
    )
    p.add_argument(
        "--symbols",
        nargs="+",
        default=list(DEFAULT_SYMBOLS),
        metavar="SYM",
        help="pairs to list, BASE/QUOTE (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed for a deterministic market")
    p.add_argument(
        "--rate",
        type=float,
        default=100.0,
        metavar="MSGS_PER_S",
        help="synthetic book operations per second, all symbols together",
    )
    p.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="faults, e.g. drop=0.01,close_code=1006 (see havterm.sim.faults)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run until Ctrl-C or SIGTERM; 2 on bad arguments (one line on stderr), else 0."""
    try:
        faults = parse_faults(args.faults)
        symbols = tuple(dict.fromkeys(args.symbols))
        for s in symbols:
            make_instrument(s)
        if args.rate < 0:
            raise ValueError("--rate must be >= 0")
        if not 0 <= args.port <= 65532:
            raise ValueError("--port must be between 0 and 65532")
    except (FaultSpecError, ValueError) as e:
        print(f"havterm sim: error: {e}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args, faults, symbols))
    except KeyboardInterrupt:
        return 0
    except OSError as e:
        print(f"havterm sim: error: {e}", file=sys.stderr)
        return 1


async def _serve(args: argparse.Namespace, faults: Any, symbols: tuple[str, ...]) -> int:
    from havterm.sim.exchange import Exchange, SimConfig

    cfg = SimConfig(
        host=args.host, port=args.port, symbols=symbols, seed=args.seed, rate=args.rate, faults=faults
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with Exchange(cfg) as ex:
        # The credential is printed once on stdout on purpose: it is a throwaway
        # key for this local exchange, and the caller needs it to sign requests.
        print(json.dumps(ex.endpoints), flush=True)
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m havterm.sim``)."""
    p = argparse.ArgumentParser(prog="havterm sim")
    configure(p)
    return run(p.parse_args(argv))
