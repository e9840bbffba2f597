"""``havterm serve``: the dashboard in a browser through textual-serve, bound to loopback by default."""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from typing import Any


def add_serve_parser(sub: Any) -> None:
    """Register ``serve``."""
    serve = sub.add_parser("serve", help="serve the dashboard to a web browser (textual-serve)")
    serve.add_argument("symbols", nargs="*", metavar="SYMBOL")
    serve.add_argument("--demo", action="store_true", help="each browser session runs the offline demo")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--public-url", help="the URL browsers use, when behind a proxy")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dashboard_command(symbols: list[str], demo: bool) -> str:
    """The command each browser session runs: this Python, this havterm."""
    parts = [sys.executable, "-m", "havterm", *symbols]
    if demo:
        parts.append("--demo")
    return shlex.join(parts)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    try:
        from textual_serve.server import Server
    except ImportError:
        print("havterm serve: error: textual-serve is not installed (pip install textual-serve)",
              file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(
            f"havterm serve: warning: binding to {args.host} exposes the dashboard (and any trading "
            "keys it can use) to the network; bind 127.0.0.1 unless you mean it",
            file=sys.stderr,
        )
    server = Server(dashboard_command(args.symbols, args.demo), host=args.host, port=args.port,
                    title="havterm", public_url=args.public_url)
    try:
        server.serve()
    except OSError as exc:
        print(f"havterm serve: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
