"""How many messages per second havterm.sim sustains to N clients, and the CPU it uses.

Runs the exchange as its own process (``python -m havterm.sim``) so that its CPU
time is measured apart from the clients', connects N WebSocket clients that
each subscribe to every symbol's book at depth 1000 (every engine operation is
then one message per symbol touched), and counts what arrives.

    python benchmarks/sim_throughput.py --rate 5000 --clients 1 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from websockets.asyncio.client import connect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of process ``pid`` (Linux /proc), or ``None``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return None


async def client(
    url: str, symbols: list[str], depth: int, counts: list[int], i: int, ready: asyncio.Event
) -> None:
    async with connect(url, max_size=None, max_queue=None, compression=None) as ws:
        await ws.send(
            json.dumps(
                {"method": "subscribe", "params": {"channel": "book", "symbol": symbols, "depth": depth}}
            )
        )
        ready.set()
        async for _ in ws:
            counts[i] += 1


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=5000, help="engine operations/s (all symbols)")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--depth", type=int, default=1000)
    ap.add_argument("--symbols", nargs="+", default=["BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD"])
    args = ap.parse_args()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "havterm.sim",
        "--rate",
        str(args.rate),
        "--symbols",
        *args.symbols,
        env={**os.environ, "PYTHONPATH": ROOT},
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    ep = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
    counts = [0] * args.clients
    tasks = []
    for i in range(args.clients):
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(client(ep["ws"], args.symbols, args.depth, counts, i, ready)))
        await ready.wait()
    await asyncio.sleep(args.warmup)
    c0, s0, t0 = sum(counts), cpu_seconds(proc.pid), time.monotonic()
    me0 = time.process_time()
    await asyncio.sleep(args.seconds)
    c1, s1, t1 = sum(counts), cpu_seconds(proc.pid), time.monotonic()
    me1 = time.process_time()
    for t in tasks:
        t.cancel()
    proc.terminate()
    await proc.wait()
    dt = t1 - t0
    total = (c1 - c0) / dt
    print(
        f"clients: {args.clients}  depth: {args.depth}  symbols: {len(args.symbols)}  "
        f"configured rate: {args.rate:.0f} ops/s  measured over {dt:.1f} s"
    )
    print(f"delivered: {total:,.0f} msgs/s in total, {total / args.clients:,.0f} msgs/s per client")
    if s0 is not None and s1 is not None:
        print(f"exchange CPU: {100 * (s1 - s0) / dt:.0f}% of one core")
    print(f"client-side CPU (this process): {100 * (me1 - me0) / dt:.0f}% of one core")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
